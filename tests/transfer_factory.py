"""Random Top Tagging / Quark-Gluon branches for reader, writer and import tests (not physics:
valid values of the published files' types, fast for any number of jets)."""

from __future__ import annotations

import awkward as ak
import numpy as np


def toptag_branches(n: int, seed: int = 0, max_parts: int = 200) -> dict:
    rng = np.random.default_rng(seed)
    counts = rng.integers(5, max_parts + 1, n)
    total = int(counts.sum())
    pt = rng.exponential(20.0, total) + 0.5
    eta = np.repeat(rng.uniform(-2, 2, n), counts) + rng.normal(0, 0.2, total)
    phi = np.repeat(rng.uniform(-np.pi, np.pi, n), counts) + rng.normal(0, 0.2, total)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2)  # massless, as particle-flow objects
    out = {k: ak.unflatten(v.astype(np.float32), counts)
           for k, v in {"part_px": px, "part_py": py, "part_pz": pz, "part_energy": e}.items()}
    out["is_signal_new"] = rng.integers(0, 2, n)
    out["ttv"] = np.zeros(n, np.int64)
    return out


PIDS = np.array([22, 211, -211, 321, -321, 130, 2112, -2112, 2212, -2212, 11, -11, 13, -13])


def quarkgluon_branches(n: int, seed: int = 0, max_parts: int = 150) -> dict:
    rng = np.random.default_rng(seed)
    counts = rng.integers(3, max_parts + 1, n)
    total = int(counts.sum())
    out = {
        "part_pt": rng.exponential(10.0, total) + 0.1,
        "part_y": np.repeat(rng.uniform(-2, 2, n), counts) + rng.normal(0, 0.1, total),
        "part_phi": np.repeat(rng.uniform(0.5, 5.5, n), counts) + rng.normal(0, 0.1, total),
    }
    out = {k: ak.unflatten(v.astype(np.float32), counts) for k, v in out.items()}
    out["part_pid"] = ak.unflatten(rng.choice(PIDS, total), counts)
    out["y"] = rng.integers(0, 2, n)
    return out
