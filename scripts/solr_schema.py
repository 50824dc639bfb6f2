"""Writes the Solr schema of the local stack: CKAN's own schema.xml, taken
from the installed CKAN package, plus the fields ckanext-spatial needs.

    python scripts/solr_schema.py CKAN_SCHEMA_XML OUTPUT_XML

The `solr-bbox` backend needs float fields minx maxx miny maxy and bbox_area;
the `solr-spatial-field` backend needs a location_rpt type (JTS) and a
spatial_geom field. Both are added, so either backend can be configured.
"""

from __future__ import annotations

import sys

FIELD_TYPES = """
    <fieldType name="location_rpt" class="solr.SpatialRecursivePrefixTreeFieldType"
               spatialContextFactory="JTS" autoIndex="true" validationRule="repairBuffer0"
               distErrPct="0.025" maxDistErr="0.001" distanceUnits="kilometers"/>
"""

FIELDS = """
    <field name="bbox_area" type="float" indexed="true" stored="true"/>
    <field name="maxx" type="float" indexed="true" stored="true"/>
    <field name="maxy" type="float" indexed="true" stored="true"/>
    <field name="minx" type="float" indexed="true" stored="true"/>
    <field name="miny" type="float" indexed="true" stored="true"/>
    <field name="spatial_geom" type="location_rpt" indexed="true" stored="true" multiValued="true"/>
"""

DYNAMIC_CATCH_ALL = '<dynamicField name="*" '


def patch(schema: str) -> str:
    if 'name="location_rpt"' not in schema:
        if "</types>" not in schema:
            raise ValueError("schema.xml has no </types> element")
        schema = schema.replace("</types>", FIELD_TYPES + "</types>", 1)
    if 'name="spatial_geom"' not in schema:
        at = schema.find(DYNAMIC_CATCH_ALL)
        if at < 0:
            raise ValueError("schema.xml has no catch-all dynamic field")
        schema = schema[:at] + FIELDS.strip() + "\n    " + schema[at:]
    return schema


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = f.read()
    with open(argv[2], "w", encoding="utf-8") as f:
        f.write(patch(schema))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
