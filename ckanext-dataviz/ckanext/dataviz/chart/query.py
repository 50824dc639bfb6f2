"""Server-side aggregation of a chart over a DataStore table.

One SELECT ... GROUP BY on the DataStore's read engine: identifiers are
checked against the table's fields (logic.schema.check_chart) and quoted; operators,
aggregates and buckets come from fixed lists; values are bound parameters.
Only the points drawn leave the database.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import sqlalchemy as sa

from ckanext.datastore.backend import postgres

from ckanext.dataviz import config
from ckanext.dataviz.chart.spec import ChartSpec

AGGREGATE_SQL = {"sum": "sum", "avg": "avg", "min": "min", "max": "max", "count": "count"}


def identifier(name: str) -> str:
    return postgres.identifier(name)


def datastore_fields(resource_id: str) -> list[dict[str, Any]] | None:
    """The DataStore fields of a resource ([{"id", "type"}], what
    datastore_info lists), or None when it has no DataStore table."""
    engine = postgres.get_read_engine()
    with engine.connect() as conn:
        exists = conn.execute(sa.text(
            'SELECT 1 FROM "_table_metadata" WHERE name = :id AND alias_of IS NULL'),
            {"id": resource_id}).first()
        if not exists:
            return None
        return postgres._get_fields(conn, resource_id)


def build(resource_id: str, spec: ChartSpec) -> tuple[str, dict[str, Any]]:
    """The SQL text and its bound parameters."""
    q = identifier
    params: dict[str, Any] = {}
    x = q(spec.x)
    x_expr = f"date_trunc('{spec.bucket}', CAST({x} AS timestamp))" if spec.bucket else x
    where = [f"{x} IS NOT NULL"]
    for i, flt in enumerate(spec.filters):
        where.append(f"{q(flt.field)} {flt.op} :f{i}")
        params[f"f{i}"] = flt.value
    select = [f"{x_expr} AS x"]
    group = ["1"]
    if spec.series:
        select.append(f"{q(spec.series)} AS s")
        group.append("2")
    if spec.aggregate == "none":
        select += [f"{q(y)} AS y{i}" for i, y in enumerate(spec.y)]
    elif spec.aggregate == "count" and not spec.y:
        select.append("count(*) AS y0")
    else:
        function = AGGREGATE_SQL[spec.aggregate]
        select += [f"{function}({q(y)}) AS y{i}" for i, y in enumerate(spec.y)]
    order_key = "x" if spec.sort.lstrip("-") == "x" else "y0"
    direction = "DESC" if spec.sort.startswith("-") else "ASC"
    order = [f"{order_key} {direction} NULLS LAST"]
    if order_key != "x":
        order.append("x ASC")
    sql = f"SELECT {', '.join(select)} FROM {q(resource_id)} WHERE {' AND '.join(where)}"
    if spec.aggregate != "none":
        sql += f" GROUP BY {', '.join(group)}"
    sql += f" ORDER BY {', '.join(order)} LIMIT :limit"
    params["limit"] = spec.limit + 1
    return sql, params


def _value(value: Any) -> Any:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def run(resource_id: str, spec: ChartSpec, fields: list[dict[str, Any]]) -> dict[str, Any]:
    """The points of a chart: {"fields", "series": [{"name", "points"}],
    "truncated", "chart"}."""
    sql, params = build(resource_id, spec)
    engine = postgres.get_read_engine()
    with engine.connect() as conn:
        with conn.begin():
            conn.execute(sa.text("SELECT set_config('statement_timeout', :ms, true)"),
                         {"ms": str(config.chart_timeout_ms())})
            rows = conn.execute(sa.text(sql), params).fetchall()
    truncated = len(rows) > spec.limit
    rows = rows[: spec.limit]

    y_names = spec.y or ["count"]
    series: dict[Any, dict[str, Any]] = {}
    for row in rows:
        x = _value(row[0])
        offset = 2 if spec.series else 1
        for i, y_name in enumerate(y_names):
            if spec.series:
                group = "" if row[1] is None else str(_value(row[1]))
                name = group if len(y_names) == 1 else f"{group} · {y_name}"
            else:
                name = y_name
            entry = series.setdefault(name, {"name": name, "points": []})
            entry["points"].append([x, _value(row[offset + i])])

    types = {f["id"]: f["type"] for f in fields}
    out_fields = [{"id": spec.x, "type": "timestamp" if spec.bucket else types[spec.x],
                   "axis": "x"}]
    if spec.series:
        out_fields.append({"id": spec.series, "type": types[spec.series], "axis": "series"})
    for name in spec.y:
        out_fields.append({"id": name, "type": types[name], "axis": "y",
                           "aggregate": spec.aggregate})
    if not spec.y:
        out_fields.append({"id": "count", "type": "int", "axis": "y", "aggregate": "count"})
    return {"fields": out_fields, "series": list(series.values()), "truncated": truncated,
            "chart": spec.as_dict()}
