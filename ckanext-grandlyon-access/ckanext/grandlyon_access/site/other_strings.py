# ruff: noqa: E501  (the messages are ckanext-harvest's, one literal each)
"""Strings that other packages show on the portal's pages without a French
translation: ckanext-harvest ships no French catalogue, and a few of CKAN's
own strings have none (on the way to data: registering, a resource's page,
the API token page, the sysadmin pages). They are listed here, once for the
whole suite, so that the access extension's catalogue (i18n/) translates
them: CKAN merges every plugin's catalogue over its own. `_` only marks them
for extraction; nothing calls this module."""

from __future__ import annotations


def _(message: str) -> str:
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


# CKAN (no French for these in CKAN 2.11): login, header, dataset and
# resource forms and pages
CKAN = (
    _("Username or Email"),
    _("Skip to main content"),
    _("Toggle navigation"),
    _("Search Datasets..."),
    _("Submit"),
    _("Breadcrumb"),
    _("View dashboard"),
    _("Profile settings"),
    _("Account"),
    _("Close"),
    _("You might need to login to access this page."),
    _("Click here to login"),
    _('You can use <a href="#markdown" title="Markdown quick reference" data-bs-toggle="popover" '
      'data-bs-content="%(markdown_tooltip)s" data-bs-html="true">Markdown formatting</a> here'),
    _("Please select the license"),
    _("No Organization"),
    _("There is no description for this dataset"),
    _("Dataset description:"),
    _("<b>No fields defined:</b> click the Data Dictionary button above to customize this table"),
    _("<b>No table view defined:</b> click the Views button and add a Table view to view "
      "and edit data"),
    _("Save this resource, then customize the table from the Data Dictionary tab"),
    # the API token form (a lifetime of 0)
    _("Must be a positive integer"),
)

# CKAN (no French in CKAN 2.11 either): the sysadmin pages, the activity
# streams and their change summaries, user and resource forms, the API help
CKAN_MORE = (
    _("Current Sysadmins"),
    _("Revoke Sysadmin permission"),
    _("Promote user to Sysadmin"),
    _("Promote"),
    _("Custom Stylesheet"),
    _("Deleted datasets"),
    _("Deleted organizations"),
    _("Deleted groups"),
    _("Are you sure you want to purge everything?"),
    _("Purge all"),
    _("Code examples:"),
    _("Get 5 results containing \"jones\" in any field:"),
    _("Get results with either \"watershed\" or \"survey\" as subject and \"active\" as its stage:"),
    _("List view/Responsive display"),
    _("Ellipsis length"),
    _("Date format"),
    _("Refit"),
    _("0 Members"),
    _("Resource Type"),
    _("Select a type…"),
    _("Manage resource: {name}"),
    _("No activity found for this type"),
    _("No activity found"),
    _("All activity types"),
    _("View this version"),
    _("Newer activities"),
    _("Older activities"),
    _("{actor} updated the {dataset_type} {dataset}"),
    _("{actor} deleted the {dataset_type} {dataset}"),
    _("{actor} created the {dataset_type} {dataset}"),
    _("{actor} updated resource view {view_link}"),
    _("{actor} created resource view {view_link}"),
    _("{actor} deleted resource view \"{view_title}\" for resource {resource_link}"),
    _("No fields were updated. See the metadata diff for more details."),
    _("Deleted resource {resource_link} from {pkg_link}"),
    _("Uploaded a new file to resource {resource_link} in {pkg_link}"),
    _("Added resource {resource_link} to {pkg_link}"),
    _("Removed description from {pkg_link}"),
    _("Moved {pkg_link} from organization {old_org_link} to organization {new_org_link}"),
    _("Removed {pkg_link} from organization {old_org_link}"),
    _("Added {pkg_link} to organization {new_org_link}"),
    _("Set visibility of {pkg_link} to {visibility}"),
    _("Renamed resource {old_resource_link} to {new_resource_link} in {pkg_link}"),
    _("Removed tag {tag_link} from {pkg_link}"),
    _("Removed the following tags from {pkg_link}"),
    _("Added tag {tag_link} to {pkg_link}"),
    _("Added the following tags to {pkg_link}"),
    _("Changed title to {title_link} (previously {old_title})"),
    _("Are you sure you want to delete user - {name}?"),
    _("Reactivate User"),
    _("This account is deactivated, if you want to reactivate it, please click on checkbox."),
    _("Sysadmin password"),
    _("Reactivate Profile"),
    _("Request Reset"),
    _("Search followee"),
    _("Last Active"),
)

