"""Jets as flat columns: one array per jet-level branch, flat arrays + counts per jagged group.

Shards return `Columns` (cheap to pickle between processes); the runner concatenates them in
shard order, shuffles the jets with a seeded permutation and turns them into the real schema's
branches (awkward for jagged ones) with the ROOT file types (float32, int32, bool).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import awkward as ak
import numpy as np


@dataclass
class Columns:
    jet: dict[str, np.ndarray] = field(default_factory=dict)
    # group name -> (counts [N], {branch: flat values})
    lists: dict[str, tuple[np.ndarray, dict[str, np.ndarray]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(next(iter(self.jet.values()))) if self.jet else 0

    @staticmethod
    def concat(parts: list[Columns]) -> Columns:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Columns()
        out = Columns(jet={k: np.concatenate([p.jet[k] for p in parts]) for k in parts[0].jet})
        for g, (_, flat) in parts[0].lists.items():
            counts = np.concatenate([p.lists[g][0] for p in parts])
            out.lists[g] = (counts, {k: np.concatenate([p.lists[g][1][k] for p in parts])
                                     for k in flat})
        return out

    def compact(self) -> Columns:
        """float64 -> float32 (the file type; same rounding as at write time), halving memory
        and the bytes shipped from workers."""
        def small(a: np.ndarray) -> np.ndarray:
            return a.astype(np.float32) if a.dtype == np.float64 else a

        return Columns(jet={k: small(v) for k, v in self.jet.items()},
                       lists={g: (c, {k: small(v) for k, v in flat.items()})
                              for g, (c, flat) in self.lists.items()})

    def take(self, index: np.ndarray) -> Columns:
        """Jets reordered/selected by `index` (flat lists follow their jets)."""
        out = Columns(jet={k: v[index] for k, v in self.jet.items()})
        for g, (counts, flat) in self.lists.items():
            offsets = np.concatenate([[0], np.cumsum(counts)])
            rows = _ranges(offsets[index], counts[index])
            out.lists[g] = (counts[index], {k: v[rows] for k, v in flat.items()})
        return out

    def to_branches(self, dtypes: dict[str, type]) -> dict[str, np.ndarray | ak.Array]:
        """Real-schema branches in their file types (`dtypes[name]`, float32 by default)."""
        out: dict[str, np.ndarray | ak.Array] = {}
        for k, v in self.jet.items():
            out[k] = v.astype(dtypes.get(k, np.float32))
        for counts, flat in self.lists.values():
            for k, v in flat.items():
                out[k] = ak.unflatten(v.astype(dtypes.get(k, np.float32)), counts)
        return out


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenated aranges [s, s + c) for every (s, c) pair, without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    ends = np.cumsum(counts)
    first = np.repeat(starts - (ends - counts), counts)
    return first + np.arange(total)
