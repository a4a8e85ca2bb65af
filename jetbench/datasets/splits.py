"""Materialise a split: its parts as canonical stores, concatenated (or CWoLa-mixed) once.

Train/val/test parts come from different generator seeds (or disjoint ranges of real files), so
splits are disjoint by construction; `manifest.check_disjoint` verifies it. A split made only of
real files is not copied: it is a `FileSet` index (`*.jets.json`, `realfiles`) over the files,
read in place — the paper-scale splits of the public datasets are this.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jetbench.core.hashing import hash_json
from jetbench.core.scales import check_scale
from jetbench.datasets import cache, realfiles
from jetbench.datasets.mixing import build_mixture
from jetbench.datasets.registry import get_data
from jetbench.datasets.spec import PRETRAIN_SPLIT, DataSpec, GeneratedPart

PRETRAIN_DATA = "jetclass"


def data_split(data: DataSpec, split: str, scale: str, rule: dict[str, Any] | None = None,
               workers: int | None = None, progress: bool = True) -> Path:
    """The store — or, for real files read in place, the file-set index — of one split of a
    definition (optionally CWoLa-mixed by `rule`), cached. Open it with `open_jets`."""
    check_scale(scale)
    if data.reads_files(scale, split):
        return realfiles.fileset_split(data, split, scale, rule)
    parts = data.parts(scale, split)
    what = f"{data.name} {split} split ({scale})"
    sources = []
    for part in parts:
        if isinstance(part, GeneratedPart):
            sources.append(cache.generated_source(str(data.profile), data.dataset, part, what,
                                                  workers, progress))
        else:
            sources.append(cache.file_source(part, data.dataset))
    if rule is None and len(sources) == 1 and sources[0].whole:
        return sources[0].path
    key = hash_json({"sources": [s.key for s in sources], "rule": rule})
    label = f"{data.name}-{scale}-{split}" + ("-cwola" if rule else "")
    meta = {"data": data.name, "scale": scale, "split": split, "sources": [s.key for s in sources],
            "rule": rule}

    def build(out: Path) -> None:
        if rule is None:
            cache.build_concat(out, sources, data.dataset, meta)
        else:
            build_mixture(out, sources, data.dataset, rule["background"], rule["signal"],
                          rule["seed"], meta)

    return cache.ensure(cache.derived_path(label, key), build)


def pretrain_split(scale: str, workers: int | None = None, progress: bool = True) -> Path:
    """The jetclass pretraining store of a scale (its own seed; labels never used for training)."""
    return data_split(get_data(PRETRAIN_DATA), PRETRAIN_SPLIT, scale, None, workers, progress)
