"""Retention: old runs' working files go; responses, billing and object states stay."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from clova_etl import pipeline
from clova_etl.cli import main
from clova_etl.config import PipelineConfig
from clova_etl.pipeline import run_ingest
from clova_etl.pipeline.ledger import utcnow
from clova_etl.pipeline.retention import prune
from clova_etl.pipeline.storage import Storage
from clova_etl.server import RunningServer

from .conftest import jpeg, put
from .helpers import snapshot, with_server

KEPT_AREAS = ("raw/", "index/", "charges/", "budgets/", "objects/", "terminal/", "plans/")


def _age(folder: Path, days: int) -> None:
    """Make every file under ``folder`` look ``days`` old (a run from back then)."""
    stamp = (utcnow() - timedelta(days=days)).timestamp()
    for path in folder.rglob("*"):
        if path.is_file():
            os.utime(path, (stamp, stamp))


def _ingest_run(config: PipelineConfig, run_id: str, seed: int) -> None:
    put(config, f"inbox/general/doc-{seed}.jpg", jpeg(seed=seed))
    report = run_ingest(config, run_id=run_id)
    assert report.complete and report.totals["succeeded"] == 1
    # What the Airflow planning task leaves: the run's batches.
    pipeline.store_batches(config, run_id, [[{"request_id": f"r-{seed}"}]])


def test_prune_removes_old_runs_folders_only_and_replay_still_rebuilds_everything(
    local_config: PipelineConfig, start_ocr_server: Callable[..., RunningServer]
) -> None:
    server = start_ocr_server()
    config = with_server(local_config, server)
    _ingest_run(config, "old-run", seed=1)
    _ingest_run(config, "new-run", seed=2)
    store_dir = Path(config.store.uri)
    for area in ("parquet", "runs"):
        _age(store_dir / area / "old-run", days=45)
    store = Storage.open(config.store)
    kept_before = {area: store.list_keys(area) for area in KEPT_AREAS}
    assert all(kept_before.values())
    tables_before = snapshot(config)

    dry = prune(store, timedelta(days=30), dry_run=True)
    assert dry.folders == ["parquet/old-run", "runs/old-run"] and dry.kept_recent == 2
    assert dry.files > 1 and dry.bytes > 0
    assert (store_dir / "parquet" / "old-run").is_dir()  # a dry run removes nothing

    done = prune(store, timedelta(days=30))
    assert (done.folders, done.files, done.bytes) == (dry.folders, dry.files, dry.bytes)
    assert not (store_dir / "parquet" / "old-run").exists()
    assert not (store_dir / "runs" / "old-run").exists()
    assert store.list_keys("parquet/new-run") and store.list_keys("runs/new-run")
    assert {area: store.list_keys(area) for area in KEPT_AREAS} == kept_before
    assert prune(store, timedelta(days=30)).folders == []  # nothing left to do

    # The responses are all still there: a replay rebuilds the same tables, with no call.
    calls = server.stats()["total_calls"]
    pipeline.replay(config, "replay-after-prune", since="0001-01-01", until="9999-12-31")
    assert server.stats()["total_calls"] == calls
    assert snapshot(config) == tables_before


def test_a_run_folder_with_any_recent_file_is_kept_whole(local_config: PipelineConfig) -> None:
    pipeline.store_batches(local_config, "mixed", [[{"request_id": "a"}], [{"request_id": "b"}]])
    store = Storage.open(local_config.store)
    (first, _) = store.list_keys("runs/mixed")
    _age(Path(local_config.store.uri) / "runs" / "mixed", days=90)
    store.write(first, b"[]")  # rewritten today (a retried planning task)
    report = prune(store, timedelta(days=30))
    assert report.folders == [] and report.kept_recent == 1
    assert len(store.list_keys("runs/mixed")) == 2


def test_prune_refuses_an_age_under_a_day(local_config: PipelineConfig) -> None:
    with pytest.raises(ValueError, match="younger than a day"):
        prune(Storage.open(local_config.store), timedelta(hours=23))


def test_prune_on_s3(s3_bucket: Any, local_config: PipelineConfig) -> None:
    config = local_config.model_copy(update={"store": s3_bucket.config("store")})
    pipeline.store_batches(config, "run-a", [[{"request_id": "a"}]])
    s3_bucket.put("store/parquet/run-a/ocr_documents/part-0.parquet", b"PAR1")
    s3_bucket.put("store/raw/a.json", b"{}")
    store = Storage.open(config.store)
    # moto stamps objects with the real time: measure their age from 40 days ahead.
    later = utcnow() + timedelta(days=40)
    assert prune(store, timedelta(days=30), now=utcnow()).folders == []
    report = prune(store, timedelta(days=30), now=later)
    assert report.folders == ["parquet/run-a", "runs/run-a"] and report.files == 2
    assert store.list_keys("") == ["raw/a.json"]


def test_prune_command(local_config: PipelineConfig, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline.store_batches(local_config, "cli-run", [[{"request_id": "a"}]])
    _age(Path(local_config.store.uri) / "runs", days=60)
    args = ["prune", "--store", local_config.store.uri, "--older-than", "8w", "--dry-run"]
    assert main([*args, "--json"]) == 0
    report = orjson.loads(capsys.readouterr().out)
    assert report["folders"] == ["runs/cli-run"] and report["dry_run"] is True
    assert main(["prune", "--store", local_config.store.uri, "--older-than", "59d"]) == 0
    out = capsys.readouterr().out
    assert "removed 1 run folder(s), 1 file(s)" in out and "runs/cli-run/" in out
    assert Storage.open(local_config.store).list_keys("runs") == []

    with pytest.raises(SystemExit) as exit_info:
        main(["prune", "--store", local_config.store.uri, "--older-than", "soon"])
    assert exit_info.value.code == 2
    assert "not a duration: 'soon'" in capsys.readouterr().err
    assert main(["prune", "--store", local_config.store.uri, "--older-than", "12h"]) == 1
    assert "younger than a day" in capsys.readouterr().err
