"""The `toptag` profile: stand-ins of the Top Tagging Landscape dataset.

Hadronic top jets (t tbar with both W -> q q') against QCD dijets, 14 TeV, reconstructed by the
detector model and clustered with anti-kT R = 0.8; jets with 550 < pT < 650 GeV and |eta| < 2.
A top jet is kept when the top and its three decay quarks lie within dR < 0.8 of the axis (the
jetclass Tbqq matching); QCD keeps every jet in the window. Only the leading 200 constituents'
4-vectors are kept (no charge, id or impact parameters), as in the published files.
"""

from __future__ import annotations

import numpy as np

from jetbench.data.toptag import LABEL, MAX_PARTICLES
from jetbench.generate import jetclass
from jetbench.generate.clustering import antikt
from jetbench.generate.columns import Columns
from jetbench.generate.detector import Reco

WINDOW = jetclass.Window(radius=0.8, pt_min=550.0, pt_max=650.0, eta_max=2.0)
DTYPES = {LABEL: np.int64, "ttv": np.int64}  # ROOT-free file types; 4-vectors float32
# the jetclass candidate label a class is matched to (QCD: none, every jet counts)
MATCH = {"QCD": "QCD", "top": "Tbqq"}


def candidates(record: list, klass: str) -> list[jetclass.Candidate]:
    return jetclass.candidates(record, MATCH[klass])


def chunk_columns(reco: Reco, counts: np.ndarray, event_cands: list[list[jetclass.Candidate]],
                  klass: str, limit: int) -> Columns:
    """Cluster a chunk of events, keep up to `limit` jets of `klass`, and build their columns."""
    jets = antikt(reco.p4, counts, WINDOW.radius, WINDOW.pt_min)
    keep = jetclass.select(jets, event_cands, MATCH[klass], WINDOW)[:limit]
    cols = Columns()
    if len(keep) == 0:
        return cols
    n_const, _, jet_of, p4, _ = jetclass.sorted_constituents(reco.p4, jets, keep)
    rank = np.arange(len(jet_of)) - np.repeat(np.cumsum(n_const) - n_const, n_const)
    lead = rank < MAX_PARTICLES  # the files store the leading 200 constituents only
    p4 = p4[lead]
    n = len(keep)
    cols.jet = {LABEL: np.full(n, int(klass == "top"), np.int64), "ttv": np.zeros(n, np.int64)}
    cols.lists["part"] = (np.minimum(n_const, MAX_PARTICLES),
                          {"part_px": p4[:, 0], "part_py": p4[:, 1], "part_pz": p4[:, 2],
                           "part_energy": p4[:, 3]})
    return cols


