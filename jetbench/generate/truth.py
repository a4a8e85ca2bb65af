"""Navigation of a Pythia event record held as a list of `Particle` copies.

Copies keep their plain fields (ids, statuses, mother/daughter indices, momenta, vertices), but
methods that follow the internal event pointer (`index`, `iBotCopy`, `daughterList`) would read
whatever event Pythia holds *now*, so the record is navigated here through the fields only.
"""

from __future__ import annotations

import numpy as np


def daughters(record: list, i: int) -> list[int]:
    """Daughter indices from the daughter1/daughter2 fields (Pythia's three conventions)."""
    d1, d2 = record[i].daughter1(), record[i].daughter2()
    if d1 <= 0:
        return []
    if d2 <= 0 or d2 == d1:
        return [d1]
    return list(range(d1, d2 + 1)) if d2 > d1 else [d1, d2]


def last_copy(record: list, i: int) -> int:
    """Follow recoil copies and radiations (a daughter with the same id) to the last copy."""
    pid = record[i].id()
    while True:
        same = [d for d in daughters(record, i) if record[d].id() == pid]
        if not same:
            return i
        i = same[0]


def first_index(record: list, pid: int, signed: bool = True) -> int | None:
    """Index of the first particle with id `pid` (|id| if not `signed`); hard-process entries
    come first in the record, so this stops early."""
    for i, q in enumerate(record):
        if (q.id() if signed else q.idAbs()) == pid:
            return i
    return None


def eta_phi(record: list, indices: list[int]) -> np.ndarray:
    """[k, 2] pseudorapidity and azimuth of the given particles."""
    mom = np.array([(record[i].px(), record[i].py(), record[i].pz()) for i in indices],
                   dtype=np.float64).reshape(-1, 3)
    pt = np.maximum(np.hypot(mom[:, 0], mom[:, 1]), 1e-12)
    return np.column_stack([np.arcsinh(mom[:, 2] / pt), np.arctan2(mom[:, 1], mom[:, 0])])


def delta_r(eta1, phi1, eta2, phi2) -> np.ndarray:
    dphi = (np.asarray(phi1) - np.asarray(phi2) + np.pi) % (2 * np.pi) - np.pi
    return np.hypot(np.asarray(eta1) - np.asarray(eta2), dphi)
