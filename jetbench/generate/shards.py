"""Work split into fixed shards: the unit of seeding, of parallelism and of assembly order.

A shard is (profile, class, index, number of jets). Its Pythia seed and detector seed derive from
(seed, profile, class, index) only, so a shard's jets do not depend on which worker runs it or
what that worker ran before; results are assembled in shard order. Output is therefore identical
for any number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.generate import btag, jetclass, quarkgluon, toptag
from jetbench.generate.columns import Columns
from jetbench.generate.detector import DetectorModel, Reco
from jetbench.generate.processes import PROFILES, derive_seed
from jetbench.generate.pythia_source import FinalState, PythiaSource, source_init_seed

DETECTOR = DetectorModel()
# give up on a shard after this many events per requested jet (+ a constant): a broken
# configuration must fail loudly instead of running forever
MAX_EVENTS_PER_JET = 200


@dataclass(frozen=True)
class ShardTask:
    profile: str
    klass: str
    index: int
    n_jets: int
    seed: int

    @property
    def source(self) -> str:
        sources = PROFILES[self.profile].class_sources[self.klass]
        return sources[self.index % len(sources)]

    @property
    def shard_seed(self) -> int:
        return derive_seed(self.seed, self.profile, self.klass, self.index)


def plan(profile: str, n: int, seed: int, classes: list[str],
         shard_jets: int | None = None) -> list[ShardTask]:
    """Split n jets evenly over classes (the first n % k classes get one more), then in shards
    of the profile's size (`shard_jets` overrides it; it changes the output)."""
    size = shard_jets or PROFILES[profile].shard_jets
    tasks = []
    for c, klass in enumerate(classes):
        quota = n // len(classes) + (1 if c < n % len(classes) else 0)
        for index, start in enumerate(range(0, quota, size)):
            tasks.append(ShardTask(profile, klass, index, min(size, quota - start), seed))
    return tasks


_SOURCES: dict[tuple[str, str, int], PythiaSource] = {}
MAX_SOURCES = 4  # initialised Pythia instances kept per process (least recently used dropped)


def _source(task: ShardTask) -> PythiaSource:
    """One initialised Pythia per (profile, source, seed) and process, reseeded per shard.

    Re-creating a dropped instance gives an identical one (same initialisation seed)."""
    key = (task.profile, task.source, task.seed)
    src = _SOURCES.pop(key, None) or PythiaSource(task.source, source_init_seed(*key))
    _SOURCES[key] = src  # most recently used last
    while len(_SOURCES) > MAX_SOURCES:
        del _SOURCES[next(iter(_SOURCES))]
    return src


def _reconstruct(finals: list[FinalState], rng: np.random.Generator) -> tuple[Reco, np.ndarray]:
    """Detector model over all events of a chunk; returns reco objects and their count per
    event."""
    sizes = np.array([len(f.pid) for f in finals])
    event_of = np.repeat(np.arange(len(finals)), sizes)
    reco = DETECTOR.apply(np.concatenate([f.p4 for f in finals]),
                          np.concatenate([f.vertex for f in finals]),
                          np.concatenate([f.pid for f in finals]),
                          np.concatenate([f.charge for f in finals]), event_of, rng)
    counts = np.bincount(reco.event, minlength=len(finals))
    return reco, counts


def _chunk_columns(kind: str, klass: str, records: list, finals: list[FinalState],
                   src: PythiaSource, rng: np.random.Generator, limit: int) -> Columns:
    """Jets of one chunk of events for a profile kind (particle level or through the detector)."""
    if kind == "quarkgluon":  # particle level: no detector, no random numbers drawn
        return quarkgluon.chunk_columns(records, finals, klass, limit)
    reco, counts = _reconstruct(finals, rng)
    if kind == "jetclass":
        cands = [jetclass.candidates(r, klass) for r in records]
        return jetclass.chunk_columns(reco, counts, cands, klass, limit)
    if kind == "toptag":
        cands = [toptag.candidates(r, klass) for r in records]
        return toptag.chunk_columns(reco, counts, cands, klass, limit)
    return btag.chunk_columns(reco, counts, records, finals, src, klass, limit)


def run_shard(task: ShardTask) -> Columns:
    """Generate events until the shard holds `n_jets` jets of its class."""
    prof = PROFILES[task.profile]
    src = _source(task)
    src.reseed(task.shard_seed)
    rng = np.random.default_rng([task.shard_seed, 1])
    pieces: list[Columns] = []
    have = n_events = 0
    while have < task.n_jets:
        if n_events > 1000 + MAX_EVENTS_PER_JET * task.n_jets:
            raise JetbenchError(f"generator: only {have} {task.klass} jets after {n_events} "
                                f"events of source {task.source}")
        records = [src.next_event() for _ in range(prof.chunk_events)]
        n_events += len(records)
        finals = [src.final_state(r) for r in records]
        cols = _chunk_columns(prof.dataset, task.klass, records, finals, src, rng,
                              task.n_jets - have)
        pieces.append(cols)
        have += len(cols)
    out = Columns.concat(pieces)
    if prof.dataset == "jetclass":
        out = jetclass.add_substructure(out)
    return out.compact()
