"""Benchmark flatten against orjson.loads alone and a straightforward pandas implementation.

    python -m bench.bench_flatten --sizes 30,300,3000 --pandas-max 300 --reps 2 \
        --corpus-dir /tmp/clova-corpora --write

For each corpus size (MB of raw-store envelopes made by ``bench.gen_responses``; generated under
``bench/out/`` once and reused), on the same files:

* ``orjson``  — the time of ``orjson.loads`` alone over every file's bytes (reads not timed);
* ``flatten`` — ``clova_etl.flatten.flatten_to_parquet`` end to end (read, parse, flatten, write
  seven Parquet datasets), default settings (threads = cores);
* ``pandas``  — the naive implementation: ``json.load`` + ``pandas.json_normalize`` +
  ``DataFrame.to_parquet`` (up to ``--pandas-max`` MB: it needs about 20x the corpus in memory).

Each measurement runs in a fresh subprocess, which reports its wall time and CPU time (its
worker processes included). The three are interleaved (orjson, flatten, pandas, orjson,
flatten...) ``--reps`` times so that they see the same machine load, and the median is kept
(pandas runs once per size: minutes each). Peak memory comes from one more flatten run per size,
not timed: the largest sum, sampled every 20 ms, of the proportional set size (PSS) of the
process and its workers, so pages the forked workers share with their parent count once.
Sampling reads every process's ``smaps`` and takes a core's share on a 2-core machine, so timed
runs do not sample.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.results import replace_marked

BENCH_DIR = Path(__file__).resolve().parent
OUT_DIR = BENCH_DIR / "out"


def corpus_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.json") if p.is_file())


def ensure_corpus(mb: int, corpus_dir: Path = OUT_DIR) -> Path:
    from bench.gen_responses import generate

    root = corpus_dir / f"corpus-{mb}mb"
    if not (root / ".complete").exists():
        generate(root, mb)
        (root / ".complete").write_text("ok\n")
    return root


# --- the measured workloads (each run in its own process) ---------------------------------


def run_orjson(root: Path, _out: Path) -> dict[str, Any]:
    import orjson

    total = cpu = 0.0
    size = 0
    for path in corpus_files(root):
        data = path.read_bytes()
        size += len(data)
        t, c = time.perf_counter(), time.process_time()
        orjson.loads(data)
        total += time.perf_counter() - t
        cpu += time.process_time() - c
    return {"seconds": total, "bytes": size, "loads_cpu_seconds": cpu}


def run_flatten(root: Path, out: Path, workers: int | None = None) -> dict[str, Any]:
    from clova_etl.flatten import flatten_to_parquet

    def cpu() -> float:
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + children.ru_utime + children.ru_stime

    t, c = time.perf_counter(), cpu()
    summary = flatten_to_parquet([root], out, workers=workers)
    return {
        "seconds": time.perf_counter() - t,
        "flatten_cpu_seconds": cpu() - c,
        "bytes": summary.input_bytes,
        "rows": summary.rows,
        "failed": len(summary.failed),
    }


def _box(vertices: Any) -> tuple[float | None, ...]:
    if not isinstance(vertices, list) or not vertices:
        return (None, None, None, None)
    xs = [v["x"] for v in vertices]
    ys = [v["y"] for v in vertices]
    return (min(xs), min(ys), max(xs), max(ys))


def _with_boxes(df: Any) -> Any:
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    col = "boundingPoly.vertices"
    if col in df:
        boxes = pd.DataFrame(
            df[col].apply(_box).tolist(), columns=["x_min", "y_min", "x_max", "y_max"]
        )
        df = pd.concat([df.reset_index(drop=True), boxes], axis=1)
        df["polygon"] = df[col].apply(
            lambda vs: [c for v in vs for c in (v["x"], v["y"])] if isinstance(vs, list) else None
        )
        df = df.drop(columns=[col])
    return df


def run_pandas_per_file(root: Path, out: Path) -> dict[str, Any]:
    """A more careful pandas version: json_normalize per file and image, concat at the end."""
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    t = time.perf_counter()
    frames: dict[str, list[Any]] = {
        n: []
        for n in (
            "ocr_requests",
            "ocr_images",
            "ocr_fields",
            "ocr_subfields",
            "ocr_tables",
            "ocr_table_cells",
            "ocr_cell_words",
        )
    }
    size = 0
    for path in corpus_files(root):
        size += path.stat().st_size
        with path.open(encoding="utf-8") as fh:
            doc = json.load(fh)
        rid = doc["request_id"]
        response = doc.get("response") or {}
        meta = {k: v for k, v in doc.items() if k != "response"}
        frames["ocr_requests"].append(pd.json_normalize(meta))
        for i, image in enumerate(response.get("images", [])):
            head = {k: v for k, v in image.items() if k not in ("fields", "tables")}
            img = pd.json_normalize(head)
            img["request_id"], img["image_index"] = rid, i
            frames["ocr_images"].append(img)
            fields = [dict(f, field_index=j) for j, f in enumerate(image.get("fields", []))]
            f = _with_boxes(pd.json_normalize(fields))
            f["request_id"], f["image_index"] = rid, i
            frames["ocr_fields"].append(f.drop(columns=["subFields"], errors="ignore"))
            with_subs = [f for f in fields if f.get("subFields")]
            if with_subs:
                s = pd.json_normalize(with_subs, record_path="subFields", meta=["field_index"])
                s["request_id"], s["image_index"] = rid, i
                frames["ocr_subfields"].append(_with_boxes(s))
            tables = [dict(t, table_index=k) for k, t in enumerate(image.get("tables", []))]
            if not tables:
                continue
            tb = _with_boxes(pd.json_normalize(tables).drop(columns=["cells"]))
            tb["request_id"], tb["image_index"] = rid, i
            frames["ocr_tables"].append(tb)
            for table in tables:
                cells = [dict(c, cell_index=k) for k, c in enumerate(table["cells"])]
                c = pd.json_normalize(cells)
                c["cell_text"] = c["cellTextLines"].apply(
                    lambda lines: "\n".join(
                        " ".join(w["inferText"] for w in ln["cellWords"]) for ln in lines
                    )
                )
                c = _with_boxes(c.drop(columns=["cellTextLines"]))
                c["request_id"], c["image_index"] = rid, i
                c["table_index"] = table["table_index"]
                frames["ocr_table_cells"].append(c)
                lines = [
                    dict(ln, cell_index=cell["cell_index"], line_index=k)
                    for cell in cells
                    for k, ln in enumerate(cell["cellTextLines"])
                ]
                if lines:
                    w = pd.json_normalize(
                        lines, record_path="cellWords", meta=["cell_index", "line_index"]
                    )
                    w["request_id"], w["image_index"] = rid, i
                    w["table_index"] = table["table_index"]
                    frames["ocr_cell_words"].append(_with_boxes(w))
    rows = {}
    for name, parts in frames.items():
        df = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        (out / name).mkdir(parents=True, exist_ok=True)
        df.to_parquet(out / name / "part-0.parquet")
        rows[name] = len(df)
    return {"seconds": time.perf_counter() - t, "bytes": size, "rows": rows}


def _box_columns(df: Any, prefix: str = "") -> Any:
    col = prefix + "boundingPoly.vertices"
    if col not in df:
        return df
    vertices = df[col]
    df[prefix + "x_min"] = vertices.apply(
        lambda vs: min(v["x"] for v in vs) if isinstance(vs, list) and vs else None
    )
    df[prefix + "y_min"] = vertices.apply(
        lambda vs: min(v["y"] for v in vs) if isinstance(vs, list) and vs else None
    )
    df[prefix + "x_max"] = vertices.apply(
        lambda vs: max(v["x"] for v in vs) if isinstance(vs, list) and vs else None
    )
    df[prefix + "y_max"] = vertices.apply(
        lambda vs: max(v["y"] for v in vs) if isinstance(vs, list) and vs else None
    )
    df[prefix + "polygon"] = vertices.apply(
        lambda vs: [c for v in vs for c in (v["x"], v["y"])] if isinstance(vs, list) else None
    )
    return df.drop(columns=[col])


def run_pandas(root: Path, out: Path) -> dict[str, Any]:
    """The straightforward implementation: json.load every file, then one json_normalize per
    table with ``record_path``/``meta`` over all documents, boxes with ``apply``, to_parquet."""
    import pandas as pd  # type: ignore[import-untyped,unused-ignore]

    t = time.perf_counter()
    docs = []
    size = 0
    for path in corpus_files(root):
        size += path.stat().st_size
        with path.open(encoding="utf-8") as fh:
            docs.append(json.load(fh))
    # Ordinals for the keys: json_normalize does not give list positions.
    for doc in docs:
        for i, image in enumerate(doc["response"]["images"]):
            image["image_index"] = i
            for j, field in enumerate(image.setdefault("fields", [])):
                field["field_index"] = j
            for k, table in enumerate(image.setdefault("tables", [])):
                table["table_index"] = k
                for c, cell in enumerate(table["cells"]):
                    cell["cell_index"] = c
                    for li, line in enumerate(cell["cellTextLines"]):
                        line["line_index"] = li
    images = ["response", "images"]
    meta_image = ["request_id", [*images, "image_index"]]
    tables = {
        "ocr_requests": pd.json_normalize(
            [{k: v for k, v in d.items() if k != "response"} for d in docs]
        ),
        "ocr_images": pd.json_normalize(docs, record_path=images, meta=["request_id"]).drop(
            columns=["fields", "tables"], errors="ignore"
        ),
        "ocr_fields": _box_columns(
            pd.json_normalize(docs, record_path=[*images, "fields"], meta=meta_image).drop(
                columns=["subFields"], errors="ignore"
            )
        ),
        "ocr_subfields": _box_columns(
            pd.json_normalize(
                [
                    dict(f, request_id=d["request_id"], image_index=im["image_index"])
                    for d in docs
                    for im in d["response"]["images"]
                    for f in im.get("fields", [])
                    if f.get("subFields")
                ],
                record_path="subFields",
                meta=["request_id", "image_index", "field_index"],
            )
        ),
        "ocr_tables": _box_columns(
            pd.json_normalize(docs, record_path=[*images, "tables"], meta=meta_image).drop(
                columns=["cells"]
            )
        ),
    }
    cells = pd.json_normalize(
        docs,
        record_path=[*images, "tables", "cells"],
        meta=[*meta_image, [*images, "tables", "table_index"]],
    )
    cells["cell_text"] = cells["cellTextLines"].apply(
        lambda lines: "\n".join(" ".join(w["inferText"] for w in ln["cellWords"]) for ln in lines)
    )
    tables["ocr_table_cells"] = _box_columns(cells.drop(columns=["cellTextLines"]))
    tables["ocr_cell_words"] = _box_columns(
        pd.json_normalize(
            docs,
            record_path=[*images, "tables", "cells", "cellTextLines", "cellWords"],
            meta=[
                *meta_image,
                [*images, "tables", "table_index"],
                [*images, "tables", "cells", "cell_index"],
                [*images, "tables", "cells", "cellTextLines", "line_index"],
            ],
        )
    )
    rows = {}
    for name, df in tables.items():
        (out / name).mkdir(parents=True, exist_ok=True)
        df.to_parquet(out / name / "part-0.parquet")
        rows[name] = len(df)
    return {"seconds": time.perf_counter() - t, "bytes": size, "rows": rows}


def run_flatten_one_thread(root: Path, out: Path) -> dict[str, Any]:
    return run_flatten(root, out, workers=1)


WORKLOADS: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "orjson": run_orjson,
    "flatten": run_flatten,
    "flatten-1-thread": run_flatten_one_thread,
    "pandas": run_pandas,
    "pandas-per-file": run_pandas_per_file,
}


class MemorySampler:
    """Peak of the summed PSS (and RSS) of this process and its children, sampled."""

    def __init__(self, every: float = 0.02) -> None:
        import threading

        self.pss = self.rss = 0
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil  # type: ignore[import-untyped,unused-ignore]

        me = psutil.Process()
        while not self._stop.is_set():
            pss = rss = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    info = proc.memory_full_info()
                except psutil.Error:
                    continue
                pss += info.pss
                rss += info.rss
            self.pss, self.rss = max(self.pss, pss), max(self.rss, rss)
            self._stop.wait(self._every)

    def stop(self) -> tuple[float, float]:
        """(peak PSS MB, peak RSS MB)."""
        self._stop.set()
        self._thread.join()
        return self.pss / 2**20, self.rss / 2**20


def _child(kind: str, root: Path, out: Path, sample: bool) -> None:
    sampler = MemorySampler() if sample else None
    cpu = time.process_time()
    result = WORKLOADS[kind](root, out)
    pss, rss = sampler.stop() if sampler is not None else (0.0, 0.0)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result["cpu_seconds"] = time.process_time() - cpu + children.ru_utime + children.ru_stime
    result["peak_rss_mb"] = max(usage.ru_maxrss / 1024, rss)
    result["peak_pss_mb"] = pss
    result["peak_rss_self_mb"] = usage.ru_maxrss / 1024
    result["peak_rss_worker_mb"] = children.ru_maxrss / 1024
    print(json.dumps(result))


def measure(kind: str, root: Path, *, sample: bool = False) -> dict[str, Any]:
    """Run one workload in a fresh interpreter and return what it reports.

    ``sample``: also sample its memory every 20 ms (which costs CPU: not for timed runs).
    """
    out = OUT_DIR / f"result-{kind}-{os.getpid()}"
    if out.exists():
        subprocess.run(["rm", "-rf", str(out)], check=True)
    out.mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bench_flatten", "--child", kind, str(root), str(out)]
        + (["--sample"] if sample else []),
        cwd=BENCH_DIR.parent,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    subprocess.run(["rm", "-rf", str(out)], check=True)
    return result


def _warm(root: Path) -> int:
    return sum(len(p.read_bytes()) for p in corpus_files(root))


def bench_size(mb: int, reps: int, pandas_max: int, corpus_dir: Path) -> dict[str, Any]:
    root = ensure_corpus(mb, corpus_dir)
    size = _warm(root)
    load_before = os.getloadavg()[0]
    kinds = ["orjson", "flatten", *(["pandas"] if mb <= pandas_max else [])]
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for rep in range(reps):
        for kind in kinds:
            if kind == "pandas" and rep > 0:
                continue  # minutes per run: once per size
            runs[kind].append(measure(kind, root))
            print(f"  {mb} MB {kind}: {runs[kind][-1]['seconds']:.2f}s", file=sys.stderr)
    flat = runs["flatten"]
    memory = measure("flatten", root, sample=True)
    print(f"  {mb} MB flatten (memory run): {memory['seconds']:.2f}s", file=sys.stderr)
    row: dict[str, Any] = {
        "mb": size / 1e6,
        "files": len(corpus_files(root)),
        "orjson_s": statistics.median(r["seconds"] for r in runs["orjson"]),
        "flatten_s": statistics.median(r["seconds"] for r in flat),
        "flatten_cpu_s": statistics.median(r["flatten_cpu_seconds"] for r in flat),
        "orjson_cpu_s": statistics.median(r["loads_cpu_seconds"] for r in runs["orjson"]),
        "flatten_pss_mb": memory["peak_pss_mb"],
        "flatten_rss_mb": memory["peak_rss_mb"],
        "flatten_worker_rss_mb": memory["peak_rss_worker_mb"],
        "flatten_parent_rss_mb": memory["peak_rss_self_mb"],
        "ratios": [f["seconds"] / o["seconds"] for f, o in zip(flat, runs["orjson"], strict=True)],
        "rows": flat[0]["rows"],
        "load": (load_before, os.getloadavg()[0]),
        "pandas": None,
    }
    if runs.get("pandas"):
        p = runs["pandas"][0]
        row["pandas"] = {
            "seconds": p["seconds"],
            "rss_mb": p["peak_rss_mb"],
            "speedup": p["seconds"] / flat[0]["seconds"],  # against the flatten of its rep
        }
    return row


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import orjson
    import pandas
    import pyarrow

    return (
        f"{len(os.sched_getaffinity(0))} cores ({cpu}), {mem:.0f} GiB RAM, "
        f"Python {platform.python_version()}, pyarrow {pyarrow.__version__}, "
        f"orjson {orjson.__version__}, pandas {pandas.__version__}; benchmark processes at "
        f"nice {os.getpriority(os.PRIO_PROCESS, 0)}"
    )


def report(rows: list[dict[str, Any]], reps: int) -> str:
    lines = [
        "## flatten",
        "",
        "`python -m bench.bench_flatten " + " ".join(sys.argv[1:]) + "`",
        "",
        f"Machine: {machine()}. The load averages below say how busy the 2 cores "
        "were; the runs are interleaved (orjson, flatten, pandas, "
        f"orjson, flatten...; {reps} of each, pandas once), each in a fresh process, and the "
        "median is shown with the ratio of every pair. Corpus: raw-store envelopes made by "
        "`bench/gen_responses.py` (dense General pages of 300-1500 fields, pages with "
        "50-400-cell tables, 2-8-page PDFs, Template V2 and V1 forms), compact one-line JSON, in "
        "the page cache. flatten = `flatten_to_parquet` end to end (read, parse, flatten, "
        "write the seven Parquet datasets), default settings: 8 MB batches, one worker "
        "process per core. naive pandas = `json.load` of every file, one "
        "`json_normalize(record_path=…, meta=…)` per table, boxes by `apply`, `to_parquet`.",
        "",
        "| corpus | files | orjson.loads alone | flatten | flatten / orjson (each pair) "
        "| naive pandas | pandas / flatten | CPU: orjson / flatten | flatten peak memory "
        "| load avg before/after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratios = ", ".join(f"{x:.2f}" for x in r["ratios"])
        p = r["pandas"]
        naive = (
            f"{p['seconds']:.1f} s ({p['rss_mb']:,.0f} MB)"
            if p
            else "not run (needs ~20x the corpus in RAM)"
        )
        speedup = f"**{p['speedup']:.0f}x**" if p else ""
        lines.append(
            f"| {r['mb']:.0f} MB | {r['files']} | {r['orjson_s']:.2f} s "
            f"({r['mb'] / r['orjson_s']:.0f} MB/s) | {r['flatten_s']:.2f} s "
            f"({r['mb'] / r['flatten_s']:.0f} MB/s) | **{r['flatten_s'] / r['orjson_s']:.2f}** "
            f"({ratios}) | {naive} | {speedup} "
            f"| {r['orjson_cpu_s']:.2f} s / {r['flatten_cpu_s']:.2f} s "
            f"| **{r['flatten_pss_mb']:.0f} MB** PSS ({r['flatten_rss_mb']:.0f} MB RSS; "
            f"parent {r['flatten_parent_rss_mb']:.0f}, largest worker "
            f"{r['flatten_worker_rss_mb']:.0f}) "
            f"| {r['load'][0]:.1f} / {r['load'][1]:.1f} |"
        )
    last = rows[-1]["rows"]
    lines += [
        "",
        "Peak memory is the whole flatten, measured in one more flatten run per size (not "
        "timed: sampling costs CPU): the parent and its worker processes together, "
        "sampled every 20 ms (PSS counts the pages the forked workers share with the parent "
        "once; the RSS sum counts them in every process). It stays flat as the corpus grows: "
        "each worker holds one 8 MB batch at a time. CPU is the parent's plus its workers'.",
        "",
        "Rows of the largest corpus: " + ", ".join(f"{k} {v:,}" for k, v in last.items()) + ".",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), "--sample" in sys.argv[5:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300", help="corpus sizes in MB, comma-separated")
    parser.add_argument("--pandas-max", type=int, default=300, help="largest size pandas runs at")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument(
        "--corpus-dir", type=Path, default=OUT_DIR, help="where corpora are generated (reused)"
    )
    parser.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    rows = []
    for mb in (int(s) for s in args.sizes.split(",")):
        rows.append(bench_size(mb, args.reps, args.pandas_max, args.corpus_dir))
    section = report(rows, args.reps)
    print(section)
    if args.write:
        replace_marked("flatten", section)


if __name__ == "__main__":
    main()
