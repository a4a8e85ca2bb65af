"""Standard errors and paired tests for leaderboard cells: how sure is a number, and which rows
can be told apart.

Input per cell: its per-seed scores on the full test set and the same scores on B bootstrap
resamples of the test jets, where resample b draws the *same* jets for every seed and every row of
a column (`Replicates`). With S seeds, seed mean m = mean_s m_s and resample means m*_b:

    s^2    = sample variance of the per-seed scores m_s (ddof 1)
    V_test = Var_b(m*_b)                         test-set sampling error of the seed mean
    Q      = sum_s Var_b(m*_sb - m*_b) / (S-1)   the part of s^2 that test-jet noise explains
    SE^2   = s^2/S + max(V_test - Q/S, 0)

Seeds are scored on the same jets. The seed spread s^2/S already holds the test-jet noise that
differs from seed to seed (which jets each run happened to get right, Q/S), so only the rest of
the bootstrap variance - the test-set error common to all seeds - is added; adding all of V_test
would count Q/S twice. In a model score = seed effect + jet effect + seed x jet noise, SE^2 is
unbiased for the variance of m. One seed: SE^2 = V_test.

A comparison of rows A and B uses the seeds both have and the same formula on the paired
differences d_s = m_As - m_Bs (and d*_sb on the shared resamples); T = mean(d) / SE_d is referred
to a t distribution with S-1 degrees of freedom (normal for one seed). With three seeds the seed
part of SE_d is known to 2 degrees of freedom; Welch-Satterthwaite degrees of freedom estimated
from the same three numbers made the test too liberal in simulation (7-9 % false positives at
alpha = 5 %), while t(S-1) is exact when the seed spread dominates and conservative otherwise.
Two-sided p-values are corrected across the rows of a column with Benjamini-Hochberg: a column
makes one claim per row, most rows are expected to differ from random init, and the false
discovery rate (the expected share of wrong marks, <= alpha) is the error a reader of many marks
cares about. Holm (family-wise control) was tried first: with t(2) it left a difference of nine
standard errors unmarked among 15 rows. BH needs positively dependent tests; comparisons with one
common row are positively correlated, and the tests check the false-mark rate under the null.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import stdtr

ALPHA = 0.05


@dataclass
class Replicates:
    """Scores of one cell: values [S] on the full test set, boot [S, B] on shared resamples."""

    seeds: tuple[int, ...]
    values: np.ndarray
    boot: np.ndarray

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))


@dataclass(frozen=True)
class Error:
    """Standard error of a seed mean (or of a paired difference) and its parts."""

    estimate: float  # seed mean (or mean paired difference)
    se: float
    se_test: float  # test-set error common to all seeds: sqrt(max(V_test - Q/S, 0))
    se_seed: float  # seed spread: s / sqrt(S)
    df: float  # degrees of freedom of the t reference (inf: normal)
    n_seeds: int
    n_boot: int  # resamples on which the statistic was defined


def combined_error(values: np.ndarray, boot: np.ndarray) -> Error:
    """SE of mean(values) from seed spread and shared-resample bootstrap (see the module doc)."""
    values = np.asarray(values, np.float64)
    boot = np.asarray(boot, np.float64).reshape(len(values), -1)
    boot = boot[:, np.all(np.isfinite(boot), axis=0)]  # resamples where a metric is undefined
    s, b = boot.shape
    mean_b = boot.mean(0)
    v_test = float(np.var(mean_b, ddof=1)) if b > 1 else math.nan
    if s == 1:
        return Error(float(values[0]), math.sqrt(v_test), math.sqrt(v_test), 0.0, math.inf, 1, b)
    q = float(np.sum(np.var(boot - mean_b, axis=1, ddof=1)) / (s - 1)) if b > 1 else math.nan
    v_common = max(v_test - q / s, 0.0)
    v_seed = float(np.var(values, ddof=1)) / s
    return Error(float(values.mean()), math.sqrt(v_common + v_seed), math.sqrt(v_common),
                 math.sqrt(v_seed), float(s - 1), s, b)


def cell_error(rep: Replicates) -> Error:
    return combined_error(rep.values, rep.boot)


@dataclass(frozen=True)
class Comparison:
    """Paired comparison of row A with row B: diff = mean_A - mean_B over common seeds."""

    diff: float
    se: float
    df: float
    p: float
    seeds: tuple[int, ...]


def paired_test(a: Replicates, b: Replicates) -> Comparison | None:
    """Two-sided paired test of A vs B on their common seeds; None when they share no seed."""
    common = tuple(s for s in a.seeds if s in b.seeds)
    if not common:
        return None
    ia = [a.seeds.index(s) for s in common]
    ib = [b.seeds.index(s) for s in common]
    err = combined_error(a.values[ia] - b.values[ib], a.boot[ia] - b.boot[ib])
    return Comparison(err.estimate, err.se, err.df, t_pvalue(err.estimate, err.se, err.df),
                      common)


def t_pvalue(diff: float, se: float, df: float) -> float:
    """Two-sided p of diff/se under t(df) (normal for df = inf); identical rows give p = 1."""
    if not math.isfinite(diff) or not math.isfinite(se):
        return math.nan
    if se == 0:
        return 1.0 if diff == 0 else 0.0
    z = abs(diff) / se
    return float(math.erfc(z / math.sqrt(2)) if math.isinf(df) else 2 * stdtr(df, -z))


def adjust(p: Sequence[float]) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (step-up, monotone, capped at 1); NaN stays NaN and
    does not count as a test."""
    p = np.asarray(p, np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if not len(ok):
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    scaled = p[order] * m / np.arange(1, m + 1)
    out[order] = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    return out


def rank_groups(means: Sequence[float], compare: Callable[[int, int], Comparison | None],
                alpha: float = ALPHA) -> tuple[list[int], np.ndarray]:
    """Rank groups (1 = best) of rows, and each row's adjusted p against the best row.

    Rows are sorted by mean (highest first). The top row leads group 1; going down, a row joins
    the current group while it is not significantly worse than the group's leader (p adjusted
    across the rows below that leader); the first row that is starts the next group.
    `compare(i, j)` tests row i against row j.
    """
    order = [int(i) for i in np.argsort(-np.asarray(means, np.float64), kind="stable")]
    groups = [0] * len(order)
    p_best = np.full(len(order), np.nan)
    rest, group = order, 0
    while rest:
        leader, rest = rest[0], rest[1:]
        group += 1
        groups[leader] = group
        tests = [compare(i, leader) for i in rest]
        adj = adjust([math.nan if t is None else t.p for t in tests])
        if group == 1 and order:
            p_best[order[0]] = 1.0
            p_best[rest] = adj
        k = 0
        while k < len(rest) and not adj[k] < alpha:  # NaN (not comparable) stays in the group
            groups[rest[k]] = group
            k += 1
        rest = rest[k:]
    return groups, p_best
