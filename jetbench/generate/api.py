"""Public entry points of the embedded generator: branches in memory, or a file on disk."""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path
from typing import Any

import awkward as ak
import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import hash_json
from jetbench.data import convert
from jetbench.data.format import dataset_info
from jetbench.data.quarkgluon import write_quarkgluon_npz
from jetbench.data.store import StoreWriter
from jetbench.data.toptag import write_toptag_h5
from jetbench.generate import btag, jetclass, quarkgluon, toptag
from jetbench.generate.columns import Columns
from jetbench.generate.processes import COMMON_SETTINGS, GENERATOR_VERSION, PROFILES, SOURCES
from jetbench.generate.runner import check_request, generate_columns
from jetbench.generate.shards import DETECTOR

STORE_CHUNK = 20_000  # jets converted to the canonical format at a time (bounded memory)
# h5: canonical store; raw: the real dataset's own file format (root: its name for ROOT datasets)
FORMATS = ("h5", "raw", "root")
FILE_TYPES = {"jetclass": jetclass.DTYPES, "btag": btag.DTYPES, "toptag": toptag.DTYPES,
              "quarkgluon": quarkgluon.DTYPES}


def _branches(profile: str, cols: Columns) -> dict[str, np.ndarray | ak.Array]:
    real = Columns(jet=cols.jet, lists={g: v for g, v in cols.lists.items() if g != "truth"})
    return real.to_branches(FILE_TYPES[PROFILES[profile].dataset])


def generate_branches(profile: str, n: int, seed: int, workers: int = 1,
                      classes: list[str] | None = None,
                      progress: bool = True) -> dict[str, np.ndarray | ak.Array]:
    """n jets of `profile` as real-schema branches (the dataset's file layout and types).

    Constituents/tracks are pT-sorted; n is split evenly over `classes` (default: all labels);
    the result depends only on (profile, n, seed, classes, GENERATOR_VERSION), not on `workers`.
    """
    classes = check_request(profile, n, seed, workers, classes)
    return _branches(profile, generate_columns(profile, n, seed, workers, classes, progress))


def metadata(profile: str, n: int, seed: int, classes: list[str]) -> dict[str, Any]:
    """What a generated file must say about how it was made."""
    import fastjet  # lazy: FastJet (and awkward) load only when jets are clustered

    sources = {c: list(PROFILES[profile].class_sources[c]) for c in classes}
    settings = {s: list(COMMON_SETTINGS + SOURCES[s]) for v in sources.values() for s in v}
    return {
        "generator": "jetbench.generate", "generator_version": GENERATOR_VERSION,
        "profile": profile, "n": n, "seed": seed, "classes": classes,
        "sources": sources, "pythia_settings_hash": hash_json(settings),
        "detector": DETECTOR.params(), "pythia8mc": version("pythia8mc"),
        "fastjet": getattr(fastjet, "__version__", "unknown"),
    }


def generate_file(profile: str, n: int, seed: int, out: str | os.PathLike, workers: int = 1,
                  fmt: str = "h5", classes: list[str] | None = None,
                  progress: bool = True) -> Path:
    """Generate and write n jets: fmt 'h5' = canonical store, 'raw' = the real dataset's file
    format (ROOT for jetclass/btag, also called 'root'; pandas HDF5 table for toptag; npz for
    quarkgluon).

    The file appears only when complete: a failure or Ctrl-C leaves nothing under `out`.
    """
    classes = check_request(profile, n, seed, workers, classes)
    if fmt not in FORMATS:
        raise JetbenchError(f"unknown output format '{fmt}'; known: {', '.join(FORMATS)}")
    file_format = dataset_info(PROFILES[profile].dataset).file_format
    if fmt == "root" and file_format not in ("jetclass_root", "btag_root"):
        raise JetbenchError(f"profile '{profile}' writes {file_format} files, not ROOT; use "
                            "--format raw")
    out = Path(out)
    if out.is_dir():
        raise JetbenchError(f"{out}: is a directory, expected an output file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    branches = generate_branches(profile, n, seed, workers, classes, progress)
    return write_branches(branches, out, profile, fmt, metadata(profile, n, seed, classes))


def write_branches(branches: dict, out: str | os.PathLike, profile: str, fmt: str,
                   meta: dict[str, Any]) -> Path:
    """Write generated branches as a canonical store ('h5', with `meta`) or in the dataset's
    own file format ('raw' / 'root')."""
    out = Path(out)
    dataset = PROFILES[profile].dataset
    if fmt in ("raw", "root"):
        return write_raw(out, branches, dataset)
    n = len(next(iter(branches.values())))
    with StoreWriter(out, dataset, meta) as writer:
        for start in range(0, n, STORE_CHUNK):
            part = {k: v[start:start + STORE_CHUNK] for k, v in branches.items()}
            writer.append(convert.batch_from_branches(part, dataset, where=str(out),
                                                      first_jet=start))
    return out


def write_raw(out: Path, branches: dict, dataset: str) -> Path:
    """Branches in the real dataset's file format (the stand-in writers of jetbench.data)."""
    fmt = dataset_info(dataset).file_format
    if fmt == "toptag_h5":
        return write_toptag_h5(out, branches)
    if fmt == "quarkgluon_npz":
        return write_quarkgluon_npz(out, branches)
    from jetbench.data.rootio import write_root  # lazy: uproot only for ROOT output

    return write_root(out, branches, dataset)
