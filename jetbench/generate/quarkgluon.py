"""The `quarkgluon` profile: stand-ins of the Pythia 8 quark/gluon jet dataset (particle level).

Z(-> nu nu) + jet at 14 TeV: gluon jets from q qbar -> Z g, quark jets from q g -> Z q with a
u, d or s quark leaving the hard process (events with c or b are skipped, as in the published
sample without `_withbc`); the class is the hard process's parton. No detector: the visible
final-state particles are clustered with anti-kT R = 0.4 and the hardest jet of the event is
kept if 500 < pT < 550 GeV and |y| < 2. Each particle keeps (pT, y, phi, PDG id).
"""

from __future__ import annotations

import numpy as np

from jetbench.generate import jetclass
from jetbench.generate.clustering import antikt
from jetbench.generate.columns import Columns
from jetbench.generate.pythia_source import FinalState

RADIUS = 0.4
PT_MIN, PT_MAX, Y_MAX = 500.0, 550.0, 2.0
LIGHT = {1, 2, 3}
DTYPES = {"part_pid": np.int64, "y": np.int64}


def hard_parton(record: list) -> int:
    """|id| of the outgoing parton of the 2 -> 2 hard process (record entries 5 and 6)."""
    ids = [record[i].idAbs() for i in (5, 6) if i < len(record)]
    partons = [a for a in ids if a != 23]
    return partons[0] if len(partons) == 1 else 0


def wanted(record: list, klass: str) -> bool:
    parton = hard_parton(record)
    return parton == 21 if klass == "gluon" else parton in LIGHT


def _rapidity(p4: np.ndarray) -> np.ndarray:
    e, pz = p4[:, 3], p4[:, 2]
    return 0.5 * np.log(np.maximum(e + pz, 1e-300) / np.maximum(e - pz, 1e-300))


def chunk_columns(records: list, finals: list[FinalState], klass: str, limit: int) -> Columns:
    """Cluster the visible particles of a chunk of events; keep each wanted event's hardest jet
    if it is in the window, up to `limit` jets."""
    counts = np.array([len(f.pid) for f in finals], np.int64)
    p4_all = np.concatenate([f.p4 for f in finals])
    pid_all = np.concatenate([f.pid for f in finals])
    jets = antikt(p4_all, counts, RADIUS, PT_MIN)
    ok_event = np.array([wanted(r, klass) for r in records])
    order = np.lexsort((-jets.pt, jets.event))  # by event, hardest jet first
    ev = jets.event[order]
    first = np.ones(len(ev), bool)
    first[1:] = ev[1:] != ev[:-1]
    lead = order[first]
    y = _rapidity(jets.p4[lead])
    keep = lead[ok_event[ev[first]] & (jets.pt[lead] < PT_MAX) & (np.abs(y) < Y_MAX)][:limit]
    cols = Columns()
    if len(keep) == 0:
        return cols
    n_const, flat, _, p4, pt = jetclass.sorted_constituents(p4_all, jets, keep)
    cols.jet = {"y": np.full(len(keep), int(klass == "quark"), np.int64)}
    cols.lists["part"] = (n_const, {"part_pt": pt, "part_y": _rapidity(p4),
                                    "part_phi": np.arctan2(p4[:, 1], p4[:, 0]),
                                    "part_pid": pid_all[flat]})
    return cols
