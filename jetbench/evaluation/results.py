"""Result files: one JSON per cell (encoder, revision, task@version, protocol@version, budget, seed).

The schema is a pydantic model so `jetbench run` writes and `jetbench leaderboard` reads the same
thing; a file is named after its `Cell`, which is what makes sweeps resumable. Schema 2 added the
encoder's full identity (`encoder_info`) and the git dirty flag; schema 1 files still load.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from jetbench.core.errors import JetbenchError
from jetbench.core.files import write_json
from jetbench.encoders.identity import EncoderIdentity
from jetbench.evaluation.cell import Cell

SCHEMA_VERSION = 2


class Provenance(BaseModel):
    """Everything needed to say exactly what was measured, where and with what."""

    model_config = ConfigDict(extra="forbid")
    task_hash: str
    protocol_hash: str
    config_hash: str
    data_manifest_hash: str
    encoder_checkpoint_hash: str | None = None
    jetbench_version: str
    git_commit: str | None = None
    git_dirty: bool | None = None  # uncommitted changes to tracked files when it ran
    torch_version: str
    device: str
    python_version: str
    hostname: str | None = None
    # the last bits of a score depend on the CPU's float kernels (jetbench.core.kernels);
    # results written before these fields were added have None
    cpu: str | None = None
    kernels: str | None = None  # kernel_fingerprint()


class PredictionsRef(BaseModel):
    """The per-jet test predictions file next to a result JSON (`jetbench.metrics.predictions`)."""

    model_config = ConfigDict(extra="forbid")
    file: str  # file name, in the JSON's folder
    sha256: str


class Result(BaseModel):
    """One benchmark cell's outcome."""

    model_config = ConfigDict(extra="forbid")
    schema_version: int = SCHEMA_VERSION
    encoder: str
    encoder_revision: str
    task: str
    task_version: int
    protocol: str
    protocol_version: int
    scale: str
    budget: int
    seed: int
    main_score: str
    metrics: dict[str, float]
    binned: dict[str, dict[str, float]] = Field(default_factory=dict)
    stderr: dict[str, float] = Field(default_factory=dict)  # bootstrap standard errors
    n_params: int
    encoder_info: EncoderIdentity | None = None  # code/config/weights identity, metadata, plug-in
    wall_time_s: float
    created: str
    provenance: Provenance
    config: dict[str, Any] = Field(default_factory=dict)
    predictions: PredictionsRef | None = None  # None: made before predictions were kept
    # the test predictions of a cell just run; `save_result` writes them next to the JSON
    _predictions: Any = PrivateAttr(default=None)

    @property
    def score(self) -> float:
        return self.metrics[self.main_score]

    @property
    def cell(self) -> Cell:
        return Cell(self.encoder, self.task, self.protocol, self.scale, self.budget, self.seed)

    def cell_id(self) -> str:
        return self.cell.id


def save_result(result: Result, results_dir: str | os.PathLike) -> Path:
    """Write the result JSON atomically under its cell name; return the path.

    A result carrying its test predictions gets them written first, as `<cell>.npz` beside the
    JSON, and the JSON records that file's name and sha256.
    """
    path = result.cell.path(results_dir)
    if result._predictions is not None:
        npz = path.with_suffix(".npz")
        result.predictions = PredictionsRef(file=npz.name, sha256=result._predictions.save(npz))
    write_json(path, result.model_dump(mode="json"))
    return path


def load_result(path: str | os.PathLike) -> Result:
    try:
        return Result.model_validate(json.loads(Path(path).read_text()))
    except (json.JSONDecodeError, ValidationError) as err:
        first = str(err).splitlines()[0:3]
        raise JetbenchError(f"{path}: not a valid jetbench result ({' '.join(first)})") from None


def load_results(results_dir: str | os.PathLike) -> list[Result]:
    """All result JSONs below a folder (recursively), sorted by cell id."""
    files = sorted(Path(results_dir).rglob("*.json"))
    return sorted((load_result(p) for p in files), key=lambda r: r.cell_id())
