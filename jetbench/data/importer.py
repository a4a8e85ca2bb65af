"""`jetbench data import`: a user's own jet arrays -> a canonical store.

Inputs: npz, HDF5 (datasets at any path), parquet (via awkward; needs pyarrow) or ROOT (a TTree).
Per-constituent fields are zero-padded 2-D arrays [jets, M] or jagged lists; a constituent is
real when its pT > 0 (padding and pT = 0 entries are dropped). The field mapping names the
user's arrays for the canonical inputs:

- momenta, one of: `e px py pz` (4-vectors) or `pt eta phi` [+ `mass`];
- optional `pid` (PDG id -> canonical particle class) and `d0 d0_err z0 z0_err` (all four);
- the label array (`label_field`): integers 0..K-1 or class names, K = number of labels.

The jet axis is the sum of the constituents (`fourvectors`); inputs a source lacks get the
neutral values of `jetbench.data.features` and are left out of `features_present`. HDF5 and
ROOT inputs are read a chunk at a time; npz and parquet are read whole (their libraries have
no partial reads). The store is written atomically and never replaces a file without `force`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import yaml

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.core.files import write_text
from jetbench.data.definitions import DATASETS, DatasetInfo, definition_yaml
from jetbench.data.features import FEATURES, IMPACT_PARAMETERS, REQUIRED_FEATURES
from jetbench.data.fourvectors import batch_from_p4, from_pt_eta_phi, pdg_class
from jetbench.data.store import JetStore, StoreWriter

MOMENTA = {"p4": ("e", "px", "py", "pz"), "ptetaphi": ("pt", "eta", "phi")}
OPTIONAL = ("mass", "pid", *IMPACT_PARAMETERS)
KNOWN = {*MOMENTA["p4"], *MOMENTA["ptetaphi"], *OPTIONAL}
CHUNK = 20_000


@dataclass(frozen=True)
class FieldMap:
    """Which user array feeds which canonical input."""

    fields: dict[str, str]  # canonical name -> user array name
    label: str

    @property
    def mode(self) -> str:
        has = {m for m, names in MOMENTA.items() if all(n in self.fields for n in names)}
        if len(has) != 1:
            raise JetbenchError("give the momenta as either --field e=,px=,py=,pz= or "
                                "--field pt=,eta=,phi= (one set, complete)")
        mode = has.pop()
        stray = set(self.fields) & set(MOMENTA["ptetaphi" if mode == "p4" else "p4"])
        if stray or (mode == "p4" and "mass" in self.fields):
            raise JetbenchError(f"--field {sorted(stray | ({'mass'} & set(self.fields)))[0]} "
                                "mixes the two ways of giving momenta")
        return mode


def parse_fields(pairs: Sequence[str]) -> dict[str, str]:
    """['pt=part_pt', ...] -> {'pt': 'part_pt', ...}, checked."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise JetbenchError(f"--field '{pair}': expected NAME=ARRAY, e.g. pt=part_pt")
        if key not in KNOWN:
            raise JetbenchError(f"--field '{pair}': unknown input '{key}'; known: "
                                f"{', '.join(sorted(KNOWN))}")
        if key in out:
            raise JetbenchError(f"--field {key} given twice")
        out[key] = value
    ips = [k for k in IMPACT_PARAMETERS if k in out]
    if ips and len(ips) != len(IMPACT_PARAMETERS):
        raise JetbenchError(f"impact parameters need all of {', '.join(IMPACT_PARAMETERS)} "
                            f"(got {', '.join(ips)})")
    return out


# ---- input containers: each yields {user array name: chunk} for the needed names ----

def _npz(path: Path, names: list[str]) -> Iterator[dict]:
    with np.load(path, allow_pickle=False) as z:
        _require(path, names, z.files)
        arrays = {n: z[n] for n in names}
    yield from _slices(arrays, path)


