"""bench/results.py: a benchmark rewrites its own section of RESULTS.md and nothing else."""

from __future__ import annotations

from pathlib import Path

from bench.results import replace_marked, replace_titled

BEFORE = """# Benchmark results

## server (bench/server_bench.py)

old server figures

<!-- load:begin -->
## load (bench/bench_load.py)

old load figures
<!-- load:end -->

## Install

kept as it is
"""


def test_a_titled_section_ends_at_the_next_title_or_marker(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(BEFORE)
    replace_titled(
        "## server (bench/server_bench.py)", "## server (bench/server_bench.py)\n\nnew\n", path
    )
    assert path.read_text() == BEFORE.replace("old server figures", "new")
    replace_titled("## e2e", "## e2e\n\nappended\n", path)
    assert path.read_text().endswith("kept as it is\n\n## e2e\n\nappended\n")


def test_a_marked_section_is_replaced_between_its_markers(tmp_path: Path) -> None:
    path = tmp_path / "RESULTS.md"
    path.write_text(BEFORE)
    replace_marked("load", "## load (bench/bench_load.py)\n\nnew load figures\n", path)
    assert path.read_text() == BEFORE.replace("old load figures", "new load figures")
    replace_marked("flatten", "## flatten\n", path)
    assert path.read_text().endswith(
        "kept as it is\n\n<!-- flatten:begin -->\n## flatten\n<!-- flatten:end -->\n"
    )
    assert not list(tmp_path.glob("*.tmp"))
