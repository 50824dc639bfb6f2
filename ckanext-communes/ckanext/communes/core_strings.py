"""Strings of CKAN's own templates that CKAN 2.11's French catalogue leaves
untranslated, on pages every visitor or publisher meets (login, header,
dataset and resource forms and pages). Listed here only so that they are
extracted into this extension's catalogue, which CKAN merges after its own:
the French portal then shows them in French. Never imported.
"""


def _(message: str) -> str:
    return message


CORE_STRINGS = (
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
)
