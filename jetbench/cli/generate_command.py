"""`jetbench data generate`: run the embedded generator and write a file."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from jetbench.cli.app import data_app
from jetbench.core import preflight
from jetbench.core.log import get_logger


@data_app.command("generate")
def generate(
    profile: str = typer.Argument(..., help="Generator profile: jetclass, btag, toptag, quarkgluon."),
    n: int = typer.Option(..., "--n", help="Total number of jets, split evenly over classes."),
    out: Path = typer.Option(..., "--out", help="Output file (.h5 store or .root)."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed -> identical output)."),
    workers: int = typer.Option(1, "--workers", help="Worker processes (output does not change)."),
    fmt: str = typer.Option("h5", "--format", help="h5 (canonical store) or raw (the real "
                            "dataset's file format; 'root' for jetclass/btag)."),
    classes: str | None = typer.Option(None, "--classes",
                                       help="Comma-separated subset of classes, e.g. QCD,Tbqq."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out file."),
) -> None:
    """Generate jets with Pythia 8 + FastJet (+ the detector model)."""
    from jetbench.generate import generate_file  # lazy: Pythia 8 and FastJet

    preflight.check_count("--n", n, 1, preflight.MAX_JETS)
    preflight.check_run_args(seed=seed, workers=workers)
    preflight.check_output_file(out, "--out", force, preflight.jets_bytes(n))

    wanted = [c.strip() for c in classes.split(",") if c.strip()] if classes else None
    start = time.perf_counter()
    path = generate_file(profile, n, seed, out, workers=workers, fmt=fmt, classes=wanted,
                         progress=progress)
    took = time.perf_counter() - start
    get_logger().info(f"wrote {n} {profile} jets to {path} in {took:.1f} s "
                      f"({n / took:.1f} jets/s)")
