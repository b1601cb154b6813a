"""``clova-etl ingest`` and ``clova-etl replay``: the same steps, from the command line."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from clova_etl.cli import main
from clova_etl.server import RunningServer

from .conftest import jpeg


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, str]:
    bucket = tmp_path / "bucket"
    (bucket / "inbox" / "general").mkdir(parents=True)
    for i in range(3):
        (bucket / "inbox" / "general" / f"doc {i}.jpg").write_bytes(jpeg(seed=40 + i))
    (bucket / "inbox" / "general" / "notes.txt").write_bytes(b"not a scan")
    return {
        "source": str(bucket),
        "store": str(tmp_path / "store"),
        "warehouse": f"duckdb:///{tmp_path / 'wh.duckdb'}",
    }


def _args(dirs: dict[str, str], *extra: str) -> list[str]:
    return [
        "ingest",
        "--source",
        dirs["source"],
        "--store",
        dirs["store"],
        "--warehouse",
        dirs["warehouse"],
        *extra,
    ]


def test_ingest_and_replay_commands(
    dirs: dict[str, str],
    start_ocr_server: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server: RunningServer = start_ocr_server()  # type: ignore[operator]
    monkeypatch.setenv("CLOVA_OCR_INVOKE_URL", server.invoke_url())
    monkeypatch.setenv("CLOVA_OCR_SECRET", server.secret)

    assert main(_args(dirs, "--dry-run")) == 0
    out = capsys.readouterr().out
    assert "(dry run)" in out and "to send: 3 calls / 3 pages" in out
    assert "unsupported_format=1" in out
    assert server.stats()["total_calls"] == 0

    assert main(_args(dirs, "--max-calls", "2")) == 3  # stopped by the budget
    out = capsys.readouterr().out
    assert "STOPPED (budget)" in out and "max_calls_per_run=2" in out

    assert main(_args(dirs, "--json")) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["totals"]["succeeded"] == 1 and report["object_status"] == {"loaded": 1}
    assert server.stats()["total_calls"] == 3

    replay = ["replay", "--store", dirs["store"], "--warehouse", dirs["warehouse"]]
    assert main([*replay, "--all"]) == 0
    out = capsys.readouterr().out
    assert "4 request(s), 0 API calls" in out
    assert main([*replay]) == 2
    assert "give --since" in capsys.readouterr().err
    assert server.stats()["total_calls"] == 3


def test_ingest_without_endpoint_is_a_configuration_error(
    dirs: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CLOVA_OCR_INVOKE_URL", raising=False)
    monkeypatch.delenv("CLOVA_OCR_SECRET", raising=False)
    monkeypatch.delenv("CLOVA_ETL_CONFIG", raising=False)
    assert main(_args(dirs)) == 2
    assert "CLOVA_OCR_INVOKE_URL" in capsys.readouterr().err
    # Pricing needs no endpoint.
    assert main(_args(dirs, "--dry-run")) == 0


def test_secret_from_named_variable(
    dirs: dict[str, str],
    start_ocr_server: object,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server: RunningServer = start_ocr_server()  # type: ignore[operator]
    monkeypatch.delenv("CLOVA_OCR_SECRET", raising=False)
    monkeypatch.setenv("MY_OCR_KEY", server.secret)
    args = _args(dirs, "--invoke-url", server.invoke_url(), "--secret-env", "MY_OCR_KEY")
    assert main(args) == 0
    assert server.secret not in capsys.readouterr().out
    assert server.stats()["billable_calls"] == 3
