"""The identity of a benchmark cell: (encoder, task, protocol, scale, budget, seed).

One `Cell` names a unit of work everywhere: `jetbench run` plans and executes one, `sweep`
expands a grid of them, a result file is named after its cell (which is what makes sweeps
resumable) and the leaderboard groups results by it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cell:
    encoder: str
    task: str
    protocol: str
    scale: str
    budget: int
    seed: int

    @property
    def id(self) -> str:
        """File-name-safe id, e.g. 'mpm_flow__btag__frozen__cpu__b10000__s0'."""
        safe = self.encoder.replace(":", "_").replace("/", "_")
        return (f"{safe}__{self.task}__{self.protocol}__{self.scale}__b{self.budget}"
                f"__s{self.seed}")

    def path(self, results_dir: str | os.PathLike) -> Path:
        """Where this cell's result JSON lives under `results_dir`."""
        return Path(results_dir) / f"{self.id}.json"

    def run_args(self, results_dir: str | os.PathLike) -> list[str]:
        """Arguments of the equivalent `jetbench run` command."""
        return ["--encoder", self.encoder, "--task", self.task, "--protocol", self.protocol,
                "--budget", str(self.budget), "--seed", str(self.seed), "--scale", self.scale,
                "--results", str(results_dir)]
