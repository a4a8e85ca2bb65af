"""One Pythia instance per event source, reseeded per shard, and the export of its event record.

Pythia has no array export, so the final-state particles are read once per event into numpy
arrays (one Python call per particle attribute — measured at about a quarter of the event
generation time); everything downstream (detector model, clustering, truth matching) works on
those arrays. The full record (`Particle` copies) is kept per event for truth look-ups.

Reseeding an initialised instance (`rndm.init`) makes the next events a function of the shard
seed only: Pythia keeps no other state between events that changes generation
(`PhaseSpace:increaseMaximum` is off), which the determinism tests check.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.generate.processes import derive_seed, pythia_settings

INVISIBLE = np.array([12, 14, 16])
LONG_LIVED_TAU0 = 1e-3  # mm: weakly decaying hadrons / tau (pi0, eta, Sigma0 count as prompt)


@contextlib.contextmanager
def silence_stdout():
    """Redirect the C++ stdout (file descriptor 1) to /dev/null: Pythia/FastJet banners."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


@dataclass
class FinalState:
    """Final-state particles of one event as arrays (GeV, mm); `index` points into the record."""

    p4: np.ndarray  # float64 [n, 4] px py pz E
    vertex: np.ndarray  # float64 [n, 3] production vertex
    pid: np.ndarray  # int64 [n]
    charge: np.ndarray  # float64 [n]
    index: np.ndarray  # int64 [n]: position in the record


class PythiaSource:
    """A configured, initialised Pythia for one source; `reseed` then `events(k)`."""

    def __init__(self, source: str, init_seed: int):
        import pythia8mc  # lazy: Pythia 8 loads only when events are generated

        self.source = source
        with silence_stdout():
            self.pythia = pythia8mc.Pythia("", False)
            for line in (*pythia_settings(source), f"Random:seed = {init_seed}"):
                if not self.pythia.readString(line):
                    raise JetbenchError(f"Pythia rejected setting '{line}' (source {source})")
            if not self.pythia.init():
                raise JetbenchError(f"Pythia initialisation failed for source {source}")
        self.particle_data = self.pythia.particleData
        self._charge: dict[int, float] = {}
        self._tau0: dict[int, float] = {}

    def reseed(self, seed: int) -> None:
        self.pythia.rndm.init(seed)

    def next_event(self) -> list:
        """Generate one event; return its record as a list of `Particle` copies."""
        for _ in range(100):
            if self.pythia.next():
                return self.pythia.event.particles()
        raise JetbenchError(f"Pythia failed 100 times in a row (source {self.source})")

    def charge(self, pid: np.ndarray) -> np.ndarray:
        return self._lookup(pid, self._charge, self.particle_data.charge)

    def tau0(self, pid: np.ndarray) -> np.ndarray:
        """Nominal c*tau0 [mm] per particle id."""
        return self._lookup(np.abs(pid), self._tau0, self.particle_data.tau0)

    def tau0_of(self, pid: int) -> float:
        a = abs(pid)
        if a not in self._tau0:
            self._tau0[a] = self.particle_data.tau0(a)
        return self._tau0[a]

    def _lookup(self, pid: np.ndarray, cache: dict, fn) -> np.ndarray:
        uniq, inverse = np.unique(pid, return_inverse=True)
        values = np.array([cache[u] if u in cache else cache.setdefault(u, fn(int(u)))
                           for u in uniq.tolist()], dtype=np.float64)
        return values[inverse] if len(uniq) else np.zeros(0)

    def final_state(self, record: list) -> FinalState:
        """Visible final-state particles (neutrinos dropped) as arrays."""
        positions = [i for i, q in enumerate(record) if q.isFinal()]
        rows = np.array([(q.px(), q.py(), q.pz(), q.e(), q.xProd(), q.yProd(), q.zProd(), q.id())
                         for q in map(record.__getitem__, positions)],
                        dtype=np.float64).reshape(-1, 8)
        pid = rows[:, 7].astype(np.int64)
        keep = ~np.isin(np.abs(pid), INVISIBLE)
        return FinalState(p4=rows[keep, :4], vertex=rows[keep, 4:7], pid=pid[keep],
                          charge=self.charge(pid[keep]),
                          index=np.asarray(positions, dtype=np.int64)[keep])


def source_init_seed(seed: int, profile: str, source: str) -> int:
    """Seed of the initialisation phase (cross-section maxima) of a source."""
    return derive_seed("init", seed, profile, source)
