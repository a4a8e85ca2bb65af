"""Arguments and output locations are checked before any work: one line, exit 2, and no data
prepared, no cell trained, nothing generated. A full disk is a clean error without temp files."""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jetbench.cli import main
from jetbench.core import preflight
from jetbench.core.errors import JetbenchError

ROOT = Path(__file__).resolve().parents[1]
CAN_MOUNT = os.geteuid() == 0 and shutil.which("mount") is not None and shutil.which("unshare")


@pytest.fixture
def no_work(monkeypatch, tmp_path):
    """Fresh caches, and every entry into real work (data, cells, generation) fails the test."""
    monkeypatch.setenv("JETBENCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("JETBENCH_CHECKPOINTS", str(tmp_path / "ckpt"))
    monkeypatch.setenv("JETBENCH_RESULTS", str(tmp_path / "results"))

    def work(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")

    import jetbench.evaluation.plan as plan
    import jetbench.evaluation.sweep as sw
    import jetbench.generate as gen
    import jetbench.tasks as tasks

    for mod, name in ((plan, "prepare_data"), (plan, "load_encoder"), (sw, "prepare"),
                      (gen, "generate_file"), (tasks, "prepare_task")):
        monkeypatch.setattr(mod, name, work)
    return tmp_path


def _one_line_error(capsys, *args: str) -> str:
    code = main(list(args))
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("jetbench: error: "), err
    return err


RUN = ["run", "--encoder", "scratch", "--task", "btag", "--scale", "smoke"]
SWEEP = ["sweep", "--encoders", "scratch", "--tasks", "btag", "--scale", "smoke"]


@pytest.mark.parametrize("args, message", [
    ([*RUN, "--seed", "-1"], "--seed must be a whole number between 0 and 4294967295, got -1"),
    ([*RUN, "--threads", "-1"], "--threads must be a whole number between 1 and 4096, got -1"),
    ([*RUN, "--threads", "0"], "--threads must be"),
    ([*RUN, "--budget", "0"], "--budget must be a whole number at least 1, got 0"),
    ([*SWEEP, "-j", "0"], "--workers must be a whole number between 1 and 1024, got 0"),
    ([*SWEEP, "--seeds", "0,-1"], "--seeds must be a whole number between 0 and"),
    ([*SWEEP, "--threads", "-2"], "--threads must be"),
    (["pretrain", "--encoder", "mpm_reg", "--scale", "smoke", "--seed", "-1"], "--seed must be"),
    (["pretrain", "--encoder", "mpm_reg", "--scale", "smoke", "--steps", "0"], "--steps must be"),
    (["data", "generate", "btag", "--n", "1000000000000", "--out", "x.h5"],
     "--n must be a whole number between 1 and 1000000000, got 1000000000000"),
    (["data", "generate", "btag", "--n", "10", "--workers", "0", "--out", "x.h5"],
     "--workers must be"),
    (["data", "generate", "btag", "--n", "10", "--seed", "-3", "--out", "x.h5"], "--seed must be"),
    (["data", "prepare", "btag", "--workers", "-1"], "--workers must be"),
    (["validate-encoder", "scratch", "--seed", "-1"], "--seed must be"),
])
def test_bad_arguments_fail_before_any_work(no_work, capsys, args, message):
    assert message in _one_line_error(capsys, *args)
    assert not (no_work / "data").exists()


def test_absurd_inline_split_is_refused_when_the_task_loads(no_work, capsys, monkeypatch):
    folder = no_work / "tasks"
    folder.mkdir()
    btag = (ROOT / "jetbench" / "tasks" / "definitions" / "btag.yaml").read_text()
    btag = btag.replace("name: btag", "name: huge")
    split = "{n: 1000000000000, seed: 9901}"
    data = ("data:\n  dataset: btag\n  profile: btag\n  scales:\n"
            + "".join(f"    {s}: {{train: {split}, val: {{n: 10, seed: {9902 + i}}}, "
                      f"test: {{n: 10, seed: {9910 + i}}}}}\n"
                      for i, s in enumerate(("smoke", "cpu", "paper"))))
    (folder / "huge.yaml").write_text(btag.replace("data: btag\n", data))
    monkeypatch.setenv("JETBENCH_TASKS", str(folder))
    err = _one_line_error(capsys, "run", "--encoder", "scratch", "--task", "huge", "--scale",
                          "smoke")
    assert "huge.yaml" in err and "less than or equal to 1000000000" in err


def test_out_refuses_an_existing_file_without_force(no_work, capsys, tmp_path):
    out = tmp_path / "exists.h5"
    out.write_text("precious")
    err = _one_line_error(capsys, "data", "generate", "btag", "--n", "10", "--out", str(out))
    assert err.endswith(f"--out {out} already exists; pass --force to replace it")
    err = _one_line_error(capsys, "data", "convert", str(tmp_path / "in.root"), "--out", str(out))
    assert "already exists; pass --force" in err
    assert out.read_text() == "precious"
    # --force gets past the check, to the (here: forbidden) generation
    assert main(["data", "generate", "btag", "--n", "10", "--out", str(out), "--force"]) == 1
    assert "work started" in capsys.readouterr().err
    err = _one_line_error(capsys, "data", "generate", "btag", "--n", "10", "--out", str(tmp_path))
    assert "is a folder; give a file name" in err


@pytest.mark.parametrize("var", ["JETBENCH_DATA", "JETBENCH_CHECKPOINTS", "JETBENCH_RESULTS"])
def test_cache_variable_pointing_at_a_file(no_work, capsys, monkeypatch, var):
    bad = no_work / "a_file"
    bad.write_text("x")
    monkeypatch.setenv(var, str(bad))
    err = _one_line_error(capsys, *RUN)
    assert f"${var}={bad} is a file, not a folder" in err


@contextlib.contextmanager
def _mounted(folder: Path, options: str):
    """A tmpfs at `folder` (root only), unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


@contextlib.contextmanager
def _read_only(folder: Path):
    if CAN_MOUNT:
        with _mounted(folder, "ro,size=1m"):
            yield folder
        return
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("cannot make a read-only folder here")
        yield folder
    finally:
        folder.chmod(0o755)


def test_read_only_results_folder_fails_before_the_cell_trains(no_work, capsys):
    with _read_only(no_work / "ro") as ro:
        err = _one_line_error(capsys, *RUN, "--results", str(ro))
        assert f"results folder {ro} is not writable" in err
        err = _one_line_error(capsys, *RUN, "--results", str(ro / "sub" / "dir"))
        assert f"results folder {ro}/sub/dir is not writable" in err
    assert not (no_work / "data").exists()


def test_python_api_checks_the_results_folder_first(no_work):
    from jetbench.evaluation import run_cell

    with _read_only(no_work / "ro") as ro, pytest.raises(JetbenchError, match="not writable"):
        run_cell("scratch", "btag", scale="smoke", results_dir=ro)
    with pytest.raises(JetbenchError, match="--seed must be"):
        run_cell("scratch", "btag", scale="smoke", seed=-1)


@pytest.mark.skipif(not CAN_MOUNT, reason="needs root to mount a small tmpfs")
def test_free_space_is_checked_against_the_expected_size(no_work, capsys):
    with _mounted(no_work / "small", "size=1m") as small:
        err = _one_line_error(capsys, "data", "generate", "jetclass", "--n", "100000", "--out",
                              str(small / "x.h5"))
        assert "only 1.0 MB free on its disk, about 390.6 MB needed" in err
        with pytest.raises(JetbenchError, match="about 10.0 MB needed"):
            preflight.check_output_dir(small / "new", "cache", need_bytes=10 << 20)
        assert list(small.iterdir()) == []


def _limited(limit_kb: int):
    def apply() -> None:  # a file-size limit: writes past it fail with EFBIG (Python ignores SIGXFSZ)
        hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_kb * 1024, hard))
    return apply


def _source_store(tmp_path: Path) -> Path:
    from branch_factory import btag_branches

    from jetbench.data.rootio import write_root

    return write_root(tmp_path / "src.root", btag_branches(400, seed=0), "btag")


@pytest.mark.parametrize("what", ["convert", "generate-h5",
                                  pytest.param("generate-root", marks=pytest.mark.slow)])
def test_full_disk_is_one_line_without_crash_or_temp_files(tmp_path, what):
    """Before the fix HDF5 segfaulted (exit 139) in close and left `.c.h5.tmp-<pid>` behind."""
    out_dir = tmp_path / "full"
    out_dir.mkdir()
    cmd = [sys.executable, "-m", "jetbench", "data"]
    if what == "convert":
        cmd += ["convert", str(_source_store(tmp_path)), "--out", str(out_dir / "c.h5")]
    else:
        fmt = what.split("-")[1]
        cmd += ["generate", "btag", "--n", "90", "--format", fmt, "--no-progress", "--out",
                str(out_dir / f"g.{fmt}")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600,
                          preexec_fn=_limited(16))
    assert proc.returncode == 2, proc.stderr[-2000:]  # not 139 (segfault), not a traceback
    assert proc.stderr.strip().startswith("jetbench: error: ") and "Traceback" not in proc.stderr
    assert "cannot write (File too large); nothing was written" in proc.stderr, proc.stderr
    assert list(out_dir.iterdir()) == []


@pytest.mark.skipif(not CAN_MOUNT, reason="needs root to mount a small tmpfs")
def test_no_space_left_while_writing_a_store(tmp_path):
    """A disk that fills during the write (past the preflight): one error, no temp file."""
    from jetbench.data.readers import convert_file

    src = _source_store(tmp_path)
    with _mounted(tmp_path / "tiny", "size=12k") as tiny:
        with pytest.raises(JetbenchError, match=r"cannot write \(No space left on device\)"):
            convert_file([str(src)], "btag", tiny / "c.h5")
        assert list(tiny.iterdir()) == []
