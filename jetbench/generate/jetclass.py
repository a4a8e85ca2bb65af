"""The `jetclass` profile: boosted anti-kT R = 0.8 jets, truth-matched to their resonance.

A jet of a signal class is kept when the resonance (H, W, Z or t) *and* all its decay quarks (and
the charged lepton for Hqql/Tbl) lie within dR < 0.8 of the jet axis; QCD keeps every jet in the
window 500 < pT < 1000 GeV, |eta| < 2. Constituents are all reconstructed objects of the jet.
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from jetbench.data.format import dataset_info
from jetbench.data.kinematics import wrap_phi
from jetbench.generate import detector as det
from jetbench.generate.clustering import Jets, antikt, substructure
from jetbench.generate.columns import Columns
from jetbench.generate.truth import daughters, delta_r, eta_phi, first_index, last_copy

RADIUS = 0.8
PT_MIN, PT_MAX, ETA_MAX = 500.0, 1000.0, 2.0


@dataclass(frozen=True)
class Window:
    """Jet selection of a boosted-jet profile: anti-kT radius and the pT / |eta| window."""

    radius: float
    pt_min: float
    pt_max: float
    eta_max: float


WINDOW = Window(RADIUS, PT_MIN, PT_MAX, ETA_MAX)
LEPTONS = {11, 13}
QUARKS = {1, 2, 3, 4, 5}
LABELS = dataset_info("jetclass").labels
DTYPES = {f"label_{k}": np.bool_ for k in LABELS}  # ROOT file types; other branches float32


@dataclass
class Candidate:
    """A resonance decay a jet may be matched to: its class and the points that must be inside."""

    label: str
    points: np.ndarray  # [k, 2] eta, phi of the resonance and its decay products


def _decay_products(record: list, i: int) -> list[int]:
    return daughters(record, last_copy(record, i))


def _boson_candidate(record, i_boson, label) -> Candidate | None:
    """A W/Z/H -> 2 body decay (quarks or gluons)."""
    prods = _decay_products(record, i_boson)
    if len(prods) != 2:
        return None
    return Candidate(label, eta_phi(record, [last_copy(record, i_boson), *prods]))


def _higgs_ww_candidate(record, i_higgs, label) -> Candidate | None:
    """H -> WW*: 4 quarks (H4q) or 2 quarks + e/mu (Hqql; the neutrino need not be inside)."""
    keep = []
    n_lep = 0
    for w in _decay_products(record, i_higgs):
        if record[w].idAbs() != 24:
            return None
        for d in _decay_products(record, w):
            a = record[d].idAbs()
            if a in QUARKS:
                keep.append(d)
            elif a in LEPTONS:
                keep.append(d)
                n_lep += 1
    want_lep = 1 if label == "Hqql" else 0
    if n_lep != want_lep or len(keep) != 4 - want_lep:
        return None
    return Candidate(label, eta_phi(record, [last_copy(record, i_higgs), *keep]))


def _top_candidates(record) -> list[Candidate]:
    """Both tops: t -> b qq' (Tbqq) or t -> b l nu with l = e, mu (Tbl)."""
    out = []
    for pid in (6, -6):
        i_top = first_index(record, pid)
        if i_top is None:
            continue
        prods = _decay_products(record, i_top)
        b = [d for d in prods if record[d].idAbs() == 5]
        w = [d for d in prods if record[d].idAbs() == 24]
        if len(b) != 1 or len(w) != 1:
            continue
        w_prods = _decay_products(record, w[0])
        ids = {record[d].idAbs() for d in w_prods}
        if ids <= QUARKS:
            keep, label = w_prods, "Tbqq"
        elif ids & LEPTONS:
            keep, label = [d for d in w_prods if record[d].idAbs() in LEPTONS], "Tbl"
        else:
            continue
        out.append(Candidate(label, eta_phi(record, [last_copy(record, i_top), b[0], *keep])))
    return out


def candidates(record: list, klass: str) -> list[Candidate]:
    """Truth candidates of one event for a class (QCD: none, every jet counts)."""
    if klass == "QCD":
        return []
    if klass in ("Tbqq", "Tbl"):
        return _top_candidates(record)
    target = {"Zqq": 23, "Wqq": 24}.get(klass, 25)
    i = first_index(record, target, signed=False)
    if i is None:
        return []
    build = _higgs_ww_candidate if klass in ("H4q", "Hqql") else _boson_candidate
    cand = build(record, i, klass)
    return [cand] if cand is not None else []


