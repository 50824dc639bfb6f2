"""What the access plugin does to CKAN's DataStore, in one place: each
wrapped DataStore action with its chained auth function beside it. No row of
a gated dataset leaves through the DataStore API, its SQL endpoint, dumps or
the DataTables view (both read through `datastore_search`).

| DataStore action | auth function (chained) | action (chained) |
| --- | --- | --- |
| `datastore_search` | the policy on the table's dataset (`grandlyon_access_data_read`; a hidden dataset's table is missing) | `_table_metadata`, the catalogue of every table: whoever passes CKAN's own check (sysadmins, `ignore_auth` calls) gets it, filtered to the tables the user may see unless sysadmin, anyone else is told it does not exist; a table of a dataset the user may not see: the DataStore's own missing-table message; reads of gated tables go to the audit log |
| `datastore_info` | as `datastore_search` | a table of a dataset the user may not see is missing |
| `datastore_search_sql` | every table the query names: the policy; a table starting with `_` (the catalogue): refused | tables of datasets the user may not see fail as missing ones |

The plugin registers `ACTIONS` and `AUTH_FUNCTIONS` when the `datastore`
plugin is loaded (`datastore_search_sql` only with
`ckan.datastore.sqlsearch.enabled`, see `configured`): chaining a function
nobody defines stops CKAN at start-up.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import ckan.authz as authz
import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict
from ckanext.datastore.backend import DatastoreBackend
from ckanext.grandlyon_access import audit, policy

from .common import Asker, package_of_resource

ActionFunc = Callable[[Context, DataDict], Any]
NEEDS_PLUGIN = "datastore"
CATALOGUE = "_table_metadata"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


# --- asking the policy ------------------------------------------------------------------

def _real_table(ref: Any) -> str | None:
    """The resource id of a table named by its id or by one of its aliases
    (None when there is no such table): an alias is judged as its table."""
    if not isinstance(ref, str) or not ref or "\x00" in ref:
        return None
    if package_of_resource(ref) is not None:
        return ref
    try:
        exists, real_id = DatastoreBackend.get_active_backend().resource_id_from_alias(ref)
    except Exception:  # not a name PostgreSQL takes: no table has it
        return None
    return real_id if exists and real_id else None


def _table_missing(context: Context, ref: str | None) -> bool:
    package = package_of_resource(_real_table(ref))
    return package is not None and not Asker(context).sees(package)


def _deny(msg: str) -> AuthResult:
    return {"success": False, "msg": msg}


def _data_read_of_table(context: Context, ref: str) -> AuthResult:
    """The policy for a table's rows (named by id or alias); a table of a
    dataset the user may not see is missing (404), not forbidden."""
    package = package_of_resource(_real_table(ref))
    if package is None:
        raise tk.ObjectNotFound()
    decision = policy.decide(context.copy(), package)
    if not decision.metadata:
        raise tk.ObjectNotFound()
    if decision.data:
        return {"success": True}
    return _deny(tk._("You do not have access to the data of this dataset"))


def _table_read(next_auth, context: Context, data_dict: DataDict, key: str) -> AuthResult:
    """The policy on the table named by `key` (id or alias). CKAN's
    datastore_search puts the table's id in `resource_id`; datastore_info
    puts it in `id` and leaves the name asked for in `resource_id`."""
    ref = data_dict.get(key) or data_dict.get("resource_id")
    table = _real_table(ref)
    if table is not None:
        decision = _data_read_of_table(context, table)
        if not decision["success"]:
            return decision
    return next_auth(context, data_dict)


# --- datastore_search -----------------------------------------------------------------

@tk.chained_auth_function
@tk.auth_allow_anonymous_access
def datastore_search_auth(next_auth, context: Context, data_dict: DataDict) -> AuthResult:
    return _table_read(next_auth, context, data_dict, "resource_id")


def _catalogue_seen_by(next_action: ActionFunc, context: Context,
                       data_dict: DataDict) -> dict[str, Any]:
    """The catalogue of tables names every table, that is every resource id:
    only the tables of datasets the user may see."""
    rows_max = tk.config.get("ckan.datastore.search.rows_max")
    offset, limit = int(data_dict.get("offset") or 0), int(data_dict.get("limit") or 100)
    result = next_action(context, dict(data_dict, offset=0, limit=rows_max))
    asker = Asker(context)
    kept = []
    for record in result.get("records") or []:
        ref = record.get("alias_of") or record.get("name") if isinstance(record, dict) else None
        if ref and asker.sees(package_of_resource(ref)):
            kept.append(record)
    result["records"] = kept[offset:offset + limit]
    result["total"] = len(kept)
    result.pop("_links", None)
    return result


@tk.chained_action
@tk.side_effect_free
def datastore_search(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """See the module's table."""
    # CKAN's schema renames `id` to `resource_id` (`id` wins when both are given).
    resource_id = data_dict.get("id") or data_dict.get("resource_id")
    if resource_id == CATALOGUE:
        try:
            tk.check_access("datastore_search", context, data_dict)  # sysadmins, ignore_auth
        except (tk.NotAuthorized, tk.ObjectNotFound):
            raise tk.ObjectNotFound(tk._('Resource "{0}" was not found.').format(CATALOGUE))
        if authz.is_sysadmin(context.get("user")):
            return _audited(next_action, context, data_dict)
        return _catalogue_seen_by(next_action, context, data_dict)
    if _table_missing(context, resource_id):
        return _as_missing_table(next_action, context, data_dict, resource_id)
    return _audited(next_action, context, data_dict)


