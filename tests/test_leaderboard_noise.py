"""The leaderboard read from results with predictions files: standard errors, rank groups, marks,
working points, ROC and score plots; old results without predictions still aggregate."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest

from jetbench.data.format import dataset_info
from jetbench.evaluation import save_result
from jetbench.leaderboard import Benchmark, Definitions, build_leaderboard
from jetbench.leaderboard.render import SAME_AS_REF_MARK, WORSE_THAN_REF_MARK
from jetbench.metrics.predictions import Predictions
from jetbench.tasks import get_task, score_predictions
from tests.test_leaderboard import make_result

LABELS = dataset_info("jetclass").labels
N_TEST = 1500
DEFS = Definitions.from_dict({
    "tasks": {"jetclass": {"version": 2, "hash": "tjc2", "main_score": "accuracy"}},
    "protocols": {"frozen": {"version": 1, "hash": "pfr1"},
                  "finetune": {"version": 1, "hash": "pft1"}},
})
BENCH = Benchmark(name="noise-bench-v1", version=1, description="jetclass with predictions",
                  scale="cpu", tasks=("jetclass",), protocols=("frozen", "finetune"),
                  budgets={"jetclass": (1000,)}, min_seeds=3)
TRUTH = np.random.default_rng(0).integers(0, len(LABELS), N_TEST)
JETS = np.random.default_rng(1).normal(size=(N_TEST, len(LABELS)))  # what makes a jet hard


def synthetic_predictions(strength: float, seed: int) -> Predictions:
    """Softmax scores: shared per-jet logits + run noise, the true class raised by `strength`."""
    rng = np.random.default_rng(seed)
    logits = JETS + 0.7 * rng.normal(size=(N_TEST, len(LABELS)))
    logits[np.arange(N_TEST), TRUTH] += strength + rng.normal(0, 0.05)
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return Predictions.from_arrays("jet", LABELS, TRUTH, p, TRUTH)


def write_row(res, encoder: str, protocol: str, strength: float, seeds=(0, 1, 2),
              predictions: bool = True) -> None:
    spec = get_task("jetclass")
    for s in seeds:
        preds = synthetic_predictions(strength, zlib.crc32(f"{encoder}/{protocol}/{s}".encode()))
        score = score_predictions(spec, preds, n_boot=0).metrics["accuracy"]
        r = make_result(encoder, "jetclass", protocol, 1000, s, score)
        if predictions:
            r._predictions = preds
        save_result(r, res)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    root = tmp_path_factory.mktemp("noise")
    res = root / "results"
    write_row(res, "best", "finetune", 2.0)
    write_row(res, "tied", "finetune", 2.0)  # same distribution as 'best'
    write_row(res, "scratch", "finetune", 1.4)  # the random-init reference
    write_row(res, "plain", "finetune", 1.4)  # same as the reference
    write_row(res, "worse", "finetune", 0.8)  # worse than the reference
    write_row(res, "scratch", "frozen", 1.0)
    write_row(res, "old", "frozen", 1.0, predictions=False)  # made before predictions were kept
    out = build_leaderboard(res, BENCH, root / "lb", definitions=DEFS, n_boot=200)
    return out, root


def _cell(lb, encoder, protocol):
    row = next(r for r in lb.rows if r.encoder == encoder and r.protocol == protocol)
    return row.cells[("jetclass", 1000)]


def test_standard_errors_are_bootstrap_plus_seed_spread(board):
    out, _ = board
    c = _cell(out.leaderboard, "best", "finetune")
    assert c.se_method == "bootstrap" and c.n_seeds == 3
    # accuracy ~0.6 on 1500 test jets: one run's test-set error is ~sqrt(.24/1500) = 0.013; the
    # part all seeds share (the jets' own difficulty) is a good share of it
    assert 0.004 < c.se_test < 0.013 and c.se_seed > 0
    assert c.se == pytest.approx(np.hypot(c.se_test, c.se_seed))
    assert c.se_seed == pytest.approx(np.std(c.scores, ddof=1) / np.sqrt(3))
    old = _cell(out.leaderboard, "old", "frozen")
    assert old.se_method == "seeds" and old.group is None and old.p_ref is None
    assert not old.flags  # counted in one note, not flagged cell by cell
    assert any("1 cell(s) without (usable) predictions" in n for n in out.leaderboard.notes)


def test_rank_groups_and_marks(board):
    out, _ = board
    lb = out.leaderboard
    assert _cell(lb, "best", "finetune").group == 1 and _cell(lb, "tied", "finetune").group == 1
    assert _cell(lb, "worse", "finetune").group > _cell(lb, "plain", "finetune").group > 1
    plain, worse = _cell(lb, "plain", "finetune"), _cell(lb, "worse", "finetune")
    assert plain.p_ref >= 0.05 and worse.p_ref < 0.05 and worse.diff_ref < 0
    assert _cell(lb, "best", "finetune").p_ref < 0.05  # better than random init: no mark
    md = out.files["md"].read_text()
    line = {ln.split("|")[1].strip() + "/" + ln.split("|")[2].strip(): ln
            for ln in md.splitlines() if ln.startswith("| ") and "---" not in ln}
    assert "**" in line["best/finetune"] and "**" in line["tied/finetune"]
    assert "**" not in line["plain/finetune"]
    assert SAME_AS_REF_MARK in line["plain/finetune"]
    assert WORSE_THAN_REF_MARK in line["worse/finetune"]
    assert SAME_AS_REF_MARK not in line["best/finetune"]
    assert " ± " in line["best/finetune"] and "Benjamini-Hochberg" in md
    assert "1 cell(s) without (usable) predictions" in md
    assert r"$^\ddagger$" in out.files["tex"].read_text()


def test_outputs_working_points_and_plots(board):
    out, root = board
    files = out.files
    assert files["roc:jetclass@1000"].name == "jetclass_b1000_roc.png"
    assert files["plot:jetclass"].read_bytes()[:4] == b"\x89PNG"
    wp = files["wp"].read_text()
    assert "Hbb vs QCD" in wp and "1/εB @ εS=50%" in wp and " ± " in wp
    summary = json.loads(files["json"].read_text())
    entries = [e for e in summary["working_points"] if e["encoder"] == "best"]
    assert len(entries) == 9 * 3  # nine classes vs QCD, three working points
    assert all(e["mean"] >= 1 and e["se"] > 0 for e in entries)
    page = files["html"].read_text()
    assert 'id="filters"' in page and 'href="plots/jetclass_b1000_roc.png"' in page
    assert "Working points" in page
    cells = summary["rows"][0]["cells"][0]
    assert {"se", "se_test", "se_seed", "group", "p_best", "p_ref"} <= set(cells)
    assert "results" not in cells and "paths" not in cells


def test_deterministic(board, tmp_path):
    out, root = board
    again = build_leaderboard(root / "results", BENCH, tmp_path, definitions=DEFS, n_boot=200,
                              plots=False)
    a = [(c.se, c.p_best, c.p_ref) for r in out.leaderboard.rows
         for c in r.cells.values()]
    b = [(c.se, c.p_best, c.p_ref) for r in again.leaderboard.rows for c in r.cells.values()]
    assert a == b
