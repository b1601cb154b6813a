"""Warehouse URIs: what they name, how they are shown, and how failures to connect read."""

from __future__ import annotations

import pickle

import pytest

from clova_etl.warehouse import (
    InvalidWarehouseURI,
    WarehouseBusyError,
    WarehouseUnavailableError,
    connect,
    parse_warehouse_uri,
)


@pytest.mark.parametrize(
    ("uri", "target"),
    [
        ("duckdb:///data/wh.duckdb", "data/wh.duckdb"),
        ("duckdb:////srv/ocr/wh.duckdb", "/srv/ocr/wh.duckdb"),
        ("duckdb:data/wh.duckdb", "data/wh.duckdb"),
        ("duckdb:///:memory:", ":memory:"),
        ("DUCKDB:///my%20file.duckdb", "my file.duckdb"),
    ],
)
def test_duckdb_uris_name_a_file(uri: str, target: str) -> None:
    parsed = parse_warehouse_uri(uri)
    assert (parsed.dialect, parsed.target, str(parsed)) == ("duckdb", target, uri)


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("warehouse.duckdb", "not a warehouse URI"),
        ("mysql://h/db", "unsupported warehouse scheme"),
        ("duckdb://host/wh.duckdb", "names a local file, not a host"),
        ("duckdb:///", "names no file"),
        ("duckdb:///data/", "names a folder"),
        ("postgresql://h:5432", "names no database"),
        ("postgresql://u:pw@h:notaport/db", "port"),
    ],
)
def test_unusable_uris_say_how_to_write_them(uri: str, message: str) -> None:
    with pytest.raises(InvalidWarehouseURI, match=message) as caught:
        parse_warehouse_uri(uri)
    assert "pw" not in str(caught.value)


@pytest.mark.parametrize(
    "uri",
    [
        "postgresql://etl:S3cr%40t!@db.internal:5433/ocr?sslmode=require",
        "postgres://etl@db.internal/ocr?password=S3cr%40t!&sslmode=require",
    ],
)
def test_postgres_passwords_are_never_shown(uri: str) -> None:
    parsed = parse_warehouse_uri(uri)
    assert parsed.dialect == "postgres"
    assert parsed.target.startswith("postgresql://")
    for shown in (str(parsed), repr(parsed), parsed.redact(f"failed: {parsed.target} S3cr@t!")):
        assert "S3cr" not in shown, shown
        assert "***" in shown


def test_a_refused_connection_is_transient_and_keeps_the_password_out() -> None:
    with pytest.raises(WarehouseUnavailableError) as caught:
        connect("postgresql://etl:Hunter2secret@127.0.0.1:1/ocr?connect_timeout=2")
    error = caught.value
    assert error.transient
    text = str(error) + repr(error) + str(pickle.loads(pickle.dumps(error)))
    assert "Hunter2secret" not in text
    assert "postgresql://etl:***@127.0.0.1:1/ocr" in text
    assert "retry" in text
    assert error.__cause__ is None  # the driver's message (it may echo the URI) is not chained


def test_a_locked_duckdb_file_is_transient(tmp_path: object) -> None:
    import subprocess
    import sys
    import textwrap

    path = f"{tmp_path}/wh.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import duckdb, sys, time
                con = duckdb.connect({path!r})
                print("ready", flush=True)
                sys.stdin.readline()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        # The open waits (backoff) for the holder, then gives up with one clear error.
        with pytest.raises(WarehouseBusyError, match="still held by another process") as caught:
            connect(f"duckdb:///{path}", lock_wait_seconds=0.5)
        assert caught.value.transient and isinstance(caught.value, WarehouseUnavailableError)
        assert "\n" not in str(caught.value) and "lock_wait_seconds" in str(caught.value)
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