def _h5(path: Path, names: list[str]) -> Iterator[dict]:
    with h5py.File(path, "r") as f:
        found = []
        f.visititems(lambda k, v: found.append(k) if isinstance(v, h5py.Dataset) else None)
        _require(path, names, found)
        n = _same_length(path, {k: f[k].shape for k in names})
        for start in range(0, n, CHUNK):
            yield {k: f[k][start:start + CHUNK] for k in names}


def _parquet(path: Path, names: list[str]) -> Iterator[dict]:
    try:
        import pyarrow  # noqa: F401  # lazy: an optional extra; awkward's parquet reader needs it
    except ImportError:
        raise JetbenchError(f"{path}: reading parquet needs pyarrow (pip install "
                            "'jetbench[parquet]')") from None
    arr = ak.from_parquet(path)
    _require(path, names, arr.fields)
    yield from _slices({n: arr[n] for n in names}, path)


def _root(path: Path, names: list[str], tree: str | None) -> Iterator[dict]:
    import uproot  # lazy: uproot only for ROOT input

    f = uproot.open(path)
    with f:
        trees = [k.split(";")[0] for k, c in f.classnames().items() if c == "TTree"]
        name = tree or (trees[0] if len(trees) == 1 else None)
        if name is None or name not in trees:
            raise JetbenchError(f"{path}: choose the tree with --tree (trees: {', '.join(trees) or 'none'})")
        t = f[name]
        _require(path, names, t.keys())
        for arrays in t.iterate(names, step_size=CHUNK, library="ak"):
            yield {n: arrays[n] for n in names}


def _require(path: Path, names: list[str], available) -> None:
    missing = [n for n in names if n not in set(available)]
    if missing:
        raise JetbenchError(f"{path}: no array named {', '.join(missing)} (found: "
                            f"{', '.join(sorted(map(str, available))[:12])})")


def _same_length(path: Path, shapes: Mapping[str, tuple]) -> int:
    lengths = {k: (s[0] if len(s) else -1) for k, s in shapes.items()}
    if len(set(lengths.values())) != 1:
        raise JetbenchError(f"{path}: arrays have different numbers of jets: {lengths}")
    return next(iter(lengths.values()))


def _slices(arrays: dict, path: Path) -> Iterator[dict]:
    n = _same_length(path, {k: (len(v),) for k, v in arrays.items()})
    for start in range(0, n, CHUNK):
        yield {k: v[start:start + CHUNK] for k, v in arrays.items()}


def chunks(path: Path, names: list[str], tree: str | None = None) -> Iterator[dict]:
    """Chunks of the named arrays of one input file, by its extension."""
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _npz(path, names)
    if suffix in (".h5", ".hdf5", ".hdf"):
        return _h5(path, names)
    if suffix == ".parquet":
        return _parquet(path, names)
    if suffix == ".root":
        return _root(path, names, tree)
    raise JetbenchError(f"{path}: unknown input type '{suffix}' (npz, h5/hdf5, parquet, root)")


# ---- conversion ----

