"""The leaderboard: result JSONs -> a named, versioned benchmark's tables, page and plots.

    from jetbench.leaderboard import build_leaderboard
    outputs = build_leaderboard("results/", "jetbench-core-v1", "leaderboard/")

Modules, one job each: `benchmarks` (what a benchmark asks for), `current` (today's task and
protocol definitions), `aggregate` (results -> rows), `render` (Markdown/LaTeX/CSV), `html` (the
static page), `plots` (score vs labels).
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
from jetbench.leaderboard.render import to_csv, to_latex, to_markdown

SUMMARY_NAME = "leaderboard.json"

__all__ = [
    "BENCHMARKS", "Benchmark", "Definition", "Definitions", "Entry", "Leaderboard", "Outputs",
    "Row", "aggregate", "build_leaderboard", "collect_results", "current_definitions",
    "get_benchmark", "list_benchmarks", "load_benchmark_file", "write_outputs",
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


def collect_results(results_dir: str | os.PathLike) -> list[Result]:
    """Every result JSON below `results_dir`, in a stable order.

    Other JSON files that are clearly not results (our own summary, a sweep's state) are left
    out; a file that is meant to be a result but does not validate is an error naming it.
    """
    root = Path(results_dir)
    if not root.is_dir():
        raise JetbenchError(f"{root}: results folder does not exist")
    files = sorted(p for p in root.rglob("*.json") if p.name != SUMMARY_NAME)
    return [load_result(p) for p in files if _looks_like_result(p)]


def write_outputs(lb: Leaderboard, out_dir: str | os.PathLike,
                  plots: bool = True) -> dict[str, Path]:
    """Write every output format of `lb` into `out_dir` (each file atomically)."""
    out = Path(out_dir)
    files = {"md": out / "LEADERBOARD.md", "tex": out / "leaderboard.tex",
             "csv": out / "leaderboard.csv", "json": out / SUMMARY_NAME, "html": out / "index.html"}
    write_text(files["md"], to_markdown(lb))
    write_text(files["tex"], to_latex(lb))
    write_text(files["csv"], to_csv(lb))
    write_json(files["json"], lb.to_dict())
    pngs: dict[str, Path] = {}
    if plots:
        from jetbench.leaderboard.plots import plot_all  # lazy: matplotlib

        pngs = plot_all(lb, out / "plots")
        files.update({f"plot:{task}": p for task, p in pngs.items()})
    write_html(lb, files["html"], pngs)
    return files


def build_leaderboard(results_dir: str | os.PathLike, benchmark: str | Benchmark,
                      out_dir: str | os.PathLike, definitions: Definitions | None = None,
                      plots: bool = True) -> Outputs:
    """Aggregate the results below `results_dir` into `benchmark` and write all outputs.

    `definitions` are the current task/protocol identities to judge staleness by; by default they
    come from the live registries (`current_definitions`).
    """
    bench = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    results = collect_results(results_dir)
    defs = definitions if definitions is not None else current_definitions(bench)
    lb = aggregate(results, bench, defs)
    return Outputs(lb, write_outputs(lb, out_dir, plots=plots))
