"""`validate-encoder`: a correct encoder passes; deliberately broken ones fail the right check."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from jetbench.cli import main
from jetbench.encoders import Encoder
from jetbench.evaluation.validate import CHECKS, synthetic_jets, validate_encoder


class ToyDeepSets(Encoder):
    """A small, correct DeepSets encoder: per-particle MLP, masked mean, jet MLP."""

    name = "toy_deepsets"
    embed_dim = 16

    def __init__(self, seed: int | None = 0) -> None:
        super().__init__()
        if seed is not None:  # None: weights from the global random state, as it is
            torch.manual_seed(seed)
        self.phi = nn.Sequential(nn.Linear(7, 16), nn.GELU(), nn.Linear(16, 16))
        self.ids = nn.Embedding(8, 16)
        self.rho = nn.Linear(32, 16)

    def features(self, batch):
        x = batch["csts"].clone()
        x[..., 0] = torch.log1p(x[..., 0])
        return x, batch["mask"]

    def tokens(self, batch):
        x, mask = self.features(batch)
        h = self.phi(x) + self.ids(batch["csts_id"])
        return h * mask.unsqueeze(-1), mask

    def pooled(self, h, mask):
        return h.sum(1) / mask.sum(1, keepdim=True).clamp(min=1)

    def encode(self, batch) -> tuple[Tensor, Tensor, Tensor]:
        h, mask = self.tokens(batch)
        pooled = self.pooled(h, mask)
        ctx = pooled.unsqueeze(1).expand_as(h)
        tok = self.rho(torch.cat([h, ctx], -1)) * mask.unsqueeze(-1)
        return self.pooled(tok, mask), tok, mask


class PositionDependent(ToyDeepSets):
    """Adds a slot-index embedding: breaks permutation symmetry (like MPMv1 'backbone' ordering)."""

    def tokens(self, batch):
        h, mask = super().tokens(batch)
        pos = torch.arange(h.shape[1], dtype=h.dtype)[None, :, None] * 0.1
        return (h + pos) * mask.unsqueeze(-1), mask


class NaNOutput(ToyDeepSets):
    def encode(self, batch):
        jet, tok, mask = super().encode(batch)
        return torch.log(jet), tok, mask  # log of negative values -> NaN


class WrongShape(ToyDeepSets):
    def encode(self, batch):
        jet, tok, mask = super().encode(batch)
        return jet[:, :-1], tok, mask


class CountsPadding(ToyDeepSets):
    """Averages over all slots, padding included: extra padding dilutes the jet embedding."""

    def pooled(self, h, mask):
        return h.mean(1)


class BatchNormed(ToyDeepSets):
    """Normalises the jet embedding over the batch: depends on the other jets."""

    def encode(self, batch):
        jet, tok, mask = super().encode(batch)
        return jet - jet.mean(0, keepdim=True), tok, mask


class DropoutInEval(ToyDeepSets):
    def encode(self, batch):
        jet, tok, mask = super().encode(batch)
        return nn.functional.dropout(jet, 0.5, training=True), tok, mask


class NoMeta(ToyDeepSets):
    license = ""


def failing(report) -> list[str]:
    return [c.name for c in report.checks if not c.passed]


def test_correct_encoder_passes_every_check():
    report = validate_encoder(ToyDeepSets())
    assert [c.name for c in report.checks] == list(CHECKS)
    assert report.passed, report.format()
    text = report.format()
    assert f"{len(CHECKS)}/{len(CHECKS)} checks passed" in text
    assert "PASS  permutation" in text and "max|Δtokens|" in text


@pytest.mark.parametrize(("cls", "check", "message"), [
    (PositionDependent, "permutation", "not permutation-equivariant"),
    (NaNOutput, "finite", "non-finite outputs:"),
    (WrongShape, "shapes", "jet embedding has shape (12, 15), expected (12, 16)"),
    (CountsPadding, "padding", "8 extra padded slots change the output"),
    (BatchNormed, "batch_size", "depend on the other jets in the batch"),
    (DropoutInEval, "determinism", "same input twice gives different outputs"),
    (NoMeta, "meta", "meta is missing license"),
])
def test_broken_encoders_fail_the_right_check(cls, check, message):
    report = validate_encoder(cls())
    assert not report.passed
    assert check in failing(report)
    assert message in report.check(check).detail
    assert f"FAIL  {check}" in report.format()


def test_failures_are_specific():
    """A broken property fails its own check, not unrelated ones."""
    assert failing(validate_encoder(PositionDependent())) == ["permutation"]
    assert failing(validate_encoder(CountsPadding())) == ["padding"]
    assert failing(validate_encoder(BatchNormed())) == ["batch_size"]
    assert set(failing(validate_encoder(WrongShape()))) == {"shapes"}
    dev = validate_encoder(PositionDependent()).check("permutation").detail
    measured = float(dev.split("max|Δtokens| ")[1].split(",")[0])
    assert measured > 1e-2  # the deviation is reported, and it is large


def test_synthetic_jets_are_canonical():
    b = synthetic_jets(20, 16, seed=3).validate("synthetic")
    assert b.mask[0].all() and b.mask[1].sum() == 1
    pt = b.csts[..., 0]
    assert (pt[b.mask] > 0).all() and (pt[~b.mask] == 0).all()
    assert (torch.from_numpy(pt).diff(dim=1)[torch.from_numpy(b.mask[:, 1:])] <= 0).all()


def test_cli_exit_codes(capsys):
    code = main(["validate-encoder", "tests.test_validate:ToyDeepSets"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "10/10 checks passed" in out and "PASS  reproducible" in out
    code = main(["validate-encoder", "tests.test_validate:PositionDependent"])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL  permutation" in out
    assert main(["validate-encoder", "no_such_encoder_xyz"]) == 2
    assert "unknown encoder 'no_such_encoder_xyz'" in capsys.readouterr().err


def unseeded_factory(scale: str = "smoke") -> ToyDeepSets:
    """A plug-in factory that draws its weights from the global random state (no seed)."""
    return ToyDeepSets(seed=None)


def test_unseeded_factory_fails_with_how_to_seed_it(capsys):
    """Stale-result scenario of issue 13: an unseeded plug-in factory builds new weights on every
    call, so `run` would redo finished cells with other numbers; validate-encoder builds it twice
    and fails it, saying how to seed it."""
    report = validate_encoder("tests.test_validate:unseeded_factory")
    assert failing(report) == ["reproducible"], report.format()
    detail = report.check("reproducible").detail
    assert "have different weights" in detail and "the factory is not seeded" in detail
    assert "torch.manual_seed(0) in the factory" in detail
    assert main(["validate-encoder", "tests.test_validate:unseeded_factory"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  reproducible  two builds of 'tests.test_validate:unseeded_factory' have " \
           "different weights" in out and "9/10 checks passed" in out


def test_seeded_factory_passes_and_caller_rng_is_untouched():
    import random

    import numpy as np

    state = (torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    report = validate_encoder("tests.test_validate:ToyDeepSets")
    assert report.check("reproducible").passed and report.checks[0].name == "reproducible"
    # validate_encoder seeds torch for the checks themselves; numpy and random are restored
    assert (np.random.get_state()[1] == state[1]).all() and random.getstate() == state[2]


REFERENCE = ("scratch", "nobackbone", "mpm_flow", "mpm_kmeans", "mpmv1_kmeans")


def _check_reference(name):
    report = validate_encoder(name, scale="smoke")
    assert report.passed, report.format()
    assert "fitted the encoder's preprocessing" in report.notes[0]


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_encoders_pass(name):
    _check_reference(name)


@pytest.mark.slow
def test_every_builtin_encoder_passes():
    from jetbench.encoders import list_encoders

    for name in list_encoders():
        _check_reference(name)


def test_mpmv1_backbone_ordering_is_flagged_not_equivariant():
    """MPMv1 with the position embedding at the backbone input breaks the set symmetry (paper 1)."""
    from jetbench.encoders import create_encoder

    model = create_encoder("mpmv1_kmeans", scale="smoke", ordering="backbone")
    report = validate_encoder(model)
    assert failing(report) == ["permutation"], report.format()
    assert "not permutation-equivariant" in report.check("permutation").detail
