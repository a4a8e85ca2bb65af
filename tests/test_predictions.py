"""Per-jet predictions files: compact, atomic, sha256-recorded, and they reproduce the metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jetbench.core.errors import JetbenchError
from jetbench.evaluation import load_result
from jetbench.leaderboard import load_predictions, recompute, recompute_metrics
from jetbench.metrics.predictions import Predictions
from tests.conftest import random_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def own_checkpoints(tmp_path_factory):
    """A checkpoint cache of this module's own: the `scratch` encoder it makes must not be found
    by tests elsewhere that check an encoder is pretrained on first use."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JETBENCH_CHECKPOINTS", str(tmp_path_factory.mktemp("checkpoints")))
        yield


def test_track_and_pair_data_are_packed_and_unpack_exactly():
    batch = random_batch(50, "btag", seed=1)
    n, p = batch.mask.shape
    rng = np.random.default_rng(0)
    vtx = np.where(batch.mask, batch.vtx_id, -1)
    probs = rng.random((n, p, p))
    pr = Predictions.from_arrays("vertex", ("different_vertex", "same_vertex"), vtx, probs,
                                 batch.labels, mask=batch.mask)
    n_real = batch.mask.sum(1)
    assert pr.y.shape == (n_real.sum(),) and pr.scores.dtype == np.float16
    assert pr.scores.shape == ((n_real * (n_real - 1) // 2).sum(),)  # i < j pairs of real tracks
    y, s, view = pr.padded()
    pairs = batch.mask[:, :, None] & batch.mask[:, None, :] & np.triu(np.ones((p, p), bool), 1)
    assert np.array_equal(y, vtx) and np.array_equal(view.vtx_id, vtx)
    assert np.array_equal(s[pairs], probs[pairs].astype(np.float16).astype(np.float64))
    assert np.all(s[~pairs] == 0)
    tracks = rng.random((n, p, 4))
    pt = Predictions.from_arrays("track", ("a", "b", "c", "d"), np.where(batch.mask, 1, -1),
                                 tracks, batch.labels, mask=batch.mask, vtx_id=batch.vtx_id)
    _, s2, view2 = pt.padded()
    assert np.array_equal(s2[batch.mask], tracks[batch.mask].astype(np.float16))
    assert np.array_equal(view2.vtx_id, vtx)


def test_file_is_checked_against_its_recorded_sha(tmp_path):
    pr = Predictions.from_arrays("jet", ("QCD", "Tbqq"), np.array([0, 1, 1]),
                                 np.array([0.2, 0.7, 0.4]), np.zeros(3))
    path = tmp_path / "x.npz"
    sha = pr.save(path)
    back = Predictions.load(path, sha256=sha)
    assert back.labels == ("QCD", "Tbqq") and back.scores.dtype == np.float32
    assert np.array_equal(back.scores, pr.scores) and np.array_equal(back.jet_index, [0, 1, 2])
    assert not list(tmp_path.glob("*.tmp*"))  # atomic write leaves no temporary file
    with pytest.raises(JetbenchError, match="sha256 differs"):
        Predictions.load(path, sha256="0" * 64)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(JetbenchError, match="not a readable predictions file"):
        Predictions.load(tmp_path / "bad.npz")


def _random_scores(spec, batch, rng) -> np.ndarray:
    """Probabilities in the layout `score_task` takes for the task's kind."""
    n, p = batch.mask.shape
    if spec.kind.unit == "vertex":
        return rng.random((n, p, p))
    logits = rng.normal(size=(n, len(spec.labels)) if spec.kind.unit == "jet"
                        else (n, p, len(spec.labels)))
    e = np.exp(logits)
    return e / e.sum(-1, keepdims=True)


def test_every_task_rescored_from_its_saved_file_gives_the_same_numbers(tmp_path):
    """Save -> load -> score equals what a cell reports (score of the in-memory, rounded
    predictions), for every registered task and so every metric and binning: btag's per-background
    rejections, toptag's and quarkgluon's binary rejections, cwola's SIC, the vertex and track
    metrics. The smoke runs below check the same through `run_cell` for one task per kind."""
    from jetbench.data.format import dataset_info
    from jetbench.tasks import list_tasks, score_predictions, task_targets

    for i, spec in enumerate(list_tasks()):
        rng = np.random.default_rng(i)
        batch = random_batch(300, spec.dataset, seed=i)
        names = dataset_info(spec.dataset).labels
        if spec.kind.unit == "jet":  # only the labels the task's test split holds (cwola: 2)
            allowed = [names.index(label) for label in spec.labels if label in names]
            batch.labels = np.asarray(allowed, np.int16)[rng.integers(0, len(allowed), len(batch.labels))]
        scores = _random_scores(spec, batch, rng)
        preds = Predictions.from_arrays(spec.kind.unit, spec.labels, task_targets(spec, batch),
                                        scores, batch.labels, np.arange(len(batch.labels)) + 7,
                                        batch.mask, batch.vtx_id)
        reported = score_predictions(spec, preds, n_boot=20, seed=3)
        path = tmp_path / f"{spec.name}.npz"
        back = Predictions.load(path, sha256=preds.save(path))
        again = score_predictions(spec, back, n_boot=20, seed=3)
        assert spec.main_score in reported.metrics, spec.name
        assert again.metrics == reported.metrics, spec.name
        assert again.binned == reported.binned and again.stderr == reported.stderr, spec.name
        assert np.array_equal(back.jet_index, preds.jet_index)


# one task per kind (jet, vertex, track), all on the btag data, so it is generated once (the other
# jet tasks' metrics are covered by the test above, without a run)
@pytest.mark.parametrize("task", ["btag", "vertexing", "trackid"])
def test_smoke_result_predictions_reproduce_its_metrics_exactly(tmp_path, task, own_checkpoints):
    from jetbench.evaluation import run_cell

    out = run_cell("scratch", task, "linear", scale="smoke", results_dir=tmp_path,
                   progress=False, threads=1)
    raw = json.loads(out.path.read_text())
    npz = out.path.with_suffix(".npz")
    assert raw["predictions"]["file"] == npz.name and npz.is_file()
    assert len(raw["predictions"]["sha256"]) == 64
    again = recompute(out.path)
    assert again.metrics == raw["metrics"]  # bit for bit, every metric
    assert again.binned == raw["binned"] and again.stderr == raw["stderr"]
    assert recompute_metrics(out.path) == raw["metrics"]
    preds = load_predictions(out.path)
    assert len(preds) == raw["config"]["run"]["n_test"]
    assert np.array_equal(preds.jet_index, np.arange(len(preds)))
    # an edited file is refused, not re-scored
    npz.write_bytes(npz.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(JetbenchError, match="sha256 differs"):
        recompute_metrics(out.path)
    npz.unlink()
    with pytest.raises(JetbenchError, match="is missing"):
        recompute_metrics(out.path)
    assert load_result(out.path).predictions is not None
