"""The worked example package installs, registers its entry point and passes validate-encoder.

Installed with pip into a temporary target folder (offline: no index, no build isolation, no
dependencies) from a copy of examples/, so the test never touches the environment or the repo.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "jetbench-example-encoder"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("example")
    src, site = root / "src", root / "site"
    shutil.copytree(EXAMPLE, src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                "__pycache__"))
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                           "--no-build-isolation", "--no-index", "--target", str(site), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return site


@pytest.fixture
def on_path(installed, monkeypatch):
    monkeypatch.syspath_prepend(str(installed))
    importlib.invalidate_caches()
    yield installed
    for mod in [m for m in sys.modules if m.startswith("jetbench_example_encoder")]:
        del sys.modules[mod]


def test_example_appears_in_registry_and_validates(on_path):
    from jetbench.encoders import create_encoder, list_encoders
    from jetbench.validate import validate_encoder

    assert "example_deepsets" in list_encoders()
    model = create_encoder("example_deepsets", scale="smoke")
    assert type(model).__name__ == "ExampleDeepSets" and model.embed_dim == 32
    assert (Path(on_path) / "jetbench_example_encoder" / "__init__.py").is_file()
    report = validate_encoder("example_deepsets", scale="smoke")
    assert report.passed, report.format()


def test_example_checkpoint_roundtrip(on_path, tmp_path):
    """save_encoder/load_encoder rebuild the plug-in class from its config (no pickle)."""
    import torch

    from jetbench.encoders import create_encoder, load_encoder, save_encoder
    from jetbench.validate import synthetic_jets, to_tensors

    model = create_encoder("example_deepsets", scale="smoke", dim=24).eval()
    save_encoder(model, tmp_path / "ckpt")
    again = load_encoder(tmp_path / "ckpt").eval()
    batch = to_tensors(synthetic_jets(6, 10, seed=0))
    with torch.no_grad():
        a, b = model.encode(batch), again.encode(batch)
    assert again.embed_dim == 24 and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_cli_lists_the_installed_example(installed):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(installed), *filter(None, [os.environ.get("PYTHONPATH")])])}
    cmd = [sys.executable, "-m", "jetbench", "list", "encoders", "--scale", "smoke"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("example_deepsets"))
    assert "ExampleDeepSets" in line and " 32 " in f" {line} "
