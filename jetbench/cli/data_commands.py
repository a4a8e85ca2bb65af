"""`jetbench data ...` commands."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from tabulate import tabulate

from jetbench.cli.app import data_app


@data_app.command("info")
def info(path: Path, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Counts per class and feature summaries of a canonical store."""
    from jetbench.data.info import summarize

    s = summarize(path)
    if as_json:
        print(json.dumps(s, indent=2))
        return
    print(f"{s['path']}: dataset {s['dataset']}, {s['n_jets']} jets, "
          f"{s['mean_constituents']:.1f} constituents/jet, hash {s['content_hash']}")
    print(tabulate(s["class_counts"].items(), headers=["class", "jets"]))
    rows = [(k, v["mean"], v["std"], v["min"], v["max"]) for k, v in s["features"].items()]
    print(tabulate(rows, headers=["feature", "mean", "std", "min", "max"], floatfmt=".4g"))
