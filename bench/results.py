"""One benchmark's section of ``bench/RESULTS.md`` replaced (or appended), the others left alone.

Two kinds of section: one between ``<!-- name:begin -->`` and ``<!-- name:end -->`` markers
(:func:`replace_marked`), and one that runs from its ``## `` title to the next title or marker
(:func:`replace_titled`). The file is replaced atomically.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
_NEW = "# Benchmark results\n"


def replace_marked(name: str, section: str, path: Path = RESULTS) -> None:
    """Put ``section`` between the ``name`` markers, replacing what was there."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = _read(path)
    block = f"{begin}\n{section.strip(chr(10))}\n{end}\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        rest = rest.split(end, 1)[1].lstrip("\n")
        text = head + block + ("\n" + rest if rest else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    _write(path, text)


def replace_titled(title: str, section: str, path: Path = RESULTS) -> None:
    """Replace the section starting at ``title`` up to the next ``## `` title or marker."""
    text = _read(path)
    start = text.find(title)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        ends = [text.find(mark, start + len(title)) for mark in ("\n## ", "\n<!-- ")]
        end = min((e for e in ends if e != -1), default=-1)
        rest = text[end + 1 :] if end != -1 else ""
        text = text[:start] + section.rstrip("\n") + ("\n\n" + rest if rest else "")
    _write(path, text)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else _NEW


def _write(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, delete=False, encoding="utf-8", suffix=".tmp"
    ) as f:
        f.write(text.rstrip("\n") + "\n")
    os.replace(f.name, path)
