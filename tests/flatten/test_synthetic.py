"""The fast path on large generated responses (the benchmark's kinds), checked row for row."""

from __future__ import annotations

import json
import random
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from bench.gen_responses import KINDS, envelope
from clova_etl.flatten import flatten_documents, flatten_to_parquet
from clova_etl.schema import TABLES
from tests.flatten.reference import expected_rows, project


@pytest.fixture(scope="module")
def generated() -> list[tuple[str, bytes]]:
    """Two documents of every kind the benchmark generates, as compact raw-store envelopes."""
    rng = random.Random(7)
    docs = [maker(rng) for maker, _ in KINDS for _ in range(2)]
    return [
        (f"env-{n}.json", envelope(n, orjson.dumps(body), meta))
        for n, (body, meta) in enumerate(docs)
    ]


def test_generated_envelopes_match_the_reference(generated: list[tuple[str, bytes]]) -> None:
    tables = flatten_documents(generated, batch_bytes=2_000_000)
    expected: dict[str, list[dict[str, object]]] = {n: [] for n in TABLES if n != "ocr_requests"}
    for _, data in generated:
        doc = json.loads(data)
        for name, rows in expected_rows(doc["response"], doc["request_id"]).items():
            expected[name] += rows
    assert tables["ocr_requests"].column("status").to_pylist() == ["succeeded"] * len(generated)
    assert tables["ocr_fields"].num_rows > 5000
    assert tables["ocr_cell_words"].num_rows > 100
    assert tables["ocr_subfields"].num_rows > 10
    assert "V1" in tables["ocr_requests"].column("response_version").to_pylist()
    for name, rows in expected.items():
        got = tables[name].to_pylist()
        assert len(got) == len(rows), name
        assert project(got, rows) == rows, name


def test_threads_and_batches_do_not_change_output(
    generated: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    one = flatten_to_parquet(generated, tmp_path / "one", batch_bytes=1 << 30, workers=1)
    two = flatten_to_parquet(generated, tmp_path / "two", batch_bytes=500_000, workers=2)
    assert one.rows == two.rows
    assert len(two.files) > len(one.files)
    for name in TABLES:
        a = pq.read_table(tmp_path / "one" / name)
        b = pq.read_table(tmp_path / "two" / name)
        assert a.equals(b), name


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*.parquet"))}


def test_worker_processes_write_the_same_files_as_one_thread(
    generated: list[tuple[str, bytes]], corpus_dir: Path, tmp_path: Path
) -> None:
    # The process pool (the default) against the in-process path, batch for batch: same bytes.
    inputs = [*generated, *sorted((str(p), p.read_bytes()) for p in corpus_dir.glob("*.json"))]
    kinds = {"processes": (2, True), "threads": (2, False), "inline": (1, False)}
    out = {
        kind: flatten_to_parquet(
            inputs, tmp_path / kind, batch_bytes=400_000, workers=w, processes=p
        )
        for kind, (w, p) in kinds.items()
    }
    assert len(out["processes"].files) > 3 * len(TABLES)  # several batches in flight
    assert out["processes"].rows == out["inline"].rows == out["threads"].rows
    assert out["processes"].failed == out["inline"].failed
    reference = _files(tmp_path / "inline")
    assert _files(tmp_path / "processes") == reference
    assert _files(tmp_path / "threads") == reference
    in_memory = flatten_documents(inputs)
    for name in TABLES:
        assert pq.read_table(tmp_path / "processes" / name).equals(in_memory[name]), name
