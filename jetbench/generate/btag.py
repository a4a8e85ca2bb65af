"""The `btag` profile: anti-kT R = 0.4 jets, their charged tracks, and vertex/origin truth.

Flavour: a jet is b (c) if a weakly decaying b- (c-) hadron with pT > 5 GeV lies within
dR < 0.4 of its axis (b before c before light). Weakly decaying = a b/c hadron with
c*tau0 > 1 um none of whose daughters carries the same heavy flavour (so B* -> B gamma and
B0 -> B0bar oscillations count at the last hadron).

Vertex truth: a track's production vertex is the decay point of its nearest long-lived ancestor
(c*tau0 > 1 um: b/c hadrons, K0S, Lambda, tau, ...), found by walking the mother chain through
short-lived states (rho, K*, D*, pi0, partons of hadronic decays); no such ancestor = primary
vertex (z = 0 exactly: Pythia puts the collision at the origin). Track origin: primary, c or b
if that vertex is the decay point of a weakly decaying c or b hadron, other otherwise — exactly
what the paper's z-matching rule reads back from trk_prod_z / hadron_z (`_separate_z`).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from jetbench.data.convert import Z_MATCH_ABS_TOL, Z_MATCH_REL_TOL, hadron_flavour
from jetbench.generate.clustering import antikt
from jetbench.generate.columns import Columns
from jetbench.generate.detector import Reco
from jetbench.generate.pythia_source import LONG_LIVED_TAU0, FinalState, PythiaSource
from jetbench.generate.truth import daughters, delta_r

RADIUS = 0.4
PT_MIN, ETA_MAX = 20.0, 2.5
MAX_TRACKS = 15
HADRON_PT_MIN = 5.0
FLAVOUR = {"light": 0, "c": 4, "b": 5}
DTYPES = {"trk_vtx_index": np.int32, "trk_pdg_id": np.int32, "trk_charge": np.int32,
          "hadron_pdgid": np.int32, "n_trks": np.int32, "jet_flav": np.int32}
PV = -1  # vertex key of the primary vertex


@dataclass
class Hadrons:
    """Weakly decaying b/c hadrons of one event."""

    index: np.ndarray  # record index
    pid: np.ndarray
    flavour: np.ndarray  # 4 or 5
    eta: np.ndarray
    phi: np.ndarray
    pt: np.ndarray


def weak_hadrons(record: list, src: PythiaSource) -> Hadrons:
    pid = np.array([q.id() for q in record], dtype=np.int64)
    flav = hadron_flavour(pid)
    cand = np.flatnonzero(flav >= 4)
    cand = cand[src.tau0(pid[cand]) > LONG_LIVED_TAU0] if len(cand) else cand
    weak = [int(i) for i in cand
            if not any(flav[d] == flav[i] for d in daughters(record, int(i)))]
    mom = np.array([(record[i].px(), record[i].py(), record[i].pz()) for i in weak],
                   dtype=np.float64).reshape(-1, 3)
    pt = np.hypot(mom[:, 0], mom[:, 1])
    return Hadrons(np.array(weak, dtype=np.int64), pid[weak], flav[weak],
                   np.arcsinh(mom[:, 2] / np.maximum(pt, 1e-12)),
                   np.arctan2(mom[:, 1], mom[:, 0]), pt)


class VertexFinder:
    """Production-vertex key (record index of the decayed long-lived ancestor, or PV) of the
    particles of one event, memoised: the mother chains of an event share most of their steps."""

    def __init__(self, record: list, src: PythiaSource):
        self.record = record
        self.src = src
        self.memo: dict[int, int] = {}

    def __call__(self, i: int) -> int:
        path = []
        cur = i
        while True:
            if cur in self.memo:
                key = self.memo[cur]
                break
            q = self.record[cur]
            m = q.mother1()
            if m <= 0:
                key = PV
                break
            # a decay product (status 91-99) of a long-lived particle: produced at its decay
            decayed = self.src.tau0_of(self.record[m].id()) > LONG_LIVED_TAU0
            if decayed and 91 <= q.statusAbs() <= 99:
                key = m
                break
            path.append(cur)
            cur = m
        for p in (*path, cur):
            self.memo[p] = key
        return key

    def position(self, key: int) -> tuple[float, float, float]:
        q = self.record[key]
        return q.xDec(), q.yDec(), q.zDec()


def _separate_z(z: list[float]) -> list[float]:
    """Stored z of a jet's distinct displaced vertices: moved apart (by nanometres, and only when
    needed) so no two lie within the reader's matching tolerance of each other or of z = 0."""
    out = list(z)
    for sign in (1.0, -1.0):
        group = sorted((i for i, v in enumerate(z) if (v >= 0) == (sign > 0)),
                       key=lambda i: abs(z[i]))
        last = 0.0
        for i in group:
            a = abs(z[i])
            need = last + 3.0 * max(Z_MATCH_ABS_TOL, Z_MATCH_REL_TOL * max(a, last))
            a = max(a, need)
            out[i] = sign * a
            last = a
    return out


def _flavour(had: Hadrons, eta: float, phi: float) -> tuple[int, np.ndarray]:
    near = delta_r(had.eta, had.phi, eta, phi) < RADIUS
    labelled = near & (had.pt > HADRON_PT_MIN)
    flav = 5 if (labelled & (had.flavour == 5)).any() else (
        4 if (labelled & (had.flavour == 4)).any() else 0)
    return flav, near


