"""Reloads skip unchanged requests: equal ``content_hash`` in the warehouse, nothing rewritten."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bench.gen_responses import KINDS, envelope
from clova_etl import schema as declared
from clova_etl.flatten import flatten_to_parquet
from clova_etl.flatten.documents import content_hash
from clova_etl.warehouse import Warehouse
from tests.warehouse.conftest import rows, snapshot


@pytest.fixture(scope="module")
def answers() -> list[tuple[str, bytes]]:
    """Six stored answers (raw-store envelopes) of the benchmark's kinds."""
    rng = random.Random(3)
    docs = [maker(rng) for maker, _ in KINDS[:3] for _ in range(2)]
    return [
        (f"store/env-{n}.json", envelope(n, orjson.dumps(body), meta))
        for n, (body, meta) in enumerate(docs)
    ]


def _flatten(items: list[tuple[str, bytes]], out: Path) -> Path:
    flatten_to_parquet(items, out, workers=1)
    return out


def _inserted(wh: Warehouse, load_id: str) -> str:
    (row,) = rows(wh, "etl_loads", f"load_id = '{load_id}'")
    return str(row["table_rows"])


def test_a_replay_of_unchanged_answers_rewrites_nothing(
    wh: Warehouse, answers: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    batch = _flatten(answers, tmp_path / "a")
    first = wh.load(batch)
    assert first.unchanged_requests == 0 and first.total_rows > 1000
    before = snapshot(wh)
    hashes = [r["content_hash"] for r in before["ocr_requests"]]
    assert sorted(hashes) == sorted(content_hash(data) for _, data in answers)

    # The same answers flattened again (a replay): every request is skipped.
    again = wh.load(_flatten(answers, tmp_path / "b"))
    assert again.unchanged_requests == len(answers) == again.request_count
    assert again.total_rows == 0
    assert all(c.status != "fail" for c in again.checks)
    assert snapshot(wh) == before
    assert '"ocr_fields": 0' in _inserted(wh, again.load_id)


def test_only_the_changed_answer_is_reloaded(
    wh: Warehouse, answers: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    wh.load(_flatten(answers, tmp_path / "a"))
    # A forced re-OCR stored a new answer for request 0: other bytes, same request_id.
    name, data = answers[0]
    body = orjson.loads(data)
    fields = body["response"]["images"][0]["fields"]
    del fields[1:]
    fields[0]["inferText"] = "changed"
    changed = [(name, orjson.dumps(body)), *answers[1:]]
    result = wh.load(_flatten(changed, tmp_path / "b"))
    assert result.unchanged_requests == len(answers) - 1
    rid = body["request_id"]
    assert result.rows["ocr_requests"] == 1
    assert result.rows["ocr_fields"] == 1
    assert all(c.status != "fail" for c in result.checks)
    got = rows(wh, "ocr_fields", f"request_id = '{rid}'")
    assert [r["infer_text"] for r in got] == ["changed"]
    # The rows of the other requests are those of the first load, none duplicated.
    assert wh.row_counts()["ocr_requests"] == len(answers)


def test_another_parser_version_reloads_everything(
    wh: Warehouse, answers: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    wh.load(_flatten(answers, tmp_path / "a"))
    before = snapshot(wh)
    batch = _flatten(answers, tmp_path / "b")
    # What the next parser version writes: its hash differs for the same bytes.
    assert content_hash(answers[0][1], "9.9.9") != content_hash(answers[0][1])
    (part,) = (batch / "ocr_requests").glob("*.parquet")
    table = pq.read_table(part)
    by_rid = {orjson.loads(d)["request_id"]: content_hash(d, "9.9.9") for _, d in answers}
    new = pa.array([by_rid[r] for r in table["request_id"].to_pylist()], pa.string())
    index = table.schema.get_field_index("content_hash")
    field = declared.OCR_REQUESTS.column("content_hash").field
    pq.write_table(table.set_column(index, field, new), part)
    result = wh.load(batch)
    assert result.unchanged_requests == 0
    assert result.rows == {n: len(before[n]) for n in result.rows}
    stored = {r["request_id"]: r["content_hash"] for r in rows(wh, "ocr_requests")}
    assert stored == by_rid


def test_reload_unchanged_on_request(
    wh: Warehouse, answers: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    batch = _flatten(answers, tmp_path / "a")
    first = wh.load(batch)
    forced = wh.load(batch, skip_unchanged=False)
    assert forced.unchanged_requests == 0
    assert forced.rows == first.rows
    assert wh.row_counts()["ocr_fields"] == first.rows["ocr_fields"]


def test_rows_without_a_hash_are_always_reloaded(
    wh: Warehouse, answers: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    # Parquet written before content_hash existed: no column, nothing to compare.
    batch = _flatten(answers, tmp_path / "a")
    (part,) = (batch / "ocr_requests").glob("*.parquet")
    pq.write_table(pq.read_table(part).drop_columns(["content_hash"]), part)
    first = wh.load(batch)
    again = wh.load(batch)
    assert first.unchanged_requests == again.unchanged_requests == 0
    assert again.rows == first.rows
    assert {r["content_hash"] for r in rows(wh, "ocr_requests")} == {None}
