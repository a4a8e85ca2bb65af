"""Experiment tracking: selection, the fan-out wrapper, and each backend's offline record read back.

A backend's test is skipped when its library is not installed (`pip install -e ".[dev]"` installs
all three: the dev extra includes the tracking extras so that CI runs these tests).
"""

from __future__ import annotations

import glob
import json
import struct
import time

import pytest

from jetbench.core.errors import JetbenchError
from jetbench.tracking import NullTracker, Tracker, Trackers, flatten, open_trackers, selected

RESULT = {"encoder": "mpm_flow", "encoder_revision": "abc123", "task": "btag", "task_version": 2,
          "protocol": "frozen", "protocol_version": 2, "scale": "smoke", "budget": 150, "seed": 0,
          "main_score": "auc", "metrics": {"auc": 0.8125, "accuracy": 0.75},
          "stderr": {"auc": 0.01}, "wall_time_s": 12.5, "created": "today"}
CURVE = [(10, {"loss": 2.0, "probe_acc": None, "lr": 1e-3}), (20, {"loss": 1.5, "lr": 5e-4}),
         (30, {"loss": 1.25, "probe_acc": 0.5, "lr": 2e-4})]


def _log_a_run(backend: str, run: str = "btag-frozen-smoke") -> None:
    trackers = open_trackers(run, group="sweep-1", names=backend,
                             params={"encoder": "mpm_flow", "train": {"steps": 30, "dims": (4, 8)}})
    assert len(trackers.trackers) == 1
    for step, rec in CURVE:
        trackers.log_metrics(step, rec)
    trackers.log_result(RESULT)
    trackers.close()


