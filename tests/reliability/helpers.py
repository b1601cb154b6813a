"""Helpers of the reliability tests: documents, warehouse reads and whole-state assertions.

"Nothing half-loaded" is checked against the raw store, the ground truth of what CLOVA answered:
for every request the warehouse holds, its image and field rows are exactly those of its stored
answer, every child row has its parent, and no key appears twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from clova_etl.schema import ETL_OBJECTS, TABLES

REPO_ROOT = Path(__file__).resolve().parents[2]


def copies(sample: bytes, n: int, tag: str) -> list[bytes]:
    """``n`` different documents from one sample PNG: bytes after IEND differ, truth is kept."""
    return [sample + f"clova-etl-{tag}-{i:05d}".encode() for i in range(n)]


def fill(bucket: Path, docs: Mapping[str, bytes]) -> None:
    """Write ``{key: bytes}`` into a local bucket folder."""
    for key, data in docs.items():
        path = bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def query(uri: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` in a DuckDB (read-only) or PostgreSQL warehouse."""
    if uri.startswith("duckdb"):
        import duckdb

        con = duckdb.connect(uri.removeprefix("duckdb:///"), read_only=True)
        try:
            return [tuple(r) for r in con.execute(sql).fetchall()]
        finally:
            con.close()
    import psycopg

    with psycopg.connect(uri, connect_timeout=5) as pg:
        return [tuple(r) for r in pg.execute(sql).fetchall()]


def snapshot(uri: str, schema: str = "ocr") -> dict[str, list[tuple[Any, ...]]]:
    """Every OCR table and etl_objects, sorted, for before/after comparisons."""
    out = {}
    for table in [*TABLES.values(), ETL_OBJECTS]:
        cols = ", ".join(f'"{c}"' for c in table.column_names)
        rows = query(uri, f'SELECT {cols} FROM "{schema}"."{table.name}"')
        out[table.name] = sorted(rows, key=repr)
    return out


def duplicate_keys(uri: str, schema: str = "ocr") -> dict[str, int]:
    """Tables with key values appearing more than once, and how many such keys."""
    found = {}
    for table in [*TABLES.values(), ETL_OBJECTS]:
        key = ", ".join(f'"{c}"' for c in table.key)
        ((n,),) = query(
            uri,
            f'SELECT count(*) FROM (SELECT {key} FROM "{schema}"."{table.name}" '
            f"GROUP BY {key} HAVING count(*) > 1) AS d",
        )
        if n:
            found[table.name] = int(n)
    return found


def orphans(uri: str, schema: str = "ocr") -> dict[str, int]:
    """Child rows whose parent row is missing, by table."""
    found = {}
    for table in TABLES.values():
        if not table.parent:
            continue
        parent = TABLES[table.parent]
        cond = " AND ".join(f'p."{c}" = c."{c}"' for c in parent.key)
        ((n,),) = query(
            uri,
            f'SELECT count(*) FROM "{schema}"."{table.name}" AS c WHERE NOT EXISTS '
            f'(SELECT 1 FROM "{schema}"."{parent.name}" AS p WHERE {cond})',
        )
        if n:
            found[table.name] = int(n)
    return found


def stored_envelopes(store: Path) -> dict[str, dict[str, Any]]:
    """Every envelope of the raw store (answered and rejected), by request id."""
    out = {}
    for folder in ("raw", "rejected"):
        for path in sorted((store / folder).glob("*.json")):
            out[path.stem] = orjson.loads(path.read_bytes())
    return out


def assert_whole(uri: str, store: Path, schema: str = "ocr") -> dict[str, str]:
    """Assert the warehouse is exactly the raw store, request by request; return statuses.

    Every stored envelope is one ``ocr_requests`` row with the envelope's status and error code;
    a succeeded request has one ``ocr_images`` row per answered image and one ``ocr_fields`` row
    per answered field; a failed or rejected one has no child rows. No key twice, no orphan.
    """
    envelopes = stored_envelopes(store)
    assert duplicate_keys(uri, schema) == {}
    assert orphans(uri, schema) == {}
    rows = query(uri, f'SELECT request_id, status, error_code FROM "{schema}".ocr_requests')
    in_wh = {rid: (status, code) for rid, status, code in rows}
    assert set(in_wh) == set(envelopes), "warehouse requests differ from the raw store"
    images = Counter(r[0] for r in query(uri, f'SELECT request_id FROM "{schema}".ocr_images'))
    fields = Counter(r[0] for r in query(uri, f'SELECT request_id FROM "{schema}".ocr_fields'))
    for rid, env in envelopes.items():
        call = env["call"]
        assert in_wh[rid] == (call["status"], call["error_code"]), rid
        answer = env.get("response") or {}
        answered = answer.get("images") or []
        want_fields = sum(len(img.get("fields") or []) for img in answered)
        if call["status"] == "succeeded":
            assert images[rid] == len(answered) > 0, rid
            assert fields[rid] == want_fields, rid
        else:
            assert call["error_code"], rid
            assert images[rid] == 0 and fields[rid] == 0, rid
    return {rid: status for rid, (status, _) in in_wh.items()}


def objects(uri: str, schema: str = "ocr") -> dict[str, tuple[str, str | None, str | None]]:
    """``etl_objects`` by key (the URI's part after ``/inbox/``): (status, code, message)."""
    rows = query(
        uri, f'SELECT source_uri, status, error_code, error_message FROM "{schema}".etl_objects'
    )
    out = {}
    for uri_, status, code, message in rows:
        key = "inbox/" + str(uri_).split("/inbox/", 1)[1]
        out[_unquote(key)] = (status, code, message)
    return out


def _unquote(key: str) -> str:
    from urllib.parse import unquote

    return unquote(key) if "%" in key else key


def cli(
    args: Sequence[str], env: Mapping[str, str], *, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``clova-etl`` as a subprocess (stdout and stderr captured)."""
    return subprocess.run(
        [sys.executable, "-m", "clova_etl.cli", *args],
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_popen(args: Sequence[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``clova-etl`` as a subprocess writing stdout and stderr to ``log``."""
    fh = log.open("wb")
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "clova_etl.cli", *args],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    finally:
        fh.close()
