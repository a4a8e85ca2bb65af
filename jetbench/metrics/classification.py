"""Classification metrics on scores (probabilities), all with optional sample weights.

Weights make the bootstrap cheap (a resample is a vector of integer counts) and let track-level
metrics resample whole jets. ROC working points are read along the ROC curve's segments:
`inverse_bkg_eff` takes the smallest background efficiency that reaches the signal efficiency,
`tpr_at_fpr` the largest signal efficiency allowed at the background efficiency, with linear
interpolation between neighbouring ROC points.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def _weights(w: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if w is None else np.asarray(w, np.float64)


def positive_score(scores: np.ndarray) -> np.ndarray:
    """Score of class 1 for a binary task: scores [N] as given, or column 1 of [N, 2]."""
    s = np.asarray(scores)
    return s if s.ndim == 1 else s[:, 1]


def predicted_labels(scores: np.ndarray) -> np.ndarray:
    """argmax over classes; for one binary probability per jet, p > 0.5."""
    s = np.asarray(scores)
    return (s > 0.5).astype(np.int64) if s.ndim == 1 else s.argmax(-1)


def accuracy(y: np.ndarray, scores: np.ndarray, w: np.ndarray | None = None) -> float:
    w = _weights(w, len(y))
    return float(np.sum(w * (predicted_labels(scores) == y)) / np.sum(w))


def balanced_accuracy(y: np.ndarray, scores: np.ndarray, w: np.ndarray | None = None) -> float:
    """Mean recall over the classes present (sklearn's balanced_accuracy_score, weighted)."""
    w = _weights(w, len(y))
    pred = predicted_labels(scores)
    n_classes = int(max(y.max(initial=0), pred.max(initial=0))) + 1
    total = np.bincount(y, weights=w, minlength=n_classes)
    hit = np.bincount(y, weights=w * (pred == y), minlength=n_classes)
    present = total > 0
    return float(np.mean(hit[present] / total[present]))


def roc_auc(is_signal: np.ndarray, score: np.ndarray, w: np.ndarray | None = None) -> float:
    """Area under the ROC curve; NaN when only one class has weight."""
    w = _weights(w, len(is_signal))
    pos = np.sum(w[is_signal])
    if pos <= 0 or np.sum(w[~is_signal]) <= 0:
        return float("nan")
    return float(roc_auc_score(is_signal, score, sample_weight=w))


def class_aucs(y: np.ndarray, scores: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """One-vs-rest AUC of every class (NaN for a class absent from `y`)."""
    s = np.asarray(scores)
    if s.ndim == 1:
        s = np.stack([1 - s, s], axis=1)
    return np.array([roc_auc(y == c, s[:, c], w) for c in range(s.shape[1])])


def macro_auc(y: np.ndarray, scores: np.ndarray, w: np.ndarray | None = None) -> float:
    """Binary: the AUC of class 1. Multi-class: mean one-vs-rest AUC over the classes present."""
    s = np.asarray(scores)
    if s.ndim == 1 or s.shape[1] == 2:
        return roc_auc(y == 1, positive_score(s), w)
    aucs = class_aucs(y, s, w)
    return float(np.nanmean(aucs)) if np.isfinite(aucs).any() else float("nan")


def roc(is_signal: np.ndarray, score: np.ndarray, w: np.ndarray | None = None):
    """(fpr, tpr) at every threshold, from the strictest to the loosest."""
    fpr, tpr, _ = roc_curve(is_signal, score, sample_weight=_weights(w, len(score)),
                            drop_intermediate=False)
    return fpr, tpr


def _interp(x: np.ndarray, y: np.ndarray, x0: float, k: int) -> float:
    """Linear interpolation on the ROC segment between points k-1 and k at x = x0."""
    if k <= 0:
        return float(y[0])
    if k >= len(x):
        return float(y[-1])
    x1, x2, y1, y2 = x[k - 1], x[k], y[k - 1], y[k]
    return float(y1 if x2 == x1 else y1 + (x0 - x1) / (x2 - x1) * (y2 - y1))


def bkg_eff_at(is_signal: np.ndarray, score: np.ndarray, eff_s: float,
               w: np.ndarray | None = None) -> float:
    """Background efficiency at signal efficiency `eff_s` (smallest that reaches it)."""
    fpr, tpr = roc(is_signal, score, w)
    k = int(np.searchsorted(tpr, eff_s, side="left"))
    if k < len(tpr) and tpr[k] == eff_s:
        return float(fpr[k])
    return _interp(tpr, fpr, eff_s, k)


def inverse_bkg_eff(is_signal: np.ndarray, score: np.ndarray, eff_s: float,
                    w: np.ndarray | None = None) -> float:
    """Background rejection 1/εB at signal efficiency εS.

    When no background passes, εB is set to the smallest non-zero background weight fraction
    (1/N_B unweighted), so the result is a finite lower bound on the rejection.
    """
    wb = _weights(w, len(score))[~is_signal]
    if np.sum(wb) <= 0 or not np.any(is_signal):
        return float("nan")
    eff_b = bkg_eff_at(is_signal, score, eff_s, w)
    floor = np.min(wb[wb > 0]) / np.sum(wb)
    return float(1.0 / max(eff_b, floor))


def tpr_at_fpr(is_signal: np.ndarray, score: np.ndarray, fpr0: float,
               w: np.ndarray | None = None) -> float:
    """Signal efficiency at background efficiency `fpr0` (largest allowed there)."""
    fpr, tpr = roc(is_signal, score, w)
    k = int(np.searchsorted(fpr, fpr0, side="right")) - 1
    if fpr[k] == fpr0:
        return float(tpr[k])
    return _interp(fpr, tpr, fpr0, k + 1)


def sic_at_fpr(is_signal: np.ndarray, score: np.ndarray, fpr0: float = 0.01,
               w: np.ndarray | None = None) -> float:
    """Significance improvement TPR/sqrt(FPR) at FPR = fpr0 (CWoLa's main score)."""
    if not np.any(is_signal) or np.all(is_signal):
        return float("nan")
    return tpr_at_fpr(is_signal, score, fpr0, w) / np.sqrt(fpr0)


def max_sic(is_signal: np.ndarray, score: np.ndarray, fpr_floor: float = 1e-3,
            min_background: int = 10, w: np.ndarray | None = None) -> float:
    """Largest TPR/sqrt(FPR) over ROC points with FPR above a floor.

    The floor is max(fpr_floor, min_background / N_B): below a handful of background jets the
    ratio is dominated by statistical noise.
    """
    w = _weights(w, len(score))
    n_b = np.sum(w[~is_signal])
    if n_b <= 0 or not np.any(is_signal):
        return float("nan")
    floor = max(fpr_floor, min_background / n_b)
    fpr, tpr = roc(is_signal, score, w)
    ok = fpr >= floor
    if not ok.any():
        return float("nan")
    return float(np.max(tpr[ok] / np.sqrt(fpr[ok])))


def ratio_score(scores: np.ndarray, sig: int, bkg: int) -> np.ndarray:
    """p_sig / (p_sig + p_bkg), the per-pair discriminant of the JetClass paper (0.5 if both 0)."""
    ps, pb = scores[:, sig], scores[:, bkg]
    den = ps + pb
    return np.divide(ps, den, out=np.full_like(ps, 0.5, dtype=np.float64), where=den > 0)


def db_score(scores: np.ndarray, b: int, c: int, light: int, f_c: float) -> np.ndarray:
    """ATLAS-style D_b = ln(p_b / (f_c p_c + (1 - f_c) p_light))."""
    eps = 1e-12
    return np.log(scores[:, b] + eps) - np.log(f_c * scores[:, c] + (1 - f_c) * scores[:, light]
                                               + eps)