@pytest.fixture(autouse=True)
def _tracking_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("JETBENCH_TRACKING_DIR", str(tmp_path / "runs"))
    monkeypatch.delenv("JETBENCH_TRACK", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path / "runs"


def test_selection_is_checked_and_off_by_default(monkeypatch):
    assert selected() == [] and selected("none") == []
    assert selected("wandb, tensorboard,wandb") == ["wandb", "tensorboard"]
    assert selected(["mlflow", "tensorboard"]) == ["mlflow", "tensorboard"]
    monkeypatch.setenv("JETBENCH_TRACK", "mlflow")
    assert selected() == ["mlflow"]
    with pytest.raises(JetbenchError, match="did you mean 'wandb'"):
        selected("wandbb")
    monkeypatch.delenv("JETBENCH_TRACK")
    assert open_trackers("x").trackers == []  # nothing selected: a no-op, nothing imported


def test_fan_out_flattens_skips_non_numbers_and_drops_a_failing_backend(capsys):
    class Recorder:
        def __init__(self):
            self.calls = []

        def log_params(self, params):
            self.calls.append(("params", dict(params)))

        def log_metrics(self, step, metrics):
            self.calls.append(("metrics", step, dict(metrics)))

        def log_result(self, result):
            self.calls.append(("result", result["task"]))

        def close(self):
            self.calls.append(("close",))

    class Broken(NullTracker):
        def log_metrics(self, step, metrics):
            raise ConnectionError("offline")

    good, bad = Recorder(), Broken()
    assert isinstance(good, Tracker) and isinstance(NullTracker(), Tracker)
    with Trackers([bad, good]) as t:
        t.log_params({"a": {"b": 1}, "c": [1, 2]})
        t.log_metrics(3, {"loss": 1.5, "probe_acc": None, "flag": True})
        t.log_metrics(4, {"probe_acc": None})  # nothing numeric: no call
        t.log_result(RESULT)
    assert good.calls == [("params", {"a.b": 1, "c": "[1, 2]"}), ("metrics", 3, {"loss": 1.5}),
                          ("result", "btag"), ("close",)]
    assert t.trackers == []
    assert capsys.readouterr().err == ("jetbench: warning: tracking with Broken stopped: "
                                       "ConnectionError: offline\n")
    assert flatten({"x": None, "y": {"z": "s"}}) == {"x": None, "y.z": "s"}


def test_missing_library_is_one_clear_error(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_wandb(name, *args, **kwargs):
        if name == "wandb" or name.startswith("wandb."):
            raise ImportError("No module named 'wandb'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_wandb)
    with pytest.raises(JetbenchError, match=r"pip install 'jetbench\[wandb\]'"):
        open_trackers("x", names="wandb")


# ---- each backend writes its offline record; read it back -------------------------------------

def _wandb_records(path: str) -> list:
    """Records of a W&B run file: a 7-byte ':W&B' header, then LevelDB-log blocks of 32 KiB
    (7-byte chunk headers: crc, length, type 1 full / 2 first / 3 middle / 4 last)."""
    from wandb.proto import wandb_internal_pb2 as pb

    with open(path, "rb") as f:
        data, pos, chunks, out = f.read(), 7, b"", []
    if len(data) < 7:  # not written yet
        return []
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        left = 32768 - pos % 32768
        _crc, n, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if left < 7 or (n == 0 and kind == 0):  # block trailer / padding
            pos += left
            continue
        if pos + 7 + n > len(data):  # the writer is still at it
            break
        chunks += data[pos + 7:pos + 7 + n]
        pos += 7 + n
        if kind in (1, 4):
            rec = pb.Record()
            rec.ParseFromString(chunks)
            out.append(rec)
            chunks = b""
    return out


def test_wandb_offline_run_holds_the_values(_tracking_dir, monkeypatch):
    pytest.importorskip("wandb", reason="wandb is not installed (pip install 'jetbench[wandb]')")
    for var, sub in (("WANDB_CONFIG_DIR", "cfg"), ("WANDB_CACHE_DIR", "cache"),
                     ("WANDB_DATA_DIR", "data")):
        monkeypatch.setenv(var, str(_tracking_dir / sub))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_CONSOLE", "off")  # no console capture or system stats sampling:
    monkeypatch.setenv("WANDB_X_DISABLE_STATS", "true")  # less work on a loaded test machine
    _log_a_run("wandb")
    [path] = glob.glob(str(_tracking_dir / "wandb" / "offline-run-*" / "run-*.wandb"))
    deadline = time.monotonic() + 60  # wandb's service process may still be flushing the file
    while "exit" not in [r.WhichOneof("record_type") for r in _wandb_records(path)]:
        assert time.monotonic() < deadline, "the W&B run file was never closed"
        time.sleep(0.5)
    history, summary, config, run = [], {}, {}, None

    def items(updates) -> dict:
        return {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in updates}

    for rec in _wandb_records(path):
        kind = rec.WhichOneof("record_type")
        if kind == "history":
            history.append(items(rec.history.item))
        elif kind == "summary":
            summary.update(items(rec.summary.update))
        elif kind == "config":
            config.update(items(rec.config.update))
        elif kind == "run":
            run = rec.run
            config.update(items(rec.run.config.update))
    assert run.display_name == "btag-frozen-smoke" and run.run_group == "sweep-1"
    curve = [(h["_step"], h["loss"], h.get("probe_acc")) for h in history]
    assert curve == [(10, 2.0, None), (20, 1.5, None), (30, 1.25, 0.5)]
    assert config["encoder"] == "mpm_flow" and config["train.steps"] == 30
    assert config["task"] == "btag" and config["budget"] == 150
    assert summary["auc"] == 0.8125 and summary["auc_stderr"] == 0.01
    assert summary["wall_time_s"] == 12.5


def test_mlflow_file_store_holds_the_values(_tracking_dir):
    pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'jetbench[mlflow]')")
    from mlflow.tracking import MlflowClient

    _log_a_run("mlflow")
    client = MlflowClient(tracking_uri=(_tracking_dir / "mlruns").resolve().as_uri())
    [run] = client.search_runs([client.get_experiment_by_name("jetbench").experiment_id])
    assert run.info.run_name == "btag-frozen-smoke" and run.info.status == "FINISHED"
    assert run.data.tags["jetbench.group"] == "sweep-1"
    loss = client.get_metric_history(run.info.run_id, "loss")
    assert [(m.step, m.value) for m in loss] == [(10, 2.0), (20, 1.5), (30, 1.25)]
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "probe_acc")] \
        == [(30, 0.5)]
    assert run.data.metrics["auc"] == 0.8125 and run.data.metrics["accuracy"] == 0.75
    assert run.data.metrics["auc_stderr"] == 0.01
    assert run.data.params["encoder"] == "mpm_flow" and run.data.params["train.dims"] == "[4, 8]"
    assert run.data.params["budget"] == "150" and run.data.params["protocol"] == "frozen"


def test_tensorboard_event_file_holds_the_values(_tracking_dir):
    pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install 'jetbench[tensorboard]')")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _log_a_run("tensorboard")
    [folder] = glob.glob(str(_tracking_dir / "tensorboard" / "sweep-1" / "btag-frozen-smoke"))
    events = EventAccumulator(folder, size_guidance={"scalars": 0, "tensors": 0})
    events.Reload()
    loss = [(e.step, e.value) for e in events.Scalars("loss")]
    assert loss == [(10, 2.0), (20, 1.5), (30, 1.25)]
    assert [(e.step, e.value) for e in events.Scalars("probe_acc")] == [(30, 0.5)]
    assert events.Scalars("result/auc")[0].value == 0.8125
    assert events.Scalars("result/wall_time_s")[0].value == 12.5
    texts = [t.tensor_proto.string_val[0].decode() for t in events.Tensors("params/text_summary")]
    assert any("| encoder | mpm_flow |" in t for t in texts)
    assert any("| train.steps | 30 |" in t for t in texts)
    assert any("| task | btag |" in t for t in texts)
