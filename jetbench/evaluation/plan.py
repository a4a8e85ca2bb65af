"""Plan a cell: check its names, produce its data and encoder (cached), resolve the protocol's
settings once, and compute the hashes a result is identified by — everything before training.

The hashes come from pure functions (`cell_config`, `cell_hashes`) of the task definition, the
protocol, the resolved training settings and the encoder identity, so a committed result can be
re-planned without data or training and its hashes compared (tests/test_result_hashes.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from jetbench.core.devices import resolve_device
from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import hash_json
from jetbench.datasets import SPLITS
from jetbench.encoders.identity import EncoderIdentity, identify
from jetbench.encoders.registry import get_factory
from jetbench.evaluation.cell import Cell
from jetbench.pretraining import ensure_pretrained, fitted_on
from jetbench.protocols import Protocol, check_protocol, get_protocol
from jetbench.protocols.training import TrainSettings
from jetbench.tasks import (
    TaskSpec,
    budget_indices,
    get_task,
    manifest_hash,
    resolve_budget,
    task_split,
)
from jetbench.tasks.registry import is_builtin

DEFAULT_PROTOCOL = "finetune"


@dataclass
class LoadedEncoder:
    """An encoder ready to evaluate, the name its cells are filed under, and its identity."""

    model: nn.Module
    name: str
    identity: EncoderIdentity


def check_names(encoder: str | nn.Module, task: str, protocol: str, scale: str = "cpu",
                overrides: dict[str, Any] | None = None) -> None:
    """Unknown encoder/task/protocol/setting names fail before any data or model work."""
    get_task(task)
    check_protocol(protocol, scale, overrides)
    if isinstance(encoder, str):
        get_factory(encoder)
    elif not callable(getattr(encoder, "encode", None)):
        raise JetbenchError(f"model of type {type(encoder).__name__} has no encode(batch) method; "
                            "pass an encoder name or a jetbench.encoders.Encoder")


def load_encoder(encoder: str | nn.Module, scale: str, device: str,
                 pretrain: bool = False, fit_on: Path | None = None) -> LoadedEncoder:
    """A named encoder — the shipped checkpoint, else pretrained from the cache (or now); with
    `pretrain` always a local one — or an in-memory model as it is. `fit_on` (a user task's
    train split): an encoder that needs no pretraining (scratch, nobackbone) fits its input
    transform on those jets instead of on the jetclass pretraining split."""
    if isinstance(encoder, str):
        model = fitted_on(encoder, scale, fit_on, device) if fit_on is not None else None
        if model is None:
            model = ensure_pretrained(encoder, scale, device=device, pretrain=pretrain)
        return LoadedEncoder(model, encoder, identify(model))
    ident = identify(encoder)
    return LoadedEncoder(encoder, ident.name, ident)


def prepare_data(spec: TaskSpec, scale: str, progress: bool) -> tuple[dict[str, Path], str]:
    """Split stores (generated on first use; cached and locked) + the data manifest hash."""
    paths = {s: task_split(spec, s, scale, progress=progress) for s in SPLITS}
    return paths, manifest_hash(spec, scale, progress=progress)


def cell_config(cell: Cell, spec: TaskSpec, proto: Protocol, resolved: TrainSettings,
                encoder_revision: str, n_train: int) -> dict[str, Any]:
    """What decides a cell's numbers (hashed into `config_hash`, stored in the result)."""
    return {"encoder": cell.encoder, "encoder_revision": encoder_revision, "task": spec.name,
            "task_version": spec.version, "protocol": proto.identity(),
            "training": dataclasses.asdict(resolved), "scale": cell.scale, "budget": cell.budget,
            "seed": cell.seed, "n_train": int(n_train)}


def cell_hashes(spec: TaskSpec, proto: Protocol, config: dict[str, Any], data_manifest_hash: str,
                weights: str | None) -> dict[str, Any]:
    """The provenance hashes a finished result must match to be reused."""
    return {"task_hash": spec.hash(), "protocol_hash": proto.hash(),
            "config_hash": hash_json(config), "data_manifest_hash": data_manifest_hash,
            "encoder_checkpoint_hash": weights}


@dataclass
class CellPlan:
    """Everything resolved for a cell before training: data, encoder, settings and hashes."""

    cell: Cell
    spec: TaskSpec
    proto: Protocol
    encoder: LoadedEncoder
    device: str
    paths: dict[str, Path]
    idx: np.ndarray
    config: dict[str, Any]
    hashes: dict[str, Any]
    out: Path | None

    @property
    def budget(self) -> int:
        return self.cell.budget


def plan_cell(encoder: str | nn.Module, task: str, protocol: str | None = None, *,
              budget: int | None = None, seed: int = 0, scale: str = "cpu", device: str = "auto",
              results_dir: str | Path | None = None, progress: bool = True,
              overrides: dict[str, Any] | None = None,
              encoders: dict[str, LoadedEncoder] | None = None,
              pretrain: bool = False) -> CellPlan:
    """Validate the cell, produce its data and encoder (cached), resolve settings and hashes.

    `encoders` memoises loaded encoders by name (a sweep plans many cells of one encoder);
    `pretrain` uses a locally pretrained encoder instead of the shipped checkpoint.
    """
    protocol = protocol or DEFAULT_PROTOCOL
    check_names(encoder, task, protocol, scale, overrides)
    spec = get_task(task)
    budget = resolve_budget(spec, scale, budget)
    dev = str(resolve_device(device))
    paths, mhash = prepare_data(spec, scale, progress)
    # a user's task: encoders without pretraining fit their input transform on its own jets
    fit_on = None if is_builtin(spec) else paths["train"]
    key = encoder if isinstance(encoder, str) else None
    if key is not None and fit_on is not None:
        key = f"{encoder}@{spec.name}"
    if encoders is not None and key in encoders:
        loaded = encoders[key]
    else:
        loaded = load_encoder(encoder, scale, dev, pretrain, fit_on)
        if encoders is not None and key is not None:
            encoders[key] = loaded
    idx = budget_indices(spec, scale, budget, seed)
    # settings that depend on how much labelled data there is (the fine-tuning freeze length)
    # follow the jets actually trained on: a CWoLa budget counts signal jets only, while its whole
    # training set carries (weak) labels
    proto = get_protocol(protocol, scale=scale, budget=len(idx), **(overrides or {}))
    cell = Cell(loaded.name, spec.name, proto.name, scale, budget, seed)
    config = cell_config(cell, spec, proto, proto.train_settings(spec, len(idx)),
                         loaded.identity.revision, len(idx))
    hashes = cell_hashes(spec, proto, config, mhash, loaded.identity.weights)
    out = None if results_dir is None else cell.path(results_dir)
    return CellPlan(cell, spec, proto, loaded, dev, paths, idx, config, hashes, out)