# CKAN: the API token page and the user form
CKAN_ACCOUNT = (
    _("API Token created: <code style=\"word-break:break-all;\">{token}</code> {copy}<br>"
      "Make sure to copy it now, you won't be able to see it again!"),
    _("API Tokens"),
    _("Profile picture"),
    _("Profile picture URL"),
    # the token form's error summary names the fields from their keys
    # (ValidationError.error_summary: `expires_in` -> "Expires in")
    _("Expires in"),
    _("Unit"),
)


# ckanext-harvest: its pages, flash messages, job statuses and statistics
HARVEST = (
    _("Harvest source not found"),
    _("No jobs yet for this source"),
    _("Harvest job not found"),
    _("Harvest job stopped"),
    _("Harvest will start shortly. Refresh this page for updates."),
    _("Cannot create new harvest jobs on inactive sources. First, please change the source status to \"active\"."),
    _("A harvest job has already been scheduled for this source"),
    _("Harvest source cleared"),
    _("Harvesting source successfully cleared"),
    _("Harvesting source successfully inactivated"),
    _("No content found"),
    _("Error Summary"),
    _("Document Error"),
    _("Job Errors"),
    _("User {0} not authorized to create harvest sources"),
    _("User not authorized to create a job for source {0}"),
    _("Only sysadmins can create harvest jobs for all sources"),
    _("Only the sysadmins can create harvest objects"),
    _("User {0} not authorized to delete harvest source {1}"),
    _("User {0} not authorized to read harvest source {1}"),
    _("User {0} not authorized to see jobs from source {1}"),
    _("User {0} not authorized to list jobs for source {1}"),
    _("User {0} not authorized to update harvest source {1}"),
    _("Only sysadmins can clear history for all harvest jobs"),
    _("Only sysadmins can reimport all harvest objects"),
    _("Only sysadmins can run the pending harvest jobs"),
    _("Only sysadmins can reindex all harvest sources"),
    _("Harvest"),
    _("Add Harvest Source"),
    _("errors"),
    _("Id"),
    _("Started"),
    _("Finished"),
    _("Count"),
    _("Message"),
    _("There are no datasets associated to this harvest source."),
    _("Sorry no harvest sources found for \"{query}\""),
    _("Sorry no harvest sources found"),
    _("There is no description for this harvest source"),
    _("Last Harvest Job"),
    _("View full job report"),
    _("This will re-run the harvesting for this source. Any updates at the source will overwrite the local datasets. Sources with a large number of datasets may take a significant amount of time to finish harvesting. Please confirm you would like us to start reharvesting."),
    _("Start a new harvesting job for this harvest source now"),
    _("Reharvest"),
    _("Stop"),
    _("Warning: This will remove all datasets for this source, as well as all previous job reports. Are you sure you want to continue?"),
    _("Delete all harvest jobs and existing datasets from this source"),
    _("Clear"),
    _("View harvest source"),
    _("Jobs"),
    _("Harvest Sources"),
    _("Edit harvest source"),
    _("Create Harvest Source"),
    _("Create harvest source"),
    _("Harvest sources"),
    _("This should include the http:// part of the URL"),
    _("Update frequency"),
    _("Configuration"),
    _("No organization"),
    _("This will flag the source as deleted but keep all its datasets and previous jobs. Are you sure you want to delete this harvest source?"),
    _("Delete source"),
    _("Delete and clear source"),
    _("Search harvest sources..."),
    _("Harvest Jobs"),
    _("Job: "),
    _("Started:"),
    _("Not yet"),
    _("Finished:"),
    _("Job Report"),
    _("Back to job list"),
    _("No errors for this job"),
    _("Only the 20 most frequent errors are shown"),
    _("Document Errors"),
    _("Error Report"),
    _("documents with errors"),
    _("Remote content"),
    _("Local content"),
    _("Manual"),
    _("Monthly"),
    _("Weekly"),
    _("Biweekly"),
    _("Daily"),
    _("Always"),
    _("New"),
    _("Running"),
    _("added"),
    _("updated"),
    _("deleted"),
    _("not modified"),
    ngettext("{number} harvest source found", "{number} harvest sources found", 1),
    ngettext("{number} harvest source found for \"{query}\"",
             "{number} harvest sources found for \"{query}\"", 1),
)
