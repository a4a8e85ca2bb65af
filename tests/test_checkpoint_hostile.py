"""A hostile checkpoint folder cannot run code or exhaust memory.

Each case is a folder run as `python -m jetbench validate-encoder .` from inside it, the way a
user would try a downloaded checkpoint: the folder is on sys.path then, so a module it ships
would be importable if jetbench ever imported a name from config.json.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import sha256_file
from jetbench.encoders import create_encoder, load_encoder, save_encoder

ROOT = Path(__file__).resolve().parents[1]
EVIL = """import pathlib
pathlib.Path(__file__).with_name("MARKER").write_text("imported")
class Evil:
    def __init__(self, **kw):
        pathlib.Path(__file__).with_name("MARKER").write_text("built")
"""
# peak RSS of `python -m jetbench validate-encoder` on a sound smoke checkpoint is ~0.4 GB here;
# building the hostile configs below for real would need 3+ GB
RSS_LIMIT_KB = 1_000_000


@pytest.fixture(scope="module")
def sound(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "mpm_reg"
    save_encoder(create_encoder("mpm_reg", "smoke").eval(), path)
    return path


def _hostile(sound: Path, folder: Path, cls: str | None = None, **config) -> Path:
    shutil.copytree(sound, folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["class"] = cls or cfg["class"]
    cfg["config"].update(config)
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "evil_module.py").write_text(EVIL)
    return folder


def _validate_inside(folder: Path) -> tuple[subprocess.CompletedProcess, int]:
    """Run the CLI from inside `folder`; return the process and its peak RSS in kB."""
    wrapper = ("import resource, subprocess, sys\n"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "sys.stderr.write(p.stderr); sys.stdout.write(p.stdout)\n"
               "print('RSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(p.returncode)\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", "jetbench",
                           "validate-encoder", "."], capture_output=True, text=True, cwd=folder,
                          env=env, timeout=900)
    rss = int(proc.stdout.strip().splitlines()[-1].split()[1])
    return proc, rss


def _refused_via_cli(folder: Path, cls: str) -> None:
    proc, _ = _validate_inside(folder)
    assert proc.returncode == 2, proc.stderr
    assert f"config.json: class '{cls}' is not a registered encoder" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (folder / "MARKER").exists()


def test_module_shipped_in_the_folder_is_not_imported_via_the_cli(sound, tmp_path):
    _refused_via_cli(_hostile(sound, tmp_path / "ckpt", cls="evil_module:Evil"), "evil_module:Evil")


@pytest.mark.slow  # two more CLI start-ups; the same cases run in-process below
def test_os_system_and_huge_widths_via_the_cli(sound, tmp_path):
    _refused_via_cli(_hostile(sound, tmp_path / "os", cls="os:system"), "os:system")
    folder = _hostile(sound, tmp_path / "huge", dim=32768)  # ~100 GB of weights, 3 KB of config
    assert (folder / "config.json").stat().st_size < 4096
    proc, rss = _validate_inside(folder)
    assert proc.returncode == 2, proc.stderr
    assert "needs more than" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert rss < RSS_LIMIT_KB, f"peak RSS {rss} kB"


@pytest.mark.parametrize("cls", ["evil_module:Evil", "os:system", "evil_module:nothing",
                                 "jetbench.encoders.base:Encoder", "not even a spec"])
def test_named_module_is_never_imported(sound, tmp_path, monkeypatch, cls):
    folder = _hostile(sound, tmp_path / "ckpt", cls=cls)
    monkeypatch.syspath_prepend(str(folder))
    with pytest.raises(JetbenchError, match="is not a registered encoder"):
        load_encoder(folder)
    assert not (folder / "MARKER").exists() and "evil_module" not in sys.modules


@pytest.mark.parametrize("config, message", [
    ({"dim": 32768}, "needs more than"),
    ({"target_cfg": {"hidden": 20_000_000, "loss": "l1"}}, "needs more than"),
    ({"depth": 10**7}, "'config.depth' = 10000000 is outside the sane range"),
    ({"dim": 10**12}, "outside the sane range"),
    ({"layerscale_init": float("inf")}, "not a finite number"),
])
def test_huge_config_fails_fast_without_allocating(sound, tmp_path, config, message):
    folder = _hostile(sound, tmp_path / "ckpt", **config)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(JetbenchError, match=message):
        load_encoder(folder)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 300_000  # kB


def test_config_that_does_not_match_the_weights(sound, tmp_path):
    folder = _hostile(sound, tmp_path / "ckpt", dim=48)  # small, but not what the file holds
    with pytest.raises(JetbenchError, match=r"shape \[.*\] in the file but \[.*\] in the config"):
        load_encoder(folder)


def _rewrite_header(folder: Path, edit) -> None:
    path = folder / "model.safetensors"
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    del header["__metadata__"]  # room for longer numbers in a header of the same length
    edit(header)
    blob = json.dumps(header, separators=(",", ":")).encode().ljust(n)
    assert len(blob) == n
    path.write_bytes(raw[:8] + blob + raw[8 + n:])
    cfg = json.loads((folder / "config.json").read_text())
    cfg["weights_sha256"] = sha256_file(str(path))
    (folder / "config.json").write_text(json.dumps(cfg))


def _first(header: dict) -> dict:
    return header[next(k for k in header if k != "__metadata__")]


@pytest.mark.parametrize("edit, message", [
    (lambda h: _first(h).update(shape=[10**6, 10**6]), "do not match its shape"),
    (lambda h: _first(h).update(data_offsets=[0, 10**12]), "do not match its shape"),
    (lambda h: _first(h).update(shape=[-1]), "malformed shape"),
])
def test_tensor_header_checked_against_the_file(sound, tmp_path, edit, message):
    folder = _hostile(sound, tmp_path / "ckpt")
    _rewrite_header(folder, edit)
    with pytest.raises(JetbenchError, match=message):
        load_encoder(folder)


def test_saved_files_are_readable_by_others(sound, tmp_path):
    old = os.umask(0o022)
    try:
        out = save_encoder(create_encoder("scratch", "smoke"), tmp_path / "c")
    finally:
        os.umask(old)
    for name in ("model.safetensors", "config.json"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644, name
    assert stat.S_IMODE((sound / "model.safetensors").stat().st_mode) == 0o644


def test_sound_checkpoint_still_loads_and_plugin_spec_makes_its_class_known(sound, tmp_path):
    model = load_encoder(sound)
    assert type(model).__name__ == "MPMv2" and model.embed_dim == 32
    # a plug-in class from a module this process has not imported: refused by name alone,
    # accepted when the caller names its factory (as `jetbench run --encoder mod:factory` does)
    (tmp_path / "plugin_mod_xyz.py").write_text(
        "from tests.test_encoders_checkpoint import TinyEncoder\n"
        "class Plugged(TinyEncoder):\n    pass\n"
        "def make(width=4):\n    return Plugged(width)\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import importlib

        mod = importlib.import_module("plugin_mod_xyz")
        save_encoder(mod.make(3), tmp_path / "plug")
        del sys.modules["plugin_mod_xyz"]
        mod.Plugged.__module__ = "plugin_mod_xyz_renamed"  # as if never imported
        cfg = json.loads((tmp_path / "plug" / "config.json").read_text())
        assert cfg["class"] == "plugin_mod_xyz:Plugged"
        with pytest.raises(JetbenchError, match="not a registered encoder"):
            load_encoder(tmp_path / "plug")
        again = load_encoder(tmp_path / "plug", spec="plugin_mod_xyz:make")
        assert again.embed_dim == 3
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("plugin_mod_xyz", None)
