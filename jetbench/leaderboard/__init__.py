"""The leaderboard: result JSONs -> a named, versioned benchmark's tables, page and plots.

    from jetbench.leaderboard import build_leaderboard
    outputs = build_leaderboard("results/", "jetbench-core-v1", "leaderboard/")

Modules, one job each: `benchmarks` (what a benchmark asks for), `current` (today's task and
protocol definitions), `aggregate` (results -> rows), `predictions` (a result's per-jet
predictions: load, verify, re-score), `resample` (metrics under bootstrap weights, vectorised),
`significance` (standard errors, paired tests, rank groups), `noise` (both applied to a
leaderboard), `roc` (ROC curves and working points), `render` (Markdown/LaTeX/CSV), `html` (the
static page), `plots` (score vs labels, ROC curves).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from jetbench.core.errors import JetbenchError
from jetbench.core.files import write_json, write_text
from jetbench.evaluation import Result, load_result
from jetbench.leaderboard.aggregate import Entry, Leaderboard, Row, aggregate
from jetbench.leaderboard.benchmarks import (
    BENCHMARKS,
    Benchmark,
    get_benchmark,
    list_benchmarks,
    load_benchmark_file,
)
from jetbench.leaderboard.current import Definition, Definitions, current_definitions
from jetbench.leaderboard.html import write_html
from jetbench.leaderboard.noise import N_BOOT, Annotations, annotate
from jetbench.leaderboard.predictions import load_predictions, recompute, recompute_metrics
from jetbench.leaderboard.render import to_csv, to_latex, to_markdown, working_points_markdown

SUMMARY_NAME = "leaderboard.json"

__all__ = [
    "BENCHMARKS", "Annotations", "Benchmark", "Definition", "Definitions", "Entry", "Leaderboard",
    "Outputs", "Row", "aggregate", "annotate", "build_leaderboard", "collect_result_files",
    "collect_results", "current_definitions", "get_benchmark", "list_benchmarks",
    "load_benchmark_file", "load_predictions", "recompute", "recompute_metrics", "write_outputs",
]


@dataclass
class Outputs:
    leaderboard: Leaderboard
    files: dict[str, Path]  # kind ("md", "tex", "csv", "json", "html", "plot:<task>") -> path


def _looks_like_result(path: Path) -> bool:
    """True unless the file is valid JSON without the keys every result has (e.g. sweep state).

    Unreadable or truncated JSON counts as a result, so `load_result` reports it as broken.
    """
    try:
        obj = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return True
    return not isinstance(obj, dict) or bool({"encoder", "task", "metrics"} & set(obj))


def collect_result_files(results_dir: str | os.PathLike) -> list[tuple[Path, Result]]:
    """Every result JSON below `results_dir` with its path, in a stable order.

    Other JSON files that are clearly not results (our own summary, a sweep's state) are left
    out; a file that is meant to be a result but does not validate is an error naming it.
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise JetbenchError(f"{root}: results folder does not exist")
    files = sorted(p for p in root.rglob("*.json") if p.name != SUMMARY_NAME)
    return [(p, load_result(p)) for p in files if _looks_like_result(p)]


def collect_results(results_dir: str | os.PathLike) -> list[Result]:
    """Every result below `results_dir` (see `collect_result_files`)."""
    return [r for _, r in collect_result_files(results_dir)]


def write_outputs(lb: Leaderboard, out_dir: str | os.PathLike, plots: bool = True,
                  notes: Annotations | None = None) -> dict[str, Path]:
    """Write every output format of `lb` into `out_dir` (each file atomically).

    `notes` (from `annotate`) adds the ROC figures and the chance level of the score plots.
    """
    out = Path(out_dir)
    files = {"md": out / "LEADERBOARD.md", "tex": out / "leaderboard.tex",
             "csv": out / "leaderboard.csv", "json": out / SUMMARY_NAME, "html": out / "index.html"}
    if lb.working_points:
        files["wp"] = out / "WORKING_POINTS.md"
        write_text(files["wp"], working_points_markdown(lb))
    write_text(files["md"], to_markdown(lb))
    write_text(files["tex"], to_latex(lb))
    write_text(files["csv"], to_csv(lb))
    write_json(files["json"], lb.to_dict())
    pngs: dict[str, Path] = {}
    if plots:
        from jetbench.leaderboard.plots import plot_all  # lazy: matplotlib

        pngs = plot_all(lb, out / "plots", notes.curves if notes else None,
                        notes.chance if notes else None)
        files.update({(k if k.startswith("roc:") else f"plot:{k}"): p for k, p in pngs.items()})
    write_html(lb, files["html"], pngs)
    return files


def build_leaderboard(results_dir: str | os.PathLike, benchmark: str | Benchmark,
                      out_dir: str | os.PathLike, definitions: Definitions | None = None,
                      plots: bool = True, reference: str = "scratch",
                      n_boot: int = N_BOOT) -> Outputs:
    """Aggregate the results below `results_dir` into `benchmark` and write all outputs.

    `definitions` are the current task/protocol identities to judge staleness by; by default they
    come from the live registries (`current_definitions`). `reference` is the encoder whose row
    (under the same protocol) is the random-init baseline of the significance marks.
    """
    bench = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    found = collect_result_files(results_dir)
    defs = definitions if definitions is not None else current_definitions(bench)
    lb = aggregate([r for _, r in found], bench, defs, [p for p, _ in found])
    lb.reference = reference
    notes = annotate(lb, n_boot=n_boot)
    return Outputs(lb, write_outputs(lb, out_dir, plots=plots, notes=notes))
