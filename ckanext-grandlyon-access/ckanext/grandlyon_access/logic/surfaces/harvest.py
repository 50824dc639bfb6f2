"""ckanext-harvest's harvest objects (registered only when the `harvest`
plugin is loaded).

| action (chained) | what the user gets |
| --- | --- |
| `harvest_object_show` | the harvested document of a dataset (it holds the origin URLs): missing for users who may not see the dataset, refused to those who may not read its data |
| `harvest_object_list` | without the objects of datasets the user may not see |
"""

from __future__ import annotations

from typing import Any

import ckan.model as model
import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict

from .common import ActionFunc, Asker, as_missing, dataset

# The plugin this area needs loaded (chaining an action nobody defines stops
# CKAN at start-up), or None.
NEEDS_PLUGIN = "harvest"


@tk.chained_action
@tk.side_effect_free
def harvest_object_show(next_action: ActionFunc, context: Context, data_dict: DataDict) -> Any:
    """The harvested document of a dataset (it holds the origin URLs): missing
    for users who may not see the dataset, refused to those who may not read
    its data."""
    from ckanext.harvest.model import HarvestObject

    if data_dict.get("id"):
        obj = HarvestObject.get(data_dict["id"])
        package, key = (dataset(obj.package_id) if obj else None), "id"
    else:
        package, key = dataset(data_dict.get("dataset_id")), "dataset_id"
    if package is not None:
        asker = Asker(context)
        if not asker.sees(package):
            return as_missing(next_action, context, data_dict, key)
        if not asker.reads(package):
            raise tk.NotAuthorized(tk._("You do not have access to the data of this dataset"))
    return next_action(context, data_dict)


@tk.chained_action
@tk.side_effect_free
def harvest_object_list(next_action: ActionFunc, context: Context, data_dict: DataDict) -> list:
    """Without the harvest objects of datasets the user may not see."""
    from ckanext.harvest.model import HarvestObject

    ids = next_action(context, data_dict)
    unseen = Asker(context).unseen_ids()
    if not unseen or not ids:
        return ids
    hidden = {obj_id for obj_id, in model.Session.query(HarvestObject.id)
              .filter(HarvestObject.package_id.in_(unseen))}
    return [obj_id for obj_id in ids if obj_id not in hidden]


ACTIONS = {
    "harvest_object_show": harvest_object_show,
    "harvest_object_list": harvest_object_list,
}
AUTH_FUNCTIONS: dict[str, Any] = {}
