"""The analyst views in Trino's SQL (NCP Data Query, Trino, Athena) over the Iceberg tables.

The views are written once (:mod:`.views`); this module rewrites the one construct Trino
spells differently: ``string_agg(x, sep ORDER BY k)`` becomes
``array_join(array_agg(x ORDER BY k), sep)``. ``sql/iceberg/views_trino.sql`` is generated
from it, and a test runs the result in DuckDB over the Iceberg scans (with ``array_join``
defined as DuckDB's ``array_to_string``).
"""

from __future__ import annotations

import re

from clova_etl.warehouse.uri import DEFAULT_SCHEMA
from clova_etl.warehouse.views import VIEWS, View

_STRING_AGG = re.compile(r"string_agg\((?P<value>[^,]+), (?P<sep>.+?) ORDER BY (?P<key>[^)]+)\)")


def to_trino(sql: str) -> str:
    """``sql`` (the views' dialect) with Trino's spelling of ordered string aggregation."""
    return _STRING_AGG.sub(r"array_join(array_agg(\g<value> ORDER BY \g<key>), \g<sep>)", sql)


def trino_view_sql(view: View, schema: str = DEFAULT_SCHEMA) -> str:
    """``CREATE OR REPLACE VIEW`` for Trino."""
    return to_trino(view.create_sql(schema))


def render_trino_views(schema: str = DEFAULT_SCHEMA) -> str:
    """The script of ``sql/iceberg/views_trino.sql``."""
    head = (
        f"-- clova-etl analyst views for Trino / NCP Data Query over the Iceberg tables, "
        f"schema {schema!r}.\n"
        "-- Run it with the Iceberg catalog as the session catalog (USE <catalog>.ocr).\n"
        "-- GENERATED from clova_etl/warehouse/views.py by "
        "`python -m clova_etl.warehouse.sqlfiles`;\n"
        "-- do not edit by hand (a test compares this file with the generator).\n"
    )
    body = "".join(
        f"-- {v.name}: {v.description}\n{trino_view_sql(v, schema)};\n{v.comment_sql(schema)};\n\n"
        for v in VIEWS
    )
    return head + "\n" + body.rstrip() + "\n"


__all__ = ["render_trino_views", "to_trino", "trino_view_sql"]
