"""The three tracking backends. Each imports its library only when opened (optional extras).

W&B: one `wandb.init` run per jetbench run (project $WANDB_PROJECT or 'jetbench', the sweep as
its group); `WANDB_MODE=offline` writes the run folder without a network. MLflow: the client API
(no global active run, so a sweep's cells in one process cannot mix); $MLFLOW_TRACKING_URI if set,
else a local file store under the tracking folder. TensorBoard: `torch.utils.tensorboard`'s
SummaryWriter, one event folder per run; parameters are written as a text table.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jetbench.tracking.base import Tracker, result_record


def safe_name(run: str) -> str:
    """A run name as a folder name (cell ids contain '/', '@', ':' on some paths)."""
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", run).strip("_") or "run"


class WandbTracker:
    def __init__(self, run: str, group: str | None, folder: Path):
        import wandb  # lazy: optional extra, imported only when selected

        folder.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "jetbench"), name=run,
                              group=group, dir=str(folder), reinit="create_new")

    def log_params(self, params: Mapping[str, Any]) -> None:
        self.run.config.update(dict(params), allow_val_change=True)

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        self.run.log(dict(metrics), step=step)

    def log_result(self, result: Any) -> None:
        params, metrics = result_record(result)
        self.log_params(params)
        self.run.summary.update(metrics)

    def close(self) -> None:
        self.run.finish()


class MlflowTracker:
    EXPERIMENT = "jetbench"

    def __init__(self, run: str, group: str | None, folder: Path):
        from mlflow.tracking import MlflowClient  # lazy: optional extra

        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:  # a local store that needs neither a server nor a database
            uri = (folder / "mlruns").resolve().as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow >= 3.x asks for it
        self.client = MlflowClient(tracking_uri=uri)
        exp = self.client.get_experiment_by_name(os.environ.get("MLFLOW_EXPERIMENT_NAME",
                                                                self.EXPERIMENT))
        exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(
            os.environ.get("MLFLOW_EXPERIMENT_NAME", self.EXPERIMENT))
        tags = {"jetbench.group": group} if group else {}
        self.run_id = self.client.create_run(exp_id, run_name=run, tags=tags).info.run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param  # lazy: optional extra

        # MLflow keeps values up to 6000 characters and refuses to change a logged one
        items = [Param(k, str(v)[:6000]) for k, v in params.items()]
        for start in range(0, len(items), 100):  # the batch API's limit
            self.client.log_batch(self.run_id, params=items[start:start + 100])

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        from mlflow.entities import Metric  # lazy: optional extra

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, int(step)) for k, v in metrics.items()]
        for start in range(0, len(items), 1000):
            self.client.log_batch(self.run_id, metrics=items[start:start + 1000])

    def log_result(self, result: Any) -> None:
        params, metrics = result_record(result)
        self.log_params(params)
        self.log_metrics(0, metrics)

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


class TensorBoardTracker:
    def __init__(self, run: str, group: str | None, folder: Path):
        from torch.utils.tensorboard import SummaryWriter  # lazy: torch + optional tensorboard

        where = folder / "tensorboard" / (safe_name(group) if group else "") / safe_name(run)
        self.writer = SummaryWriter(log_dir=str(where))

    def log_params(self, params: Mapping[str, Any]) -> None:
        table = "| parameter | value |\n|---|---|\n" + "".join(
            f"| {k} | {json.dumps(v) if not isinstance(v, str) else v} |\n" for k, v in params.items())
        self.writer.add_text("params", table)

    def log_metrics(self, step: int, metrics: Mapping[str, float]) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(key, value, global_step=step)

    def log_result(self, result: Any) -> None:
        params, metrics = result_record(result)
        self.log_params(params)
        for key, value in metrics.items():
            self.writer.add_scalar(f"result/{key}", value, global_step=0)

    def close(self) -> None:
        self.writer.close()


_BACKENDS = {"wandb": WandbTracker, "mlflow": MlflowTracker, "tensorboard": TensorBoardTracker}


def open_backend(name: str, run: str, group: str | None, folder: Path) -> Tracker:
    """Start a run on backend `name`; ImportError when its library is missing."""
    return _BACKENDS[name](run, group, folder)


__all__ = ["MlflowTracker", "TensorBoardTracker", "WandbTracker", "open_backend", "safe_name"]
