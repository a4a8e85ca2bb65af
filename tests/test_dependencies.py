"""Every dependency has a lower and an upper bound (issue 13 item 1): a fresh install resolves a
tested set instead of whatever is newest (typer 0.2x stopped installing click and every error
became a double traceback). The installed environment satisfies the bounds it is tested with."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement  # a dependency of pytest

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
LOWER, UPPER = {">=", ">", "~=", "=="}, {"<", "<=", "~=", "=="}


def _requirements() -> list[tuple[str, Requirement]]:
    reqs = [("dependencies", Requirement(r)) for r in PROJECT["dependencies"]]
    reqs += [(f"[{extra}]", Requirement(r)) for extra, rs in PROJECT["optional-dependencies"].items()
             for r in rs]
    return [(where, r) for where, r in reqs if r.name != "jetbench"]  # jetbench[track] etc.


@pytest.mark.parametrize("where, req", _requirements(), ids=lambda x: str(x))
def test_every_dependency_is_bounded_both_ways(where, req):
    ops = {s.operator for s in req.specifier}
    assert ops & LOWER and ops & UPPER, f"{where}: '{req}' needs a lower and an upper bound"


def test_installed_runtime_dependencies_are_within_their_bounds():
    for req in (Requirement(r) for r in PROJECT["dependencies"]):
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{req.name} is a dependency but not installed")
        assert req.specifier.contains(version, prereleases=True), f"{req.name} {version} vs {req}"
