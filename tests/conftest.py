"""Shared fixtures: an isolated data/checkpoint cache per test session and a random canonical batch."""

from __future__ import annotations

import numpy as np
import pytest

from jetbench.data.format import JetBatch, dataset_info


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    import os

    root = tmp_path_factory.mktemp("jetbench-cache")
    old = {k: os.environ.get(k) for k in ("JETBENCH_DATA", "JETBENCH_CHECKPOINTS", "JETBENCH_RESULTS")}
    os.environ.setdefault("JETBENCH_DATA", str(root / "data"))
    os.environ.setdefault("JETBENCH_CHECKPOINTS", str(root / "checkpoints"))
    os.environ["JETBENCH_RESULTS"] = str(root / "results")
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


_TOY_LOSS = {"jet_class": {"name": "cross_entropy", "label_smoothing": 0.1},
             "track_class": {"name": "cross_entropy"},
             "vertex_pair": {"name": "focal", "gamma": 3.0}}
_TOY_METRIC = {"jet_class": "accuracy", "track_class": "accuracy", "vertex_pair": "ari"}


def toy_task(head: str, n_classes: int, loss: dict | None = None, name: str = "toy",
             batch_size: int = 32):
    """A task definition for unit tests of heads and protocols (no registry, no data is made):
    jet tasks of 10 (jetclass), 3 (btag) or 2 classes (btag light vs b), btag's 4 track origins,
    or btag vertex pairs. The loss is the kind's usual one (jet tasks: label smoothing 0.1);
    training limits never bind before a protocol's own step count."""
    from jetbench.tasks import TaskSpec

    dataset = "jetclass" if head == "jet_class" and n_classes == 10 else "btag"
    classes = ["light", "b"] if head == "jet_class" and n_classes == 2 else None
    data = {"name": f"{name}-data", "dataset": dataset, "profile": dataset, "scales": {
        s: {split: {"n": 1000, "seed": 9900 + 10 * i + j}
            for j, split in enumerate(("train", "val", "test"))}
        for i, s in enumerate(("smoke", "cpu", "paper"))}}
    scale = {"budgets": [100], "default_budget": 100, "seeds": [0], "default_seeds": [0],
             "training": {"max_epochs": 1000, "batch_size": batch_size}}
    metric = _TOY_METRIC[head]
    spec = TaskSpec.model_validate({
        "name": name, "version": 1, "description": "unit-test task", "data": data, "head": head,
        "classes": classes, "loss": {**_TOY_LOSS[head], **(loss or {})}, "metrics": [metric],
        "main_score": metric, "scales": {s: scale for s in ("smoke", "cpu", "paper")}})
    assert spec.n_classes == n_classes, (head, n_classes)
    return spec


def random_batch(n: int = 64, dataset: str = "jetclass", seed: int = 0) -> JetBatch:
    """A canonical batch with random (but valid, pT-sorted) contents for unit tests."""
    info = dataset_info(dataset)
    rng = np.random.default_rng(seed)
    P = info.n_slots
    counts = rng.integers(2, P + 1, size=n)
    mask = np.arange(P)[None] < counts[:, None]
    csts = rng.normal(size=(n, P, 7)).astype(np.float32)
    csts[..., 0] = -np.sort(-rng.exponential(20.0, size=(n, P)), axis=1)
    csts[~mask] = 0
    ids = np.where(mask, rng.integers(0, 8, size=(n, P)), 0).astype(np.int8)
    jets = np.abs(rng.normal(100, 10, size=(n, 5))).astype(np.float32)
    jets[:, 4] = counts
    batch = JetBatch(csts=csts, csts_id=ids, mask=mask, jets=jets,
                     labels=rng.integers(0, len(info.labels), n).astype(np.int16))
    if info.has_tracks:
        batch.vtx_id = np.where(mask, rng.integers(0, 3, size=(n, P)), -1).astype(np.int16)
        batch.track_type = np.where(mask, rng.integers(0, 4, size=(n, P)), -1).astype(np.int8)
    return batch


@pytest.fixture(scope="module")
def one_torch_thread():
    """One intra-op torch thread for a test module (restored after it): tiny models run faster and
    are robust to other processes on the cores. Use: `pytestmark = pytest.mark.usefixtures("one_torch_thread")`."""
    import torch  # here, not at the top: most test modules never need torch

    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
