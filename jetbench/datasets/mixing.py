"""CWoLa mixed samples: the one split rule beyond concatenating parts (a mixed store for
generated jets; a relabelled file set, no copy, for real files).

Classification Without Labels trains on two mixtures with different signal fractions. A
mixed store holds the background jets first, a seeded half of them relabelled as the signal
class ("mixture 1"), then the signal pool (mixture 1 too); its metadata records the layout, so
budgets can take every background jet plus the first N signal jets without reading labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jetbench.core.errors import JetbenchError
from jetbench.data.fileset import FileSet, Flip, Segment, open_jets
from jetbench.data.format import dataset_info
from jetbench.data.store import StoreWriter
from jetbench.datasets.cache import Source, chunks, labels_of, stable_seed


def cwola_rule(background: str, signal: str, *names: Any) -> dict[str, Any]:
    """The rule a mixed split store is built (and keyed) by; the halving seed comes from `names`
    (e.g. task, scale, split), so every machine draws the same halves."""
    return {"rule": "cwola", "background": background, "signal": signal,
            "seed": stable_seed("cwola-halves", *names)}


def cwola_layout(path: Path) -> dict[str, int]:
    """{'n_background', 'n_signal', ...} of a CWoLa mixed store."""
    with open_jets(path) as store:
        layout = store.metadata.get("cwola")
    if not layout:
        raise JetbenchError(f"{path}: not a CWoLa mixed store (no 'cwola' metadata)")
    return layout


def build_mixture(out: Path, sources: list[Source], dataset: str, background: str, signal: str,
                  seed: int, metadata: dict) -> dict[str, int]:
    """CWoLa mixed samples: background jets first, a seeded half of them relabelled as signal
    (mixture 1), then every signal jet (mixture 1). Returns the layout stored in the metadata."""
    labels = dataset_info(dataset).labels
    bkg, sig = labels.index(background), labels.index(signal)
    all_labels = np.concatenate([labels_of(s) for s in sources])
    other = ~np.isin(all_labels, [bkg, sig])
    if other.any():
        raise JetbenchError(f"{out.name}: CWoLa sources contain jets that are neither "
                            f"{background} nor {signal} (label {labels[all_labels[other][0]]})")
    n_bkg, n_sig = int(np.sum(all_labels == bkg)), int(np.sum(all_labels == sig))
    mix1 = np.zeros(n_bkg, bool)
    mix1[np.random.default_rng(seed).permutation(n_bkg)[n_bkg // 2:]] = True
    layout = {"n_background": n_bkg, "n_signal": n_sig, "n_background_mixture1": int(mix1.sum())}
    with StoreWriter(out, dataset, {**metadata, "cwola": layout}) as w:
        done = 0
        for want in (bkg, sig):
            for src in sources:
                for batch in chunks(src):
                    part = batch[batch.labels == want]
                    if want == bkg and len(part):
                        half = mix1[done:done + len(part)]
                        part.labels = np.where(half, sig, bkg).astype(np.int16)
                        done += len(part)
                    if len(part):
                        w.append(part)
    return layout


MAX_RUNS = 1_000_000  # label runs a relabelled file set may hold (JetClass: one per file)


def mix_fileset(fs: FileSet, background: str, signal: str, seed: int,
                metadata: dict[str, Any]) -> FileSet:
    """The CWoLa mixture of a file set without a copy: the same layout as `build_mixture`
    (background jets first, then the signal jets, each in file order) made by reordering the
    segments cut into runs of one label, and the seeded half of the background moved to
    mixture 1 by a relabelling (`Flip`)."""
    labels = dataset_info(fs.dataset).labels
    bkg, sig = labels.index(background), labels.index(signal)
    runs: dict[int, list[Segment]] = {bkg: [], sig: []}
    n_runs = 0
    for seg in fs.segments:
        with FileSet(fs.info, [seg]) as one:
            lab = one.read_labels()
        other = ~np.isin(lab, [bkg, sig])
        if other.any():
            raise JetbenchError(f"{seg.path}: CWoLa sources contain jets that are neither "
                                f"{background} nor {signal} (label {labels[lab[other][0]]})")
        cuts = np.flatnonzero(np.diff(lab)) + 1
        for a, b in zip(np.r_[0, cuts], np.r_[cuts, len(lab)], strict=True):
            runs[int(lab[a])].append(Segment(seg.path, seg.sha256, seg.start + int(a),
                                             seg.start + int(b), seg.fmt))
        n_runs += len(cuts) + 1
        if n_runs > MAX_RUNS:
            raise JetbenchError(f"{seg.path}: the CWoLa files alternate {background} and {signal} "
                                f"jets more than {MAX_RUNS} times; use files with one class each")
    n_bkg = sum(len(s) for s in runs[bkg])
    n_sig = sum(len(s) for s in runs[sig])
    if not n_bkg or not n_sig:
        raise JetbenchError(f"{fs.path or 'file set'}: CWoLa needs both {background} and {signal} "
                            f"jets (found {n_bkg} and {n_sig})")
    mix1 = np.zeros(n_bkg, bool)
    mix1[np.random.default_rng(seed).permutation(n_bkg)[n_bkg // 2:]] = True
    layout = {"n_background": n_bkg, "n_signal": n_sig, "n_background_mixture1": int(mix1.sum())}
    return FileSet(fs.info, runs[bkg] + runs[sig], Flip(sig, mix1), {**metadata, "cwola": layout})
