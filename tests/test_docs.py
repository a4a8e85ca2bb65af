"""The documentation cites only what lives in the repository, and CI runs the README's commands.

`mkdocs build --strict` (in .ci/run) checks links and anchors between pages; these tests check what
it cannot: repository paths named in the text exist, nothing cites a design file outside the
repository, and .ci/run still runs the README's test command verbatim.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# a repository path in backticks: `jetbench/...`, `tasks/...`, `examples/...`, ...
CITED_PATH = re.compile(r"`((?:jetbench|tasks|examples|leaderboard|bench|tests|docs)/[^`\s]*)`")


def _pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def test_cited_repository_paths_exist():
    missing = []
    for page in _pages():
        for path in CITED_PATH.findall(page.read_text()):
            if any(c in path for c in "<*{"):  # a pattern such as tasks/<name>.yaml
                continue
            if not (ROOT / path.split("#")[0]).exists():
                missing.append(f"{page.relative_to(ROOT)}: {path}")
    assert not missing, "docs cite paths that are not in the repository:\n" + "\n".join(missing)


def test_no_citation_of_an_outside_design_file():
    offenders = [str(p.relative_to(ROOT)) for p in [*_pages(), ROOT / "README.md"]
                 if "DESIGN §" in p.read_text()]
    assert not offenders, f"cite docs/design.md sections instead: {offenders}"


def test_design_reference_has_the_sections_code_cites():
    headings = re.findall(r"^## (.+)$", (DOCS / "design.md").read_text(), flags=re.M)
    assert headings == ["Data format", "Datasets", "Generator", "Tasks", "Encoders", "Pretraining",
                        "Protocols", "Heads", "Results", "Scale-out", "Errors"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = 'pip install torch==2.13.0 && pip install -e ".[dev]" && ruff check . && python -m pytest -q'
    assert command in readme
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()
    assert "mkdocs build --strict" in (ROOT / ".ci" / "run").read_text()


def test_every_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    absent = [str(p.relative_to(DOCS)) for p in _pages() if str(p.relative_to(DOCS)) not in nav]
    assert not absent, f"pages missing from mkdocs.yml nav: {absent}"


def test_every_task_and_reference_encoder_has_its_page():
    """Issue 14 item 8: one page per task, one addressable section per reference encoder."""
    from jetbench.encoders.cards import builtin_names  # no torch: the cards are YAML

    tasks = sorted(p.stem for p in (ROOT / "jetbench" / "tasks" / "definitions").glob("[!_]*.yaml"))
    assert tasks and not [t for t in tasks if not (DOCS / "tasks" / f"{t}.md").is_file()]
    index = (DOCS / "encoders" / "index.md").read_text()
    for name in builtin_names():
        link = re.search(rf"\[`{name}`\]\(([^)#]+)(?:#([^)]+))?\)", index)
        assert link, f"docs/encoders/index.md does not link {name} to its page"
        page = (DOCS / "encoders" / link.group(1)).read_text()
        if link.group(2):  # a section of a family page: the anchor is the encoder's name
            assert link.group(2) == name and re.search(rf"^#+ .*`{name}`", page, flags=re.M)


def test_only_the_measurement_pages_wait_for_figures():
    """Open 'verify'/'TBD' markers are left only where the integrator fills measured figures."""
    waiting = {"reproduction.md", "pretraining.md"}
    offenders = [str(p.relative_to(DOCS)) for p in _pages() if p.name not in waiting
                 and ("<!-- verify" in p.read_text() or "TBD" in p.read_text())]
    assert not offenders, f"unfinished pages: {offenders}"
