"""The encoder identity covers code, config and weights, so results and cached embeddings cannot go
stale (issue 13 item 8): an encoder whose `encode` changed is re-run and re-embedded, `--force`
recomputes cached embeddings, and results carry the encoder's metadata."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys

import pytest
import torch

from jetbench.encoders.identity import PluginInfo, code_hash, identify

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


def _dist(root, version: str) -> None:
    """Install metadata for the distribution 'idplug' at `version` (a dist-info folder on sys.path,
    as pip leaves it), with an entry point in the jetbench.encoders group."""
    for old in root.glob("idplug-*.dist-info"):
        shutil.rmtree(old)
    info = root / f"idplug-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: idplug\nVersion: {version}\n")
    (info / "top_level.txt").write_text("idplug\n")
    (info / "entry_points.txt").write_text("[jetbench.encoders]\nidplug = idplug:make\n")
    importlib.invalidate_caches()


def test_revision_covers_the_plugin_distribution_and_version(plugin, tmp_path):
    """Same source, config and weights, another installed version: another revision (a release
    can change compiled parts or data files the source hash does not see)."""
    _dist(tmp_path, "1.0")
    one = identify(plugin().make())
    assert one.plugin == PluginInfo(module="idplug", package="idplug", version="1.0",
                                    entry_point="idplug = idplug:make")
    assert identify(plugin().make()).revision == one.revision
    _dist(tmp_path, "1.1")
    two = identify(plugin().make())
    assert two.plugin.version == "1.1" and two.weights == one.weights
    assert two.code != one.code and two.revision != one.revision


def test_git_dirty_flag_follows_the_checkout(tmp_path, monkeypatch):
    """Results record whether the checkout had uncommitted changes (the commit alone does not
    say what ran)."""
    from jetbench.evaluation import provenance

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    monkeypatch.setattr(provenance, "REPO", tmp_path)
    for fn in (provenance.git_dirty, provenance.git_commit):
        fn.cache_clear()
    try:
        assert provenance.git_dirty() is False and len(provenance.git_commit()) == 40
        (tmp_path / "code.py").write_text("x = 2\n")
        provenance.git_dirty.cache_clear()
        assert provenance.git_dirty() is True
        rec = provenance.provenance("t", "p", "c", "d", None, "cpu")
        assert rec.git_dirty is True and rec.git_commit == provenance.git_commit()
        monkeypatch.setattr(provenance, "REPO", tmp_path / "not_a_checkout")
        provenance.git_dirty.cache_clear()
        assert provenance.git_dirty() is None
    finally:
        for fn in (provenance.git_dirty, provenance.git_commit):
            fn.cache_clear()


RUN = dict(scale="smoke", progress=False, threads=1)


@pytest.fixture
def own_embedding_cache(tmp_path, monkeypatch):
    """An empty embedding cache, so files left by earlier runs cannot satisfy these cells."""
    import jetbench.protocols.embedding_cache as cache
    import jetbench.protocols.embeddings as embeddings

    for mod in (cache, embeddings):
        monkeypatch.setattr(mod, "cache_root", lambda: tmp_path / "embeddings")


def test_edited_plugin_is_not_reported_done_and_is_reembedded(plugin, tmp_path, capsys,
                                                              monkeypatch, own_embedding_cache):
    """Stale-result scenario of issue 13: after a plug-in's `encode` changed (weights and config
    unchanged), `run` must not report the finished cell done, nor reuse its cached frozen
    embeddings (an encoder returning zeros scored exactly as before)."""
    from jetbench.evaluation import run_cell

    monkeypatch.setenv("JETBENCH_LOG_LEVEL", "info")  # the jetbench logger writes to stderr
    plugin()
    spec, res = "idplug:make", tmp_path / "res"
    first = run_cell(spec, "btag", "frozen", results_dir=res, **RUN)
    run = first.result.config["run"]
    assert not first.skipped and run["embedded_jets"] > 0
    info = first.result.encoder_info
    assert info is not None and info.plugin.module == "idplug" and info.plugin.package is None
    assert (info.embed_dim, info.license, info.pretraining_data) == (8, "BSD-3-Clause", ("none",))
    assert info.config == {"name": "plug", "dim": 8} and info.class_name == "idplug:Plug"
    assert first.result.provenance.encoder_checkpoint_hash == info.weights
    assert first.result.provenance.git_dirty is not None  # jetbench runs from a git checkout
    capsys.readouterr()
    assert run_cell(spec, "btag", "frozen", results_dir=res, **RUN).skipped  # nothing changed
    assert "already done with the same hashes; not re-running" in capsys.readouterr().err
    plugin(" * 0")  # the user edits encode(); same weights, same config
    edited = run_cell(spec, "btag", "frozen", results_dir=res, **RUN)
    assert not edited.skipped
    assert "was measured with different config_hash; re-running" in capsys.readouterr().err
    assert edited.result.encoder_revision != first.result.encoder_revision
    assert edited.result.encoder_info.weights == info.weights
    assert edited.result.config["run"]["embedded_jets"] == run["embedded_jets"]  # not the cache


def test_force_does_not_reuse_cached_frozen_embeddings(plugin, tmp_path,
                                                       own_embedding_cache):
    """Stale-result scenario of issue 13: `run --force` recomputes the frozen embeddings even
    when a cache file for the same revision exists (it used to read them back)."""
    from jetbench.evaluation import run_cell

    plugin()
    spec = "idplug:make"
    first = run_cell(spec, "btag", "frozen", results_dir=tmp_path / "a", **RUN)
    n = first.result.config["run"]["embedded_jets"]
    assert n > 0
    cached = run_cell(spec, "btag", "frozen", results_dir=tmp_path / "b", **RUN)
    assert not cached.skipped and cached.result.config["run"]["embedded_jets"] == 0  # cache hit
    forced = run_cell(spec, "btag", "frozen", results_dir=tmp_path / "a", force=True, **RUN)
    assert not forced.skipped and forced.result.config["run"]["embedded_jets"] == n
    assert forced.result.encoder_revision == first.result.encoder_revision
