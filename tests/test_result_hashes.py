"""Committed results keep their identity: re-planning the same cells (no data, no training) gives
the task and protocol hashes and the config hash they were stored with.

The config hash covers the encoder revision, which since issue 13 covers the encoder's code and
therefore changes by design; the re-planned config is built with the stored revision, so the
test checks that everything else a cell is identified by (task definition, protocol settings,
training resolution, budget, seed, n_train) is unchanged, and hashed the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jetbench.evaluation.plan import cell_config, cell_hashes
from jetbench.evaluation.results import load_result
from jetbench.protocols import get_protocol
from jetbench.tasks import get_task

RESULTS = sorted((Path(__file__).resolve().parents[1] / "leaderboard" / "results").glob("*.json"))


def _current(r) -> bool:
    return (get_task(r.task).version == r.task_version
            and get_protocol(r.protocol, scale=r.scale).version == r.protocol_version)


@pytest.mark.skipif(not RESULTS, reason="no committed results in leaderboard/results")
def test_committed_results_replan_to_the_same_hashes():
    results = [load_result(p) for p in RESULTS]
    current = [r for r in results if _current(r)]
    assert len(current) >= 20, "expected the committed leaderboard results to be current"
    seen = set()
    for r in current:
        spec = get_task(r.task)
        n_train = int(r.config["n_train"])
        proto = get_protocol(r.protocol, scale=r.scale, budget=n_train)
        config = cell_config(r.cell, spec, proto, proto.train_settings(spec, n_train),
                             r.encoder_revision, n_train)
        hashes = cell_hashes(spec, proto, config, r.provenance.data_manifest_hash,
                             r.provenance.encoder_checkpoint_hash)
        where = r.cell.id
        assert hashes["task_hash"] == r.provenance.task_hash, where
        assert hashes["protocol_hash"] == r.provenance.protocol_hash, where
        assert config == {k: v for k, v in r.config.items() if k != "run"}, where
        assert hashes["config_hash"] == r.provenance.config_hash, where
        seen.add((r.task, r.protocol))
    tasks = {t for t, _ in seen}
    assert tasks >= {"jetclass", "cwola", "btag", "vertexing", "trackid"}
    assert {p for _, p in seen} >= {"frozen", "linear", "finetune"}
