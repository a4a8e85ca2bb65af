"""The installed command's error boundary: usage errors, user errors and bugs, each one line.

Runs the console script `jetbench` (the editable install's entry point, importing this checkout
through PYTHONPATH) and `python -m jetbench`, as a new user would, and checks exit codes and that
no traceback reaches the terminal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import jetbench

ROOT = Path(__file__).resolve().parents[1]
_CONSOLE = shutil.which("jetbench")
COMMANDS = [pytest.param([sys.executable, "-m", "jetbench"], id="python-m"),
            pytest.param([_CONSOLE], id="console-script",
                         marks=pytest.mark.skipif(_CONSOLE is None, reason="jetbench not on PATH"))]


def _run(cmd: list[str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120, env=env,
                          cwd=cwd)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_usage_errors_exit_2_without_traceback(cmd):
    bare = _run(cmd)
    assert bare.returncode == 2 and "Usage: jetbench" in bare.stderr and bare.stdout == ""
    version = _run(cmd, "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"jetbench {jetbench.__version__}"
    unknown = _run(cmd, "--bogus")
    assert unknown.returncode == 2 and "No such option" in unknown.stderr
    bad_int = _run(cmd, "run", "--encoder", "scratch", "--task", "btag", "--budget", "abc")
    assert bad_int.returncode == 2 and "--budget" in bad_int.stderr
    for proc in (bare, version, unknown, bad_int):
        assert "Traceback" not in proc.stderr, proc.stderr


def test_user_error_is_one_line_exit_2():
    proc = _run([sys.executable, "-m", "jetbench"], "run", "--encoder", "mpm_flwo", "--task",
                "btag", "--scale", "smoke")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("jetbench: error: unknown encoder 'mpm_flwo'")


def test_unexpected_error_is_one_line_exit_1_and_debug_shows_traceback(tmp_path):
    """A bug (here: a plug-in factory that raises ZeroDivisionError) names the error type."""
    (tmp_path / "buggy_plugin.py").write_text("def make(scale='smoke'):\n    return 1 / 0\n")
    env_cmd = [sys.executable, "-m", "jetbench"]
    proc = _run(env_cmd, "validate-encoder", "buggy_plugin:make", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == ("jetbench: ZeroDivisionError: division by zero "
                                   "(run with --debug for the traceback)")
    debug = _run(env_cmd, "--debug", "validate-encoder", "buggy_plugin:make", cwd=tmp_path)
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_main_returns_codes_in_process(capsys):
    from jetbench.cli import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"jetbench {jetbench.__version__}"
    assert main(["list", "tasks", "--bogus"]) == 2
    assert "No such option" in capsys.readouterr().err
