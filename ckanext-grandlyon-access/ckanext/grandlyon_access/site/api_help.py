"""The API help panel of every dataset and resource page: copy-ready
examples (curl, Python with `requests`, JavaScript `fetch`) with the
dataset's and resource's real ids (templates/api_help/panel.html).

What the examples call (`examples`):

- `package_show`: the dataset's metadata, always;
- `download`: the resource's file, at the URL the user sees (for gated data
  the portal's download route, gate.py);
- `datastore_search`: a few rows of the resource's DataStore table, when it
  has one (`datastore_active`);
- `history_query`: the first rows of the resource's history (from the
  start of its coverage), when an extension offers `history_show` and it
  answers for the user (the resource has a history the user may read:
  asked as the user, so a history is never revealed to someone who may not
  read the data).

On a dataset page the examples use its first resource (the first one with a
DataStore table for `datastore_search`, the first of `HISTORY_CHECKS`
resources with a history for `history_query`); a resource page uses that
resource.

Every example reads the API token from the environment variable `TOKEN_ENV`
(none: the call is anonymous); the panel says where to create one (the
user's API tokens page) and, when the user may not read the data yet, the
next step (log in, sign the licence, ask for access), in the words of the
dataset page's access box. Without access, the download and the DataStore
answer 403; `package_show` answers the metadata.

Code is built here, quoted for its language (JSON literals for Python and
JavaScript, shell quoting for curl), and escaped by the template.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import ckan.plugins.toolkit as tk

__all__ = ["TOKEN_ENV", "HISTORY_CHECKS", "examples", "history_start",
           "grandlyon_access_api_help", "template_helpers"]

TOKEN_ENV = "CKAN_API_TOKEN"
HISTORY_CHECKS = 3
ROWS = 5

_PY_JSON = """import os

import requests

token = os.environ.get({env})
response = requests.get(
    {url},
    params={params},
    headers={{"Authorization": token}} if token else {{}},
    timeout=30,
)
response.raise_for_status()
result = response.json()["result"]
print({show})
"""

_PY_FILE = """import os

import requests

token = os.environ.get({env})
response = requests.get(
    {url},
    headers={{"Authorization": token}} if token else {{}},
    timeout=60,
)
response.raise_for_status()
with open({filename}, "wb") as file:
    file.write(response.content)
"""

_JS_JSON = """const token = "";
const params = new URLSearchParams({params});
const response = await fetch({url} + "?" + params, {{
  headers: token ? {{Authorization: token}} : {{}},
}});
if (!response.ok) throw new Error(`HTTP ${{response.status}}`);
const {{result}} = await response.json();
console.log({show});
"""

_JS_FILE = """const token = "";
const response = await fetch({url}, {{
  headers: token ? {{Authorization: token}} : {{}},
}});
if (!response.ok) throw new Error(`HTTP ${{response.status}}`);
const file = await response.blob();
console.log(file.size);
"""


def _site() -> str:
    return tk.config["ckan.site_url"].rstrip("/")


def _action_url(action: str) -> str:
    return f"{_site()}/api/3/action/{action}"


def _curl(url: str, output: str | None = None) -> str:
    header = shlex.quote("Authorization: ") + "\"$" + TOKEN_ENV + "\""
    out = f" -L -o {shlex.quote(output)}" if output else ""
    return f"curl -sS{out} -H {header} {shlex.quote(url)}"


def _action_example(key: str, action: str, params: dict[str, Any], show_py: str,
                    show_js: str) -> dict[str, str]:
    url = _action_url(action)
    return {
        "key": key,
        "curl": _curl(f"{url}?{urlencode(params)}"),
        "python": _PY_JSON.format(env=json.dumps(TOKEN_ENV), url=json.dumps(url),
                                  params=json.dumps(params), show=show_py),
        "javascript": _JS_JSON.format(url=json.dumps(url), params=json.dumps(params),
                                      show=show_js),
    }


def _filename(res: dict[str, Any]) -> str:
    """A plain file name for a downloaded resource: the last part of its URL
    when it is plain, else `data` with its format as extension."""
    last = (res.get("url") or "").split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    if re.fullmatch(r"[\w.-]{1,80}\.\w{1,8}", last, re.ASCII) and last != "download":
        return last
    ext = re.sub(r"\W", "", (res.get("format") or "").lower(), flags=re.ASCII)[:8]
    return f"data.{ext}" if ext else "data"


def _download_example(res: dict[str, Any]) -> dict[str, str]:
    url, filename = res["url"], _filename(res)
    return {
        "key": "download",
        "curl": _curl(url, filename),
        "python": _PY_FILE.format(env=json.dumps(TOKEN_ENV), url=json.dumps(url),
                                  filename=json.dumps(filename)),
        "javascript": _JS_FILE.format(url=json.dumps(url)),
    }


def history_start(res: dict[str, Any]) -> str | None:
    """When the resource's history starts (ISO 8601), if it has one the
    current user may read: asked to `history_show` as the user (no such
    action, or no history: None)."""
    user = tk.current_user
    authenticated = bool(getattr(user, "is_authenticated", False))
    context = {"user": user.name if authenticated else "",
               "auth_user_obj": user if authenticated else None}
    try:
        shown = tk.get_action("history_show")(context, {"resource_id": res["id"]})
    except (KeyError, tk.ObjectNotFound, tk.NotAuthorized, tk.ValidationError):
        return None
    return (shown.get("coverage") or {}).get("first")


def examples(pkg: dict[str, Any], res: dict[str, Any] | None = None,
             history: Callable[[dict[str, Any]], str | None] = history_start,
             ) -> list[dict[str, str]]:
    """The examples for a dataset page (`res` None) or a resource page:
    each {"key", "curl", "python", "javascript"}, keys in the order
    package_show, download, datastore_search, history_query."""
    resources = [res] if res else list(pkg.get("resources") or [])
    found = [_action_example("package_show", "package_show", {"id": pkg["name"]},
                             'result["title"]', "result.title")]
    with_url = next((r for r in resources if r.get("url")), None)
    if with_url:
        found.append(_download_example(with_url))
    table = next((r for r in resources if r.get("datastore_active")), None)
    if table:
        found.append(_action_example(
            "datastore_search", "datastore_search", {"resource_id": table["id"], "limit": ROWS},
            'result["records"]', "result.records"))
    for candidate in resources[:HISTORY_CHECKS]:
        start = history(candidate)
        if start:
            found.append(_action_example(
                "history_query", "history_query",
                {"resource_id": candidate["id"], "start": start, "limit": ROWS},
                'result["records"]', "result.records"))
            break
    return found


def grandlyon_access_api_help(pkg: dict[str, Any],
                              res: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the API help panel shows: `examples` (see `examples`), the
    environment variable of the token (`token_env`) and the URL of the
    user's API tokens page (`tokens_url`, None for a visitor not logged in)."""
    user = tk.current_user
    tokens_url = (tk.url_for("user.api_tokens", id=user.name)
                  if getattr(user, "is_authenticated", False) else None)
    return {"examples": examples(pkg, res), "token_env": TOKEN_ENV, "tokens_url": tokens_url}


def template_helpers() -> dict[str, Callable[..., Any]]:
    """This module's template helpers."""
    return {"grandlyon_access_api_help": grandlyon_access_api_help}
