"""Real-schema branches (JetClass / BTag ROOT layout; Top Tagging and Quark-Gluon via their
modules) -> the canonical `JetBatch`.

One conversion per dataset, shared by the ROOT readers and the generator's HDF5 output, so a
file read back from ROOT and the generator's direct output agree bit for bit. Work is
array-at-a-time: jagged branches are flattened once, every feature is computed on the flat
numpy content, and `canonical.pad_flat` does the sorting/padding.

Floating inputs are rounded to float32 first (the dtype of the real files), so converting
float64 branches directly gives the same numbers as writing them to ROOT and reading them back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import awkward as ak
import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.data import schemas
from jetbench.data.canonical import pad_flat
from jetbench.data.format import JetBatch, dataset_info
from jetbench.data.kinematics import lifetime_signed_d0, lifetime_signed_z0, wrap_phi
from jetbench.data.quarkgluon import quarkgluon_batch
from jetbench.data.toptag import toptag_batch

# Track origin rule of the paper-2 code: a track is primary if |trk_prod_z| < PV_TOL, and comes
# from a hadron if its production z equals that hadron's decay z within
# max(ABS_TOL, REL_TOL * |z|) mm. The absolute part (1e-6 mm) is the paper's; the relative part
# (1e-6) only matters above 1 mm and absorbs float32 rounding of z values stored by ROOT files.
PV_TOL = 1e-6
Z_MATCH_ABS_TOL = 1e-6
Z_MATCH_REL_TOL = 1e-6


@dataclass
class _Jagged:
    """Flat content of a group of jagged branches sharing one count per jet."""

    counts: np.ndarray  # int64 [N]
    flat: dict[str, np.ndarray]

    @property
    def jet_of(self) -> np.ndarray:
        """Jet index of every flat entry."""
        return np.repeat(np.arange(len(self.counts)), self.counts)


def _require(branches: Mapping, names: tuple[str, ...], where: str) -> None:
    missing = [n for n in names if n not in branches]
    if missing:
        raise JetbenchError(f"{where}: missing branches: {', '.join(missing)}")


def _as_float(a: np.ndarray) -> np.ndarray:
    return a.astype(np.float32, copy=False) if a.dtype.kind == "f" else a


def _as_int(a: np.ndarray) -> np.ndarray:
    """Integer view of a branch that real files may store as float (JetClass: charge)."""
    return np.rint(a).astype(np.int64) if a.dtype.kind == "f" else a


def _check_finite(name: str, flat: np.ndarray, jet_of, where: str, first_jet: int) -> None:
    if flat.dtype.kind != "f":
        return
    bad = ~np.isfinite(flat)
    if bad.any():
        i = int(np.argmax(bad))
        jet = int(jet_of(i)) + first_jet
        raise JetbenchError(f"{where}: non-finite value (NaN/inf) in branch '{name}' of jet {jet}")


def _counts_values(arr: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """Per-jet counts and flat values; reads the layout directly in the common (uproot) case."""
    layout = arr.layout
    if isinstance(layout, ak.contents.ListOffsetArray) and isinstance(
            layout.content, ak.contents.NumpyArray) and layout.content.data.ndim == 1:
        off = np.asarray(layout.offsets)
        return np.diff(off), np.asarray(layout.content.data)[off[0]:off[-1]]
    return ak.to_numpy(ak.num(arr, axis=1)), np.asarray(ak.to_numpy(ak.flatten(arr, axis=1)))


def _jagged(branches: Mapping, names: tuple[str, ...], where: str, first_jet: int) -> _Jagged:
    """Flatten jagged branches that must share their per-jet counts; check them finite."""
    counts = None
    flat: dict[str, np.ndarray] = {}
    for name in names:
        arr = branches[name]
        if not isinstance(arr, ak.Array):
            arr = ak.Array(arr) if not isinstance(arr, np.ndarray) or arr.dtype == object \
                else ak.from_numpy(arr)
        if arr.ndim != 2:
            raise JetbenchError(f"{where}: branch '{name}' should hold one list per jet, "
                                f"has type {arr.type}")
        try:
            c, values = _counts_values(arr)
        except ValueError as err:
            raise JetbenchError(f"{where}: branch '{name}' has missing values ({err})") from None
        c = c.astype(np.int64, copy=False)
        if counts is None:
            counts = c
        elif len(c) != len(counts) or not np.array_equal(c, counts):
            raise JetbenchError(f"{where}: branch '{name}' has different list lengths than "
                                f"'{names[0]}'")
        flat[name] = _as_float(values)
    assert counts is not None
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for name, values in flat.items():
        _check_finite(name, values, lambda i, o=offsets: np.searchsorted(o, i, side="right") - 1,
                      where, first_jet)
    return _Jagged(counts, flat)


def _scalars(branches: Mapping, names: tuple[str, ...], n: int | None, where: str,
             first_jet: int) -> dict[str, np.ndarray]:
    """One value per jet for each branch; all with the same number of jets (n if given)."""
    out = {}
    for name in names:
        a = branches[name]
        a = ak.to_numpy(a) if isinstance(a, ak.Array) else np.asarray(a)
        if a.ndim != 1:
            raise JetbenchError(f"{where}: branch '{name}' should hold one value per jet, "
                                f"has shape {a.shape}")
        if n is None:
            n = len(a)
        if len(a) != n:
            raise JetbenchError(f"{where}: branch '{name}' has {len(a)} jets, expected {n}")
        a = _as_float(a)
        _check_finite(name, a, lambda i: i, where, first_jet)
        out[name] = a
    return out


def _jet_mass(pt: np.ndarray, eta: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """m = sqrt(E^2 - (pT cosh eta)^2), negatives (resolution) clipped to 0."""
    p = pt.astype(np.float64) * np.cosh(eta.astype(np.float64))
    m2 = energy.astype(np.float64) ** 2 - p**2
    return np.sqrt(np.clip(m2, 0.0, None))


# csts_id by (kind, charge sign): rows hadron / photon / electron / muon, columns q<0, q=0, q>0
_CLASS_TABLE = np.array([[1, 2, 3], [0, 0, 0], [4, 5, 5], [6, 7, 7]], np.int8)


def particle_class(charge: np.ndarray, is_photon: np.ndarray, is_electron: np.ndarray,
                   is_muon: np.ndarray) -> np.ndarray:
    """Canonical csts_id (docs/design.md, 'Data format') from charge and lepton/photon flags; hadrons by charge.

    A particle with several flags counts as muon before electron before photon.
    """
    kind = np.maximum(np.maximum(is_photon.astype(np.int8), is_electron * np.int8(2)),
                      is_muon * np.int8(3))
    sign = np.sign(_as_int(charge)).astype(np.int8) + 1
    return _CLASS_TABLE[kind, sign]


def _jetclass_labels(scal: dict[str, np.ndarray], where: str, first_jet: int) -> np.ndarray:
    onehot = np.stack([scal[n] != 0 for n in schemas.JETCLASS_LABEL_BRANCHES], axis=1)
    n_set = onehot.sum(axis=1)
    bad = n_set != 1
    if bad.any():
        j = int(np.argmax(bad))
        what = "no label_* branch set" if n_set[j] == 0 else f"{n_set[j]} label_* branches set"
        raise JetbenchError(f"{where}: jet {j + first_jet} has {what} (expected exactly one)")
    return np.argmax(onehot, axis=1).astype(np.int16)


def jetclass_batch(branches: Mapping, where: str = "branches", first_jet: int = 0) -> JetBatch:
    """Canonical batch from JetClass branches (`where`/`first_jet` only label error messages)."""
    _require(branches, schemas.JETCLASS_REQUIRED, where)
    parts = _jagged(branches, schemas.JETCLASS_PARTICLE_BRANCHES, where, first_jet)
    jet_names = ("jet_pt", "jet_eta", "jet_phi", "jet_energy", "jet_nparticles")
    scal = _scalars(branches, jet_names + schemas.JETCLASS_LABEL_BRANCHES, len(parts.counts),
                    where, first_jet)
    f = parts.flat
    charged = (_as_int(f["part_charge"]) != 0).astype(np.float32)
    deta, dphi = f["part_deta"], f["part_dphi"]
    features = [
        np.hypot(f["part_px"], f["part_py"]),
        deta,
        dphi,
        lifetime_signed_d0(f["part_d0val"], dphi) * charged,
        f["part_d0err"] * charged,
        lifetime_signed_z0(f["part_dzval"], deta) * charged,
        f["part_dzerr"] * charged,
    ]
    ids = particle_class(f["part_charge"], f["part_isPhoton"] != 0, f["part_isElectron"] != 0,
                         f["part_isMuon"] != 0)
    jets = np.stack([scal["jet_pt"], scal["jet_eta"], scal["jet_phi"],
                     _jet_mass(scal["jet_pt"], scal["jet_eta"], scal["jet_energy"]),
                     scal["jet_nparticles"]], axis=1).astype(np.float32)
    labels = _jetclass_labels(scal, where, first_jet)
    batch = pad_flat(np.stack(features, axis=1), ids, parts.counts, jets, labels,
                     dataset_info("jetclass").n_slots)
    return batch.validate(where)


def hadron_flavour(pdgid: np.ndarray) -> np.ndarray:
    """Heaviest quark in a hadron's PDG id (digits n_q1 n_q2 n_q3): 5 b-hadron, 4 c-hadron.

    Non-hadrons (|id| < 100: quarks, leptons, bosons) give 0.
    """
    n = np.abs(np.asarray(pdgid).astype(np.int64))
    heaviest = np.maximum.reduce([(n // 1000) % 10, (n // 100) % 10, (n // 10) % 10])
    return np.where(n > 100, heaviest, 0)


def track_origin(prod_z: np.ndarray, jet_of: np.ndarray, hadron_counts: np.ndarray,
                 hadron_z: np.ndarray, hadron_pdgid: np.ndarray) -> np.ndarray:
    """Paper rule for flat tracks: 0 primary, 1 c-hadron, 2 b-hadron, 3 other secondary.

    `jet_of` is each track's jet; hadrons are flat with `hadron_counts` per jet. Precedence as in
    the paper code: b over c over primary (a later match overwrites). Loops over the k-th
    hadron of each jet (a handful), each step array-at-a-time over the tracks.
    """
    out = np.full(len(prod_z), 3, np.int8)
    out[np.abs(prod_z) < PV_TOL] = 0
    h_first = np.cumsum(hadron_counts) - hadron_counts
    h_z = hadron_z.astype(np.float64)
    h_flav = hadron_flavour(hadron_pdgid)
    z = prod_z.astype(np.float64)
    n_had = np.asarray(hadron_counts)[jet_of]
    matched = {4: np.zeros(len(z), bool), 5: np.zeros(len(z), bool)}
    for k in range(int(n_had.max(initial=0))):
        trk = np.flatnonzero(n_had > k)
        had = h_first[jet_of[trk]] + k
        close = np.abs(z[trk] - h_z[had]) < np.maximum(Z_MATCH_ABS_TOL,
                                                       Z_MATCH_REL_TOL * np.abs(h_z[had]))
        for flav, hit in matched.items():
            hit[trk[close & (h_flav[had] == flav)]] = True
    out[matched[4]] = 1
    out[matched[5]] = 2
    return out


def _btag_labels(flav: np.ndarray, where: str, first_jet: int) -> np.ndarray:
    lookup = {0: 0, 4: 1, 5: 2}
    f = np.rint(flav).astype(np.int64)
    bad = ~np.isin(f, list(lookup))
    if bad.any():
        j = int(np.argmax(bad))
        raise JetbenchError(f"{where}: jet {j + first_jet} has jet_flav {f[j]} "
                            "(expected 0 light, 4 c or 5 b)")
    return np.select([f == 4, f == 5], [1, 2], 0).astype(np.int16)


def btag_batch(branches: Mapping, where: str = "branches", first_jet: int = 0) -> JetBatch:
    """Canonical batch (with vtx_id and track_type) from BTag branches."""
    _require(branches, schemas.BTAG_REQUIRED, where)
    trk = _jagged(branches, schemas.BTAG_TRACK_BRANCHES, where, first_jet)
    had = _jagged(branches, schemas.BTAG_HADRON_BRANCHES, where, first_jet)
    if len(had.counts) != len(trk.counts):
        raise JetbenchError(f"{where}: hadron branches have {len(had.counts)} jets, "
                            f"track branches {len(trk.counts)}")
    scal = _scalars(branches, schemas.BTAG_JET_BRANCHES, len(trk.counts), where, first_jet)
    f = trk.flat
    jet_of = trk.jet_of
    deta = (f["trk_eta"] - scal["jet_eta"][jet_of]).astype(np.float32)
    dphi = wrap_phi(f["trk_phi"] - scal["jet_phi"][jet_of]).astype(np.float32)
    features = [
        f["trk_pt"], deta, dphi,
        lifetime_signed_d0(f["trk_d0"], dphi), f["trk_d0err"],
        lifetime_signed_z0(f["trk_z0"], deta), f["trk_z0err"],
    ]
    apdg = np.abs(_as_int(f["trk_pdg_id"]))
    ids = particle_class(f["trk_charge"], np.zeros(len(apdg), bool), apdg == 11, apdg == 13)
    types = track_origin(f["trk_prod_z"], jet_of, had.counts, had.flat["hadron_z"],
                         had.flat["hadron_pdgid"])
    jets = np.stack([scal[n] for n in ("jet_pt", "jet_eta", "jet_phi", "jet_M", "n_trks")],
                    axis=1).astype(np.float32)
    labels = _btag_labels(scal["jet_flav"], where, first_jet)
    batch = pad_flat(
        np.stack(features, axis=1), ids, trk.counts, jets, labels, dataset_info("btag").n_slots,
        vtx_id=_as_int(f["trk_vtx_index"]).astype(np.int16), track_type=types,
    )
    return batch.validate(where)


def batch_from_branches(branches: Mapping, dataset: str, where: str = "branches",
                        first_jet: int = 0) -> JetBatch:
    """Canonical batch from a dataset's in-memory branches, by the format of its real files."""
    info = dataset_info(dataset)
    if info.file_format == "toptag_h5":
        return toptag_batch(branches, info, where)
    if info.file_format == "quarkgluon_npz":
        return quarkgluon_batch(branches, info, where)
    fn = jetclass_batch if _root_schema(dataset) == "jetclass_root" else btag_batch
    return fn(branches, where=where, first_jet=first_jet)


