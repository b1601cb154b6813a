"""Look for a secret everywhere a run leaves something: files, Parquet values, warehouse rows.

Byte scans alone are not enough: Parquet pages and DuckDB blocks are compressed, so a secret in
a column would not show as bytes. Those are also read back and every value is searched.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote


def forms(secret: str) -> list[bytes]:
    """The secret as written, base64-encoded and URL-encoded (the ways it could be copied)."""
    raw = secret.encode()
    return list(dict.fromkeys([raw, base64.b64encode(raw), quote(secret, safe="").encode()]))


def in_text(text: str | bytes, secret: str) -> bool:
    """Whether any form of the secret is in ``text``."""
    data = text.encode(errors="replace") if isinstance(text, str) else text
    return any(form in data for form in forms(secret))


def files_with(roots: Iterable[Path], secret: str) -> list[str]:
    """Files under ``roots`` (or the files themselves) whose bytes hold the secret."""
    found = []
    for root in roots:
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            if in_text(path.read_bytes(), secret):
                found.append(str(path))
    return found


def parquet_values_with(root: Path, secret: str) -> list[str]:
    """``file:column`` of every Parquet value under ``root`` that holds the secret."""
    import pyarrow.parquet as pq

    found = []
    files = sorted(root.rglob("*.parquet"))
    assert files, f"no Parquet under {root}"
    for path in files:
        table = pq.read_table(path)
        for name in table.column_names:
            if in_text(repr(table.column(name).to_pylist()), secret):
                found.append(f"{path}:{name}")
    return found


def duckdb_values_with(path: Path, secret: str) -> list[str]:
    """``schema.table`` of every DuckDB table or view with a value holding the secret."""
    import duckdb

    found = []
    con = duckdb.connect(str(path), read_only=True)
    try:
        relations = con.execute(
            "SELECT DISTINCT table_schema, table_name FROM information_schema.columns "
            "WHERE table_catalog = current_database()"
        ).fetchall()
        assert relations, "the warehouse is empty"
        for schema, table in relations:
            quoted = '"' + schema.replace('"', '""') + '"."' + table.replace('"', '""') + '"'
            rows = con.execute(f"SELECT * FROM {quoted}").fetchall()
            if in_text(repr(rows), secret):
                found.append(f"{schema}.{table}")
    finally:
        con.close()
    return found
