"""`jetbench list encoders`: the registered encoders with their size at a scale."""

from __future__ import annotations

import json

import typer
from tabulate import tabulate

from jetbench.cli.app import list_app


@list_app.command("encoders")
def list_encoders_cmd(
    scale: str = typer.Option("cpu", "--scale", help="Model size to report: smoke | cpu | paper."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Registered encoders (built-in, entry points) with embedding width and parameter count."""
    from jetbench.encoders import PretrainableEncoder, create_encoder, list_encoders  # lazy: torch

    rows = []
    for name in list_encoders():
        model = create_encoder(name, scale)
        meta = model.meta
        pretrain = isinstance(model, PretrainableEncoder) and model.needs_pretraining
        doc = (type(model).__doc__ or "").strip().splitlines()[0] if type(model).__doc__ else ""
        rows.append(
            {
                "name": name,
                "embed_dim": meta.embed_dim,
                "n_params": meta.n_params,
                "pretrained": pretrain,
                "class": type(model).__name__,
                "about": doc,
            }
        )
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    print(tabulate([r.values() for r in rows], headers=list(rows[0]) if rows else []))
