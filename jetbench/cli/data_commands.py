"""`jetbench data ...` commands."""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import typer
from tabulate import tabulate

from jetbench.cli.app import data_app
from jetbench.core import preflight
from jetbench.core.paths import real_data_dir


@data_app.command("info")
def info(path: Path, as_json: bool = typer.Option(False, "--json", help="Print JSON."),
         verify: bool = typer.Option(False, "--verify", help="Check every jet and recompute the "
                                     "content hash (reads the whole file).")) -> None:
    """Counts per class and feature summaries of a canonical store."""
    from jetbench.data.info import summarize  # lazy: h5py; `jetbench --help` stays fast
    from jetbench.data.store import verify_store  # lazy: h5py

    s = summarize(path)
    if verify:
        s["verified"] = verify_store(path) == s["content_hash"]
    if as_json:
        print(json.dumps(s, indent=2))
        return
    print(f"{s['path']}: dataset {s['dataset']}, {s['n_jets']} jets, "
          f"{s['mean_constituents']:.1f} constituents/jet, hash {s['content_hash']}"
          f"{' (verified)' if verify else ''}")
    print(f"inputs present: {', '.join(s['features_present'])}")
    print(tabulate(s["class_counts"].items(), headers=["class", "jets"]))
    rows = [(k, v["mean"], v["std"], v["min"], v["max"]) for k, v in s["features"].items()]
    print(tabulate(rows, headers=["feature", "mean", "std", "min", "max"], floatfmt=".4g"))


@data_app.command("convert")
def convert(
    src: list[str] = typer.Argument(..., help="ROOT / Top Tagging HDF5 / Quark-Gluon npz / "
                                    "paper-2 HDF5 / store file(s) or glob(s)."),
    dataset: str = typer.Option(None, "--dataset", help="Dataset name (inferred if omitted)."),
    out: Path = typer.Option(..., "--out", help="Canonical HDF5 store to write."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out file."),
) -> None:
    """Convert real-dataset files into one canonical store (streamed; nothing left on failure)."""
    from jetbench.data.readers import convert_file  # lazy: uproot and awkward
    from jetbench.data.store import JetStore  # lazy: h5py

    inputs = {f for pattern in src for f in glob.glob(pattern) if os.path.isfile(f)}
    preflight.check_output_file(out, "--out", force, sum(os.path.getsize(f) for f in inputs))

    path = convert_file(src, dataset, out)
    with JetStore(path) as store:
        print(f"{path}: {len(store)} {store.dataset} jets, hash {store.content_hash}")


@data_app.command("download")
def download(
    dataset: str = typer.Argument(..., help="Dataset name: jetclass, btag, toptag, quarkgluon."),
    dest: Path = typer.Option(None, "--dest",
                              help="Folder (default: $JETBENCH_REAL_DATA/<dataset>, else "
                              "$JETBENCH_DATA/real/<dataset>: where the paper-scale splits "
                              "read it)."),
    mirror: str = typer.Option(None, "--mirror", help="Base URL with Zenodo's layout "
                               "(default: $JETBENCH_MIRROR, else https://zenodo.org)."),
    files: str = typer.Option(None, "--files", help="Glob on file names, e.g. '*small*'."),
    extract: bool = typer.Option(False, "--extract", help="Unpack downloaded tar archives."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Download the real dataset from Zenodo: verified checksums, resumable, atomic."""
    from jetbench.data.download import download as fetch  # lazy: network client

    dest = dest or real_data_dir(dataset)
    preflight.check_output_dir(dest, "download folder")
    for path in fetch(dataset, dest, mirror=mirror, files=files, extract=extract,
                      progress=progress):
        print(path)
