"""The `linear` protocol's convex fit: the design path (final-layer rows built once) must give
bit-identical results to the generic path (the whole head run per L-BFGS evaluation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from vertex_factory import pair_source

from jetbench.protocols import linear_fit as lf
from jetbench.protocols.linear_fit import StandardisedHead, fit_linear, has_design
from jetbench.tasks.heads import LinearJetHead, PairHead, pair_index
from jetbench.tasks.kinds.vertex import PairLoss

DIM = 12


class CountingPairHead(PairHead):
    """PairHead(linear=True) that counts full forwards and flat (design) evaluations."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim, linear=True)
        self.forwards = self.flat = 0

    def forward(self, jet, tokens, mask):
        self.forwards += 1
        return super().forward(jet, tokens, mask)

    def design_logits(self, rows):
        self.flat += 1
        return super().design_logits(rows)


def fit_pairs(design: bool, loss: PairLoss | None = None, **kw):
    torch.manual_seed(0)
    model = StandardisedHead(CountingPairHead(DIM), DIM)
    fit = fit_linear(model, loss or PairLoss(3.0, 0.6), pair_source(300, 1), pair_source(120, 2),
                     l2_grid=(1e-4, 1e-2, 1.0), max_iter=60, chunk=64, design=design, **kw)
    return model, fit


def assert_same_fit(a, b) -> None:
    (ma, fa), (mb, fb) = a, b
    assert (fa.l2, fa.iterations, fa.train_loss, fa.val_loss) == \
        (fb.l2, fb.iterations, fb.train_loss, fb.val_loss)
    assert fa.val_losses == fb.val_losses
    sa, sb = ma.state_dict(), mb.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    inputs, _ = pair_source(120, 3).get(np.arange(120), "cpu")
    with torch.no_grad():
        pa, pb = (m(inputs["jet"], inputs["tokens"], inputs["mask"]) for m in (ma, mb))
    assert torch.equal(pa, pb)


@pytest.fixture(scope="module")
def generic():
    model, fit = fit_pairs(design=False)
    assert model.head.flat == model.head.forwards > 0  # every evaluation ran the full head
    return model, fit


def test_pair_design_path_is_bit_identical(generic):
    model, fit = fit_pairs(design=True)
    assert model.head.forwards == 0 and model.head.flat > 0  # the design path was taken
    assert fit.iterations > 5 and len(set(fit.val_losses.values())) == 3  # a real fit per L2
    assert_same_fit(generic, (model, fit))


def test_pair_design_path_beyond_resident_limit(generic, monkeypatch):
    monkeypatch.setattr(lf, "MAX_RESIDENT_ITEMS", 100)  # train and val rebuilt per pass
    model, fit = fit_pairs(design=True)
    assert model.head.forwards == 0 and model.head.flat > 0
    assert_same_fit(generic, (model, fit))


def test_pair_design_equality_is_not_vacuous(generic):
    """A design whose targets differ in one pair per chunk gives a different fit."""

    class OffByOne(PairLoss):
        def flat_targets(self, targets, mask):
            t = super().flat_targets(targets, mask)
            t[0] = 1 - t[0]
            return t

    model, fit = fit_pairs(design=True, loss=OffByOne(3.0, 0.6))
    assert model.head.forwards == 0
    assert not torch.equal(model.head.out.weight, generic[0].head.out.weight)
    assert fit.train_loss != generic[1].train_loss


def test_design_path_only_for_a_fixed_design():
    loss = PairLoss(3.0, None)
    assert has_design(PairHead(DIM, linear=True), loss)
    assert not has_design(PairHead(DIM, hidden=8, blocks=1), loss)  # F trains: rows change
    assert not has_design(LinearJetHead(DIM, 3), torch.nn.CrossEntropyLoss())
    head = PairHead(DIM, linear=True)
    head.extra = torch.nn.Linear(2, 2)  # a trained parameter outside the final layer
    assert not has_design(head, loss)


def test_pair_design_rows_follow_the_forward():
    """`design` + `design_logits` are what `forward` scatters, in `pair_index` order."""
    inputs, y = pair_source(40, 4).get(np.arange(40), "cpu")
    head = PairHead(DIM, linear=True)
    jet, tok, mask = inputs["jet"], inputs["tokens"], inputs["mask"]
    flat = head.design_logits(head.design(jet, tok, mask))
    b, i, j = pair_index(mask)
    assert torch.equal(head(jet, tok, mask)[b, i, j], flat)
    loss = PairLoss(3.0, 0.6)
    assert torch.equal(loss(head(jet, tok, mask), y, mask),
                       loss.flat_loss(flat, loss.flat_targets(y, mask)))
