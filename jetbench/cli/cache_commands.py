"""`jetbench cache list|clear`: see and empty the embedding cache (frozen/linear protocols)."""

from __future__ import annotations

import json
import time

import typer
from tabulate import tabulate

from jetbench.cli.app import app

cache_app = typer.Typer(no_args_is_help=True, help="List and clear the embedding cache.")
app.add_typer(cache_app, name="cache")


def _size(n: int) -> str:
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


@cache_app.command("list")
def list_cache(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Sizes per encoder and task, the total and the cap ($JETBENCH_EMBED_CACHE_GB)."""
    from jetbench.protocols.embedding_cache import cache_root, cap_bytes, summary  # lazy: torch

    groups = summary()
    total = sum(g.bytes for g in groups)
    if as_json:
        print(json.dumps({"root": str(cache_root()), "bytes": total, "cap_bytes": cap_bytes(),
                          "groups": [vars(g) for g in groups]}, indent=2))
        return
    rows = [(g.encoder, g.tasks, g.files, _size(g.bytes),
             time.strftime("%Y-%m-%d %H:%M", time.localtime(g.last_used))) for g in groups]
    if rows:
        print(tabulate(rows, headers=["encoder", "tasks", "files", "size", "last used"]))
    print(f"{_size(total)} of {_size(cap_bytes())} in {cache_root()}")


@cache_app.command("clear")
def clear_cache(
    encoder: str = typer.Option(None, "--encoder", help="Only this encoder's embeddings."),
    task: str = typer.Option(None, "--task", help="Only embeddings a run of this task used."),
    everything: bool = typer.Option(False, "--all", help="The whole embedding cache."),
) -> None:
    """Delete cached embeddings (they are recomputed when a run needs them again)."""
    from jetbench.protocols.embedding_cache import clear  # lazy: torch (jetbench.protocols)

    files, n_bytes = clear(encoder, task, everything)
    print(f"removed {files} file(s), {_size(n_bytes)}")
