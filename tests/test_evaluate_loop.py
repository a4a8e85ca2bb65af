"""`jetbench.evaluate` from a training loop: `cache=False` writes no embedding file and scores the
same; a tracker object passed in receives each result."""

from __future__ import annotations

import pytest

import jetbench
from jetbench.encoders import create_encoder
from jetbench.protocols.embedding_cache import cache_dir
from tests.conftest import random_batch

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Recorder:
    def __init__(self):
        self.results = []

    def log_params(self, params):
        pass

    def log_metrics(self, step, metrics):
        pass

    def log_result(self, result):
        self.results.append(result)

    def close(self):
        pass


def test_no_cache_in_a_training_loop(tmp_path):
    model = create_encoder("scratch", "smoke")
    model.fit_preprocessing(random_batch(300, "jetclass", seed=2), seed=0)
    before = {e.path for e in cache_dir().entries()}
    tracker = Recorder()
    [off] = jetbench.evaluate(model, tasks="btag", protocol="frozen", scale="smoke",
                              progress=False, cache=False, tracker=tracker)
    assert {e.path for e in cache_dir().entries()} == before  # nothing written
    assert tracker.results == [off]
    [on] = jetbench.evaluate(model, tasks="btag", protocol="frozen", scale="smoke",
                             progress=False)
    written = [e for e in cache_dir().entries() if e.path not in before]
    assert len(written) >= 2 and all(e.tags["task"] == ["btag"] for e in written)
    assert on.metrics == off.metrics  # the cache changes where embeddings live, not the score
