"""Iceberg warehouse URIs: which catalog they name, where files go, and what is never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from clova_etl.warehouse import InvalidWarehouseURI, parse_warehouse_uri
from clova_etl.warehouse.iceberg_uri import catalog_properties


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (
            "iceberg:///data/catalog.db?warehouse=file:///srv/ice",
            {"type": "sql", "warehouse": "file:///srv/ice"},
        ),
        (
            "iceberg+postgresql://etl@db:5433/cat?warehouse=s3://b/p&sslmode=require",
            {
                "type": "sql",
                "uri": "postgresql+psycopg://etl@db:5433/cat?sslmode=require",
                "warehouse": "s3://b/p",
                "py-io-impl": "pyiceberg.io.fsspec.FsspecFileIO",
            },
        ),
        (
            "iceberg+rest://cat.example.com/api/v1?warehouse=s3://b/p&token=abc",
            {"type": "rest", "uri": "https://cat.example.com/api/v1", "token": "abc"},
        ),
        (
            "iceberg+rest+http://127.0.0.1:8181/?warehouse=file:///w",
            {"type": "rest", "uri": "http://127.0.0.1:8181/"},
        ),
        (
            "iceberg+hive://meta:9083?warehouse=s3://b/p",
            {"type": "hive", "uri": "thrift://meta:9083"},
        ),
        ("iceberg+glue://?warehouse=s3://b/p", {"type": "glue"}),
        (
            "iceberg:///c.db?warehouse=s3://b/p&s3.endpoint=http://127.0.0.1:9000",
            {"s3.endpoint": "http://127.0.0.1:9000", "s3.force-virtual-addressing": "false"},
        ),
    ],
)
def test_iceberg_uris_name_their_catalog(
    uri: str, expected: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)  # a SQLite catalog's folder is made where the URI says
    parsed = parse_warehouse_uri(uri)
    assert parsed.dialect == "iceberg"
    props = catalog_properties(parsed.target)
    assert {k: props.get(k) for k in expected} == expected


def test_the_sqlite_catalog_path_is_relative_with_three_slashes_absolute_with_four(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    absolute_dir = tmp_path / "abs"
    relative = catalog_properties("iceberg:///data/c.db?warehouse=file:///w")["uri"]
    absolute = catalog_properties(f"iceberg:///{absolute_dir}/c.db?warehouse=file:///w")
    assert relative.endswith("/data/c.db") and relative.startswith("sqlite:////")
    assert relative == f"sqlite:///{tmp_path.resolve()}/data/c.db"
    assert absolute["uri"] == f"sqlite:///{absolute_dir.resolve()}/c.db"


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("iceberg:///c.db", "does not say where data files go"),
        ("iceberg://host/c.db?warehouse=file:///w", "not a host"),
        ("iceberg+postgresql://u:pw@h:5432?warehouse=file:///w", "names no database"),
        ("iceberg+rest:///x?warehouse=file:///w", "names no host"),
        ("iceberg:///c.db?warehouse=file:///w&endpoint=x", "unknown option"),
        ("iceberg+postgresql://u:pw@h:bad/db?warehouse=file:///w", "(?i)port"),
    ],
)
def test_unusable_iceberg_uris_say_how_to_write_them(uri: str, message: str) -> None:
    with pytest.raises(InvalidWarehouseURI, match=message) as caught:
        parse_warehouse_uri(uri)
    assert "pw" not in str(caught.value)


def test_passwords_keys_and_tokens_are_never_shown() -> None:
    uri = (
        "iceberg+postgresql://etl:Pa%40ss@db:5432/cat?warehouse=s3://b/p"
        "&s3.access-key-id=AKIA1&s3.secret-access-key=S3cr%2Ft&s3.session-token=T0k"
    )
    parsed = parse_warehouse_uri(uri)
    shown = f"{parsed} {parsed!r} {parsed.redact('failed: ' + uri)}"
    for secret in ("Pa%40ss", "Pa@ss", "S3cr%2Ft", "S3cr/t", "T0k"):
        assert secret not in shown, secret
    assert "AKIA1" in shown  # a key id is not a secret
    assert "etl:***@db" in shown
