"""The tracking interface and what every backend shares (selection, flattening, fan-out).

Experiment tracking: pretraining curves and cell results sent to W&B, MLflow or TensorBoard.

One small callback interface (`Tracker`): `log_params` once, `log_metrics(step, values)` for each
pretraining log record, `log_result(result)` when a cell is scored, `close`. jetbench opens one
tracking run per pretraining and one per cell; a sweep's cells share a group. Off unless asked for
(`--track wandb,mlflow,tensorboard` or `JETBENCH_TRACK`); the libraries are optional extras,
imported only when selected, so the benchmark never depends on them. Any object with these four
methods is a tracker (pass your own to `jetbench.evaluate(..., tracker=...)`).

Where records go: W&B and MLflow follow their own settings (`WANDB_MODE=offline`, `WANDB_PROJECT`,
`MLFLOW_TRACKING_URI`); local files (TensorBoard event files, W&B run folders, and an MLflow
file store when no tracking URI is set) go under `JETBENCH_TRACKING_DIR` (default `./runs`).
A tracker that fails mid-run is switched off with one warning: tracking never stops a benchmark.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from jetbench.core.errors import unknown_name
from jetbench.core.log import get_logger

TRACK_ENV = "JETBENCH_TRACK"
GROUP_ENV = "JETBENCH_TRACK_GROUP"  # a sweep sets it, so its cells (in any process) share a group
DIR_ENV = "JETBENCH_TRACKING_DIR"
BACKENDS = ("wandb", "mlflow", "tensorboard")
# the pip extra that installs each backend's library
EXTRAS = {"wandb": "wandb", "mlflow": "mlflow", "tensorboard": "tensorboard"}
# cell fields that say what was run (parameters); everything numeric in `metrics` is a metric
RESULT_PARAMS = ("encoder", "encoder_revision", "task", "task_version", "protocol",
                 "protocol_version", "scale", "budget", "seed", "main_score")


@runtime_checkable
class Tracker(Protocol):
    """What jetbench calls on a tracking backend."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Settings of the run (flat: nested keys joined with '.')."""

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        """Values at a step (pretraining: one call per log record)."""

    def log_result(self, result: Any) -> None:
        """A scored cell (a `Result` or its JSON dict)."""

    def close(self) -> None:
        """Finish the run and flush its records."""


def tracking_dir() -> Path:
    """Local tracking records: $JETBENCH_TRACKING_DIR, else ./runs."""
    return Path(os.environ.get(DIR_ENV) or "runs")


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}, 'c': [1, 2]} -> {'a.b': 1, 'c': '[1, 2]'}: what every backend accepts."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif value is None or isinstance(value, bool | int | float | str):
            out[name] = value
        else:
            out[name] = str(list(value) if isinstance(value, tuple) else value)
    return out


def numeric(values: Mapping[str, Any]) -> dict[str, float]:
    """The finite-or-not numbers among `values` (None, strings and bools dropped)."""
    return {k: float(v) for k, v in values.items()
            if isinstance(v, int | float) and not isinstance(v, bool)}


def result_record(result: Any) -> tuple[dict[str, Any], dict[str, float]]:
    """(parameters, metrics) of a scored cell: what it was, and its metrics with their bootstrap
    standard errors (`<metric>_stderr`) and wall time."""
    data = result.model_dump(mode="json") if hasattr(result, "model_dump") else dict(result)
    params = {k: data[k] for k in RESULT_PARAMS if k in data}
    metrics = numeric(data.get("metrics", {}))
    metrics.update({f"{k}_stderr": v for k, v in numeric(data.get("stderr", {})).items()})
    if isinstance(data.get("wall_time_s"), int | float):
        metrics["wall_time_s"] = float(data["wall_time_s"])
    return params, metrics


def selected(names: str | Sequence[str] | None = None) -> list[str]:
    """Backend names from `--track` (comma-separated or a list), else $JETBENCH_TRACK; checked."""
    if names is None:
        names = os.environ.get(TRACK_ENV, "")
    items = names.split(",") if isinstance(names, str) else [n for x in names for n in x.split(",")]
    out = [n.strip().lower() for n in items if n.strip() and n.strip().lower() != "none"]
    for name in out:
        if name not in BACKENDS:
            raise unknown_name("tracking backend", name, BACKENDS)
    return list(dict.fromkeys(out))


class NullTracker:
    """Tracking off: every call does nothing."""

    def log_params(self, params: Mapping[str, Any]) -> None:
        pass

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        pass

    def log_result(self, result: Any) -> None:
        pass

    def close(self) -> None:
        pass


class Trackers:
    """Several trackers as one; a backend that raises is reported once and dropped."""

    def __init__(self, trackers: Sequence[Tracker]):
        self.trackers = list(trackers)

    def _each(self, method: str, *args: Any) -> None:
        for tracker in list(self.trackers):
            try:
                getattr(tracker, method)(*args)
            except Exception as err:  # noqa: BLE001 - tracking must not stop the benchmark
                self.trackers.remove(tracker)
                get_logger().warning(f"tracking with {type(tracker).__name__} stopped: "
                                     f"{type(err).__name__}: {err}")

    def log_params(self, params: Mapping[str, Any]) -> None:
        self._each("log_params", flatten(params))

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        values = numeric(metrics)
        if values:
            self._each("log_metrics", int(step), values)

    def log_result(self, result: Any) -> None:
        self._each("log_result", result)

    def close(self) -> None:
        self._each("close")
        self.trackers = []

    def __enter__(self) -> Trackers:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


__all__ = ["BACKENDS", "EXTRAS", "NullTracker", "Tracker", "Trackers", "flatten", "numeric",
           "result_record", "selected", "tracking_dir"]
