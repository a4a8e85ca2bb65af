"""Reading a result's per-jet predictions back: find, verify, re-score.

    from jetbench.leaderboard import recompute_metrics
    recompute_metrics("results/mpm_flow__jetclass__finetune__cpu__b1000__s0.json")

The file sits next to the JSON with the same stem and its sha256 recorded in the JSON, so a
predictions file that was replaced or edited is refused rather than silently re-scored.
"""

from __future__ import annotations

import os
from pathlib import Path

from jetbench.core.errors import JetbenchError
from jetbench.evaluation import Result, load_result
from jetbench.metrics.predictions import Predictions
from jetbench.metrics.scoring import TaskScores
from jetbench.tasks import TaskSpec, get_task, score_predictions


def predictions_path(result_path: str | os.PathLike, result: Result) -> Path | None:
    """Where the result's predictions file is (None: the result records none)."""
    if result.predictions is None:
        return None
    return Path(result_path).with_name(result.predictions.file)


def load_predictions(result_path: str | os.PathLike, result: Result | None = None) -> Predictions:
    """The sha256-checked predictions of the result at `result_path`."""
    result = result if result is not None else load_result(result_path)
    path = predictions_path(result_path, result)
    if path is None:
        raise JetbenchError(f"{result_path}: the result records no predictions file (made before "
                            "predictions were kept)")
    if not path.is_file():
        raise JetbenchError(f"{path}: predictions file named by {Path(result_path).name} is missing")
    return Predictions.load(path, sha256=result.predictions.sha256)  # type: ignore[union-attr]


def task_for(result: Result) -> TaskSpec:
    """The current task definition, refused when it is not the one the result was scored with
    (other metric options would give other numbers)."""
    spec = get_task(result.task)
    if spec.version != result.task_version or spec.hash() != result.provenance.task_hash:
        raise JetbenchError(f"task '{result.task}' changed since this result was scored (v"
                            f"{result.task_version} hash {result.provenance.task_hash[:10]}, now v"
                            f"{spec.version} hash {spec.hash()[:10]}); its metrics cannot be "
                            "recomputed with today's definition")
    return spec


def recompute(result_path: str | os.PathLike) -> TaskScores:
    """Metrics, binned metrics and bootstrap errors re-scored from the predictions file alone."""
    result = load_result(result_path)
    preds = load_predictions(result_path, result)
    return score_predictions(task_for(result), preds, seed=result.seed)


def recompute_metrics(result_path: str | os.PathLike) -> dict[str, float]:
    """The result's `metrics` dict re-scored from its predictions file (equal to the JSON's)."""
    return recompute(result_path).metrics
