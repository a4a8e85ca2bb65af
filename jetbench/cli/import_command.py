"""`jetbench data import`: turn your own jet arrays into a canonical store."""

from __future__ import annotations

from pathlib import Path

import typer

from jetbench.cli.app import data_app
from jetbench.core.hashing import sha256_file


@data_app.command("import")
def import_(
    src: list[Path] = typer.Argument(..., help="Input file(s): .npz, .h5/.hdf5, .parquet, .root."),
    out: Path = typer.Option(..., "--out", help="Canonical HDF5 store to write."),
    field: list[str] = typer.Option(..., "--field", help="INPUT=ARRAY, e.g. pt=part_pt. Momenta: "
                                    "e,px,py,pz or pt,eta,phi[,mass]; optional pid and "
                                    "d0,d0_err,z0,z0_err."),
    label_field: str = typer.Option(..., "--label-field", help="Per-jet label array "
                                    "(integers 0..K-1 or class names)."),
    labels: str = typer.Option(None, "--labels", help="Class names in label order, e.g. "
                               "gluon,quark (not needed with --dataset)."),
    dataset: str = typer.Option(None, "--dataset", help="Store as a registered dataset "
                                "(its labels and slots), e.g. quarkgluon."),
    name: str = typer.Option(None, "--name", help="Name of a new dataset (default: user)."),
    slots: int = typer.Option(None, "--slots", help="Constituent slots per jet (new dataset; "
                              "default 128)."),
    tree: str = typer.Option(None, "--tree", help="TTree of a ROOT input (if several)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out file."),
    tasks_dir: Path = typer.Option(None, "--tasks-dir", help="Task folder: a new dataset's "
                                   "definition (--name) is written to <folder>/datasets/<name>.yaml, "
                                   "where tasks in the folder find it."),
) -> None:
    """Import jet arrays (4-vectors or pT/eta/phi, optional id and impact parameters, labels)."""
    from jetbench.data.importer import import_arrays, parse_fields  # lazy: awkward; --help fast
    from jetbench.data.store import JetStore  # lazy: h5py; `jetbench --help` stays fast

    names = [x.strip() for x in labels.split(",") if x.strip()] if labels else None
    definitions = None if tasks_dir is None else tasks_dir / "datasets"
    path = import_arrays(src, out, parse_fields(field), label_field, names, dataset, name, slots,
                         tree, force, definitions_dir=definitions)
    with JetStore(path) as store:
        print(f"{path}: {len(store)} {store.dataset} jets ({', '.join(store.labels)}), inputs "
              f"{', '.join(store.features_present)}, hash {store.content_hash}")
    print(f"sha256 {sha256_file(str(path))} (pin it in a task split: {{path: ..., sha256: ...}})")
    if definitions is not None and dataset is None:
        print(f"dataset definition: {definitions / (name or 'user')}.yaml")