def chunk_columns(reco: Reco, counts: np.ndarray, records: list[list], finals: list[FinalState],
                  src: PythiaSource, klass: str, limit: int) -> Columns:
    """Cluster a chunk of events and keep up to `limit` jets of flavour `klass` with tracks."""
    jets = antikt(reco.p4, counts, RADIUS, PT_MIN)
    index = np.concatenate([f.index for f in finals])  # record position of every particle
    pt, eta, phi = jets.pt, jets.eta, jets.phi
    window = np.flatnonzero(np.abs(eta) < ETA_MAX)
    window = window[np.lexsort((-pt[window], jets.event[window]))]
    hadrons: dict[int, Hadrons] = {}
    finders: dict[int, VertexFinder] = {}
    rows: list[dict] = []
    for j in window:
        if len(rows) == limit:
            break
        ev = int(jets.event[j])
        if ev not in hadrons:
            hadrons[ev] = weak_hadrons(records[ev], src)
        flav, near = _flavour(hadrons[ev], eta[j], phi[j])
        if flav != FLAVOUR[klass]:
            continue
        const = ak.to_numpy(jets.constituents[j])
        trk = const[reco.is_track[const]]
        if len(trk) == 0:
            continue
        trk_pt = np.hypot(reco.p4[trk, 0], reco.p4[trk, 1])
        trk = trk[np.argsort(-trk_pt, kind="stable")][:MAX_TRACKS]
        finder = finders.setdefault(ev, VertexFinder(records[ev], src))
        rows.append(_jet_row(reco, trk, index[reco.source[trk]], finder, hadrons[ev], near,
                             flav, jets.p4[j], (pt[j], eta[j], phi[j])))
    return _columns(rows)


def _jet_row(reco, trk, rec_index, finder, had: Hadrons, near, flav, p4, axis) -> dict:
    keys = [finder(int(i)) for i in rec_index]
    order: dict[int, int] = {}
    for k in keys:
        if k != PV and k not in order:
            order[k] = len(order) + 1
    weak = dict(zip(had.index.tolist(), had.flavour.tolist(), strict=True))
    types = [0 if k == PV else {4: 1, 5: 2}.get(weak.get(k, 0), 3) for k in keys]
    listed = sorted(set(had.index[near].tolist()) | {k for k in order if k in weak})
    vertices = sorted(set(order) | set(listed))
    pos = {k: finder.position(k) for k in vertices}
    z = dict(zip(vertices, _separate_z([pos[k][2] for k in vertices]), strict=True))
    sv = list(order)
    mom = reco.p4[trk]
    t_pt = np.hypot(mom[:, 0], mom[:, 1])
    return {
        "trk_pt": t_pt, "trk_eta": np.arcsinh(mom[:, 2] / t_pt),
        "trk_phi": np.arctan2(mom[:, 1], mom[:, 0]),
        "trk_d0": reco.d0[trk], "trk_d0err": reco.d0_err[trk],
        "trk_z0": reco.z0[trk], "trk_z0err": reco.z0_err[trk],
        "trk_charge": reco.charge[trk],
        "trk_vtx_index": np.array([0 if k == PV else order[k] for k in keys]),
        "trk_pdg_id": np.array([finder.record[int(i)].id() for i in rec_index]),
        "trk_prod_z": np.array([0.0 if k == PV else z[k] for k in keys]),
        "track_type": np.array(types),
        "hadron_pdgid": np.array([finder.record[k].id() for k in listed], dtype=np.int64),
        "hadron_z": np.array([z[k] for k in listed], dtype=np.float64),
        "true_vtx_x": np.array([pos[k][0] for k in sv], dtype=np.float64),
        "true_vtx_y": np.array([pos[k][1] for k in sv], dtype=np.float64),
        "true_vtx_z": np.array([z[k] for k in sv], dtype=np.float64),
        "jet": (axis[0], axis[1], axis[2], _mass(p4), len(trk), flav),
    }


def _mass(p4: np.ndarray) -> float:
    return float(np.sqrt(max(p4[3] ** 2 - (p4[:3] ** 2).sum(), 0.0)))


GROUPS = {
    "trk": ("trk_pt", "trk_eta", "trk_phi", "trk_d0", "trk_d0err", "trk_z0", "trk_z0err",
            "trk_charge", "trk_vtx_index", "trk_pdg_id", "trk_prod_z"),
    "hadron": ("hadron_pdgid", "hadron_z"),
    "vtx": ("true_vtx_x", "true_vtx_y", "true_vtx_z"),
}


def _columns(rows: list[dict]) -> Columns:
    cols = Columns()
    if not rows:
        return cols
    jet = np.array([r["jet"] for r in rows], dtype=np.float64)
    cols.jet = {"jet_pt": jet[:, 0], "jet_eta": jet[:, 1], "jet_phi": jet[:, 2],
                "jet_M": jet[:, 3], "n_trks": jet[:, 4].astype(np.int64),
                "jet_flav": jet[:, 5].astype(np.int64)}
    for g, names in GROUPS.items():
        counts = np.array([len(r[names[0]]) for r in rows], dtype=np.int64)
        cols.lists[g] = (counts, {n: np.concatenate([r[n] for r in rows]) for n in names})
    x, y, z = (cols.lists["vtx"][1][f"true_vtx_{a}"] for a in "xyz")
    cols.lists["vtx"][1]["true_vtx_L3D"] = np.sqrt(x**2 + y**2 + z**2)
    # ancestry truth travels along (not a branch) so tests can check the paper rule against it
    cols.lists["truth"] = (cols.lists["trk"][0],
                           {"track_type": np.concatenate([r["track_type"] for r in rows])})
    return cols
