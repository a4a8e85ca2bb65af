"""Summaries of a canonical store: counts per class and per-feature statistics, chunk by chunk."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from jetbench.data.format import CST_FEATURES, JET_FEATURES
from jetbench.data.store import JetStore


def summarize(path: str | os.PathLike, chunk: int = 20_000) -> dict[str, Any]:
    """Class counts, mean constituent multiplicity and feature mean/std/min/max over real slots."""
    with JetStore(path) as store:
        counts = np.zeros(len(store.labels), np.int64)
        n_cst = 0
        sums = {}
        for batch in store.iter_chunks(chunk):
            counts += np.bincount(batch.labels, minlength=len(store.labels))
            n_cst += int(batch.mask.sum())
            cst = batch.csts[batch.mask]
            for name, vals in [*((f"cst.{f}", cst[:, i]) for i, f in enumerate(CST_FEATURES)),
                               *((f"jet.{f}", batch.jets[:, i]) for i, f in enumerate(JET_FEATURES))]:
                v = vals.astype(np.float64)
                s = sums.setdefault(name, [0, 0.0, 0.0, np.inf, -np.inf])
                s[0] += v.size
                s[1] += v.sum()
                s[2] += (v * v).sum()
                s[3] = min(s[3], v.min(initial=np.inf))
                s[4] = max(s[4], v.max(initial=-np.inf))
        features = {}
        for name, (n, s1, s2, lo, hi) in sums.items():
            mean = s1 / max(n, 1)
            features[name] = {"mean": mean, "std": float(np.sqrt(max(s2 / max(n, 1) - mean**2, 0.0))),
                              "min": float(lo), "max": float(hi)}
        return {
            "path": str(path), "dataset": store.dataset, "n_jets": len(store),
            "content_hash": store.content_hash, "metadata": store.metadata,
            "features_present": list(store.features_present),
            "class_counts": dict(zip(store.labels, counts.tolist(), strict=True)),
            "mean_constituents": n_cst / max(len(store), 1), "features": features,
        }
