"""The static leaderboard page in a real browser: headless Chromium shows the table and sorts it.

Driven with `chromium --headless --dump-dom` and a tiny probe script appended to a copy of the page:
the probe clicks a header twice, records the row order and the sort state, and writes them into
the DOM that Chromium prints. No browser-automation dependency needed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest

from jetbench.leaderboard import aggregate
from jetbench.leaderboard.html import to_html
from tests.test_leaderboard import BENCH, DEFS, full_grid, make_result

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None


@pytest.fixture(scope="module")
def chromium() -> str:
    """Debian's chromium; installed with apt-get when missing, skipped only if that cannot work."""
    found = _find_chromium()
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip("chromium is not installed and apt-get (as root) is not there to install it")
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                                  env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        except subprocess.TimeoutExpired:
            pytest.skip(f"`{' '.join(cmd)}` timed out; cannot install chromium")
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            pytest.skip(f"`{' '.join(cmd)}` failed ({tail}); cannot install chromium")
    found = _find_chromium()
    if not found:
        pytest.skip("apt-get installed chromium but no chromium binary was found")
    return found


PROBE = """<script>
(function () {
  var t = document.getElementById("leaderboard");
  function order() {
    return Array.prototype.map.call(t.tBodies[0].rows, function (r) {
      return r.cells[0].textContent + "/" + r.cells[1].textContent;
    });
  }
  function col(i) {
    return Array.prototype.map.call(t.tBodies[0].rows, function (r) {
      return r.cells[i].getAttribute("data-sort");
    });
  }
  var box = t.getBoundingClientRect();
  var out = {visible: box.height > 0 && box.width > 0 &&
                      getComputedStyle(t).display !== "none",
             n_rows: t.tBodies[0].rows.length, before: order()};
  var th = t.tHead.rows[0].cells[COL];
  th.dispatchEvent(new MouseEvent("click", {bubbles: true}));
  out.first = order(); out.first_keys = col(COL); out.aria1 = th.getAttribute("aria-sort");
  th.dispatchEvent(new MouseEvent("click", {bubbles: true}));
  out.second = order(); out.second_keys = col(COL); out.aria2 = th.getAttribute("aria-sort");
  var enc = t.tHead.rows[0].cells[0];
  enc.dispatchEvent(new MouseEvent("click", {bubbles: true}));
  out.by_encoder = order();
  REPORT
})();
</script>
</body>"""


REPORT = """var pre = document.createElement("pre");
  pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);"""


def _run_probe(chromium: str, page: str, column: int, tmp_path: Path, probe: str = PROBE,
               flags: tuple[str, ...] = ()) -> dict:
    """Load `page` with `probe` appended in headless Chromium; the probe's JSON report."""
    probe_page = tmp_path / "probe.html"
    script = probe.replace("COL", str(column)).replace("REPORT", REPORT)
    probe_page.write_text(page.replace("</body>", script, 1))
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run([chromium, *CHROMIUM_FLAGS, *flags, f"--user-data-dir={profile}",
                               "--dump-dom", probe_page.as_uri()],
                              capture_output=True, text=True, timeout=120)
    m = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"no probe output from chromium (rc {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def _leaderboard():
    results = full_grid("good", 0.80) + full_grid("weak", 0.60)
    results += [make_result("partial", "jetclass", "frozen", 100, s, 0.99) for s in (0, 1)]
    return aggregate(results, BENCH, DEFS)


