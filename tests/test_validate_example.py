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

from tests.test_validate import ToyDeepSets

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
    from jetbench.evaluation.validate import validate_encoder

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
    from jetbench.evaluation.validate import synthetic_jets, to_tensors

    model = create_encoder("example_deepsets", scale="smoke", dim=24).eval()
    save_encoder(model, tmp_path / "ckpt")
    again = load_encoder(tmp_path / "ckpt").eval()
    batch = to_tensors(synthetic_jets(6, 10, seed=0))
    with torch.no_grad():
        a, b = model.encode(batch), again.encode(batch)
    assert again.embed_dim == 24 and all(torch.equal(x, y) for x, y in zip(a, b, strict=True))


def test_identity_names_the_plugin_distribution(on_path):
    """Results record a plug-in's distribution, version and entry point (issue 13 item 8)."""
    from jetbench.encoders import create_encoder
    from jetbench.encoders.identity import identify

    ident = identify(create_encoder("example_deepsets", scale="smoke"))
    plugin = ident.plugin
    assert plugin is not None and plugin.module == "jetbench_example_encoder"
    assert plugin.package.replace("_", "-") == "jetbench-example-encoder"
    assert plugin.version == "0.1.0"
    assert plugin.entry_point == "example_deepsets = jetbench_example_encoder:example_deepsets"
    assert ident.config == {"name": "example_deepsets", "dim": 32, "depth": 1, "hidden": 64}


def test_cli_lists_the_installed_example(installed):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(installed), *filter(None, [os.environ.get("PYTHONPATH")])])}
    cmd = [sys.executable, "-m", "jetbench", "list", "encoders", "--scale", "smoke", "--sizes"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("example_deepsets"))
    # the plug-in's card names its entry point; --sizes builds it for the embedding width
    assert "jetbench_example_encoder:example_deepsets" in line and " 32 " in f" {line} "


def test_mock_run_example_every_core_task(on_path, capsys):
    """The example runs all five core tasks end to end at the smoke scale (data shared with the
    other smoke tests of the session; generated here if this runs alone)."""
    from jetbench.cli import main

    code = main(["mock-run", "--encoder", "example_deepsets"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "5/5 tasks ran end to end" in out
    for task, score in (("jetclass", "accuracy"), ("cwola", "auc"), ("btag", "accuracy"),
                        ("vertexing", "ari"), ("trackid", "balanced_accuracy")):
        line = next(ln for ln in out.splitlines() if ln.startswith(task))
        assert score in line and line.rstrip().endswith("PASS")


class NaNTokens(ToyDeepSets):
    """Every per-particle output NaN: what the heads of every task consume."""

    def encode(self, batch):
        jet, tok, mask = super().encode(batch)
        return jet, tok * float("nan"), mask


def test_mock_run_reports_a_broken_encoder_and_bad_names(capsys):
    from jetbench.cli import main

    code = main(["mock-run", "--encoder", "tests.test_validate_example:NaNTokens",
                 "--tasks", "btag"])
    out = capsys.readouterr().out
    assert code == 1
    line = next(ln for ln in out.splitlines() if ln.startswith("btag"))
    assert "FAIL" in line and "0/1 tasks ran end to end" in out
    assert main(["mock-run", "--encoder", "example_deepsets_typo", "--tasks", "btag"]) == 2
    assert "unknown encoder 'example_deepsets_typo'" in capsys.readouterr().err
    assert main(["mock-run", "--encoder", "scratch", "--tasks", "btagg"]) == 2
    assert "unknown task 'btagg'" in capsys.readouterr().err


def test_example_result_files_become_a_leaderboard_row(on_path, tmp_path):
    """docs/submitting.md end to end: run cells, then the leaderboard judges them current."""
    import json

    from jetbench.cli import main

    res, out = tmp_path / "results", tmp_path / "board"
    for protocol in ("frozen", "finetune"):
        assert main(["run", "--encoder", "example_deepsets", "--task", "btag", "--scale", "smoke",
                     "--protocol", protocol, "--results", str(res), "--no-progress"]) == 0
    bench = tmp_path / "bench.yaml"
    bench.write_text("name: example-smoke-v1\nversion: 1\ndescription: btag at smoke scale\n"
                     "scale: smoke\ntasks: [btag]\nprotocols: [frozen, finetune]\n"
                     "budget_rule: default\nmin_seeds: 1\n")
    assert main(["leaderboard", "--results", str(res), "--benchmark", str(bench),
                 "--out", str(out), "--no-plots"]) == 0
    rows = json.loads((out / "leaderboard.json").read_text())["rows"]
    assert {(r["encoder"], r["protocol"]) for r in rows} == {("example_deepsets", "frozen"),
                                                             ("example_deepsets", "finetune")}
    # hashes written by `jetbench run` match the live task/protocol definitions: nothing stale
    assert all(r["complete"] and r["cells"][0]["status"] == "ok" for r in rows), rows
    assert "example_deepsets" in (out / "LEADERBOARD.md").read_text()