def _flat(a, name: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(flat values, counts) of a padded 2-D or jagged per-constituent array."""
    if isinstance(a, ak.Array) and a.ndim == 2 and not _is_regular(a):
        counts = ak.to_numpy(ak.num(a, axis=1)).astype(np.int64)
        return np.asarray(ak.to_numpy(ak.flatten(a)), np.float64), counts
    a = np.asarray(ak.to_numpy(a) if isinstance(a, ak.Array) else a)
    if a.ndim != 2 or a.dtype.kind not in "fiub":
        raise JetbenchError(f"{where}: '{name}' should hold one number per constituent "
                            f"([jets, constituents]), has shape {a.shape} / dtype {a.dtype}")
    return a.astype(np.float64).reshape(-1), np.full(len(a), a.shape[1], np.int64)


def _is_regular(a: ak.Array) -> bool:
    return isinstance(a.layout, ak.contents.RegularArray) or "var" not in str(a.type)


def _labels(raw, labels: tuple[str, ...], name: str, where: str) -> np.ndarray:
    a = np.asarray(ak.to_numpy(raw) if isinstance(raw, ak.Array) else raw).reshape(-1)
    if a.dtype.kind in "SUO":
        text = np.array([x.decode() if isinstance(x, bytes) else str(x) for x in a])
        unknown = sorted(set(text) - set(labels))
        if unknown:
            raise JetbenchError(f"{where}: label field '{name}' holds '{unknown[0]}', not one of "
                                f"{', '.join(labels)}")
        return np.array([labels.index(x) for x in text], np.int64)
    if a.dtype.kind not in "fiub":
        raise JetbenchError(f"{where}: label field '{name}' has dtype {a.dtype}")
    return a.astype(np.float64)  # range and integrality checked by batch_from_p4


def convert_chunk(arrays: dict, fields: FieldMap, info: DatasetInfo, where: str):
    """One chunk of user arrays -> canonical batch."""
    mode = fields.mode
    momenta = MOMENTA[mode]
    flat, counts = {}, None
    for key, name in fields.fields.items():
        values, c = _flat(arrays[name], name, where)
        if counts is not None and not np.array_equal(c, counts):
            raise JetbenchError(f"{where}: '{name}' has other constituent counts than "
                                f"'{fields.fields[momenta[0]]}'")
        flat[key], counts = values, c
    if mode == "p4":
        p4 = np.stack([flat["px"], flat["py"], flat["pz"], flat["e"]], axis=1)
    else:
        p4 = from_pt_eta_phi(flat["pt"], flat["eta"], flat["phi"], flat.get("mass", 0.0))
    p4 = p4.astype(np.float32).astype(np.float64)
    jet_of = np.repeat(np.arange(len(counts)), counts)
    real = np.hypot(p4[:, 0], p4[:, 1]) > 0  # padding and pT = 0 entries
    if not np.isfinite(p4).all():
        j = int(jet_of[np.argmax(~np.isfinite(p4).all(axis=1))])
        raise JetbenchError(f"{where}: non-finite momentum in jet {j}")
    counts = np.bincount(jet_of[real], minlength=len(counts))
    empty = counts == 0
    if empty.any():
        raise JetbenchError(f"{where}: jet {int(np.argmax(empty))} has no constituent with pT > 0")
    ids = pdg_class(flat["pid"][real]) if "pid" in flat else None
    impact = (np.stack([flat[k][real] for k in IMPACT_PARAMETERS], axis=1)
              if "d0" in flat else None)
    labels = _labels(arrays[fields.label], info.labels, fields.label, where)
    if len(labels) != len(counts):
        raise JetbenchError(f"{where}: label field '{fields.label}' has {len(labels)} jets, the "
                            f"constituent arrays {len(counts)}")
    return batch_from_p4(p4[real], counts, labels, info, where, ids=ids, impact=impact)


def target_dataset(dataset: str | None, name: str | None, labels: Sequence[str] | None,
                   slots: int | None, features: tuple[str, ...]) -> DatasetInfo:
    """A registered dataset (its labels and slots), or a new one from --name/--labels/--slots."""
    if dataset is not None:
        if dataset not in DATASETS:
            raise unknown_name("dataset", dataset, DATASETS)
        info = DATASETS[dataset]
        if labels and tuple(labels) != info.labels:
            raise JetbenchError(f"--labels {','.join(labels)} differ from dataset '{dataset}' "
                                f"({','.join(info.labels)}); omit --labels or use --name")
        if slots and slots != info.n_slots:
            raise JetbenchError(f"--slots {slots}: dataset '{dataset}' has {info.n_slots}")
        extra = set(features) - set(info.features_present)
        if extra:
            raise JetbenchError(f"dataset '{dataset}' has no {', '.join(sorted(extra))}; "
                                "drop those --field options or use --name")
        return info
    name = name or "user"
    if name in DATASETS:
        raise JetbenchError(f"--name {name} is a registered dataset; pass --dataset {name}")
    if not name.isidentifier():
        raise JetbenchError(f"--name '{name}' must be an identifier (letters, digits, _)")
    if not labels or len(labels) < 2 or len(set(labels)) != len(labels):
        raise JetbenchError("--labels must name at least two distinct classes, e.g. gluon,quark")
    slots = slots or 128
    if not 1 <= slots <= 4096:
        raise JetbenchError(f"--slots must be in 1..4096, got {slots}")
    return DatasetInfo(name, slots, tuple(labels), False, features_present=features)


def import_arrays(sources: Sequence[str | os.PathLike], out: str | os.PathLike,
                  fields: Mapping[str, str], label_field: str, labels: Sequence[str] | None = None,
                  dataset: str | None = None, name: str | None = None, slots: int | None = None,
                  tree: str | None = None, force: bool = False,
                  definitions_dir: str | os.PathLike | None = None) -> Path:
    """Convert user arrays into one canonical store (see the module docstring). A new dataset's
    definition (labels, slots, inputs present) is also written to `definitions_dir/<name>.yaml`
    when given — a task folder's `datasets/`, where task YAMLs find it."""
    fmap = FieldMap(dict(fields), label_field)
    mode = fmap.mode
    if (dataset is None and name in DATASETS and definitions_dir is not None
            and Path(DATASETS[name].origin).resolve()
            == (Path(definitions_dir) / f"{name}.yaml").resolve()):
        dataset = name  # importing again into the dataset this folder defines
    features = tuple(f for f in FEATURES if f in (
        *REQUIRED_FEATURES, *(IMPACT_PARAMETERS if "d0" in fields else ()),
        *(("id",) if "pid" in fields else ())))
    info = target_dataset(dataset, name, labels, slots, features)
    paths = [Path(s) for s in sources]
    if not paths:
        raise JetbenchError("no input files given")
    for p in paths:
        if not p.is_file():
            raise JetbenchError(f"{p}: no such file")
    out = Path(out)
    if out.is_dir():
        raise JetbenchError(f"{out}: is a directory, expected an output file name")
    if out.exists() and not force:
        raise JetbenchError(f"{out}: exists; pass --force to replace it")
    if any(out.resolve() == p.resolve() for p in paths):
        raise JetbenchError(f"{out}: output would overwrite an input file")
    names = sorted(set(fmap.fields.values()) | {label_field})
    meta = {"source": "import", "mode": mode, "fields": dict(fields), "label_field": label_field,
            "inputs": [p.name for p in paths]}
    with StoreWriter(out, info, meta) as writer:
        for p in paths:
            first = 0
            for arrays in chunks(p, names, tree):
                n = len(arrays[label_field])
                writer.append(convert_chunk(arrays, fmap, info, f"{p} [jets {first}-{first + n - 1}]"))
                first += n
        if writer.n == 0:
            raise JetbenchError(f"{', '.join(map(str, paths))}: no jets to import")
    with JetStore(out):  # the header reads back
        pass
    if definitions_dir is not None and dataset is None:
        write_definition(info, Path(definitions_dir), force, f"imported from {', '.join(meta['inputs'])}")
    return out


def write_definition(info: DatasetInfo, folder: Path, force: bool, description: str) -> Path:
    """`folder/<name>.yaml` for a new dataset; an existing different one needs `force` (the
    same definition, whatever its description, is left as it is)."""
    path = folder / f"{info.name}.yaml"
    text = definition_yaml(info, description)
    if path.exists() and not force:
        def fields(t: str) -> dict:
            d = yaml.safe_load(t) or {}
            return {k: v for k, v in d.items() if k != "description"} if isinstance(d, dict) else {}

        if fields(path.read_text()) != fields(text):
            raise JetbenchError(f"{path}: a different definition of dataset '{info.name}' exists; "
                                "pass --force to replace it")
        return path
    write_text(path, text)
    return path
