"""The history plugin's tables, all created by its migrations
(`ckan db upgrade -p history`): feeds and gaps (`feed.py`), the hot tier's
rows, schemas, features and imports (`rows.py`). No foreign keys to CKAN's tables:
resources are referred to by id."""

from .feed import Feed, Gap, utcnow
from .rows import feature_table, import_table, row_table, schema_table

__all__ = ["Feed", "Gap", "feature_table", "import_table", "row_table", "schema_table", "utcnow"]
