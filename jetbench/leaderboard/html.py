"""Leaderboard -> one self-contained static HTML page (inline CSS and JS, plots as data URIs).

The table is rendered in the HTML itself, so the page reads fine with scripts off; the inline
script only adds sorting (click a header to sort, click again to reverse; empty cells stay last).
No network asset of any kind, so the page works from a file:// URL, an archive or an air-gapped
cluster.
"""

from __future__ import annotations

import base64
import html
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from jetbench.core.files import write_text
from jetbench.leaderboard.aggregate import OK, Leaderboard
from jetbench.leaderboard.render import best_cells, cell_text, column_headers, footnotes

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1b1f24}
h1{font-size:1.5rem;margin-bottom:.2rem} .sub{color:#57606a;margin-top:0}
table{border-collapse:collapse;font-size:.88rem;margin:1rem 0}
th,td{border-bottom:1px solid #d0d7de;padding:.35rem .6rem;text-align:right;white-space:nowrap}
th{cursor:pointer;user-select:none;background:#f6f8fa;position:sticky;top:0}
th:hover{background:#eaeef2} td.t,th.t{text-align:left}
th[aria-sort=ascending]::after{content:" \\25B2"} th[aria-sort=descending]::after{content:" \\25BC"}
td.best{font-weight:700} td.missing{color:#8c959f} td.stale{color:#9a6700}
tr.incomplete td{background:#fff8f0} .notes{font-size:.82rem;color:#57606a;max-width:70rem}
.plots{display:flex;flex-wrap:wrap}
.plots img{max-width:32rem;margin:.5rem;border:1px solid #d0d7de}
"""

JS = """
(function () {
  var table = document.getElementById("leaderboard");
  if (!table || !table.tHead) { return; }
  var tbody = table.tBodies[0];
  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function key(td, type) {
    var v = td.getAttribute("data-sort");
    if (v === null || v === "") { return null; }
    return type === "num" ? parseFloat(v) : v.toLowerCase();
  }
  function sortBy(idx) {
    var th = headers[idx], type = th.getAttribute("data-type");
    var cur = th.getAttribute("aria-sort");
    var dir = cur === "ascending" ? "descending" : cur === "descending" ? "ascending"
      : (th.getAttribute("data-first") || "ascending");
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var rows = Array.prototype.slice.call(tbody.rows).map(function (r, i) { return [r, i]; });
    rows.sort(function (a, b) {
      var ka = key(a[0].cells[idx], type), kb = key(b[0].cells[idx], type);
      if (ka === null || kb === null) {
        return ka === kb ? a[1] - b[1] : (ka === null ? 1 : -1);
      }
      return ka < kb ? -sign : ka > kb ? sign : a[1] - b[1];
    });
    rows.forEach(function (p) { tbody.appendChild(p[0]); });
  }
  headers.forEach(function (th, idx) {
    th.tabIndex = 0;
    th.addEventListener("click", function () { sortBy(idx); });
    th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(idx); } });
  });
})();
"""


def _td(text: str, sort: str | float | None, cls: str = "", title: str = "") -> str:
    s = "" if sort is None else str(sort)
    attrs = f' data-sort="{html.escape(s)}"'
    if cls:
        attrs += f' class="{cls}"'
    if title:
        attrs += f' title="{html.escape(title)}"'
    return f"<td{attrs}>{html.escape(text)}</td>"


def _th(text: str, kind: str, first: str = "ascending", cls: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    return (f'<th scope="col" data-type="{kind}" data-first="{first}"{c}>'
            f"{html.escape(text)}</th>")


def table_html(lb: Leaderboard) -> str:
    best = best_cells(lb)
    head = [_th("encoder", "text", cls="t"), _th("protocol", "text", cls="t"),
            _th("params", "num", "descending")]
    head += [_th(h, "num", "descending") for h in column_headers(lb)]
    head += [_th("mean rank", "num"), _th("status", "text", cls="t")]
    body = []
    for i, r in enumerate(lb.rows):
        tds = [_td(r.encoder, r.encoder, "t", "revision " + ", ".join(r.revisions)),
               _td(r.protocol, r.protocol, "t"),
               _td(f"{r.n_params:,}" if r.n_params is not None else "—", r.n_params)]
        for j, col in enumerate(lb.columns):
            c = r.cells[col]
            cls = "best" if (i, j) in best else "" if c.status == OK else c.status.replace("-", "")
            tip = f"seeds {c.seeds}; " + "; ".join(c.flags) if c.seeds else "; ".join(c.flags)
            tds.append(_td(cell_text(c), c.mean, cls, tip))
        tds += [_td("—" if r.mean_rank is None else f"{r.mean_rank:.2f}", r.mean_rank),
                _td(r.status, r.status, "t", "; ".join(r.flags))]
        row_cls = "" if r.complete else ' class="incomplete"'
        body.append(f"<tr{row_cls}>" + "".join(tds) + "</tr>")
    return ('<table id="leaderboard">\n<thead><tr>' + "".join(head) + "</tr></thead>\n<tbody>\n"
            + "\n".join(body) + "\n</tbody>\n</table>")


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{data}">'
            f"</figure>")


def to_html(lb: Leaderboard, plots: dict[str, Path] | None = None,
            generated: datetime | None = None) -> str:
    """The whole page as a string; `plots` ({task: png}) are embedded inline."""
    when = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    b = lb.benchmark
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in footnotes(lb))
    gallery = "".join(_img(p) for _, p in sorted((plots or {}).items()))
    data = json.dumps(lb.to_dict(), default=str).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jetbench leaderboard: {html.escape(b.name)}</title>
<style>{CSS}</style></head>
<body>
<h1>jetbench leaderboard: {html.escape(b.name)}</h1>
<p class="sub">{html.escape(b.label)} · {html.escape(b.description)} · generated {when}</p>
{table_html(lb) if lb.rows else "<p>No results in this benchmark yet.</p>"}
<ul class="notes">{notes}</ul>
<div class="plots">{gallery}</div>
<script type="application/json" id="leaderboard-data">{data}</script>
<script>{JS}</script>
</body></html>
"""


def write_html(lb: Leaderboard, path: str | os.PathLike,
               plots: dict[str, Path] | None = None) -> None:
    write_text(path, to_html(lb, plots))
