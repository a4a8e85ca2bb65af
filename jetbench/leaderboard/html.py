"""Leaderboard -> one self-contained static HTML page (inline CSS and JS, plots as data URIs).

The table is rendered in the HTML itself, so the page reads fine with scripts off; the inline
script only adds sorting (click a header to sort, click again to reverse; empty cells stay last)
and the task / protocol filters (hidden without scripts, where they could not work; a task filter
hides the task's columns, figures, figure links and working-point tables). The table scrolls
inside its own box, so a wide benchmark never widens the page. Figures are embedded, and
each links to its PNG in `plots/` for full size. No network asset of any kind, so the page works
from a file:// URL, an archive or an air-gapped cluster.
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
from jetbench.leaderboard.render import (
    best_cells,
    budget_label,
    cell_text,
    column_headers,
    footnotes,
    working_point_rows,
)

CSS = """
*{box-sizing:border-box}
[hidden]{display:none!important}
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5rem;color:#1b1f24}
h1{font-size:1.5rem;margin-bottom:.2rem} h2{font-size:1.15rem;margin-top:1.6rem}
.sub{color:#57606a;margin-top:0}
.wrap{max-width:100%;max-height:75vh;overflow:auto;border:1px solid #d0d7de;border-radius:6px}
table{border-collapse:collapse;font-size:.86rem}
th,td{border-bottom:1px solid #d0d7de;padding:.35rem .6rem;text-align:right;white-space:nowrap}
th{cursor:pointer;user-select:none;background:#f6f8fa;position:sticky;top:0;z-index:1}
th:hover{background:#eaeef2} td.t,th.t{text-align:left}
#leaderboard td:first-child,#leaderboard th:first-child{position:sticky;left:0;z-index:2;
 background:#fff;box-shadow:1px 0 0 #d0d7de} #leaderboard th:first-child{background:#f6f8fa;z-index:3}
th[aria-sort=ascending]::after{content:" \\25B2"} th[aria-sort=descending]::after{content:" \\25BC"}
td.best{font-weight:700} td.missing{color:#8c959f} td.stale{color:#9a6700}
tr.incomplete td,#leaderboard tr.incomplete td:first-child{background:#fff8f0}
.notes{font-size:.82rem;color:#57606a;max-width:70rem}
.figindex a{margin-right:.9rem}
#filters{display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;margin:.8rem 0;font-size:.88rem}
#filters fieldset{border:1px solid #d0d7de;border-radius:6px;padding:.2rem .7rem}
#filters label{margin-right:.7rem;white-space:nowrap}
.plots{display:flex;flex-wrap:wrap}
.plots figure{margin:.5rem} .plots img{max-width:min(34rem,92vw);border:1px solid #d0d7de}
.plots figcaption{font-size:.8rem;color:#57606a}
.wp table{margin:.4rem 0 1rem}
@media (max-width:40rem){body{margin:.6rem} th,td{padding:.3rem .4rem}}
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
  var form = document.getElementById("filters");
  if (!form) { return; }
  form.hidden = false;
  function shown(kind) {
    var on = {};
    Array.prototype.forEach.call(form.querySelectorAll("input[data-" + kind + "]"),
      function (box) { on[box.getAttribute("data-" + kind)] = box.checked; });
    return on;
  }
  function apply() {
    var tasks = shown("task"), protocols = shown("protocol");
    // table columns, figures, figure links and working-point tables of a task
    Array.prototype.forEach.call(document.querySelectorAll(":not(input)[data-task]"),
      function (el) { el.hidden = tasks[el.getAttribute("data-task")] === false; });
    Array.prototype.forEach.call(tbody.rows, function (row) {
      row.hidden = protocols[row.getAttribute("data-protocol")] === false;
    });
  }
  form.addEventListener("change", apply);
  apply();
})();
"""


def _td(text: str, sort: str | float | None, cls: str = "", title: str = "",
        task: str = "") -> str:
    s = "" if sort is None else str(sort)
    attrs = f' data-sort="{html.escape(s)}"'
    if cls:
        attrs += f' class="{cls}"'
    if title:
        attrs += f' title="{html.escape(title)}"'
    if task:
        attrs += f' data-task="{html.escape(task)}"'
    return f"<td{attrs}>{html.escape(text)}</td>"


def _th(text: str, kind: str, first: str = "ascending", cls: str = "", task: str = "") -> str:
    c = f' class="{cls}"' if cls else ""
    t = f' data-task="{html.escape(task)}"' if task else ""
    return (f'<th scope="col" data-type="{kind}" data-first="{first}"{c}{t}>'
            f"{html.escape(text)}</th>")


def _num(x: float | None, fmt: str) -> str:
    return "—" if x is None or x != x else format(x, fmt)


def _tip(c) -> str:
    """Tooltip of a score cell: seeds, error parts, rank group, p-values, flags."""
    if not c.seeds:
        return "; ".join(c.flags)
    parts = [f"seeds {c.seeds}"]
    if c.se is not None:
        parts.append(f"SE {_num(c.se, '.3g')} (test {_num(c.se_test, '.3g')}, seeds "
                     f"{_num(c.se_seed, '.3g')}; {c.se_method})")
    if c.group is not None:
        parts.append(f"rank group {c.group}, p vs best {_num(c.p_best, '.3g')}")
    if c.p_ref is not None:
        parts.append(f"vs random init {c.diff_ref:+.4g}, p {_num(c.p_ref, '.3g')}")
    return "; ".join(parts + c.flags)


def table_html(lb: Leaderboard) -> str:
    best = best_cells(lb)
    head = [_th("encoder", "text", cls="t"), _th("protocol", "text", cls="t"),
            _th("params", "num", "descending")]
    head += [_th(h, "num", "descending", task=t) for h, (t, _) in zip(column_headers(lb),
                                                                        lb.columns, strict=True)]
    head += [_th("mean rank", "num"), _th("status", "text", cls="t")]
    body = []
    for i, r in enumerate(lb.rows):
        tds = [_td(r.encoder, r.encoder, "t", "revision " + ", ".join(r.revisions)),
               _td(r.protocol, r.protocol, "t"),
               _td(f"{r.n_params:,}" if r.n_params is not None else "—", r.n_params)]
        for j, col in enumerate(lb.columns):
            c = r.cells[col]
            cls = "best" if (i, j) in best else "" if c.status == OK else c.status.replace("-", "")
            tds.append(_td(cell_text(c, lb.alpha), c.mean, cls, _tip(c), col[0]))
        tds += [_td("—" if r.mean_rank is None else f"{r.mean_rank:.2f}", r.mean_rank),
                _td(r.status, r.status, "t", "; ".join(r.flags))]
        row_cls = "" if r.complete else ' class="incomplete"'
        proto = f' data-protocol="{html.escape(r.protocol)}"'
        body.append(f"<tr{row_cls}{proto}>" + "".join(tds) + "</tr>")
    return ('<table id="leaderboard">\n<thead><tr>' + "".join(head) + "</tr></thead>\n<tbody>\n"
            + "\n".join(body) + "\n</tbody>\n</table>")


def filters_html(lb: Leaderboard) -> str:
    """Task and protocol checkboxes (hidden until the script shows them)."""
    def boxes(kind: str, names: list[str]) -> str:
        return "".join(f'<label><input type="checkbox" checked data-{kind}="{html.escape(n)}"> '
                       f"{html.escape(n)}</label>" for n in names)

    tasks = list(dict.fromkeys(t for t, _ in lb.columns))
    protocols = list(dict.fromkeys(r.protocol for r in lb.rows))
    return (f'<form id="filters" hidden><fieldset><legend>tasks</legend>{boxes("task", tasks)}'
            f'</fieldset><fieldset><legend>protocols</legend>{boxes("protocol", protocols)}'
            "</fieldset></form>")


def _caption(key: str) -> str:
    if key.startswith("roc:"):
        task, budget = key[4:].split("@")
        return f"{task} @{budget_label(int(budget))} labels: ROC curves (1/εB vs εS)"
    return f"{key}: score vs labelled jets"


def _task_of(key: str) -> str:
    """The task a figure key belongs to: "<task>" or "roc:<task>@<budget>"."""
    return key[4:].split("@")[0] if key.startswith("roc:") else key


def _anchor(key: str) -> str:
    return "fig-" + "".join(ch if ch.isalnum() else "-" for ch in key)


def _img(key: str, path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    rel = f"plots/{path.name}"
    return (f'<figure id="{_anchor(key)}" data-task="{html.escape(_task_of(key))}">'
            f'<a href="{html.escape(rel)}"><img alt="'
            f'{html.escape(_caption(key))}" src="data:image/png;base64,{data}"></a>'
            f"<figcaption>{html.escape(_caption(key))}</figcaption></figure>")


def working_points_html(lb: Leaderboard) -> str:
    """The working-point tables, folded away under one summary line."""
    if not lb.working_points:
        return ""
    parts = []
    for (task, budget), (effs, rows) in working_point_rows(lb).items():
        head = "".join(f"<th>{h}</th>" for h in ("curve", "encoder", "protocol")) + "".join(
            f"<th>1/εB @ εS={eff:.0%}</th>" for eff in effs)
        body = "".join("<tr>" + "".join(f'<td class="t">{html.escape(v)}</td>' for v in row[:3])
                       + "".join(f"<td>{html.escape(v)}</td>" for v in row[3:]) + "</tr>"
                       for row in rows)
        parts.append(f'<section data-task="{html.escape(task)}"><h3>{html.escape(task)} '
                     f'@{budget_label(budget)}</h3><div class="wrap"><table><thead><tr>{head}'
                     f"</tr></thead><tbody>{body}</tbody></table></div></section>")
    return ('<details class="wp"><summary>Working points: background rejection at εS = 30 / 50 '
            "/ 70 % (mean ± SE over seeds)</summary>" + "".join(parts) + "</details>")


def to_html(lb: Leaderboard, plots: dict[str, Path] | None = None,
            generated: datetime | None = None) -> str:
    """The whole page as a string; `plots` ({task: png}) are embedded inline."""
    when = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    b = lb.benchmark
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in footnotes(lb))
    figs = sorted((plots or {}).items())
    gallery = "".join(_img(k, p) for k, p in figs)
    index = "".join(f'<a href="#{_anchor(k)}" data-task="{html.escape(_task_of(k))}">'
                    f"{html.escape(_caption(k))}</a>" for k, _ in figs)
    data = json.dumps(lb.to_dict(), default=str).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>jetbench leaderboard: {html.escape(b.name)}</title>
<style>{CSS}</style></head>
<body>
<h1>jetbench leaderboard: {html.escape(b.name)}</h1>
<p class="sub">{html.escape(b.label)} · {html.escape(b.description)} · generated {when}</p>
{filters_html(lb) if lb.rows else ""}
<div class="wrap">{table_html(lb) if lb.rows else "<p>No results in this benchmark yet.</p>"}</div>
<p class="notes figindex">{("Figures: " + index) if index else ""}</p>
<ul class="notes">{notes}</ul>
{working_points_html(lb)}
<h2>Figures</h2>
<div class="plots">{gallery}</div>
<script type="application/json" id="leaderboard-data">{data}</script>
<script>{JS}</script>
</body></html>
"""


def write_html(lb: Leaderboard, path: str | os.PathLike,
               plots: dict[str, Path] | None = None) -> None:
    write_text(path, to_html(lb, plots))
