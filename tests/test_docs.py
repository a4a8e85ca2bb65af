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
