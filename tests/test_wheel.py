"""Package data: the wheel carries every task, split and dataset definition (a non-editable
install lists and runs every task from any directory; .ci/run installs the wheel into a fresh
environment and runs a smoke cell outside the checkout)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the source (setuptools builds in the source tree; a copy
    keeps build/ out of the checkout), without build isolation (no index needed)."""
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    src = build / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "jetbench", src / "jetbench", ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(src)], check=True, cwd=build,
                   env={"PATH": "/usr/bin:/bin:" + str(Path(sys.executable).parent),
                        "HOME": str(build), "PIP_NO_INPUT": "1", "TMPDIR": str(build)})
    return next(out.glob("jetbench-*.whl"))


def test_wheel_has_every_definition(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, pattern in (("jetbench/tasks/definitions", "*.yaml"),
                            ("jetbench/datasets/definitions", "_*.yaml"),
                            ("jetbench/data/datasets", "*.yaml")):
        shipped = sorted((ROOT / folder).glob(pattern))
        assert shipped, folder
        missing = [p.name for p in shipped if f"{folder}/{p.name}" not in names]
        assert not missing, f"{folder}: not in the wheel: {missing}"
    assert "jetbench/encoders/cards.yaml" in names
    assert not [n for n in names if n.startswith("tests/")]


def test_ci_installs_the_wheel_and_runs_outside_the_checkout():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip wheel --no-deps" in ci and "python -m venv --system-site-packages" in ci
    assert 'jetbench" list tasks' in ci and 'jetbench" run --encoder scratch' in ci
    assert "--scale smoke" in ci and 'cd "$outside"' in ci
