"""Score-vs-labels plots: one PNG per task, a line per encoder x protocol with std error bars.

This is the figure the MPM papers argue with (pretraining helps most at small label budgets), so
the x axis is the label budget on a log scale. Only cells measured under the current definitions
are drawn; stale and missing cells are left out rather than mixed in.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: never needs a display

import matplotlib.pyplot as plt  # noqa: E402

from jetbench.core.files import atomic_path  # noqa: E402
from jetbench.leaderboard.aggregate import FEW_SEEDS, OK, Leaderboard  # noqa: E402
from jetbench.leaderboard.render import budget_label  # noqa: E402

_LINESTYLES = {"finetune": "-", "frozen": "--", "linear": ":", "scratch": "-."}


def plot_task(lb: Leaderboard, task: str, path: str | os.PathLike) -> bool:
    """Write the plot of `task` to `path`; False (and no file) when no row has a current cell."""
    cols = [c for c in lb.columns if c[0] == task]
    encoders = sorted({r.encoder for r in lb.rows})
    colors = {e: plt.get_cmap("tab10")(i % 10) for i, e in enumerate(encoders)}
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    lines = [(r, [r.cells[c] for c in cols if r.cells[c].status in (OK, FEW_SEEDS)])
             for r in lb.rows]
    lines = [(r, pts) for r, pts in lines if pts]
    drawn = 0
    for k, (r, pts) in enumerate(lines):
        # dodge: spread the lines a little along x so error bars at one budget do not overlap
        dodge = 1.0 + 0.025 * (k - (len(lines) - 1) / 2)
        ax.errorbar([c.budget * dodge for c in pts], [c.mean for c in pts],
                    yerr=[c.std or 0.0 for c in pts], label=f"{r.encoder} ({r.protocol})",
                    color=colors[r.encoder], linestyle=_LINESTYLES.get(r.protocol, "-"),
                    marker="o", markersize=4, capsize=3)
        drawn += 1
    if not drawn:
        plt.close(fig)
        return False
    ax.set_xscale("log")
    budgets = sorted({b for _, b in cols})
    ax.set_xticks(budgets, [budget_label(b) for b in budgets])
    ax.minorticks_off()
    if len(budgets) == 1:
        ax.set_xlim(budgets[0] / 1.5, budgets[0] * 1.5)
    ax.set_xlabel("number of labelled training jets")
    ax.set_ylabel(lb.main_scores.get(task, "main score"))
    ax.set_title(f"{task} — {lb.benchmark.name}")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return True


def plot_all(lb: Leaderboard, out_dir: str | os.PathLike) -> dict[str, Path]:
    """One PNG per benchmark task that has data, as {task: path}."""
    out = {}
    for task in lb.benchmark.tasks:
        path = Path(out_dir) / f"{task}.png"
        if plot_task(lb, task, path):
            out[task] = path
    return out
