"""`jetbench run` end to end at smoke scale: every task, both a random-init and an MPM encoder,
every protocol; result files validate; finished cells are no-ops; bad input fails with one line."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

import jetbench
from jetbench.cli import main
from jetbench.core.errors import JetbenchError
from jetbench.encoders import create_encoder
from jetbench.evaluation import run_cell
from jetbench.evaluation.results import Result, load_result
from jetbench.tasks import list_tasks
from tests.conftest import random_batch

TASKS = ["jetclass", "cwola", "btag", "vertexing", "trackid", "toptag", "quarkgluon"]
PROTOCOLS = ["frozen", "linear", "finetune", "scratch"]
ENCODERS = ["scratch", "mpm_flow"]
# A representative default subset (every task, every protocol, both encoders); the rest of the
# full grid (56 cells) runs with `pytest -m slow`.
DEFAULT = ([("mpm_flow", t, "finetune") for t in TASKS[:5]]
           + [("scratch", "toptag", "linear"), ("mpm_flow", "quarkgluon", "frozen")]
           + [("mpm_flow", "vertexing", p) for p in ("frozen", "linear", "scratch")]
           + [("mpm_flow", "jetclass", "linear"), ("mpm_flow", "trackid", "frozen")]
           + [("scratch", t, p) for t, p in (("btag", "frozen"), ("cwola", "scratch"),
                                              ("trackid", "finetune"))])
GRID = [pytest.param(e, t, p, marks=() if (e, t, p) in DEFAULT else pytest.mark.slow)
        for e in ENCODERS for t in TASKS for p in PROTOCOLS]


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_registered_tasks_are_covered():
    assert sorted(t.name for t in list_tasks()) == sorted(TASKS)


@pytest.mark.parametrize("encoder,task,protocol", GRID)
def test_cell_end_to_end(tmp_path, encoder, task, protocol):
    out = run_cell(encoder, task, protocol, scale="smoke", results_dir=tmp_path, progress=False,
                   threads=1)
    assert not out.skipped and out.path.exists()
    raw = json.loads(out.path.read_text())
    r = Result.model_validate(raw)  # the file validates against the schema
    assert load_result(out.path) == r
    assert (r.encoder, r.task, r.protocol, r.scale) == (encoder, task, protocol, "smoke")
    assert math.isfinite(r.score) and r.main_score in r.metrics
    assert r.stderr.get(r.main_score, 0) >= 0
    p = r.provenance
    assert all([p.task_hash, p.protocol_hash, p.config_hash, p.data_manifest_hash,
                p.encoder_checkpoint_hash, p.jetbench_version, p.torch_version])
    assert r.n_params > 0 and r.wall_time_s > 0
    assert r.config["run"]["steps"] > 0 and r.config["n_train"] == r.budget or task == "cwola"
    if task == "vertexing":
        assert set(r.binned) >= {"ari@n_sv", "ari@flavour"} and r.binned["ari@n_sv"]


def test_rerun_is_a_noop_and_force_reruns(tmp_path, capsys):
    args = ["run", "--encoder", "mpm_flow", "--task", "btag", "--protocol", "linear", "--scale",
            "smoke", "--results", str(tmp_path), "--no-progress", "--threads", "1"]
    assert main(args) == 0
    (path,) = tmp_path.glob("*.json")
    first = path.read_text()
    mtime = path.stat().st_mtime_ns
    capsys.readouterr()
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "already done" in captured.err and "accuracy (main)" in captured.out
    assert path.stat().st_mtime_ns == mtime and path.read_text() == first
    # a result measured under other settings is re-run, not trusted
    raw = json.loads(first)
    raw["provenance"]["protocol_hash"] = "0" * 16
    path.write_text(json.dumps(raw))
    assert main(args) == 0
    assert "different protocol_hash" in capsys.readouterr().err
    assert load_result(path).provenance.protocol_hash != "0" * 16
    mtime = path.stat().st_mtime_ns
    assert main([*args, "--force"]) == 0
    assert path.stat().st_mtime_ns != mtime


@pytest.mark.parametrize("args,expect", [
    (["--encoder", "mpm_flw", "--task", "btag"], "unknown encoder 'mpm_flw' (did you mean "
     "'mpm_flow'?); known: mpm_cfm, mpm_flow"),
    (["--encoder", "mpm_flow", "--task", "btagg"], "unknown task 'btagg' (did you mean 'btag'?); "
     "known: btag, cwola, jetclass, quarkgluon, toptag, trackid, vertexing"),
    (["--encoder", "mpm_flow", "--task", "btag", "-p", "finetuning"],
     "known: finetune, frozen, linear, scratch"),
    (["--encoder", "mpm_flow", "--task", "btag", "-b", "151"], "the maximum budget is 150"),
    (["--encoder", "mpm_flow", "--task", "cwola", "-b", "1000"], "the maximum budget is 20"),
    (["--encoder", "mpm_flow", "--task", "btag", "--scale", "huge"], "unknown scale 'huge'"),
])
def test_bad_input_is_one_line(tmp_path, capsys, args, expect):
    code = main(["run", *args, "--scale", "smoke", "--results", str(tmp_path)]
                if "--scale" not in args else ["run", *args, "--results", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and expect in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.glob("*.json"))


def test_corrupt_checkpoint_is_refused_with_its_path(tmp_path, monkeypatch, capsys):
    from jetbench.pretraining import default_checkpoint, ensure_pretrained

    ensure_pretrained("scratch", "smoke", device="cpu")
    src = default_checkpoint("scratch", "smoke")
    monkeypatch.setenv("JETBENCH_CHECKPOINTS", str(tmp_path / "ckpt"))
    dst = default_checkpoint("scratch", "smoke")
    shutil.copytree(src, dst)
    weights = dst / "model.safetensors"
    blob = bytearray(weights.read_bytes())
    blob[-50:] = b"\x00" * 50
    weights.write_bytes(bytes(blob))
    code = main(["run", "--encoder", "scratch", "--task", "btag", "--scale", "smoke",
                 "--results", str(tmp_path / "res")])
    err = capsys.readouterr().err
    assert code == 2 and str(weights) in err and "corrupt checkpoint" in err
    assert not (tmp_path / "res").exists()


def test_evaluate_api_with_in_memory_model_leaves_it_untouched(tmp_path):
    model = create_encoder("mpm_flow", "smoke")
    model.fit_preprocessing(random_batch(300, "jetclass", seed=1), seed=0)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    results = jetbench.evaluate(model, tasks=["btag", "vertexing"], protocol="frozen",
                                scale="smoke", results_dir=tmp_path, progress=False)
    assert [r.task for r in results] == ["btag", "vertexing"]
    assert all(r.encoder == "mpm_flow" and r.protocol == "frozen" for r in results)
    assert len(list(tmp_path.glob("*.json"))) == 2
    # frozen never changes backbone weights, and the model's train/eval mode is restored
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    res = jetbench.evaluate(model, tasks="btag", protocol="finetune", scale="smoke",
                            progress=False)
    assert len(res) == 1 and res[0].protocol == "finetune"
    for k, v in model.state_dict().items():  # fine-tuning trained a copy
        assert torch.equal(v, before[k]), k


def test_in_memory_model_checked(tmp_path):
    with pytest.raises(JetbenchError, match="has no encode"):
        jetbench.evaluate(torch.nn.Linear(2, 2), tasks=["btag"], scale="smoke")


def test_auto_threads_uses_what_other_processes_use_now(monkeypatch):
    """Threads = cores minus the cores busy right now (from /proc/stat deltas, not the lagging
    load average); an explicit request or OMP_NUM_THREADS wins."""
    from jetbench.core import threads as er

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(er.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(er.time, "sleep", lambda s: None)

    def sampled(busy_delta, total_delta):
        seq = iter([(1000, 5000), (1000 + busy_delta, 5000 + total_delta)])
        monkeypatch.setattr(er, "_cpu_times", lambda: next(seq))

    sampled(300, 400)  # 75 % of 4 cores busy = 3 cores
    assert er.auto_threads() == 1
    sampled(100, 400)  # 1 core busy
    assert er.auto_threads() == 3
    sampled(0, 400)
    assert er.auto_threads() == 4
    assert er.auto_threads(2) == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert er.auto_threads() == 3


def test_cpu_times_reads_proc_stat():
    from jetbench.core.threads import _cpu_times

    t = _cpu_times()
    if t is None:
        pytest.skip("no /proc/stat on this platform")
    busy, total = t
    assert 0 <= busy <= total and total > 0


def test_cwola_settings_follow_the_weakly_labelled_jets(monkeypatch):
    """A CWoLa budget counts signal jets; the protocol's budget-dependent settings (fine-tuning
    freeze length) must follow the jets actually trained on, which are many more."""
    from jetbench.evaluation.plan import plan_cell
    from jetbench.protocols import get_protocol

    plan = plan_cell("scratch", "cwola", "finetune", scale="smoke", progress=False)
    n = len(plan.idx)
    assert n > plan.budget  # the QCD halves carry weak labels too
    assert plan.proto.budget == n
    assert plan.proto.hash() == get_protocol("finetune", "smoke", budget=n).hash()
