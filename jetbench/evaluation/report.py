"""How a finished cell is printed."""

from __future__ import annotations

from tabulate import tabulate

from jetbench.evaluation.results import Result


def format_result(result: Result, skipped: bool = False) -> str:
    """A short table: the main score (± bootstrap error) first, then the other metrics."""
    main = result.main_score
    se = result.stderr.get(main)
    head = (f"{result.encoder} | {result.task}@v{result.task_version} | "
            f"{result.protocol}@v{result.protocol_version} | scale {result.scale} | "
            f"budget {result.budget} | seed {result.seed}"
            + (" | (already done, not re-run)" if skipped else f" | {result.wall_time_s:.1f} s"))
    rows = [[f"{main} (main)", f"{result.metrics[main]:.4f}" + (f" ± {se:.4f}" if se else "")]]
    rows += [[k, f"{v:.4f}"] for k, v in sorted(result.metrics.items()) if k != main]
    return head + "\n" + tabulate(rows, headers=["metric", "value"], tablefmt="simple")
