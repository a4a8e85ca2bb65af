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
    import fastjet  # lazy: FastJet loads only when jets are clustered

    if not _BANNER_DONE["done"]:  # FastJet prints its banner once per process, on first use
        import fastjet._swig as swig  # lazy: FastJet loads only when jets are clustered

        with silence_stdout():
            swig.ClusterSequence.print_banner()
        _BANNER_DONE["done"] = True
    return fastjet


def _cluster(p4: np.ndarray, counts: np.ndarray, algorithm: str, radius: float):
    """FastJet's compiled multi-event interface (the layer under `fastjet.ClusterSequence` on
    awkward arrays): numpy in, numpy out, without awkward's per-call overhead."""
    fastjet = _fastjet()
    from fastjet import _ext  # lazy: FastJet loads only when jets are clustered

    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    cols = [np.ascontiguousarray(p4[:, i], dtype=np.float64) for i in range(4)]
    jet_def = fastjet.JetDefinition(getattr(fastjet, algorithm), radius)
    return _ext.interfacemulti(*cols, offsets[:-1].copy(), offsets[1:].copy(), jet_def)


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
    if len(counts) == 0 or len(p4) == 0:
        return Jets(np.zeros((0, 4)), np.zeros(0, np.int64),
                    ak.unflatten(np.zeros(0, np.int64), np.zeros(0, np.int64)))
    res = _cluster(p4, counts, "antikt_algorithm", radius)
    px, py, pz, e, jet_offsets = res.to_numpy(min_pt)
    const_offsets, local, _ = res.to_numpy_with_constituents(min_pt)
    event = np.repeat(np.arange(len(counts)), np.diff(jet_offsets))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    sizes = np.diff(const_offsets)
    local = local[const_offsets[0]:const_offsets[-1]].astype(np.int64)  # (may carry a tail)
    glob = local + np.repeat(starts[event], sizes)
    return Jets(np.column_stack([px, py, pz, e]), event, ak.unflatten(glob, sizes))


def substructure(p4: np.ndarray, counts: np.ndarray) -> dict[str, np.ndarray]:
    """Soft-drop mass and tau_1..4 of jets given by their constituents (flattened p4, counts)."""
    n = len(counts)
    out = {k: np.zeros(n) for k in ("sdmass", "tau1", "tau2", "tau3", "tau4")}
    if n == 0:
        return out
    # C/A with a radius far above the jet size, so the whole jet is one exclusive jet
    res = _cluster(p4, counts, "cambridge_algorithm", 10.0)
    sd = res.to_numpy_softdrop_grooming(1, 0.0, 0.1, "scalar_z", 0.8, "larger_pt", np.inf)
    out["sdmass"] = np.nan_to_num(np.asarray(sd[8], dtype=np.float64))
    # normalised measure, beta = 1, R0 = 0.8, one-pass kT axes (999: "no cut-off" as in fastjet)
    taus = res.to_numpy_njettiness("NormalizedMeasure", "OnePass_KT_Axes", [1, 2, 3, 4], 1.0, 0.8,
                                   999.0, 999, 999.0)
    taus = np.asarray(taus[0], dtype=np.float64).reshape(n, 4)
    for i in range(4):
        out[f"tau{i + 1}"] = np.nan_to_num(taus[:, i])
    return out
