"""The encoder identity covers code, config and weights, so results and cached embeddings cannot go
stale (issue 13 item 8): an encoder whose `encode` changed is re-run and re-embedded, `--force`
recomputes cached embeddings, and results carry the encoder's metadata."""

from __future__ import annotations

import importlib
import sys

import pytest
import torch

from jetbench.encoders.identity import code_hash, identify

PLUGIN = '''
import torch
from torch import nn

from jetbench.encoders import Encoder


class Plug(Encoder):
    """A plug-in encoder outside jetbench (seeded, so every build has the same weights)."""

    license = "BSD-3-Clause"
    pretraining_data = ("none",)

    def __init__(self, name: str = "plug", dim: int = 8):
        super().__init__()
        self.name, self.embed_dim, self._config = name, dim, {"name": name, "dim": dim}
        torch.manual_seed(0)
        self.lin = nn.Linear(7, dim)

    def encode(self, batch):
        mask = batch["mask"]
        x = torch.tanh(self.lin(batch["csts"].float())) * mask[..., None]{variant}
        return x.sum(1) / mask.sum(1, keepdim=True).clamp(min=1), x, mask


def make(scale="cpu", **overrides):
    return Plug(**overrides)
'''

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    """Write (and re-write) the package `idplug` on sys.path; `load(variant)` imports it fresh, as
    a new process would after the user edited the file."""
    pkg = tmp_path / "idplug"
    pkg.mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))

    def load(variant: str = ""):
        (pkg / "__init__.py").write_text(PLUGIN.replace("{variant}", variant))
        for mod in [m for m in sys.modules if m.startswith("idplug")]:
            del sys.modules[mod]
        importlib.invalidate_caches()
        return importlib.import_module("idplug")

    yield load
    for mod in [m for m in sys.modules if m.startswith("idplug")]:
        del sys.modules[mod]


def test_revision_changes_with_code_config_and_weights(plugin):
    mod = plugin()
    base = identify(mod.make())
    assert base.plugin is not None and base.plugin.module == "idplug"
    assert identify(mod.make()).revision == base.revision  # same code, config, weights
    assert identify(mod.make(dim=16)).revision != base.revision  # config
    model = mod.make()
    with torch.no_grad():
        model.lin.bias.add_(1e-3)
    changed = identify(model)
    assert changed.weights != base.weights and changed.revision != base.revision  # weights
    edited = identify(plugin(" * 0").make())  # encode() now returns zeros; weights unchanged
    assert edited.weights == base.weights and edited.code != base.code
    assert edited.revision != base.revision
    assert code_hash(type(mod.make())) == base.code


def test_builtin_revision_covers_the_encoders_package():
    from jetbench.encoders import create_encoder

    torch.manual_seed(0)
    model = create_encoder("mpm_flow", "smoke")
    ident = identify(model)
    assert ident.plugin is None and ident.name == "mpm_flow" and ident.embed_dim == 32
    assert model.meta.revision == ident.revision and ident.n_params == model.meta.n_params
    assert ident.pretraining_data == ("jetclass",) and ident.license == "MIT"


def test_edited_plugin_is_rerun_and_reembedded_and_force_recomputes(plugin, tmp_path):
    """The stale-result scenario of issue 13: after `encode` changed, the finished cell must not be
    reported done, and the frozen protocol must not reuse the old embeddings."""
    from jetbench.evaluation import run_cell

    plugin()
    spec, res = "idplug:make", tmp_path / "res"
    kw = dict(scale="smoke", results_dir=res, progress=False, threads=1)
    first = run_cell(spec, "btag", "frozen", **kw)
    run = first.result.config["run"]
    assert not first.skipped and run["embedded_jets"] > 0
    info = first.result.encoder_info
    assert info is not None and info.plugin.module == "idplug" and info.plugin.package is None
    assert (info.embed_dim, info.license, info.pretraining_data) == (8, "BSD-3-Clause", ("none",))
    assert info.config == {"name": "plug", "dim": 8}
    assert first.result.provenance.encoder_checkpoint_hash == info.weights
    again = run_cell(spec, "btag", "frozen", **kw)
    assert again.skipped  # same code, config and weights: a no-op
    plugin(" * 0")  # the user edits encode(); same weights
    edited = run_cell(spec, "btag", "frozen", **kw)
    assert not edited.skipped
    assert edited.result.encoder_revision != first.result.encoder_revision
    assert edited.result.config["run"]["embedded_jets"] == run["embedded_jets"]  # not the cache
    cached = run_cell(spec, "btag", "frozen", force=True, **{**kw, "results_dir": tmp_path / "b"})
    assert cached.result.config["run"]["embedded_jets"] == run["embedded_jets"]  # --force
