"""A DataLoader-free batch sampler over in-memory jets: seeded shuffling per epoch, resumable.

The pretraining split fits in memory at the cpu scale, so a batch is one tensor gather (no worker
processes, no collation). The permutation of epoch e depends only on (seed, e), so the data position
(epoch, offset) is all a checkpoint needs to continue the exact same stream. Under DDP every rank
draws the same global batch and keeps its own contiguous slice.
"""

from __future__ import annotations

import numpy as np
import torch

from jetbench.data.format import JetBatch
from jetbench.errors import JetbenchError


class JetTensors:
    """The jets of a JetBatch as torch tensors, gathered into encoder batch dicts."""

    def __init__(self, batch: JetBatch):
        self.csts = torch.from_numpy(np.ascontiguousarray(batch.csts, dtype=np.float32))
        self.csts_id = torch.from_numpy(np.ascontiguousarray(batch.csts_id))
        self.mask = torch.from_numpy(np.ascontiguousarray(batch.mask, dtype=bool))
        self.labels = torch.from_numpy(batch.labels.astype(np.int64))

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def gather(
        self, index: np.ndarray, device: torch.device
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """(encoder batch dict, jet labels) for the jets `index`, trimmed to the longest jet.

        Trailing slots that are padding in every selected jet are cut: encoders ignore padding
        (a tested property), and attention cost falls with the square of the slot count.
        """
        idx = torch.from_numpy(np.asarray(index, dtype=np.int64))
        mask = self.mask[idx]
        n_slots = max(int(mask.any(0).nonzero().max()) + 1, 1) if mask.any() else 1
        batch = {
            "csts": self.csts[idx, :n_slots].to(device, non_blocking=True),
            "csts_id": self.csts_id[idx, :n_slots].long().to(device, non_blocking=True),
            "mask": mask[:, :n_slots].to(device, non_blocking=True),
        }
        return batch, self.labels[idx].to(device, non_blocking=True)


class BatchSampler:
    """Global batches of jet indices, reshuffled each epoch; `state_dict` is the data position."""

    def __init__(self, n_jets: int, batch_size: int, seed: int):
        if batch_size > n_jets:
            raise JetbenchError(
                f"batch size {batch_size} is larger than the pretraining split ({n_jets} jets)"
            )
        self.n_jets, self.batch_size, self.seed = n_jets, batch_size, seed
        self.epoch, self.offset = 0, 0
        self._perm_epoch = -1
        self._perm = np.empty(0, np.int64)

    def _permutation(self) -> np.ndarray:
        if self._perm_epoch != self.epoch:
            self._perm = np.random.default_rng([self.seed, self.epoch]).permutation(self.n_jets)
            self._perm_epoch = self.epoch
        return self._perm

    def next(self) -> np.ndarray:
        """The next global batch (incomplete epoch tails are skipped so every batch is full)."""
        if self.offset + self.batch_size > self.n_jets:
            self.epoch, self.offset = self.epoch + 1, 0
        index = self._permutation()[self.offset : self.offset + self.batch_size]
        self.offset += self.batch_size
        return index

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "offset": self.offset,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "n_jets": self.n_jets,
        }

    def load_state_dict(self, state: dict) -> None:
        if state["n_jets"] != self.n_jets or state["seed"] != self.seed:
            raise JetbenchError(
                f"checkpoint data position is for {state['n_jets']} jets / seed {state['seed']}, "
                f"this run has {self.n_jets} jets / seed {self.seed}"
            )
        self.epoch, self.offset = int(state["epoch"]), int(state["offset"])


def rank_slice(index: np.ndarray, rank: int, world_size: int) -> np.ndarray:
    """This rank's contiguous share of a global batch (the batch size must divide evenly)."""
    if len(index) % world_size:
        raise JetbenchError(
            f"batch size {len(index)} does not split evenly over {world_size} processes"
        )
    per = len(index) // world_size
    return index[rank * per : (rank + 1) * per]
