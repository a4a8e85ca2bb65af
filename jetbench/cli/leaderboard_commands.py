"""Leaderboard and submission commands: building the table and getting a new encoder onto it.

Commands: `leaderboard`, `list benchmarks`, `validate-encoder`, `mock-run`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from tabulate import tabulate

from jetbench.cli.app import app, list_app
from jetbench.core import preflight
from jetbench.core.paths import results_dir


@app.command("leaderboard")
def leaderboard(
    results: Path = typer.Option(None, "--results", help="Folder of result JSONs "
                                 "(default: $JETBENCH_RESULTS or ./results)."),
    benchmark: str = typer.Option("jetbench-core-lite-v2", "--benchmark",
                                  help="Benchmark name (see `jetbench list benchmarks`) or YAML."),
    out: Path = typer.Option(Path("leaderboard"), "--out", help="Output folder."),
    plots: bool = typer.Option(True, "--plots/--no-plots",
                               help="Write score-vs-labels and ROC PNGs."),
    reference: str = typer.Option("scratch", "--reference",
                                  help="Encoder whose row (same protocol) is the random-init "
                                       "baseline of the significance marks."),
    n_boot: int = typer.Option(1000, "--n-boot", min=50,
                               help="Bootstrap resamples of the test jets per column."),
) -> None:
    """Aggregate results into a benchmark's tables (md, tex, csv), HTML page and plots, with
    standard errors and paired significance tests from the results' predictions files."""
    from jetbench.leaderboard import build_leaderboard  # lazy: torch (via evaluation); --help fast
    from jetbench.leaderboard.render import wide_table  # lazy: torch (via evaluation)

    preflight.check_output_dir(out, "leaderboard folder")
    outputs = build_leaderboard(results or results_dir(), benchmark, out, plots=plots,
                                reference=reference, n_boot=n_boot)
    lb = outputs.leaderboard
    n_complete = sum(r.complete for r in lb.rows)
    print(f"{lb.benchmark.label}: {len(lb.rows)} rows ({n_complete} complete) "
          f"from {lb.n_used} of {lb.n_results} result file(s)")
    if lb.rows:
        headers, rows = wide_table(lb, ("", ""))
        print(tabulate(rows, headers=headers, disable_numparse=True))
    for note in lb.notes:
        print(f"note: {note}")
    print("wrote " + ", ".join(str(p) for p in outputs.files.values()))


@list_app.command("benchmarks")
def list_benchmarks_cmd() -> None:
    """Named, versioned benchmarks `jetbench leaderboard --benchmark` accepts."""
    from jetbench.leaderboard import list_benchmarks  # lazy: torch (via evaluation); --help fast

    rows = [(b.name, b.version, b.scale, ", ".join(b.tasks), ", ".join(b.protocols),
             ", ".join(f"{t}:{'/'.join(map(str, bs))}" for t, bs in b.budgets.items())
             or f"task definitions ({b.budget_rule})", b.min_seeds) for b in list_benchmarks()]
    print(tabulate(rows, headers=["benchmark", "version", "scale", "tasks", "protocols", "budgets",
                                  "min seeds"]))


@app.command("validate-encoder")
def validate_encoder_cmd(
    spec: str = typer.Argument(..., help="Encoder name, entry point or 'module:factory'."),
    scale: str = typer.Option("smoke", "--scale", help="Scale passed to the encoder factory."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random test jets."),
) -> None:
    """Check an encoder against the contract: meta, shapes, finiteness, symmetries, determinism."""
    from jetbench.evaluation.validate import validate_encoder  # lazy: torch

    preflight.check_run_args(seed=seed)

    report = validate_encoder(spec, scale=scale, seed=seed)
    print(report.format())
    if not report.passed:
        raise SystemExit(1)  # main() turns it into the exit status


@app.command("mock-run")
def mock_run_cmd(
    encoder: str = typer.Option(..., "--encoder", help="Encoder name, entry point or "
                                "'module:factory'."),
    tasks: str = typer.Option(None, "--tasks", help="Comma-separated tasks (default: the core "
                              "tasks jetclass, cwola, btag, vertexing, trackid)."),
    protocol: str = typer.Option("finetune", "--protocol", help="Protocol to run."),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    results: Path = typer.Option(None, "--results", help="Also write the result JSONs here."),
) -> None:
    """Run every core task at the smoke scale on tiny generated data and print the table."""
    from jetbench.evaluation.mock import format_rows, mock_run  # lazy: torch
    from jetbench.tasks import CORE_TASKS  # lazy: torch (jetbench.tasks builds heads)

    preflight.check_run_args(seed=seed)
    if results is not None:
        preflight.check_output_dir(results, "results folder", preflight.RESULT_BYTES)
    preflight.check_caches("data")

    names = [t.strip() for t in (tasks or ",".join(CORE_TASKS)).split(",") if t.strip()]
    rows = mock_run(encoder, names, protocol=protocol, seed=seed, device=device,
                    results_dir=results)
    print(format_rows(rows))
    if not all(r.passed for r in rows):
        raise SystemExit(1)  # main() turns it into the exit status