def select(jets: Jets, event_cands: list[list[Candidate]], klass: str,
           cut: Window = WINDOW) -> np.ndarray:
    """Indices of the jets kept for `klass`, in (event, decreasing pT) order (jets come from
    `antikt` with `cut.pt_min` already applied)."""
    pt, eta, phi = jets.pt, jets.eta, jets.phi
    window = np.flatnonzero((pt < cut.pt_max) & (np.abs(eta) < cut.eta_max))
    window = window[np.lexsort((-pt[window], jets.event[window]))]
    if klass == "QCD":
        return window
    kept = []
    used: set[tuple[int, int]] = set()
    for j in window:
        ev = int(jets.event[j])
        for c_i, cand in enumerate(event_cands[ev]):
            if cand.label != klass or (ev, c_i) in used:
                continue
            if np.all(delta_r(cand.points[:, 0], cand.points[:, 1], eta[j], phi[j]) < cut.radius):
                used.add((ev, c_i))
                kept.append(j)
                break
    return np.asarray(kept, dtype=np.int64)


def chunk_columns(reco: det.Reco, counts: np.ndarray, event_cands: list[list[Candidate]],
                  klass: str, limit: int) -> Columns:
    """Cluster a chunk of events, keep up to `limit` jets of `klass`, and build their columns."""
    jets = antikt(reco.p4, counts, RADIUS, PT_MIN)
    keep = select(jets, event_cands, klass)[:limit]
    return jet_columns(reco, jets, keep, klass)


def sorted_constituents(p4_all: np.ndarray, jets: Jets, keep: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Constituents of the kept jets in pT order inside each jet (stable), as the canonical
    format and the real files have them: counts, flat particle indices, jet of each, p4, pT."""
    const = jets.constituents[keep]
    counts = ak.to_numpy(ak.num(const, axis=1)).astype(np.int64)
    flat = ak.to_numpy(ak.flatten(const, axis=1))
    jet_of = np.repeat(np.arange(len(keep)), counts)
    p4 = p4_all[flat]
    pt = np.hypot(p4[:, 0], p4[:, 1])
    order = np.lexsort((-pt, jet_of))
    return counts, flat[order], jet_of, p4[order], pt[order]


def jet_columns(reco: det.Reco, jets: Jets, keep: np.ndarray, klass: str) -> Columns:
    cols = Columns()
    if len(keep) == 0:
        return cols
    counts, flat, jet_of, p4, pt = sorted_constituents(reco.p4, jets, keep)
    eta = np.arcsinh(p4[:, 2] / np.maximum(pt, 1e-12))
    phi = np.arctan2(p4[:, 1], p4[:, 0])
    jeta, jphi = jets.eta[keep], jets.phi[keep]
    kind = reco.kind[flat]
    part = {
        "part_px": p4[:, 0], "part_py": p4[:, 1], "part_pz": p4[:, 2], "part_energy": p4[:, 3],
        "part_deta": eta - jeta[jet_of], "part_dphi": wrap_phi(phi - jphi[jet_of]),
        "part_d0val": reco.d0[flat], "part_d0err": reco.d0_err[flat],
        "part_dzval": reco.z0[flat], "part_dzerr": reco.z0_err[flat],
        "part_charge": reco.charge[flat],
        "part_isChargedHadron": (kind == det.CHARGED_HADRON).astype(np.float64),
        "part_isNeutralHadron": (kind == det.NEUTRAL_HADRON).astype(np.float64),
        "part_isPhoton": (kind == det.PHOTON).astype(np.float64),
        "part_isElectron": (kind == det.ELECTRON).astype(np.float64),
        "part_isMuon": (kind == det.MUON).astype(np.float64),
    }
    n = len(keep)
    cols.jet = {
        "jet_pt": jets.pt[keep], "jet_eta": jeta, "jet_phi": jphi,
        "jet_energy": jets.p4[keep, 3], "jet_nparticles": counts.astype(np.float64),
        **{f"label_{k}": np.full(n, k == klass) for k in LABELS},
        "aux_truth_match": np.full(n, 0.0 if klass == "QCD" else 1.0),
    }
    cols.lists["part"] = (counts, part)
    return cols


def add_substructure(cols: Columns) -> Columns:
    """jet_sdmass and jet_tau1..4 of all jets of a shard in one FastJet call."""
    if not len(cols):
        return cols
    counts, part = cols.lists["part"]
    p4 = np.column_stack([part["part_px"], part["part_py"], part["part_pz"],
                          part["part_energy"]])
    sub = substructure(p4, counts)
    cols.jet["jet_sdmass"] = sub["sdmass"]
    for i in range(1, 5):
        cols.jet[f"jet_tau{i}"] = sub[f"tau{i}"]
    return cols
