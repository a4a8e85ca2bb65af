"""`jetbench pretrain`: self-supervised pretraining of an encoder (also under torchrun)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from jetbench.cli.app import app, no_progress_option, progress_wanted, track_option, tracking_wanted
from jetbench.core import preflight
from jetbench.core.errors import JetbenchError
from jetbench.core.paths import checkpoint_dir


@app.command("pretrain")
def pretrain_command(
    encoder: str = typer.Option(..., "--encoder", help="Registered encoder name or a 'module:factory' spec."),
    scale: str = typer.Option("cpu", "--scale", help="smoke | cpu | paper (sets steps, batch and data size)."),
    steps: int = typer.Option(None, "--steps", help="Optimiser updates (default: per scale)."),
    batch_size: int = typer.Option(None, "--batch-size", help="Global batch (split over torchrun processes)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    out: Path = typer.Option(None, "--out", help="Checkpoint folder (default: checkpoint_dir()/ENCODER/SCALE)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint in the folder."),
    seed: int = typer.Option(0, "--seed", help="Seed for initialisation, preprocessing fits and batches."),
    data: Path = typer.Option(None, "--data", help="Pretrain on this canonical jetclass store instead."),
    check_shipped: bool = typer.Option(False, "--check-shipped", help="Re-make the checkpoint "
                                       "shipped with jetbench (default --out: "
                                       "checkpoint_dir()/ENCODER/SCALE-remade) and check that its "
                                       "weights are bit-identical."),
    no_progress: bool = no_progress_option(),
    track: str = track_option(),
) -> None:
    """Pretrain an encoder on the jetclass pretraining split; prints the checkpoint folder."""
    from jetbench.encoders.shipped import list_shipped, shipped  # lazy: keeps --help fast
    from jetbench.pretraining import pretrain  # lazy: torch; `jetbench --help` stays fast
    from jetbench.pretraining.api import check_shipped as compare  # lazy: torch

    preflight.check_run_args(seed=seed)
    preflight.check_count("--steps", steps, 1)
    preflight.check_count("--batch-size", batch_size, 1, 1 << 20)
    preflight.check_output_dir(out if out is not None else checkpoint_dir(), "checkpoint folder",
                               preflight.MIN_FREE_BYTES,
                               env=None if out is not None else "JETBENCH_CHECKPOINTS")
    if data is None:
        preflight.check_caches("data")
    tracking_wanted(track)
    if check_shipped and shipped(encoder, scale) is None:
        raise JetbenchError(f"--check-shipped: jetbench ships no {scale} checkpoint of "
                            f"'{encoder}' (shipped: {', '.join(list_shipped()) or 'none'})")
    if check_shipped and out is None:
        out = checkpoint_dir() / encoder.replace(":", "_").replace("/", "_") / f"{scale}-remade"
    path = pretrain(
        encoder,
        scale,
        steps=steps,
        batch_size=batch_size,
        device=device,
        out=out,
        resume=resume,
        seed=seed,
        data=data,
        progress=progress_wanted(no_progress),
    )
    if os.environ.get("RANK", "0") == "0":  # torchrun: rank 0 alone prints
        print(path)
        if check_shipped:
            same, message = compare(encoder, scale, path)
            print(message)
            if not same:
                raise typer.Exit(1)
