"""Ruled tables from ruling segments: grid, spans, and the V2 ``tables[]`` entries.

Segments that cross each other form a frame; a horizontal segment needs two crossing vertical
ones (and the reverse) to belong to it, so a glyph stroke touching a rule is not a column. The
frame's line positions make the grid; a cell spans into its neighbour when the ruling between
them is missing (checked on the ink itself, so a short line inside one row still counts). A
frame of one cell (a box, a checkbox) is not a table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from clova_etl.server.engine import box_quad, quad_poly
from clova_etl.server.tesseract.rulings import BoolArray, Rulings, Segment, coverage
from clova_etl.server.tesseract.runtime import OcrWord
from clova_etl.server.tesseract.words import Box, inside, text_lines

# A ruling is present between two cells when ink covers this share of the boundary.
_PRESENT = 0.6


@dataclass(frozen=True)
class GridCell:
    """One (possibly merged) cell of a table grid."""

    row: int
    col: int
    row_span: int
    col_span: int
    box: Box


@dataclass(frozen=True)
class TableGrid:
    """A ruled table: its outer box, its cells and the segments that draw it."""

    box: Box
    cells: tuple[GridCell, ...]
    segments: tuple[Segment, ...]


def _crosses(h: Segment, v: Segment) -> bool:
    tol = 3 + max(h.thickness, v.thickness)
    return v.x0 - tol <= h.x1 and v.x1 + tol >= h.x0 and h.y0 - tol <= v.y1 and h.y1 + tol >= v.y0


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def frames(rulings: Rulings) -> list[tuple[list[Segment], list[Segment]]]:
    """Groups of crossing segments (horizontal, vertical) that enclose at least one box."""
    hs, vs = list(rulings.horizontal), list(rulings.vertical)
    cross = {(i, j) for i, h in enumerate(hs) for j, v in enumerate(vs) if _crosses(h, v)}
    keep_h, keep_v = set(range(len(hs))), set(range(len(vs)))
    changed = True
    while changed:  # drop segments crossing fewer than two of the other orientation
        changed = False
        for i in list(keep_h):
            if sum((i, j) in cross for j in keep_v) < 2:
                keep_h.discard(i)
                changed = True
        for j in list(keep_v):
            if sum((i, j) in cross for i in keep_h) < 2:
                keep_v.discard(j)
                changed = True
    uf = _UnionFind(len(hs) + len(vs))
    for i, j in cross:
        if i in keep_h and j in keep_v:
            uf.union(i, len(hs) + j)
    groups: dict[int, tuple[list[Segment], list[Segment]]] = {}
    for i in sorted(keep_h):
        groups.setdefault(uf.find(i), ([], []))[0].append(hs[i])
    for j in sorted(keep_v):
        groups.setdefault(uf.find(len(hs) + j), ([], []))[1].append(vs[j])
    return [g for g in groups.values() if len(g[0]) >= 2 and len(g[1]) >= 2]


def _positions(segments: list[Segment], low: float, high: float) -> list[tuple[float, int]]:
    """Distinct line positions (and their thickness), plus the frame's edges when open."""
    out: list[tuple[float, int]] = []
    for s in sorted(segments, key=lambda s: s.position):
        if out and s.position - out[-1][0] <= max(4, s.thickness, out[-1][1]):
            pos, thick = out[-1]
            out[-1] = ((pos + s.position) / 2, max(thick, s.thickness))
        else:
            out.append((s.position, s.thickness))
    # A table drawn without outer borders still ends where its rules end.
    if out[0][0] - low > 8:
        out.insert(0, (low, 0))
    if high - out[-1][0] > 8:
        out.append((high, 0))
    return out


