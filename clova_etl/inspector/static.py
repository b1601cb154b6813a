"""The inspector page's inline CSS and script (no file is fetched: the page works offline)."""

from __future__ import annotations

__all__ = ["CONFIDENCE_BANDS", "CSS", "SCRIPT"]

# (class, lower bound, label, colour); the first band's bound is replaced by the low threshold.
CONFIDENCE_BANDS: tuple[tuple[str, float, str], ...] = (
    ("c3", 0.9, "#12b76a"),
    ("c2", 0.7, "#eaaa08"),
    ("c1", 0.5, "#f79009"),
    ("c0", 0.0, "#d92d20"),
)

CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans KR",sans-serif;
margin:0;color:#1d2330;background:#f4f6f9}
header{padding:14px 20px;background:#fff;border-bottom:1px solid #dfe3ea}
h1{font-size:19px;margin:0 0 4px;word-break:break-all}h2{font-size:16px;margin:0 0 8px}
h3{font-size:13px;margin:14px 0 6px;text-transform:uppercase;letter-spacing:.04em;color:#5b6475}
.meta{color:#5b6475;margin:2px 0}.meta code{font-size:12px}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.SUCCESS,.succeeded,.loaded{background:#dcfae6;color:#067647}
.FAILURE,.ERROR,.failed,.rejected{background:#fee4e2;color:#b42318}
.pending,.unknown{background:#fef0c7;color:#93370d}
.page{margin:18px 20px;background:#fff;border:1px solid #dfe3ea;border-radius:8px;padding:14px}
.cols{display:grid;grid-template-columns:minmax(0,3fr) minmax(260px,1fr);gap:16px}
.canvas{border:1px solid #dfe3ea;background:#e9ecf1;line-height:0;align-self:start}
.canvas svg{width:100%;height:auto;display:block}
.banner{background:#fee4e2;color:#7a271a;border:1px solid #fda29b;border-radius:6px;
padding:8px 12px;margin:0 0 10px}
.note{background:#fef0c7;color:#7a2e0e;border-radius:6px;padding:6px 10px;margin:0 0 10px}
.panel{position:sticky;top:8px;max-height:calc(100vh - 16px);overflow:auto;font-size:13px}
.legend span{display:inline-flex;align-items:center;gap:4px;margin:0 10px 4px 0}
.legend i{display:inline-block;width:14px;height:10px;border:2px solid}
.text p{margin:0 0 2px}.text a,.fields a,.grid a{color:inherit;text-decoration:none}
.text a{border-radius:3px;padding:0 1px}.text a.low{background:#fee4e2}
.fields{list-style:none;padding:0;margin:0}
.fields li{border-bottom:1px solid #eceff3;padding:2px 0}
.fields a{display:flex;gap:6px;justify-content:space-between}
.fields b{font-weight:600}.fields .conf{color:#5b6475;font-variant-numeric:tabular-nums}
.fields .low .conf{color:#b42318;font-weight:700}
.sel{outline:2px solid #7a5af8;background:#ebe9fe !important}
.grid{border-collapse:collapse;font-size:12px;margin:4px 0 8px}
.grid td{border:1px solid #98a2b3;padding:2px 4px;vertical-align:top}
svg .fld{fill-opacity:.12;stroke-width:1.5;cursor:pointer}
svg .fld.c0{fill:#d92d20;stroke:#d92d20;fill-opacity:.35;stroke-width:3}
svg .fld.c1{fill:#f79009;stroke:#f79009;fill-opacity:.2}
svg .fld.c2{fill:#eaaa08;stroke:#eaaa08}
svg .fld.c3{fill:#12b76a;stroke:#12b76a}
svg .fld.cn{fill:#667085;stroke:#667085}
svg .fld.sel{fill:#7a5af8;stroke:#7a5af8;fill-opacity:.45;stroke-width:4;outline:none}
svg .sub{fill:#fff;fill-opacity:0;stroke:#344054;stroke-width:1;stroke-dasharray:3 2;
cursor:pointer}
svg .sub.sel{outline:none;background:none !important}
svg .tbl{fill:none;stroke:#2e90fa;stroke-width:3}
svg .cell{fill:#2e90fa;fill-opacity:.04;stroke:#2e90fa;stroke-width:1.5;cursor:pointer}
svg .cell.span{stroke-dasharray:6 3;fill-opacity:.1}
svg .cell.sel{fill:#7a5af8;stroke:#7a5af8;fill-opacity:.3;stroke-width:4;outline:none}
svg .lb{fill:#0086c9;font-weight:700}
svg .lbl{fill:#101828;paint-order:stroke;stroke:#fff;stroke-width:4px;stroke-linejoin:round;
font-family:system-ui,sans-serif;font-weight:600}
svg .tick{fill:none;stroke:#067647;stroke-width:3}
footer{color:#5b6475;margin:20px;font-size:12px}
table.list{border-collapse:collapse;width:calc(100% - 40px);margin:16px 20px;background:#fff}
table.list th,table.list td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceff3}
table.list th{background:#f0f2f6}table.list td.n{text-align:right}
@media (max-width:900px){.cols{grid-template-columns:1fr}.panel{position:static}}
"""

# Selecting a field or cell: its id goes in the URL's fragment (so a selection can be linked),
# and every element naming it (the box, its line in the text, its entry in the lists) is marked.
SCRIPT = """
(function () {
  "use strict";
  function select(id, scroll) {
    document.querySelectorAll(".sel").forEach(function (el) { el.classList.remove("sel"); });
    if (!id) { return; }
    var marked = document.querySelectorAll('[data-f="' + CSS.escape(id) + '"]');
    marked.forEach(function (el) { el.classList.add("sel"); });
    var box = document.getElementById(id);
    if (scroll && box && box.scrollIntoView) { box.scrollIntoView({block: "center"}); }
  }
  function fromHash() { select(decodeURIComponent(location.hash.slice(1)), true); }
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    var shape = target.closest("svg [data-f]");
    if (shape) { location.hash = shape.getAttribute("data-f"); }
  });
  window.addEventListener("hashchange", fromHash);
  // On load the browser has already scrolled to the fragment's element.
  select(decodeURIComponent(location.hash.slice(1)), false);
})();
"""