def test_page_is_self_contained_and_readable_without_scripts():
    page = to_html(_leaderboard())
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(http" not in page

    class Rows(HTMLParser):
        n = 0

        def handle_starttag(self, tag, attrs):
            self.n += tag == "tr"

    p = Rows()
    p.feed(page)
    assert p.n == 1 + 5  # header + 5 rows rendered in the HTML itself


def test_chromium_shows_table_and_sorts_on_header_click(chromium, tmp_path):
    lb = _leaderboard()
    page = to_html(lb)
    jc100 = 3  # encoder, protocol, params, then the first score column (jetclass @100)
    out = _run_probe(chromium, page, jc100, tmp_path)
    assert out["visible"] and out["n_rows"] == 5
    assert out["before"] == [f"{r.encoder}/{r.protocol}" for r in lb.rows]
    # first click on a score column: best first (descending)
    assert out["aria1"] == "descending"
    assert out["first"] == ["partial/frozen", "good/finetune", "good/frozen", "weak/finetune",
                            "weak/frozen"]
    keys = [float(k) for k in out["first_keys"]]
    assert keys == sorted(keys, reverse=True)
    # second click reverses; rows with an empty cell would stay last either way
    assert out["aria2"] == "ascending"
    assert out["second"] == ["weak/finetune", "weak/frozen", "good/finetune", "good/frozen",
                             "partial/frozen"]
    assert out["by_encoder"] == ["good/finetune", "good/frozen", "partial/frozen", "weak/finetune",
                                 "weak/frozen"]


def test_chromium_keeps_missing_cells_last(chromium, tmp_path):
    lb = _leaderboard()  # 'partial' has no jetclass@1k cell
    out = _run_probe(chromium, to_html(lb), 4, tmp_path)
    assert out["first"][-1] == "partial/frozen" and out["second"][-1] == "partial/frozen"
    assert out["first_keys"][-1] == "" and out["second_keys"][-1] == ""


FILTER_PROBE = """<script>
(function () {
  var t = document.getElementById("leaderboard"), form = document.getElementById("filters");
  function visibleRows() {
    return Array.prototype.filter.call(t.tBodies[0].rows, function (r) {
      return r.getBoundingClientRect().height > 0;
    }).map(function (r) { return r.cells[0].textContent + "/" + r.cells[1].textContent; });
  }
  function visibleHeaders() {
    return Array.prototype.filter.call(t.tHead.rows[0].cells, function (c) {
      return c.getBoundingClientRect().width > 0;
    }).map(function (c) { return c.textContent; });
  }
  function visible(sel) {
    return Array.prototype.filter.call(document.querySelectorAll(sel), function (el) {
      return el.getBoundingClientRect().height > 0;
    }).map(function (el) { return el.id || el.getAttribute("href"); });
  }
  var wrap = t.parentNode;
  var out = {form_shown: !form.hidden, n_headers: visibleHeaders().length,
             figures: visible("figure"),
             page_fits: document.documentElement.scrollWidth <= window.innerWidth + 1,
             table_scrolls: wrap.scrollWidth > wrap.clientWidth};
  var box = form.querySelector('input[data-protocol="frozen"]');
  box.checked = false; box.dispatchEvent(new Event("change", {bubbles: true}));
  out.rows_without_frozen = visibleRows();
  var task = form.querySelector('input[data-task="vertexing"]');
  task.checked = false; task.dispatchEvent(new Event("change", {bubbles: true}));
  out.headers_without_vertexing = visibleHeaders();
  out.figures_without_vertexing = visible("figure");
  out.links_without_vertexing = visible(".figindex a");
  REPORT
})();
</script>
</body>"""


def _figures(tmp_path: Path) -> dict[str, Path]:
    """Two figure files (a 1x1 PNG each): score vs labels of vertexing, a jetclass ROC plot."""
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
                        "0000000d49444154789c63f8ffffff7f0009fb03fd2a86e38a0000000049454e44"
                        "ae426082")
    out = {}
    for key, name in (("vertexing", "vertexing.png"), ("roc:jetclass@1000", "roc_jetclass.png")):
        (tmp_path / name).write_bytes(png)
        out[key] = tmp_path / name
    return out


def test_chromium_filters_and_narrow_window(chromium, tmp_path):
    out = _run_probe(chromium, to_html(_leaderboard(), _figures(tmp_path)), 0, tmp_path,
                     FILTER_PROBE, ("--window-size=480,900",))
    assert out["form_shown"] and out["n_headers"] == 3 + 3 + 2
    assert out["figures"] == ["fig-roc-jetclass-1000", "fig-vertexing"]
    # a 480 px window: the page does not overflow, the table scrolls inside its box
    assert out["page_fits"] and out["table_scrolls"]
    assert out["rows_without_frozen"] == ["good/finetune", "weak/finetune"]
    assert not any("vertexing" in h for h in out["headers_without_vertexing"])
    assert any("jetclass" in h for h in out["headers_without_vertexing"])
    # the task filter hides the task's figures and their links too
    assert out["figures_without_vertexing"] == ["fig-roc-jetclass-1000"]
    assert out["links_without_vertexing"] == ["#fig-roc-jetclass-1000"]


NO_SCRIPT_PROBE = """<script>
(function () {
  var form = document.getElementById("filters"), t = document.getElementById("leaderboard");
  var out = {form_height: form.getBoundingClientRect().height,
             rows: Array.prototype.filter.call(t.tBodies[0].rows, function (r) {
               return r.getBoundingClientRect().height > 0; }).length};
  REPORT
})();
</script>
</body>"""


def test_chromium_without_the_page_script_shows_the_table_and_no_dead_filters(chromium, tmp_path):
    """With the page's own script off, the filter boxes (which could not work) stay hidden: the
    `hidden` attribute must win over the form's `display: flex`; every row is shown."""
    from jetbench.leaderboard.html import JS

    page = to_html(_leaderboard())
    assert f"<script>{JS}</script>" in page
    out = _run_probe(chromium, page.replace(f"<script>{JS}</script>", ""), 0, tmp_path,
                     NO_SCRIPT_PROBE)
    assert out == {"form_height": 0, "rows": 5}
