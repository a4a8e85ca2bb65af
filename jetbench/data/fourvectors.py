"""Constituent 4-vectors -> canonical batch: the jet axis and every feature computed from them.

Shared by the sources that store only momenta (Top Tagging Landscape: E, px, py, pz; Quark-Gluon:
pT, y, phi, PDG id; a user's own arrays), so each computes the jet the same way: the jet
4-vector is the sum of its constituents, the features are pT and (eta, phi) relative to that
axis. Everything is computed in float64 from float32-rounded inputs (the files' precision), so
a generated sample and the same sample written to its file format and read back agree bit for bit.
"""

from __future__ import annotations

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.data.canonical import pad_flat
from jetbench.data.features import FEATURES, IMPACT_PARAMETERS, MISSING_ID, REQUIRED_FEATURES
from jetbench.data.format import DatasetInfo, JetBatch
from jetbench.data.kinematics import pt_eta_phi, sum_per_jet, wrap_phi

# PDG id -> (mass GeV, charge) of the long-lived particles found in generator final states;
# other ids count as massless and neutral
_PARTICLES = {
    22: (0.0, 0), 11: (0.000511, -1), 13: (0.105658, -1), 211: (0.139570, 1),
    321: (0.493677, 1), 130: (0.497611, 0), 310: (0.497611, 0), 2212: (0.938272, 1),
    2112: (0.939565, 0), 3122: (1.115683, 0), 3222: (1.18937, 1), 3112: (1.197449, -1),
    3322: (1.31486, 0), 3312: (1.32171, -1), 3334: (1.67245, -1),
}
_IDS = np.array(sorted(_PARTICLES))
_MASS = np.array([_PARTICLES[i][0] for i in _IDS])
_CHARGE = np.array([_PARTICLES[i][1] for i in _IDS])
# canonical class by (kind, charge sign): hadron / photon / electron / muon x (q<0, q=0, q>0)
_CLASS_TABLE = np.array([[1, 2, 3], [0, 0, 0], [4, 5, 5], [6, 7, 7]], np.int8)


def _lookup(pid: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a = np.abs(np.rint(np.clip(pid, -2**31, 2**31))).astype(np.int64)  # fuzzed ids stay in range
    pos = np.clip(np.searchsorted(_IDS, a), 0, len(_IDS) - 1)
    known = _IDS[pos] == a
    return np.where(known, table[pos], 0), a


def pdg_mass(pid: np.ndarray) -> np.ndarray:
    return _lookup(pid, _MASS)[0].astype(np.float64)


def pdg_class(pid: np.ndarray) -> np.ndarray:
    """Canonical csts_id (photon, h-, h0, h+, e-, e+, mu-, mu+) from PDG ids.

    The sign of a PDG id is the particle/antiparticle flag: 211 is pi+, but 11 is e- and 13 mu-;
    the charge table carries that, so e.g. -11 (e+) gets code 5.
    """
    charge, a = _lookup(pid, _CHARGE)
    charge = charge * np.sign(np.rint(np.clip(pid, -2**31, 2**31))).astype(np.int64)
    kind = np.select([a == 22, a == 11, a == 13], [1, 2, 3], 0)
    return _CLASS_TABLE[kind, np.sign(charge) + 1]


def from_pt_y_phi(pt, y, phi, mass) -> np.ndarray:
    """[T, 4] (px, py, pz, E) of particles given by pT, rapidity, azimuth and mass."""
    pt, y, phi, mass = (np.asarray(a, np.float64) for a in (pt, y, phi, mass))
    mt = np.sqrt(pt**2 + mass**2)
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(y), mt * np.cosh(y)], axis=1)


def from_pt_eta_phi(pt, eta, phi, mass) -> np.ndarray:
    """[T, 4] (px, py, pz, E) of particles given by pT, pseudorapidity, azimuth and mass."""
    pt, eta, phi, mass = (np.asarray(a, np.float64) for a in (pt, eta, phi, mass))
    pz = pt * np.sinh(eta)
    return np.stack([pt * np.cos(phi), pt * np.sin(phi), pz,
                     np.sqrt(pt**2 + pz**2 + mass**2)], axis=1)


def batch_from_p4(p4: np.ndarray, counts: np.ndarray, labels: np.ndarray, info: DatasetInfo,
                  where: str, ids: np.ndarray | None = None,
                  impact: np.ndarray | None = None,
                  features: tuple[str, ...] | None = None) -> JetBatch:
    """Canonical batch from flat constituent 4-vectors [T, 4] (px, py, pz, E) with `counts`
    per jet. `ids` are canonical class codes (None: the neutral MISSING_ID), `impact` [T, 4]
    (d0, d0_err, z0, z0_err, None: zeros); `features` says which inputs are real (default:
    pT/eta/phi, plus id and impact parameters when given)."""
    counts = np.asarray(counts, np.int64)
    p4 = np.asarray(p4, np.float64).reshape(-1, 4)
    if len(p4) != counts.sum() or (counts < 0).any():
        raise JetbenchError(f"{where}: {len(p4)} constituents but counts add up to {counts.sum()}")
    if not np.isfinite(p4).all():
        j = int(np.searchsorted(np.cumsum(counts), np.argmax(~np.isfinite(p4).all(axis=1)), "right"))
        raise JetbenchError(f"{where}: non-finite constituent momentum in jet {j}")
    jet = sum_per_jet(p4, counts)
    jpt, jeta, jphi = pt_eta_phi(jet[:, 0], jet[:, 1], jet[:, 2])
    jmass = np.sqrt(np.clip(jet[:, 3] ** 2 - (jet[:, :3] ** 2).sum(axis=1), 0.0, None))
    pt, eta, phi = pt_eta_phi(p4[:, 0], p4[:, 1], p4[:, 2])
    jet_of = np.repeat(np.arange(len(counts)), counts)
    feats = np.zeros((len(p4), 7), np.float32)
    feats[:, 0] = pt
    feats[:, 1] = eta - jeta[jet_of]
    feats[:, 2] = wrap_phi(phi - jphi[jet_of])
    if impact is not None:
        feats[:, 3:] = impact
    if features is None:
        features = (*REQUIRED_FEATURES, *(IMPACT_PARAMETERS if impact is not None else ()),
                    *(("id",) if ids is not None else ()))
    present = tuple(f for f in FEATURES if f in features)
    if ids is None:
        ids = np.full(len(p4), MISSING_ID, np.int8)
    labels = np.asarray(labels)
    bad = (labels < 0) | (labels >= len(info.labels)) | (labels != np.rint(labels))
    if bad.any():
        j = int(np.argmax(bad))
        raise JetbenchError(f"{where}: jet {j} has label {labels[j]}, expected an integer in "
                            f"0..{len(info.labels) - 1} ({', '.join(info.labels)})")
    jets = np.stack([jpt, jeta, jphi, jmass, counts.astype(np.float64)], axis=1)
    batch = pad_flat(feats, np.asarray(ids, np.int8), counts, jets, labels.astype(np.int16),
                     info.n_slots)
    batch.features_present = present
    return batch.validate(where, n_labels=len(info.labels))


def binary_labels(raw: np.ndarray, field: str, where: str, first: int = 0) -> np.ndarray:
    """A 0/1 label column (is_signal_new, y) as int16 label indices; anything else refused."""
    bad = (raw != 0) & (raw != 1)
    if bad.any():
        j = int(np.argmax(bad))
        raise JetbenchError(f"{where}: jet {first + j} has {field} = {raw[j]} (expected 0 or 1)")
    return raw.astype(np.int16)
