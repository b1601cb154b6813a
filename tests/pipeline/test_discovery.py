"""Discovery by data interval: no gaps, no overlaps, late and unfinished objects picked up."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from clova_etl import pipeline
from clova_etl.config import PipelineConfig, SourceConfig
from clova_etl.pipeline.ledger import Ledger
from clova_etl.pipeline.storage import Storage

from .conftest import put

T0 = datetime(2024, 5, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def _touch(config: PipelineConfig, key: str, when: datetime) -> None:
    path = put(config, key, key.encode())
    ts = when.timestamp()
    os.utime(path, (ts, ts))


def _finish(config: PipelineConfig, found: list[dict[str, Any]], keys: set[str]) -> None:
    """What load_run does for objects that ended: a terminal state for their version."""
    ledger = pipeline.open_ledger(config)
    for obj in found:
        if obj["key"] in keys:
            from clova_etl.pipeline.storage import ObjectInfo

            info = ObjectInfo.from_dict(obj)
            ledger.write_object_states(
                [{"source_uri": info.uri, "version": info.version, "status": "loaded"}]
            )


def _run(config: PipelineConfig, start: datetime | None, end: datetime) -> dict[str, str]:
    return {d["key"]: d["reason"] for d in pipeline.discover(config, start, end, "test")}


def test_three_consecutive_intervals_then_late_and_unfinished(
    local_config: PipelineConfig,
) -> None:
    c = local_config
    _touch(c, "inbox/general/a.jpg", T0 + timedelta(hours=5))
    _touch(c, "inbox/general/b.jpg", T0 + DAY)  # exactly on a boundary: the later interval
    _touch(c, "inbox/general/c.jpg", T0 + 2 * DAY + timedelta(hours=23, minutes=59))
    _touch(c, "inbox/general/future.jpg", T0 + 5 * DAY)

    day1 = _run(c, T0, T0 + DAY)
    assert day1 == {"inbox/general/a.jpg": "interval"}
    _finish(c, pipeline.discover(c, T0, T0 + DAY, "r1"), {"inbox/general/a.jpg"})

    # An object last modified on day 1 lands only after day 1's run finished.
    _touch(c, "inbox/general/late.jpg", T0 + timedelta(hours=7))
    day2 = _run(c, T0 + DAY, T0 + 2 * DAY)
    assert day2 == {"inbox/general/b.jpg": "interval", "inbox/general/late.jpg": "unfinished"}
    # b ends; late fails in a way that leaves it unfinished (no terminal status).
    _finish(c, pipeline.discover(c, T0 + DAY, T0 + 2 * DAY, "r2"), {"inbox/general/b.jpg"})

    day3 = _run(c, T0 + 2 * DAY, T0 + 3 * DAY)
    assert day3 == {"inbox/general/c.jpg": "interval", "inbox/general/late.jpg": "unfinished"}
    _finish(
        c,
        pipeline.discover(c, T0 + 2 * DAY, T0 + 3 * DAY, "r3"),
        {"inbox/general/c.jpg", "inbox/general/late.jpg"},
    )
    assert _run(c, T0 + 3 * DAY, T0 + 4 * DAY) == {}

    # Every object before day 4 was selected by exactly one interval (no gaps, no overlaps).
    by_interval = [
        {k for k, why in _run(c, T0 + i * DAY, T0 + (i + 1) * DAY).items() if why == "interval"}
        for i in range(3)
    ]
    assert set.union(*by_interval) == {
        "inbox/general/a.jpg",
        "inbox/general/b.jpg",
        "inbox/general/c.jpg",
        "inbox/general/late.jpg",
    }
    assert sum(len(s) for s in by_interval) == 4
    # A backfill re-run of day 1 selects the day again (it will cost nothing: raw store).
    assert set(_run(c, T0, T0 + DAY)) == {"inbox/general/a.jpg", "inbox/general/late.jpg"}
    # A manual run without an interval takes only unfinished objects: none are left before now
    # except the one in the future interval, which is unfinished.
    assert _run(c, None, datetime.now(UTC)) == {"inbox/general/future.jpg": "unfinished"}


def test_rewritten_object_is_new_work(local_config: PipelineConfig) -> None:
    c = local_config
    _touch(c, "inbox/general/a.jpg", T0 + timedelta(hours=1))
    found = pipeline.discover(c, T0, T0 + DAY, "r1")
    _finish(c, found, {"inbox/general/a.jpg"})
    assert _run(c, T0 + DAY, T0 + 2 * DAY) == {}
    # Same key, new content, old timestamp (e.g. copied with its mtime): a new version.
    path = put(c, "inbox/general/a.jpg", b"different content")
    ts = (T0 + timedelta(hours=1)).timestamp()
    os.utime(path, (ts, ts))
    assert _run(c, T0 + DAY, T0 + 2 * DAY) == {"inbox/general/a.jpg": "unfinished"}


def test_ignore_and_not_before(local_config: PipelineConfig) -> None:
    c = local_config.model_copy(
        update={"source": SourceConfig(uri=local_config.source.uri, not_before=T0.isoformat())}
    )
    _touch(c, "inbox/general/.hidden.jpg", T0 + timedelta(hours=1))
    _touch(c, "inbox/general/sub/.DS_Store", T0 + timedelta(hours=1))
    _touch(c, "inbox/general/ok.jpg", T0 + timedelta(hours=1))
    _touch(c, "inbox/general/ancient.jpg", T0 - 400 * DAY)
    _touch(c, "outside-prefix.jpg", T0 + timedelta(hours=1))
    # Hidden keys are not dropped: selected like the others, marked to be recorded as skipped.
    found = {d["key"]: (d["reason"], d["skip"]) for d in pipeline.discover(c, T0, T0 + DAY, "t")}
    assert found == {
        "inbox/general/ok.jpg": ("interval", None),
        "inbox/general/.hidden.jpg": ("interval", "hidden"),
        "inbox/general/sub/.DS_Store": ("interval", "hidden"),
    }


def test_discovery_on_s3_by_real_upload_times(s3_bucket: Any, tmp_path: Any) -> None:
    config = PipelineConfig(
        source=SourceConfig(
            **s3_bucket.config("").model_dump(exclude={"uri"}), uri=s3_bucket.uri()
        ),
    )
    config.store.uri = str(tmp_path / "store")
    s3_bucket.put("inbox/general/first.jpg", b"1")
    source = Storage.open(config.source)
    (first,) = source.list_objects("inbox")
    # S3 times have 1-second resolution: wait past the second before the next upload.
    time.sleep(1.1)
    s3_bucket.put("inbox/general/second file é.jpg", b"2")
    boundary = first.last_modified + timedelta(seconds=1)
    assert set(_run(config, first.last_modified, boundary)) == {"inbox/general/first.jpg"}
    later = _run(config, boundary, boundary + DAY)
    # first.jpg never reached a terminal status, so the later run takes it too.
    assert later == {
        "inbox/general/second file é.jpg": "interval",
        "inbox/general/first.jpg": "unfinished",
    }
    ledger = Ledger(Storage.open(config.store))
    assert ledger.terminal_versions() == set()
