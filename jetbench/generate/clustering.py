"""Jet finding and substructure with FastJet's multi-event (awkward) interface.

All events of a chunk are clustered in one call, and the substructure of all jets of a shard is
computed in one call (each jet is one "event" of its constituents), so no Python loop runs over
particles. Substructure follows Delphes' JetClass set-up: soft-drop mass with beta = 0,
z_cut = 0.1, R0 = 0.8 (C/A declustering) and N-subjettiness tau_1..4 with the normalised measure,
beta = 1, R0 = 0.8 and one-pass kT axes (fjcontrib Nsubjettiness).
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import numpy as np

from jetbench.generate.pythia_source import silence_stdout

_BANNER_DONE = {"done": False}


def _fastjet():
    import fastjet

    if not _BANNER_DONE["done"]:  # FastJet prints its banner once per process, on first use
        import fastjet._swig as swig

        with silence_stdout():
            swig.ClusterSequence.print_banner()
        _BANNER_DONE["done"] = True
    return fastjet


def _events(p4: np.ndarray, counts: np.ndarray) -> ak.Array:
    fields = {k: np.ascontiguousarray(p4[:, i]) for i, k in enumerate(("px", "py", "pz", "E"))}
    return ak.unflatten(ak.zip(fields), counts)


@dataclass
class Jets:
    """Jets of many events: 4-momenta, owning event, constituents as flat global indices."""

    p4: np.ndarray  # float64 [J, 4]
    event: np.ndarray  # int64 [J]
    constituents: ak.Array  # [J][n] indices into the clustered particle arrays

    @property
    def pt(self) -> np.ndarray:
        return np.hypot(self.p4[:, 0], self.p4[:, 1])

    @property
    def eta(self) -> np.ndarray:
        return np.arcsinh(self.p4[:, 2] / np.maximum(self.pt, 1e-12))

    @property
    def phi(self) -> np.ndarray:
        return np.arctan2(self.p4[:, 1], self.p4[:, 0])

    @property
    def mass(self) -> np.ndarray:
        p2 = (self.p4[:, :3] ** 2).sum(axis=1)
        return np.sqrt(np.clip(self.p4[:, 3] ** 2 - p2, 0.0, None))


def antikt(p4: np.ndarray, counts: np.ndarray, radius: float, min_pt: float) -> Jets:
    """Anti-kT jets above `min_pt` of every event (`counts` particles each, flattened in `p4`)."""
    fastjet = _fastjet()
    n_events = len(counts)
    if n_events == 0 or len(p4) == 0:
        return Jets(np.zeros((0, 4)), np.zeros(0, np.int64), ak.Array(np.zeros((0, 0), np.int64)))
    cs = fastjet.ClusterSequence(_events(p4, counts),
                                 fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
    jets = cs.inclusive_jets(min_pt)
    local = cs.constituent_index(min_pt)
    per_event = ak.to_numpy(ak.num(jets, axis=1))
    event = np.repeat(np.arange(n_events), per_event)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
    local = ak.flatten(local, axis=1)  # [J][n] event-local indices
    glob = local + offsets[event]
    p4j = np.column_stack([ak.to_numpy(ak.flatten(jets[k])) for k in ("px", "py", "pz", "E")])
    return Jets(p4j.reshape(-1, 4), event, glob)


def substructure(p4: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Soft-drop mass and tau_1..4 of jets given by their constituents (flattened p4, counts)."""
    n = len(counts)
    out = {k: np.zeros(n) for k in ("sdmass", "tau1", "tau2", "tau3", "tau4")}
    if n == 0:
        return out
    fastjet = _fastjet()
    # C/A with a radius far above the jet size, so the whole jet is one exclusive jet
    cs = fastjet.ClusterSequence(_events(p4, counts),
                                 fastjet.JetDefinition(fastjet.cambridge_algorithm, 10.0))
    sd = cs.exclusive_jets_softdrop_grooming(njets=1, beta=0.0, symmetry_cut=0.1, R0=0.8)
    out["sdmass"] = np.nan_to_num(ak.to_numpy(sd.msoftdrop))
    taus = ak.to_numpy(cs.njettiness(njets=[1, 2, 3, 4], beta=1.0, R0=0.8)).reshape(n, 4)
    for i in range(4):
        out[f"tau{i + 1}"] = np.nan_to_num(taus[:, i])
    return out
