"""Leaderboard figures: score vs labels per task, and ROC curves per (task, budget).

Score vs labels is the figure the MPM papers argue with (pretraining helps most at small label
budgets): x = label budget (log), colour = encoder, marker and line style = protocol, error bars =
the cells' standard errors, the random-init encoder drawn in black and the chance level as a
thin red dash-dotted line. ROC curves are drawn as HEP papers do: background rejection 1/εB
(log) against signal efficiency εS, one panel per binary problem, the random classifier (1/εS)
in the same reference style. Both use
mplhep's experiment-neutral ROOT style. Axis limits always include every point, error bar and
reference line, and the legend sits outside the axes, so nothing is clipped or hidden.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402

from jetbench.core.files import atomic_path  # noqa: E402
from jetbench.leaderboard.aggregate import FEW_SEEDS, OK, Leaderboard  # noqa: E402
from jetbench.leaderboard.render import budget_label  # noqa: E402
from jetbench.leaderboard.roc import MIN_BACKGROUND, ColumnCurves  # noqa: E402

PROTOCOL_STYLE = {"finetune": ("o", "-"), "frozen": ("s", "--"), "linear": ("^", ":"),
                  "scratch": ("D", "-.")}
FIXED_COLOURS = {"scratch": "black", "nobackbone": "#7f7f7f"}
# reference lines (chance level, random classifier): a colour no encoder gets, thin
REFERENCE_LINE = {"color": "#c0392b", "linestyle": (0, (4, 2, 1, 2)), "linewidth": 1.2}
DPI = 100


def encoder_colours(encoders: list[str]) -> dict[str, object]:
    """Colour per encoder: the baselines fixed (random init black), the rest from tab10."""
    cmap = plt.get_cmap("tab10")
    free = [e for e in sorted(set(encoders)) if e not in FIXED_COLOURS]
    # tab10's grey is nobackbone's and its red is too close to the reference lines' red
    palette = [cmap(i) for i in range(10) if i not in (3, 7)]
    out: dict[str, object] = {e: palette[i % len(palette)] for i, e in enumerate(free)}
    out.update({e: c for e, c in FIXED_COLOURS.items() if e in encoders})
    return out


def _style(protocol: str) -> tuple[str, str]:
    return PROTOCOL_STYLE.get(protocol, ("v", "-"))


def _label(encoder: str, protocol: str, reference: str) -> str:
    return f"{encoder}{' (random init)' if encoder == reference else ''}, {protocol}"


def _save(fig, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)


def plot_task(lb: Leaderboard, task: str, path: str | os.PathLike,
              chance: float | None = None) -> bool:
    """Score vs labels of `task` to `path`; False (and no file) when no row has a current cell.

    A task with one label budget has no curve to draw: its rows are then side by side, best
    first, so the figure never suggests a trend along x that is only a dodge.
    """
    cols = [c for c in lb.columns if c[0] == task]
    lines = [(r, [r.cells[c] for c in cols if r.cells[c].status in (OK, FEW_SEEDS)])
             for r in lb.rows]
    lines = [(r, pts) for r, pts in lines if pts]
    if not lines:
        return False
    colours = encoder_colours([r.encoder for r, _ in lines])
    budgets = sorted({b for _, b in cols})
    single = len(budgets) == 1
    if single:
        lines.sort(key=lambda x: -x[1][0].mean)
    with plt.style.context(mplhep.style.ROOT):
        fig, ax = plt.subplots(figsize=(8.5, 6.0))
        lo, hi = math.inf, -math.inf
        for k, (r, pts) in enumerate(lines):
            y = np.array([c.mean for c in pts])
            err = np.array([c.se or 0.0 for c in pts])
            # dodge: spread the rows a little along x so error bars at one budget do not overlap
            x = [k] if single else [c.budget * (1.0 + 0.03 * (k - (len(lines) - 1) / 2))
                                    for c in pts]
            marker, ls = _style(r.protocol)
            ref = r.encoder == lb.reference
            ax.errorbar(x, y, yerr=err, color=colours[r.encoder], marker=marker, linestyle=ls,
                        markersize=7 if single else 6, capsize=3, linewidth=2.2 if ref else 1.4,
                        label=_label(r.encoder, r.protocol, lb.reference))
            lo, hi = min(lo, float(np.min(y - err))), max(hi, float(np.max(y + err)))
        if chance is not None and math.isfinite(chance):
            ax.axhline(chance, label="chance level", **REFERENCE_LINE)
            lo, hi = min(lo, chance), max(hi, chance)
        pad = 0.08 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1e-3)
        ax.set_ylim(lo - pad, hi + pad)
        if single:
            ax.set_xlim(-0.7, len(lines) - 0.3)
            ax.set_xticks(range(len(lines)), [f"{r.encoder} / {r.protocol}" for r, _ in lines],
                          rotation=60, ha="right", fontsize=10)
            ax.minorticks_off()
            ax.set_xlabel(f"{budget_label(budgets[0])} labelled training jets, rows by score",
                          fontsize=14)
        else:
            ax.set_xscale("log")
            ax.set_xlim(budgets[0] / 2.0, budgets[-1] * 2.0)
            ax.set_xticks(budgets, [budget_label(b) for b in budgets])
            ax.minorticks_off()
            ax.set_xlabel("labelled training jets")
        ax.set_ylabel(lb.main_scores.get(task, "main score").replace("_", " "))
        ax.set_title(f"{task} - {lb.benchmark.name}", fontsize=14)
        ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
        _save(fig, path)
    return True


def plot_roc(lb: Leaderboard, cc: ColumnCurves, path: str | os.PathLike) -> bool:
    """ROC panels of one column: 1/εB (log) vs εS per binary problem, a curve per row."""
    if not cc.rows:
        return False
    n = len(cc.curves)
    ncol = min(3, n)
    nrow = math.ceil(n / ncol)
    colours = encoder_colours([c.encoder for c in cc.rows])
    with plt.style.context(mplhep.style.ROOT):
        fig, axes = plt.subplots(nrow, ncol, figsize=(5.2 * ncol, 4.6 * nrow), squeeze=False)
        for ax, name in zip(axes.flat, cc.curves, strict=False):
            top = 1.0
            for c in (c for c in cc.rows if c.curve == name):
                ok = np.isfinite(c.rejection)
                marker, ls = _style(c.protocol)
                ax.plot(c.eff[ok], c.rejection[ok], color=colours[c.encoder], linestyle=ls,
                        linewidth=2.2 if c.encoder == lb.reference else 1.3,
                        label=_label(c.encoder, c.protocol, lb.reference))
                if ok.any():
                    top = max(top, float(np.max(c.rejection[ok])))
            eff = np.linspace(0.02, 1.0, 100)
            ax.plot(eff, 1.0 / eff, label=r"random classifier ($1/\varepsilon_S$)",
                    **REFERENCE_LINE)
            ax.set_yscale("log")
            ax.set_xlim(0.0, 1.02)
            ax.set_ylim(0.8, top * 2.0)
            ax.set_xlabel(r"signal efficiency $\varepsilon_S$", fontsize=13)
            ax.set_ylabel(r"background rejection $1/\varepsilon_B$", fontsize=13)
            ax.set_title(name, fontsize=13)
            ax.tick_params(labelsize=11)
        for ax in list(axes.flat)[n:]:
            ax.set_visible(False)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        right = 1.0 - 2.6 / fig.get_figwidth()  # room for the legend, in inches
        fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(right + 0.01, 0.92),
                   fontsize=10, frameon=False)
        fig.suptitle(f"{cc.task} @{budget_label(cc.budget)} labels - {lb.benchmark.name}: "
                     f"mean over seeds (drawn where >= {MIN_BACKGROUND} background jets pass)",
                     fontsize=13)
        fig.subplots_adjust(hspace=0.38, wspace=0.32, right=right,
                            top=0.92 if nrow > 1 else 0.82)
        _save(fig, path)
    return True


def plot_all(lb: Leaderboard, out_dir: str | os.PathLike,
             curves: dict[tuple[str, int], ColumnCurves] | None = None,
             chance: dict[str, float] | None = None) -> dict[str, Path]:
    """Every figure, as {key: path}: "<task>" (score vs labels), "roc:<task>@<budget>"."""
    out: dict[str, Path] = {}
    for task in lb.benchmark.tasks:
        path = Path(out_dir) / f"{task}.png"
        if plot_task(lb, task, path, (chance or {}).get(task)):
            out[task] = path
    for (task, budget), cc in (curves or {}).items():
        path = Path(out_dir) / f"{task}_b{budget}_roc.png"
        if plot_roc(lb, cc, path):
            out[f"roc:{task}@{budget}"] = path
    return out