def _grid(hs: list[Segment], vs: list[Segment], ink: BoolArray) -> TableGrid | None:
    x0 = min(s.x0 for s in hs + vs)
    x1 = max(s.x1 for s in hs + vs)
    y0 = min(s.y0 for s in hs + vs)
    y1 = max(s.y1 for s in hs + vs)
    ys = _positions(hs, y0, y1 - 1)
    xs = _positions(vs, x0, x1 - 1)
    rows, cols = len(ys) - 1, len(xs) - 1
    if rows < 1 or cols < 1 or rows * cols < 2:
        return None
    n = rows * cols
    uf = _UnionFind(n)
    for r in range(rows):
        for c in range(cols):
            if c + 1 < cols:  # the ruling between (r, c) and (r, c + 1)
                x, thick = xs[c + 1]
                top, bottom = ys[r][0], ys[r + 1][0]
                margin = max(3.0, 0.15 * (bottom - top))
                seen = coverage(
                    ink, "v", x, top + margin, bottom - margin, slack=max(2, thick // 2 + 1)
                )
                if seen < _PRESENT:
                    uf.union(r * cols + c, r * cols + c + 1)
            if r + 1 < rows:  # the ruling between (r, c) and (r + 1, c)
                y, thick = ys[r + 1]
                left, right = xs[c][0], xs[c + 1][0]
                margin = max(3.0, 0.15 * (right - left))
                seen = coverage(
                    ink, "h", y, left + margin, right - margin, slack=max(2, thick // 2 + 1)
                )
                if seen < _PRESENT:
                    uf.union(r * cols + c, (r + 1) * cols + c)
    cells = _merged_cells(uf, rows, cols)
    if len(cells) < 2:
        return None
    grid_cells = tuple(
        GridCell(
            r0, c0, r1 - r0 + 1, c1 - c0 + 1, (xs[c0][0], ys[r0][0], xs[c1 + 1][0], ys[r1 + 1][0])
        )
        for r0, c0, r1, c1 in cells
    )
    box = (xs[0][0], ys[0][0], xs[-1][0], ys[-1][0])
    return TableGrid(box=box, cells=grid_cells, segments=tuple(hs + vs))


def _merged_cells(uf: _UnionFind, rows: int, cols: int) -> list[tuple[int, int, int, int]]:
    """Rectangles (r0, c0, r1, c1) of the merged cells, in row-major order of their corner."""
    while True:  # grow every group to its bounding rectangle until the groups are rectangles
        rects: dict[int, list[int]] = {}
        for r in range(rows):
            for c in range(cols):
                rect = rects.setdefault(uf.find(r * cols + c), [r, c, r, c])
                rect[0], rect[1] = min(rect[0], r), min(rect[1], c)
                rect[2], rect[3] = max(rect[2], r), max(rect[3], c)
        changed = False
        for root, (r0, c0, r1, c1) in rects.items():
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    if uf.find(r * cols + c) != uf.find(root):
                        uf.union(r * cols + c, root)
                        changed = True
        if not changed:
            return sorted((r0, c0, r1, c1) for r0, c0, r1, c1 in rects.values())


def detect_tables(rulings: Rulings) -> list[TableGrid]:
    """The ruled tables of a page, top-to-bottom."""
    grids = [_grid(hs, vs, rulings.ink) for hs, vs in frames(rulings)]
    return sorted((g for g in grids if g is not None), key=lambda g: (g.box[1], g.box[0]))


def table_entry(grid: TableGrid, words: list[OcrWord]) -> dict[str, Any]:
    """The V2 ``tables[]`` entry of a grid, with the words whose centre lies in each cell."""
    cells = []
    filled: list[float] = []
    for cell in grid.cells:
        lines = text_lines([w for w in words if inside(w, cell.box)])
        confidence = (
            round(sum(line["inferConfidence"] for line in lines) / len(lines), 4) if lines else 1.0
        )
        if lines:
            filled.append(confidence)
        cells.append(
            {
                "cellTextLines": lines,
                "boundingPoly": quad_poly(box_quad(*cell.box)),
                "inferConfidence": confidence,
                "rowSpan": cell.row_span,
                "rowIndex": cell.row,
                "columnSpan": cell.col_span,
                "columnIndex": cell.col,
            }
        )
    return {
        "cells": cells,
        "boundingPoly": quad_poly(box_quad(*grid.box)),
        "inferConfidence": round(sum(filled) / len(filled), 4) if filled else 1.0,
    }
