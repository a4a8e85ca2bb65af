"""The protocol object: a name, a version and resolved settings (hashed into every result), and two
verbs: `fit(encoder, task, train, val)` trains whatever the protocol trains, `score(split)` returns
predictions for a split (probabilities in the layout `jetbench.tasks.score_task` takes). What the
task means (targets, head, loss, scores) comes from its kind (`task.kind`); what the protocol
measured on the way is `run_info()`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import hash_json
from jetbench.core.scales import PerScale
from jetbench.data.format import JetBatch
from jetbench.protocols.data import Split
from jetbench.protocols.training import History, TaskModel, TrainSettings, predict, train
from jetbench.tasks import TaskSpec, TrainingSpec


@dataclass
class Measured:
    """What a protocol spent besides training steps (reported per cell in the result)."""

    embedded_jets: int = 0  # jets run through the frozen encoder now (not found in the cache)
    embed_s: float = 0.0


def count_parameters(module: torch.nn.Module | None) -> int:
    return 0 if module is None else sum(p.numel() for p in module.parameters())


class Protocol(ABC):
    """Base class; subclasses set `name`, `version`, `DEFAULTS` (a PerScale table of settings)
    and `source`."""

    name: ClassVar[str]
    version: ClassVar[int]
    DEFAULTS: ClassVar[PerScale[dict[str, Any]]]
    uses_backbone_training: ClassVar[bool] = False
    # one budget inside each branch of `resolve`, so every variant of the settings can be listed
    REGIME_BUDGETS: ClassVar[tuple[int, ...]] = ()

    def __init__(self, scale: str = "cpu", budget: int | None = None, **overrides: Any):
        self.check_overrides(scale, overrides)
        settings = self.resolve(dict(self.DEFAULTS.at(scale)), budget)
        settings.update(overrides)
        self.scale, self.budget, self.settings = scale, budget, settings
        self.model: TaskModel | None = None
        self.task: TaskSpec | None = None
        self.history: History | None = None
        self.measured = Measured()
        self.fit_info: dict[str, Any] = {}  # solver facts a subclass reports (e.g. the chosen L2)
        self.refresh_cache = False  # frozen/linear: recompute cached embeddings (`--force`)
        self.use_cache = True  # frozen/linear: False embeds in memory, writes no cache file
        # how the cell runs, not what it measures (not part of the protocol's identity):
        self.precision = "fp32"  # "bf16": forward passes under bf16 autocast (training.autocast)
        self.loader_workers: int | None = None  # streaming splits: loader worker processes

    @classmethod
    def check_overrides(cls, scale: str, overrides: dict[str, Any]) -> None:
        """Unknown scale or setting names fail here, before any data or model work."""
        known = cls.DEFAULTS.at(scale)
        unknown = set(overrides) - set(known)
        if unknown:
            raise JetbenchError(f"protocol '{cls.name}': unknown setting(s) {sorted(unknown)}; "
                                f"known: {', '.join(sorted(known))}")

    def resolve(self, settings: dict[str, Any], budget: int | None) -> dict[str, Any]:
        """Budget-dependent settings (e.g. the fine-tuning freeze length); default: unchanged."""
        return settings

    def identity(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "settings": self.settings}

    def hash(self) -> str:
        return hash_json(self.identity())

    def train_settings(self, task: TaskSpec, n_train: int) -> TrainSettings:
        """Protocol settings combined with the task's training limits at this scale.

        The task gives the batch size, epochs, step limit, patience (in epochs) and which
        checkpoint to keep; the protocol gives the optimiser, schedule, evaluation cadence and a
        cap on jets processed (`max_train_jets`: a fixed compute budget per cell at cpu scale).
        """
        s = dict(self.settings)
        limits: TrainingSpec = task.training(self.scale)
        bs = max(1, min(int(limits.batch_size), n_train))
        per_epoch = max(1, math.ceil(n_train / bs))
        caps = [int(s["max_steps"]), limits.max_epochs * per_epoch]
        if s.get("max_train_jets"):  # jets seen while the backbone trains; frozen steps extra
            caps.append(int(s.get("freeze_steps", 0)) + max(1, int(s["max_train_jets"]) // bs))
        if limits.max_steps:
            caps.append(limits.max_steps)
        max_steps = min(caps)
        every_epoch = max(per_epoch, int(s.get("min_eval_every", 1)))
        eval_every = max(1, min(int(s["eval_every"]), every_epoch, max_steps))
        # patience is the task's, in epochs, turned into evaluations (the protocol's own
        # `batch_size`/`patience` settings are part of its identity but the task's limits win)
        patience = (10**9 if limits.patience is None
                    else max(1, math.ceil(limits.patience * per_epoch / eval_every)))
        warmup = min(int(s.get("warmup_steps", 0)), max_steps // 10)
        s.update(batch_size=bs, max_steps=max_steps, eval_every=eval_every, patience=patience,
                 checkpoint=limits.checkpoint, warmup_steps=warmup)
        return TrainSettings.from_dict(s)

    def fit(self, encoder: torch.nn.Module, task: TaskSpec, train_split: Split, val_split: Split,
            *, seed: int = 0, device: str = "cpu", progress: bool = True) -> Protocol:
        """Train on `train_split`, early-stop on `val_split`; returns self (fitted)."""
        torch.manual_seed(seed)
        self.task, self.device, self.progress, self.seed = task, device, progress, seed
        self.measured = Measured()  # this fit and the scoring after it
        self.encoder = self.prepare_encoder(encoder, seed)
        in_dim = int(self.encoder.embed_dim)
        head = task.kind.build_head(in_dim, linear=self.settings.get("linear_head", False))
        self.model = TaskModel(self.wrap_head(head, in_dim),
                               self.encoder if self.uses_backbone_training else None)
        src_train = self.source(train_split)
        if val_split.streams():  # only validation losses are read: a sample, held in memory
            sample = val_split.subset(int(self.settings["val_max"]), seed + 1)
            val_split = Split.from_batch(val_split.name, sample.load())
        src_val = self.source(val_split)
        self.resolved = self.train_settings(task, len(src_train))
        self.history = self.train_head(task, src_train, src_val, seed)
        return self

    def wrap_head(self, head: torch.nn.Module, in_dim: int) -> torch.nn.Module:
        """Hook: the module trained on the encoder outputs (default: the task's head as built)."""
        return head

    def train_head(self, task: TaskSpec, src_train: Any, src_val: Any, seed: int) -> History:
        """Hook: train `self.model` (default: the step-based loop with early stopping)."""
        return train(self.model, task.kind.loss(), src_train, src_val, self.resolved, seed=seed,
                     device=self.device, progress=self.progress, desc=f"{self.name} {task.name}",
                     precision=self.precision)

    def score(self, split: Split) -> np.ndarray:
        """Predicted probabilities for every jet of the split, in split order."""
        if self.model is None:
            raise JetbenchError(f"protocol '{self.name}': call fit() before score()")
        src = self.source(split)
        n_slots = split.load_rows(split.rows()[:1]).n_slots if len(split) else 0
        return predict(self.model, src, self.task.kind, n_slots,
                       batch_size=int(self.settings.get("predict_batch", 512)), device=self.device,
                       precision=self.precision)

    def n_params(self) -> dict[str, int]:
        """Encoder and head parameter counts (trainable ones are those of the fitted model)."""
        return {"encoder": count_parameters(getattr(self, "encoder", None)),
                "head": count_parameters(self.model.head if self.model else None)}

    def run_info(self) -> dict[str, Any]:
        """What the last fit and score measured: steps, validation losses, head size, embedding
        work (recorded in the result's config)."""
        hist = self.history or History()
        return {"steps": hist.steps, "best_step": hist.best_step,
                "best_val_loss": hist.best_val_loss, "val_loss": hist.val_loss,
                "head_params": self.n_params()["head"],
                "embedded_jets": int(self.measured.embedded_jets),
                "embed_s": round(self.measured.embed_s, 2), **self.fit_info}

    def targets(self, batch: JetBatch) -> np.ndarray:
        return np.asarray(self.task.kind.targets(batch))

    # subclass hooks
    def prepare_encoder(self, encoder: torch.nn.Module, seed: int) -> torch.nn.Module:
        return encoder

    @abstractmethod
    def source(self, split: Split) -> Any:
        """A mini-batch source (`.get(idx, device)`, `len`) over the split with its targets."""
