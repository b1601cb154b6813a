"""``clova-etl load`` and ``clova-etl check`` on both engines, and once as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from clova_etl.cli import main
from clova_etl.warehouse import connect
from tests.warehouse.builder import BatchBuilder, rid
from tests.warehouse.conftest import rows

REPO = Path(__file__).resolve().parents[2]


def batch(root: Path, *, confidence: float = 0.9) -> Path:
    b = BatchBuilder()
    b.request(rid(1), pages=1, fields=3, tables=1)
    b.request(rid(2), fields=2, confidence=confidence)
    return b.write(root)


def test_load_then_check(
    warehouse_target: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, schema = warehouse_target
    args = ["--warehouse", uri, "--schema", schema]
    assert main(["load", str(batch(tmp_path / "b")), *args, "--run-id", "cli-1"]) == 0
    out = capsys.readouterr().out
    assert "rows of 2 request(s)" in out
    assert "ocr_fields" in out and "keys_unique [blocking] pass" in out

    assert main(["check", *args]) == 0
    out = capsys.readouterr().out
    assert "whole warehouse" in out and "row_counts_match_parquet [blocking] skipped" in out

    assert main(["check", *args, "--parquet-dir", str(tmp_path / "b"), "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert {r["status"] for r in results} == {"pass"}
    with connect(uri, schema=schema) as wh:
        assert [r["run_id"] for r in rows(wh, "etl_loads")] == ["cli-1"]
        assert len(rows(wh, "etl_check_results")) == 33


def test_a_blocking_failure_exits_1_naming_the_check(
    warehouse_target: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, schema = warehouse_target
    root = batch(tmp_path / "b", confidence=1.25)
    code = main(["load", str(root), "--warehouse", uri, "--schema", schema])
    err = capsys.readouterr().err
    assert code == 1
    assert "ChecksFailedError" in err and "confidence_range" in err
    assert f"ocr_fields(request_id={rid(2)}, image_index=0, field_index=0)" in err


def test_warnings_are_printed_and_thresholds_are_options(
    warehouse_target: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, schema = warehouse_target
    root = batch(tmp_path / "b", confidence=0.3)
    args = ["--warehouse", uri, "--schema", schema, "--json"]
    assert main(["load", str(root), *args]) == 0
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["low_confidence_share"]["status"] == "warn"
    assert main(["load", str(root), *args, "--low-confidence", "0.2"]) == 0
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["low_confidence_share"]["status"] == "pass"


def test_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLOVA_ETL_WAREHOUSE_URI", raising=False)
    with pytest.raises(SystemExit) as caught:
        main(["load", str(tmp_path)])
    assert caught.value.code == 2
    assert "--warehouse" in capsys.readouterr().err
    uri = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    assert main(["load", str(tmp_path / "nothing"), "--warehouse", uri]) == 1
    assert "ParquetInputError" in capsys.readouterr().err
    assert main(["check", "--warehouse", uri, "--schema", "bad\tname"]) == 1
    assert "InvalidIdentifier" in capsys.readouterr().err
    assert main(["check", "--warehouse", "postgresql://u:pw123@127.0.0.1:1/db"]) == 75
    err = capsys.readouterr().err
    assert "WarehouseUnavailableError" in err and "pw123" not in err


def test_the_console_script_loads_from_the_environment(tmp_path: Path) -> None:
    root = batch(tmp_path / "b")
    uri = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    done = subprocess.run(
        [sys.executable, "-m", "clova_etl.cli", "load", str(root)],
        cwd=REPO,
        env={**_env(), "CLOVA_ETL_WAREHOUSE_URI": uri},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with connect(uri) as wh:
        assert wh.row_counts()["ocr_requests"] == 2


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "CLOVA_ETL_WAREHOUSE_URI"}