def _root_schema(dataset: str) -> str:
    fmt = dataset_info(dataset).file_format
    if fmt not in ("jetclass_root", "btag_root"):
        raise JetbenchError(f"dataset '{dataset}' is not stored as ROOT files (format {fmt})")
    return fmt


def label_branches(dataset: str) -> tuple[str, ...]:
    """The branches holding a ROOT dataset's jet labels (read alone for budgets and mixing)."""
    if _root_schema(dataset) == "jetclass_root":
        return schemas.JETCLASS_LABEL_BRANCHES
    return ("jet_flav",)


def labels_from_branches(branches: Mapping, dataset: str, where: str = "branches",
                         first_jet: int = 0) -> np.ndarray:
    """Label indices from the `label_branches` of a ROOT dataset, checked as the reader does."""
    names = label_branches(dataset)
    _require(branches, names, where)
    scal = {n: np.asarray(ak.to_numpy(branches[n]) if isinstance(branches[n], ak.Array)
                          else branches[n]) for n in names}
    if _root_schema(dataset) == "jetclass_root":
        return _jetclass_labels(scal, where, first_jet)
    return _btag_labels(scal["jet_flav"], where, first_jet)


def required_branches(dataset: str) -> tuple[str, ...]:
    """The branches a reader must load for `dataset` (a ROOT dataset)."""
    if _root_schema(dataset) == "jetclass_root":
        return schemas.JETCLASS_REQUIRED
    return schemas.BTAG_REQUIRED
