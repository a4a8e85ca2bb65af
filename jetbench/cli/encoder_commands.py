"""`jetbench list encoders`: what each registered encoder is, read from its card (no model built)."""

from __future__ import annotations

import json

import typer
from tabulate import tabulate

from jetbench.cli.app import list_app
from jetbench.core.errors import unknown_name
from jetbench.core.scales import SCALES
from jetbench.encoders.cards import encoder_cards


def _sizes(name: str, scale: str) -> dict:
    """Embedding width and parameter count: these need the model, so only with --sizes."""
    from jetbench.encoders import create_encoder  # lazy: torch and every model module

    meta = create_encoder(name, scale).meta
    return {"embed_dim": meta.embed_dim, "n_params": meta.n_params}


@list_app.command("encoders")
def list_encoders_cmd(
    scale: str = typer.Option("cpu", "--scale", help="Scale of the shipped checkpoint and of "
                              "--sizes: smoke | cpu | paper."),
    sizes: bool = typer.Option(False, "--sizes", help="Also build each model to report its "
                               "embedding width and parameter count (slow)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Registered encoders (built-in, plug-ins): family, pretraining targets, paper, and whether a
    pretrained checkpoint ships with jetbench (otherwise `jetbench run` pretrains it once)."""

    if scale not in SCALES:
        raise unknown_name("scale", scale, SCALES)
    cards = encoder_cards()
    rows = []
    for card in cards:
        shipped = card.shipped_checkpoint(scale)
        row = {"name": card.name, "family": card.family,
               "pretraining target": ", ".join(card.targets) or card.about,
               "checkpoint": "ships" if shipped else ("made on first use" if card.pretrained
                                                      else "not needed")}
        if sizes:
            row.update(_sizes(card.name, scale))
        rows.append(row)
    if as_json:
        print(json.dumps([{**r, "about": c.about, "paper": c.paper, "targets": c.targets,
                           "source": c.source} for r, c in zip(rows, cards, strict=True)], indent=2))
        return
    print(tabulate([r.values() for r in rows], headers=list(rows[0]) if rows else []))
    families = {c.family: c for c in cards if c.paper}  # one line per paper family
    print("\n" + "\n".join(f"{f}: {c.family_about or c.about} ({c.paper})"
                           for f, c in families.items()))
