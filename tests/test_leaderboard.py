"""Leaderboard aggregation and text outputs on hand-made result files."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from jetbench.cli import main
from jetbench.core.errors import JetbenchError
from jetbench.evaluation.results import Provenance, Result, save_result
from jetbench.leaderboard import (
    Benchmark,
    Definitions,
    aggregate,
    build_leaderboard,
    collect_results,
    get_benchmark,
)
from jetbench.leaderboard.render import budget_label, to_csv, to_latex, to_markdown

DEFS = Definitions.from_dict({
    "tasks": {"jetclass": {"version": 2, "hash": "tjc2", "main_score": "accuracy"},
              "vertexing": {"version": 1, "hash": "tvx1", "main_score": "ari"}},
    "protocols": {"frozen": {"version": 1, "hash": "pfr1"},
                  "finetune": {"version": 1, "hash": "pft1"}},
})
BENCH = Benchmark(name="test-bench-v1", version=1, description="two tasks, two budgets",
                  scale="cpu", tasks=("jetclass", "vertexing"), protocols=("frozen", "finetune"),
                  budgets={"jetclass": (100, 1000), "vertexing": (1000,)}, min_seeds=2)
TASK = {"jetclass": (2, "tjc2", "accuracy"), "vertexing": (1, "tvx1", "ari")}
PROTO = {"frozen": (1, "pfr1"), "finetune": (1, "pft1")}


def make_result(encoder: str, task: str, protocol: str, budget: int, seed: int, score: float,
                *, scale: str = "cpu", task_version: int | None = None,
                task_hash: str | None = None, protocol_hash: str | None = None,
                revision: str = "r1",
                created: str = "2025-01-01T00:00:00") -> Result:
    tv, th, main = TASK[task]
    pv, ph = PROTO[protocol]
    return Result(
        encoder=encoder, encoder_revision=revision, task=task,
        task_version=tv if task_version is None else task_version, protocol=protocol,
        protocol_version=pv, scale=scale, budget=budget, seed=seed, main_score=main,
        metrics={main: score, "other": 0.5}, n_params=12345, wall_time_s=1.0, created=created,
        provenance=Provenance(task_hash=th if task_hash is None else task_hash,
                              protocol_hash=ph if protocol_hash is None else protocol_hash,
                              config_hash="c", data_manifest_hash="m", jetbench_version="0.1.0",
                              torch_version="2", device="cpu", python_version="3.11"))


def full_grid(encoder: str, base: float, seeds=(0, 1, 2)) -> list[Result]:
    out = []
    for protocol in ("frozen", "finetune"):
        for task, budget in (("jetclass", 100), ("jetclass", 1000), ("vertexing", 1000)):
            for s in seeds:
                out.append(make_result(encoder, task, protocol, budget, s, base + 0.01 * s))
    return out


def row(lb, encoder, protocol):
    return next(r for r in lb.rows if r.encoder == encoder and r.protocol == protocol)


def test_mean_std_over_seeds_and_ranking():
    results = full_grid("good", 0.80) + full_grid("weak", 0.60)
    lb = aggregate(results, BENCH, DEFS)
    assert lb.columns == [("jetclass", 100), ("jetclass", 1000), ("vertexing", 1000)]
    assert lb.n_used == len(results) == 36
    r = row(lb, "good", "finetune")
    c = r.cells[("jetclass", 1000)]
    assert c.status == "ok" and c.seeds == [0, 1, 2]
    assert c.mean == pytest.approx(0.81)
    assert c.std == pytest.approx(np.std([0.80, 0.81, 0.82], ddof=1))  # 0.01
    assert r.complete and r.status == "complete"
    assert r.mean_rank == pytest.approx(1.5)  # ties with good/frozen (same scores)
    assert row(lb, "weak", "frozen").mean_rank == pytest.approx(3.5)
    assert [x.encoder for x in lb.rows[:2]] == ["good", "good"]


def test_incomplete_rows_are_marked_and_never_averaged():
    results = full_grid("good", 0.80)
    # 'partial': one cell entirely missing, one cell with a single seed
    results += [make_result("partial", "jetclass", "frozen", 100, s, 0.99) for s in (0, 1)]
    results += [make_result("partial", "jetclass", "frozen", 1000, 0, 0.99)]
    lb = aggregate(results, BENCH, DEFS)
    p = row(lb, "partial", "frozen")
    assert not p.complete and p.mean_rank is None
    assert p.status == "incomplete (1 missing, 1 few-seeds)"
    assert p.cells[("vertexing", 1000)].status == "missing"
    assert p.cells[("jetclass", 1000)].status == "few-seeds"
    assert p.cells[("jetclass", 1000)].std is None
    # its higher scores do not enter the ranking of complete rows, and it is listed after them
    assert row(lb, "good", "frozen").mean_rank == pytest.approx(1.5)
    assert lb.rows[-1].encoder == "partial"
    md = to_markdown(lb)
    assert "0.990 (n=1)" in md and "incomplete (1 missing, 1 few-seeds)" in md
    # best-in-column bold only among cells with enough seeds
    assert "**0.990 ± 0.000**" in md and "**0.990 (n=1)**" not in md


def test_version_and_hash_mismatch_flagged():
    results = full_grid("enc", 0.7)
    results += [make_result("old", "jetclass", "frozen", 100, s, 0.5, task_version=1)
                for s in (0, 1)]
    results += [make_result("old", "vertexing", "frozen", 1000, s, 0.5, protocol_hash="pOLD")
                for s in (0, 1)]
    # a cell with current and stale seeds uses the current ones only
    results += [make_result("old", "jetclass", "frozen", 1000, s, 0.6) for s in (0, 1)]
    results += [make_result("old", "jetclass", "frozen", 1000, 2, 0.1, task_hash="tOLD")]
    lb = aggregate(results, BENCH, DEFS)
    o = row(lb, "old", "frozen")
    stale_v = o.cells[("jetclass", 100)]
    assert stale_v.status == "stale" and stale_v.mean == pytest.approx(0.5)
    assert stale_v.flags == ["task jetclass v1 (current v2)"]
    stale_h = o.cells[("vertexing", 1000)]
    assert stale_h.status == "stale"
    assert stale_h.flags == ["protocol frozen hash pOLD (current pfr1)"]
    mixed = o.cells[("jetclass", 1000)]
    assert mixed.status == "ok" and mixed.seeds == [0, 1] and mixed.mean == pytest.approx(0.6)
    assert mixed.flags == ["ignored 1 stale seed(s)"]
    assert not o.complete and o.status == "incomplete (2 stale)" and o.mean_rank is None
    md = to_markdown(lb)
    assert "0.500 ± 0.000 §" in md and "task jetclass v1 (current v2)" in md
    tex = to_latex(lb)
    assert r"0.500 $\pm$ 0.000 $^\S$" in tex and r"\toprule" in tex and r"\bottomrule" in tex


def test_unknown_definitions_noted_not_flagged_and_outside_grid_counted():
    defs = Definitions.from_dict({"tasks": {}, "protocols": {},
                                  "notes": ["task registry not available"]})
    results = full_grid("enc", 0.7)
    results.append(make_result("enc", "jetclass", "frozen", 100, 0, 0.7, scale="smoke"))
    results.append(make_result("enc", "jetclass", "frozen", 555, 0, 0.7))
    lb = aggregate(results, BENCH, defs)
    assert row(lb, "enc", "frozen").complete
    assert "task registry not available" in lb.notes
    assert any("2 result(s) outside the benchmark grid" in n and "scale smoke (1)" in n
               and "jetclass budget 555 (1)" in n for n in lb.notes)


def test_duplicates_and_nan_scores():
    results = full_grid("enc", 0.7, seeds=(0, 1))
    results.append(make_result("enc", "vertexing", "finetune", 1000, 1, 0.9,
                               created="2026-01-01T00:00:00"))  # newer duplicate of seed 1
    results.append(make_result("enc", "jetclass", "finetune", 100, 1, float("nan"),
                               created="2026-01-01T00:00:00"))
    lb = aggregate(results, BENCH, DEFS)
    r = row(lb, "enc", "finetune")
    dup = r.cells[("vertexing", 1000)]
    assert dup.scores == [0.7, 0.9] and "seed 1: 2 results, kept the newest" in dup.flags
    nan = r.cells[("jetclass", 100)]
    assert nan.seeds == [0] and nan.status == "few-seeds"
    assert any("main score 'accuracy' is nan" in f for f in nan.flags)


def test_budgets_from_current_definitions():
    bench = Benchmark(name="b", version=1, description="d", scale="cpu", tasks=("jetclass", "btag"),
                      protocols=("frozen",))
    defs = Definitions.from_dict({"tasks": {"jetclass": {"version": 2, "hash": "tjc2",
                                                         "budgets": {"cpu": [1000, 100]}}}})
    lb = aggregate([], bench, defs)
    assert lb.columns == [("jetclass", 100), ("jetclass", 1000)]
    assert any("task 'btag': no budgets known" in n for n in lb.notes)


def test_default_budget_rule_and_budget_dependent_protocol_hash():
    bench = Benchmark(name="b", version=1, description="d", scale="cpu", tasks=("jetclass",),
                      protocols=("finetune",), budget_rule="default", min_seeds=1)
    defs = Definitions.from_dict({
        "tasks": {"jetclass": {"version": 2, "hash": "tjc2", "budgets": {"cpu": [100, 1000]},
                               "default_budget": {"cpu": 1000}}},
        "protocols": {"finetune": {"version": 1, "hash": "pft1",
                                   "hash_by_budget": {1000: "pft1-1k"}}}})
    ok = make_result("enc", "jetclass", "finetune", 1000, 0, 0.8, protocol_hash="pft1-1k")
    lb = aggregate([ok], bench, defs)
    assert lb.columns == [("jetclass", 1000)]
    assert lb.rows[0].cells[("jetclass", 1000)].status == "ok"
    old = make_result("enc", "jetclass", "finetune", 1000, 0, 0.8)  # budget-independent hash
    cell = aggregate([old], bench, defs).rows[0].cells[("jetclass", 1000)]
    assert cell.status == "stale"
    assert cell.flags == ["protocol finetune hash pft1 (current pft1-1k)"]


def test_live_registry_lookup_notes_unknown_names():
    pytest.importorskip("jetbench.protocols")
    from jetbench.leaderboard import current_definitions

    bench = Benchmark(name="b", version=1, description="d", scale="smoke",
                      tasks=("no_such_task",), protocols=("frozen", "no_such_protocol"),
                      budgets={"no_such_task": (100,)})
    defs = current_definitions(bench)
    assert set(defs.protocols) == {"frozen"}
    assert defs.protocols["frozen"].version >= 1 and 100 in defs.protocols["frozen"].hash_by_budget
    assert any("protocol 'no_such_protocol' has no current definition" in n for n in defs.notes)
    assert any("'no_such_task'" in n for n in defs.notes)


def test_csv_long_format_and_labels():
    lb = aggregate(full_grid("enc", 0.7), BENCH, DEFS)
    rows = list(csv.DictReader(io.StringIO(to_csv(lb))))
    assert len(rows) == 2 * 3
    one = next(x for x in rows if x["protocol"] == "frozen" and x["task"] == "vertexing")
    assert one["status"] == "ok" and one["seeds"] == "0;1;2"
    assert float(one["mean"]) == pytest.approx(0.71)
    assert one["main_score"] == "ari" and one["row_status"] == "complete"
    assert [budget_label(n) for n in (500, 1000, 2000, 2_020_000, 10**8)] == \
        ["500", "1k", "2k", "2.02M", "100M"]


def test_build_writes_every_output_atomically(tmp_path):
    res = tmp_path / "results"
    for r in full_grid("enc", 0.7) + full_grid("other", 0.6):
        save_result(r, res)
    out = build_leaderboard(res, BENCH, tmp_path / "lb", definitions=DEFS)
    names = sorted(p.name for p in (tmp_path / "lb").rglob("*") if p.is_file())
    assert names == ["LEADERBOARD.md", "index.html", "jetclass.png", "leaderboard.csv",
                     "leaderboard.json", "leaderboard.tex", "vertexing.png"]
    assert (tmp_path / "lb" / "plots" / "jetclass.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads(out.files["json"].read_text())
    assert summary["benchmark"]["name"] == "test-bench-v1" and len(summary["rows"]) == 4
    # the summary written next to results is not mistaken for a result on the next build
    build_leaderboard(res, BENCH, res, definitions=DEFS, plots=False)
    assert len(collect_results(res)) == 36


def test_bad_inputs(tmp_path):
    with pytest.raises(JetbenchError, match="unknown benchmark 'jetbench-core-v9'.*did you mean"):
        get_benchmark("jetbench-core-v9")
    bad = tmp_path / "b.yaml"
    bad.write_text("name: x\nversion: 1\ndescription: d\nscale: cpu\ntasks: [jetclass]\n"
                   "protocols: [frozen]\nbudgets: {jetclass: [0]}\n")
    with pytest.raises(JetbenchError, match=r"b.yaml: field 'budgets'"):
        get_benchmark(str(bad))
    (tmp_path / "res").mkdir()
    (tmp_path / "res" / "sweep_state.json").write_text('{"cells": []}')  # not a result: skipped
    assert collect_results(tmp_path / "res") == []
    (tmp_path / "res" / "broken.json").write_text('{"encoder": "x", "task": "jetclass"}')
    with pytest.raises(JetbenchError, match="broken.json: not a valid jetbench result"):
        collect_results(tmp_path / "res")
    (tmp_path / "res" / "broken.json").write_text('{"encoder": "x", "tas')
    with pytest.raises(JetbenchError, match="broken.json: not a valid jetbench result"):
        collect_results(tmp_path / "res")


def test_cli_leaderboard(tmp_path, capsys):
    res = tmp_path / "results"
    for r in full_grid("enc", 0.7):
        save_result(r, res)
    bench = tmp_path / "bench.yaml"
    bench.write_text("name: mini-v1\nversion: 1\ndescription: mini\nscale: cpu\n"
                     "tasks: [jetclass]\nprotocols: [frozen, finetune]\n"
                     "budgets: {jetclass: [100, 1000]}\n")
    code = main(["leaderboard", "--results", str(res), "--benchmark", str(bench),
                 "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    # judged against the live protocol registry, the hand-made protocol hashes are stale
    assert "mini-v1" in out and "2 rows (0 complete) from 12 of 18 result file(s)" in out
    assert "incomplete (2 stale)" in out
    assert (tmp_path / "out" / "index.html").is_file()
    assert main(["leaderboard", "--results", str(tmp_path / "nope")]) == 2
