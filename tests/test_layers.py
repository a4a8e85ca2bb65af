"""The layer rule (issue 15): imports go down the layers only, and an import inside a function is
there to keep a heavy dependency lazy, with its reason written next to it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.local_imports import PACKAGE, local_imports

ROOT = PACKAGE.parent


def test_every_function_local_import_says_why():
    missing = [f"{imp.path.relative_to(ROOT)}:{imp.line} ({imp.module})"
               for imp in local_imports() if imp.reason is None]
    assert not missing, "function-local imports without a '# lazy: <reason>' comment: " + \
        ", ".join(missing)


def test_layers_contract_holds():
    """`lint-imports` (import-linter, the dev extra) with the contract in pyproject.toml."""
    exe = shutil.which("lint-imports") or (Path(sys.executable).parent / "lint-imports")
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    out = subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-1000:]
    assert "1 kept, 0 broken" in out.stdout


def test_an_upward_import_breaks_the_contract(tmp_path):
    """The contract is not vacuous: a copy of the package where `core` imports `tasks` fails."""
    exe = shutil.which("lint-imports") or (Path(sys.executable).parent / "lint-imports")
    if not Path(exe).exists():
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    shutil.copytree(PACKAGE, tmp_path / "jetbench",
                    ignore=shutil.ignore_patterns("__pycache__", "*.yaml"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with open(tmp_path / "jetbench" / "core" / "scales.py", "a") as f:
        f.write("\nimport jetbench.tasks  # noqa: E402\n")
    out = subprocess.run([str(exe), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={"PYTHONPATH": str(tmp_path), "PATH": ""})
    assert out.returncode != 0 and "jetbench.core.scales -> jetbench.tasks" in out.stdout
