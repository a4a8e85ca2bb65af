"""Standard errors and paired tests on synthetic per-jet scores: calibrated under the null, powerful
on a known shift, tied rows share a rank group. Seeded, so every number here is reproducible."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from jetbench.leaderboard.resample import resample_counts
from jetbench.leaderboard.significance import (
    Replicates,
    adjust,
    cell_error,
    combined_error,
    paired_test,
    rank_groups,
    t_pvalue,
)


class Synthetic:
    """Per-jet correctness of rows x seeds on one test set: a jet's difficulty (shared by all
    rows), a row x jet effect (shared by a row's seeds), a seed effect, Bernoulli noise."""

    def __init__(self, n: int, seeds: int, n_boot: int, seed: int, sigma_seed: float = 0.1,
                 sigma_row_jet: float = 0.5):
        self.rng = np.random.default_rng(seed)
        self.difficulty = self.rng.normal(0.0, 1.5, n)
        self.seeds, self.sigma_seed, self.sigma_row_jet = seeds, sigma_seed, sigma_row_jet
        self.w = np.vstack(list(resample_counts(n, n_boot, seed)))  # shared by rows and seeds

    def row(self, shift: float = 0.0) -> Replicates:
        n = len(self.difficulty)
        logit = (self.difficulty + self.rng.normal(0, self.sigma_row_jet, n)
                 + self.rng.normal(0, self.sigma_seed, (self.seeds, 1)) + shift)
        correct = (self.rng.random((self.seeds, n)) < 1 / (1 + np.exp(-logit))).astype(float)
        return Replicates(tuple(range(self.seeds)), correct.mean(1), (self.w @ correct.T).T / n)


def null_pvalues(reps: int, **kw) -> np.ndarray:
    out = []
    for r in range(reps):
        sim = Synthetic(seed=1000 + r, **kw)
        out.append(paired_test(sim.row(), sim.row()).p)
    return np.array(out)


def test_null_pvalues_are_uniform():
    p = null_pvalues(300, n=1000, seeds=3, n_boot=200)
    ks = stats.kstest(p, "uniform").pvalue
    print(f"null: KS p = {ks:.3f}, rejection rate at 0.05 = {np.mean(p < 0.05):.3f}")
    assert ks > 0.01  # fixed seeds: deterministic; a calibrated test fails this for 1 % of seeds
    assert np.mean(p < 0.05) <= 0.07  # never liberal: at or below alpha (binomial slack)


def test_null_one_seed_is_the_plain_bootstrap_test():
    p = null_pvalues(300, n=1000, seeds=1, n_boot=200, sigma_seed=0.0)
    ks = stats.kstest(p, "uniform").pvalue
    print(f"one seed: KS p = {ks:.3f}, rejection rate = {np.mean(p < 0.05):.3f}")
    assert ks > 0.01 and np.mean(p < 0.05) <= 0.07


def test_known_shift_is_detected_with_high_power():
    hits, diffs, ses = [], [], []
    for r in range(100):
        sim = Synthetic(n=2000, seeds=3, n_boot=200, seed=5000 + r, sigma_seed=0.05)
        a, b = sim.row(shift=0.5), sim.row()
        t = paired_test(a, b)
        hits.append(t.p < 0.05 and t.diff > 0)
        diffs.append(t.diff)
        ses.append(t.se)
    power = float(np.mean(hits))
    in_se = np.mean(diffs) / np.sqrt(np.mean(np.square(ses)))
    print(f"power on a +0.5 logit shift (accuracy {np.mean(diffs):+.3f}, {in_se:.1f} SE): "
          f"{power:.2f}")
    assert power >= 0.9


def test_tied_rows_share_a_rank_group():
    sim = Synthetic(n=3000, seeds=3, n_boot=300, seed=7, sigma_seed=0.03)
    rows = [sim.row(0.6), sim.row(0.6), sim.row(0.0), sim.row(0.0), sim.row(-0.8)]
    rows.append(Replicates(rows[2].seeds, rows[2].values.copy(), rows[2].boot.copy()))  # identical
    means = [r.mean for r in rows]
    groups, p_best = rank_groups(means, lambda i, j: paired_test(rows[i], rows[j]))
    assert groups[0] == groups[1] == 1
    assert groups[2] == groups[3] == groups[5] == 2 and groups[4] == 3
    assert p_best[int(np.argmax(means))] == 1.0 and np.all(p_best[2:] < 0.05)
    assert paired_test(rows[2], rows[5]).p == 1.0  # identical rows (scratch == nobackbone)


def test_standard_error_formula_on_a_small_example():
    values = np.array([0.50, 0.52, 0.56])
    boot = np.array([[0.49, 0.51, 0.50, 0.52], [0.51, 0.53, 0.52, 0.52], [0.55, 0.57, 0.56, 0.56]])
    err = combined_error(values, boot)
    mean_b = boot.mean(0)
    v_test = np.var(mean_b, ddof=1)
    q = np.sum(np.var(boot - mean_b, axis=1, ddof=1)) / 2
    assert err.se_seed == pytest.approx(np.std(values, ddof=1) / math.sqrt(3))
    assert err.se_test == pytest.approx(math.sqrt(max(v_test - q / 3, 0)))
    assert err.se == pytest.approx(math.hypot(err.se_seed, err.se_test))
    assert err.df == 2 and err.estimate == pytest.approx(values.mean())
    one = cell_error(Replicates((0,), values[:1], boot[:1]))
    assert one.se == pytest.approx(np.std(boot[0], ddof=1)) and math.isinf(one.df)


def test_standard_error_covers_the_truth():
    """Across fresh test sets and seeds the seed mean scatters by about the SE it states."""
    truth = []
    errs = []
    for r in range(150):
        sim = Synthetic(n=1000, seeds=3, n_boot=200, seed=9000 + r, sigma_seed=0.1)
        rep = sim.row()
        truth.append(rep.mean)
        errs.append(cell_error(rep).se)
    ratio = np.std(truth, ddof=1) / np.sqrt(np.mean(np.square(errs)))
    print(f"observed scatter / stated SE = {ratio:.2f}")
    assert 0.8 < ratio < 1.25


def test_benjamini_hochberg_and_pvalue_edges():
    adj = adjust([0.01, 0.04, 0.03, float("nan")])
    assert adj[0] == pytest.approx(0.03) and adj[1] == pytest.approx(0.04)
    assert adj[2] == pytest.approx(0.04) and math.isnan(adj[3])  # step-up, monotone
    assert np.all(adjust([0.5, 0.9]) == [0.9, 0.9]) and adjust([]).size == 0
    assert t_pvalue(0.0, 0.0, 2) == 1.0 and t_pvalue(0.1, 0.0, 2) == 0.0
    assert t_pvalue(1.96, 1.0, math.inf) == pytest.approx(0.05, abs=1e-3)
    assert t_pvalue(4.303, 1.0, 2) == pytest.approx(0.05, abs=1e-3)
    a = Replicates((0, 1), np.array([0.5, 0.6]), np.zeros((2, 3)))
    assert paired_test(a, Replicates((2,), np.array([0.5]), np.zeros((1, 3)))) is None


def test_no_false_marks_when_every_row_copies_the_reference():
    """Global null: 8 rows and the reference from one distribution, compared with the reference
    (one common row, so the tests are correlated). Any mark is false; BH keeps the rate <= alpha."""
    any_mark = []
    for r in range(150):
        sim = Synthetic(n=800, seeds=3, n_boot=150, seed=20000 + r)
        ref = sim.row()
        p = adjust([paired_test(sim.row(), ref).p for _ in range(8)])
        any_mark.append(bool(np.any(p < 0.05)))
    rate = float(np.mean(any_mark))
    print(f"columns with a false mark under the global null: {rate:.3f}")
    assert rate <= 0.08
