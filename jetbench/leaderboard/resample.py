"""Metrics as functions of per-jet bootstrap weights, vectorised over many resamples at once.

A bootstrap resample of the test jets is a vector of integer counts (how often each jet was drawn);
a metric under it is the metric with those counts as sample weights. A `Stat` maps a block of
weights W [B, N] to the metric's B values with array operations only, so a thousand resamples cost
a few matrix products (per-jet means, balanced accuracy) or one cumulative sum over score-sorted
jets (AUC, SIC, background rejection). At unit weights each statistic reproduces the metric code
in `jetbench.metrics` (same working-point rules); the tests check that on random weights.

Metrics without a vectorised form fall back to the registry's `value(w)`, one call per resample
(still vectorised over jets).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from jetbench.metrics import classification as cl
from jetbench.metrics import vertexing as vx
from jetbench.metrics.registry import METRICS, MetricInput

Stat = Callable[[np.ndarray], np.ndarray]  # W [B, N] -> values [B]
BLOCK_ELEMENTS = 4_000_000  # resamples x jets per block: ~32 MB of float64 weights


def resample_counts(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Bootstrap count matrices [b, n] (blocks of resamples; rows sum to n), seeded.

    The same seed gives the same resamples, which is what pairs rows and seeds: every statistic of
    one comparison sees the same jets drawn the same number of times.
    """
    rng = np.random.default_rng(seed)
    block = max(1, BLOCK_ELEMENTS // max(n, 1))
    for start in range(0, n_boot, block):
        b = min(block, n_boot - start)
        idx = rng.integers(0, n, size=(b, n)) + n * np.arange(b)[:, None]
        yield np.bincount(idx.ravel(), minlength=b * n).reshape(b, n).astype(np.float64)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def mean_stat(values: np.ndarray, units: np.ndarray | None = None) -> Stat:
    """Weighted mean over jets of sum(values)/sum(units) per jet; NaN values are left out.

    Jet accuracy: values = correct, units = 1. Track accuracy: correct tracks / real tracks per
    jet. Per-jet ARI: the jet's ARI, units = 1 (jets with < 2 tracks are NaN and drop out).
    """
    ok = np.isfinite(values)
    num = np.where(ok, values, 0.0)
    den = ok.astype(np.float64) if units is None else np.where(ok, units, 0.0)
    return lambda w: _ratio(w @ num, w @ den)


def balanced_accuracy_stat(hit: np.ndarray, total: np.ndarray) -> Stat:
    """Mean over the classes present of recall; hit/total [N, C] per jet and class."""
    def stat(w: np.ndarray) -> np.ndarray:
        t, h = w @ total, w @ hit
        present = t > 0
        recall = np.where(present, h / np.where(present, t, 1.0), 0.0)
        return recall.sum(1) / present.sum(1)
    return stat


class RocStat:
    """ROC-curve statistics of one binary problem under resampling weights.

    Units (jets, or tracks of jets) are sorted once by score; a resample is a cumulative sum of
    signal and background weights at the end of each run of tied scores, which is the ROC curve
    sklearn's `roc_curve(drop_intermediate=False)` draws (resamples that miss a tied run repeat
    a point, which changes none of the statistics).
    """

    def __init__(self, is_signal: np.ndarray, score: np.ndarray, jet: np.ndarray | None = None):
        order = np.argsort(-np.asarray(score, np.float64), kind="stable")
        s = np.asarray(score, np.float64)[order]
        self.signal = np.asarray(is_signal, bool)[order]
        self.jet = order if jet is None else np.asarray(jet)[order]
        self.ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last unit of each tied run
        self.background_jets = self.jet[~self.signal]

    def curve(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(fpr, tpr) [b, G+1] starting at (0, 0), total signal and background weights [b].

        Written for speed (this is the leaderboard's hot loop): cumulative sums in place, the
        background's as all minus signal (exact for the integer weights of a bootstrap).
        """
        total = w[:, self.jet]
        signal = total * self.signal
        np.cumsum(signal, axis=1, out=signal)
        np.cumsum(total, axis=1, out=total)
        if len(self.ends) < total.shape[1]:
            signal, total = signal[:, self.ends], total[:, self.ends]
        total -= signal  # cumulative background weight
        n_s, n_b = signal[:, -1].copy(), total[:, -1].copy()
        tpr = np.zeros((len(w), signal.shape[1] + 1))
        fpr = np.zeros_like(tpr)
        with np.errstate(invalid="ignore", divide="ignore"):
            np.divide(signal, n_s[:, None], out=tpr[:, 1:])
            np.divide(total, n_b[:, None], out=fpr[:, 1:])
        return fpr, tpr, n_s, n_b

    def auc(self, w: np.ndarray) -> np.ndarray:
        fpr, tpr, n_s, n_b = self.curve(w)
        area = np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2, axis=1)
        return np.where((n_s > 0) & (n_b > 0), area, np.nan)

    def tpr_at_fpr(self, w: np.ndarray, fpr0: float) -> np.ndarray:
        """Signal efficiency at background efficiency fpr0 (`classification.tpr_at_fpr` rules)."""
        fpr, tpr, n_s, n_b = self.curve(w)
        k = np.sum(fpr <= fpr0, axis=1) - 1
        return np.where((n_s > 0) & (n_b > 0), _interp(fpr, tpr, fpr0, k + 1), np.nan)

    def sic(self, w: np.ndarray, fpr0: float) -> np.ndarray:
        return self.tpr_at_fpr(w, fpr0) / np.sqrt(fpr0)

    def max_sic(self, w: np.ndarray, fpr_floor: float, min_background: int) -> np.ndarray:
        fpr, tpr, n_s, n_b = self.curve(w)
        floor = np.maximum(fpr_floor, min_background / np.where(n_b > 0, n_b, 1.0))
        ok = fpr >= floor[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            sic = np.where(ok, tpr / np.sqrt(np.where(ok, fpr, 1.0)), -np.inf).max(1)
        return np.where((n_s > 0) & (n_b > 0) & ok.any(1), sic, np.nan)

    def rejection(self, w: np.ndarray, effs: np.ndarray | list[float]) -> np.ndarray:
        """1/εB at each signal efficiency [b, E] (`classification.inverse_bkg_eff` rules)."""
        fpr, tpr, n_s, n_b = self.curve(w)
        effs = np.atleast_1d(np.asarray(effs, np.float64))
        wb = w[:, self.background_jets]
        smallest = np.where(wb > 0, wb, np.inf).min(1) if wb.shape[1] else np.full(len(w), np.inf)
        last = tpr.shape[1] - 1
        k = np.sum(tpr[:, None, :] < effs[None, :, None], axis=2)  # [b, E]: first tpr >= eff
        at = np.take_along_axis(tpr, np.minimum(k, last), 1)
        exact = (k <= last) & (at == effs[None, :])
        lo, hi = np.clip(k - 1, 0, last), np.clip(k, 0, last)
        x1, x2 = np.take_along_axis(tpr, lo, 1), np.take_along_axis(tpr, hi, 1)
        y1, y2 = np.take_along_axis(fpr, lo, 1), np.take_along_axis(fpr, hi, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mid = np.where(x2 == x1, y1, y1 + (effs[None, :] - x1) / np.where(x2 == x1, 1.0, x2 - x1)
                           * (y2 - y1))
            eff_b = np.where(exact, np.take_along_axis(fpr, np.minimum(k, last), 1),
                             np.where(k <= 0, fpr[:, :1], np.where(k > last, fpr[:, -1:], mid)))
            out = 1.0 / np.maximum(eff_b, (smallest / n_b)[:, None])
        valid = (n_s > 0) & (n_b > 0)
        return np.where(valid[:, None], out, np.nan)


def _interp(x: np.ndarray, y: np.ndarray, x0: float, k: np.ndarray) -> np.ndarray:
    """Row-wise `classification._interp`: y at x0 on the segment between points k-1 and k."""
    last = x.shape[1] - 1
    k1 = np.clip(k - 1, 0, last)[:, None]
    k2 = np.clip(k, 0, last)[:, None]
    x1, x2 = np.take_along_axis(x, k1, 1)[:, 0], np.take_along_axis(x, k2, 1)[:, 0]
    y1, y2 = np.take_along_axis(y, k1, 1)[:, 0], np.take_along_axis(y, k2, 1)[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        mid = np.where(x2 == x1, y1, y1 + (x0 - x1) / np.where(x2 == x1, 1.0, x2 - x1) * (y2 - y1))
    return np.where(k <= 0, y[:, 0], np.where(k > last, y[:, -1], mid))


def _per_jet_tracks(inp: MetricInput) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(jet of each real labelled track, its label, its predicted class) for track tasks."""
    valid = inp.mask & (inp.y >= 0)
    jet = np.nonzero(valid)[0]
    return jet, inp.y[valid], cl.predicted_labels(inp.scores[valid])


def _class_counts(jet: np.ndarray, y: np.ndarray, hit: np.ndarray, n: int, c: int):
    total = np.zeros((n, c))
    hits = np.zeros((n, c))
    np.add.at(total, (jet, y), 1.0)
    np.add.at(hits, (jet, y), hit.astype(np.float64))
    return hits, total


def _accuracy(inp: MetricInput, _o: Any) -> Stat:
    if inp.kind == "jet":
        return mean_stat((cl.predicted_labels(inp.scores) == inp.y).astype(np.float64))
    jet, y, pred = _per_jet_tracks(inp)
    n = len(inp)
    return mean_stat(np.bincount(jet, weights=(pred == y), minlength=n),
                     np.bincount(jet, minlength=n).astype(np.float64))


def _balanced_accuracy(inp: MetricInput, _o: Any) -> Stat:
    if inp.kind == "jet":
        jet, y, pred = np.arange(len(inp)), inp.y, cl.predicted_labels(inp.scores)
    else:
        jet, y, pred = _per_jet_tracks(inp)
    c = int(max(y.max(initial=0), pred.max(initial=0))) + 1
    return balanced_accuracy_stat(*_class_counts(jet, y, pred == y, len(inp), c))


def _binary_roc(inp: MetricInput) -> RocStat:
    return RocStat(inp.y == 1, cl.positive_score(inp.scores))


def _jet_values(fn: Callable[..., np.ndarray]) -> Callable[[MetricInput, Any], Stat]:
    return lambda inp, o: mean_stat(fn(inp.scores, inp.y, inp.mask, o.threshold))


def _perfect(inp: MetricInput, o: Any) -> Stat:
    return mean_stat(vx.perfect_per_jet(vx.edge_counts(inp.scores, inp.y, inp.mask, o.threshold),
                                        inp.mask))


VECTORISED: dict[str, Callable[[MetricInput, Any], Stat]] = {
    "accuracy": _accuracy,
    "balanced_accuracy": _balanced_accuracy,
    "auc": lambda inp, o: _binary_roc(inp).auc,
    "sic": lambda inp, o: (lambda w, r=_binary_roc(inp): r.sic(w, o.fpr)),
    "max_sic": lambda inp, o: (lambda w, r=_binary_roc(inp):
                               r.max_sic(w, o.fpr_floor, o.min_background)),
    "ari": _jet_values(vx.vertex_ari_per_jet),
    "edge_ari": _jet_values(vx.edge_ari_per_jet),
    "perfect_jet_fraction": _perfect,
}


def metric_stat(name: str, inp: MetricInput, options: dict[str, Any] | None = None) -> Stat:
    """The resampling statistic of a registered scalar metric on `inp` (expensive work done once).

    Falls back to the registry's `value(w)` per resample when no vectorised form exists.
    """
    metric = METRICS[name]
    opts = metric.parse_options(options or {})
    if name in VECTORISED and (name != "auc" or inp.kind == "jet"):
        return VECTORISED[name](inp, opts)
    value = metric.prepare(inp, opts)
    if not metric.scalar:
        raise ValueError(f"metric '{name}' has several values; resample one of them")
    return lambda w: np.array([float(value(row)) for row in w])