def _as_missing_table(next_action: ActionFunc, context: Context, data_dict: DataDict,
                      ref: str) -> Any:
    """Answers exactly as the DataStore answers for a table that does not
    exist (its checks of the other parameters first, then its own words):
    by asking it about a name no table has, then naming `ref` in its answer."""
    stand_in = f"missing-{uuid.uuid4()}"
    asked = {**data_dict, "resource_id": stand_in}
    if "id" in asked:
        asked["id"] = stand_in
    return _named_back(lambda: next_action(context, asked), {ref: stand_in})


def _named_back(call: Callable[[], Any], stand_ins: dict[str, str]) -> Any:
    """`call()`, its errors naming each table asked for (a key of
    `stand_ins`) where the DataStore was asked about its stand-in."""
    def back(text: str) -> str:
        for ref, stand_in in stand_ins.items():
            text = text.replace(stand_in, ref)
        return text

    try:
        return call()
    except tk.ObjectNotFound as error:
        raise tk.ObjectNotFound(back(str(getattr(error, "message", "") or ""))) from None
    except tk.ValidationError as error:
        raise tk.ValidationError(json.loads(back(json.dumps(error.error_dict)))) from None


def _audited(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    result = next_action(context, data_dict)
    audit.record_if_gated(context, resource_id=result.get("resource_id"), surface="datastore")
    return result


# --- datastore_info -------------------------------------------------------------------

@tk.chained_auth_function
@tk.auth_allow_anonymous_access
def datastore_info_auth(next_auth, context: Context, data_dict: DataDict) -> AuthResult:
    return _table_read(next_auth, context, data_dict, "id")


@tk.chained_action
@tk.side_effect_free
def datastore_info(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """A table of a dataset the user may not see is missing."""
    resource_id = data_dict.get("resource_id", data_dict.get("id"))
    if _table_missing(context, resource_id):
        return _as_missing_table(next_action, context, data_dict, resource_id)
    return next_action(context, data_dict)


# --- datastore_search_sql -------------------------------------------------------------

@tk.chained_auth_function
@tk.auth_allow_anonymous_access
def datastore_search_sql_auth(next_auth, context: Context, data_dict: DataDict) -> AuthResult:
    table_names = context.get("table_names") or []
    # The catalogue of DataStore tables names every resource: sysadmins only.
    if any(name.startswith("_") for name in table_names):
        return _deny(tk._("Not authorized to read the DataStore catalogue"))
    for name in table_names:
        decision = _data_read_of_table(context, name)
        if not decision["success"]:
            return decision
    return next_auth(context, data_dict)


@tk.chained_action
@tk.side_effect_free
def datastore_search_sql(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """A query naming a table of a dataset the user may not see fails as if
    that table did not exist: the query runs with a name that no table can
    have in its place (the same name but for its last character, not a
    hexadecimal digit: PostgreSQL quotes the start of the name in its
    error), and the error names the table asked for."""
    sql = data_dict.get("sql") or ""
    unseen = {ref for ref in set(_UUID.findall(sql)) if _table_missing(context, ref)}
    if not unseen:
        return next_action(context, data_dict)
    stand_ins = {ref: ref[:-1] + "z" for ref in unseen}
    for ref, stand_in in stand_ins.items():
        sql = sql.replace(ref, stand_in)
    return _named_back(lambda: next_action(context, dict(data_dict, sql=sql)), stand_ins)


ACTIONS = {"datastore_search": datastore_search, "datastore_info": datastore_info,
           "datastore_search_sql": datastore_search_sql}
AUTH_FUNCTIONS = {"datastore_search": datastore_search_auth,
                  "datastore_info": datastore_info_auth,
                  "datastore_search_sql": datastore_search_sql_auth}


def configured(table: dict[str, Any]) -> dict[str, Any]:
    """`table` (ACTIONS or AUTH_FUNCTIONS) as this configuration has it:
    `datastore_search_sql` exists only when the SQL search is enabled."""
    sql_enabled = tk.asbool(tk.config.get("ckan.datastore.sqlsearch.enabled"))
    return {name: fn for name, fn in table.items()
            if sql_enabled or name != "datastore_search_sql"}
