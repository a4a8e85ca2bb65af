"""One benchmark cell end to end, and the Python API `jetbench.evaluate`.

`run_cell` plans the cell (`plan.plan_cell`: data made if missing, the encoder pretrained if it
has no checkpoint, both cached), trains and scores it with the protocol, and writes the Result
JSON atomically. A cell whose result exists with the same task, protocol, config, data-manifest
and checkpoint hashes is not re-run (unless `force`, which also recomputes cached embeddings).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from jetbench.core import distributed as dd
from jetbench.core import preflight
from jetbench.core.errors import JetbenchError
from jetbench.core.log import get_logger
from jetbench.core.threads import auto_threads
from jetbench.evaluation.plan import DEFAULT_PROTOCOL, CellPlan, LoadedEncoder, plan_cell
from jetbench.evaluation.provenance import provenance
from jetbench.evaluation.results import Result, load_result, save_result
from jetbench.metrics.predictions import Predictions
from jetbench.protocols import Split
from jetbench.tasks import list_tasks, score_predictions, task_targets
from jetbench.tasks.registry import task_dirs
from jetbench.tracking import Tracker, open_trackers


@dataclass
class CellOutcome:
    result: Result
    path: Path | None
    skipped: bool


def say(message: str) -> None:
    """An info message, from the main process only (under torchrun every rank runs this)."""
    if dd.is_main():
        get_logger().info(message)


def finished(plan: CellPlan) -> tuple[Result | None, str]:
    """The cell's stored result if it exists with the same hashes; else why it must run."""
    path = plan.out
    if path is None or not path.exists():
        return None, ""
    try:
        old = load_result(path)
    except JetbenchError:
        return None, f"{path} is not a valid result; re-running"
    changed = [k for k, v in plan.hashes.items() if getattr(old.provenance, k) != v]
    if changed:
        return None, f"{path} was measured with different {', '.join(changed)}; re-running"
    return old, ""


PRECISIONS = ("auto", "fp32", "bf16")
SCORE_CHUNK = 100_000  # test jets read at once when the test split is too large to load


def resolve_precision(precision: str | None, device: str) -> str:
    """'auto' (default): bf16 autocast on CUDA, fp32 on CPU (where bf16 is slower at these
    widths: bench/bench_pretrain_precision.py); 'fp32' or 'bf16' as asked."""
    precision = precision or "auto"
    if precision not in PRECISIONS:
        raise JetbenchError(f"unknown precision '{precision}'; use {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if str(device).startswith("cuda") else "fp32"
    return precision


def test_predictions(spec: Any, split: Split, scores: np.ndarray) -> Predictions:
    """The stored predictions of a test split: from the loaded split, or — too large to load
    (paper scale) — built chunk by chunk, so only targets, masks and scores are held."""
    rows = split.rows()
    if not split.streams():
        test = split.load()  # the batch `score` loaded (a Split keeps it)
        return Predictions.from_arrays(spec.kind.unit, spec.labels, task_targets(spec, test),
                                       scores, test.labels, rows, test.mask, test.vtx_id)
    parts = []
    for a in range(0, len(rows), SCORE_CHUNK):
        b = split.load_rows(rows[a:a + SCORE_CHUNK])
        parts.append(Predictions.from_arrays(spec.kind.unit, spec.labels, task_targets(spec, b),
                                             scores[a:a + SCORE_CHUNK], b.labels,
                                             rows[a:a + SCORE_CHUNK], b.mask, b.vtx_id))
    return Predictions.concat(parts)


def execute(plan: CellPlan, progress: bool = True) -> Result:
    """Train and score a planned cell; returns its Result (not written)."""
    spec, proto, cell = plan.spec, plan.proto, plan.cell
    t0 = time.perf_counter()
    torch.manual_seed(cell.seed)
    np.random.seed(cell.seed)
    splits = {"train": Split.from_store("train", plan.paths["train"], plan.idx),
              "val": Split.from_store("val", plan.paths["val"]),
              "test": Split.from_store("test", plan.paths["test"])}
    proto.fit(plan.encoder.model, spec, splits["train"], splits["val"], seed=cell.seed,
              device=plan.device, progress=progress)
    t_fit = time.perf_counter() - t0
    scores = proto.score(splits["test"])
    # scored at the precision the predictions file stores, so the file reproduces the metrics
    preds = test_predictions(spec, splits["test"], scores)
    ts = score_predictions(spec, preds, seed=cell.seed)
    t_total = time.perf_counter() - t0
    run_info = {"fit_s": round(t_fit, 2), "score_s": round(t_total - t_fit, 2),
                **proto.run_info(), "n_val": len(splits["val"]), "n_test": len(splits["test"]),
                "precision": proto.precision,
                "threads": torch.get_num_threads(), "world_size": dd.world_size()}
    ident = plan.encoder.identity
    result = Result(
        encoder=cell.encoder, encoder_revision=ident.revision, task=spec.name,
        task_version=spec.version, protocol=proto.name, protocol_version=proto.version,
        scale=cell.scale, budget=cell.budget, seed=cell.seed, main_score=spec.main_score,
        metrics=ts.metrics, binned=ts.binned, stderr=ts.stderr, n_params=ident.n_params,
        encoder_info=ident, wall_time_s=round(t_total, 3),
        created=datetime.now(timezone.utc).isoformat(),
        provenance=provenance(**plan.hashes, device=plan.device),
        config={**plan.config, "run": run_info})
    result._predictions = preds  # written next to the JSON by save_result
    return result


def run_cell(encoder: str | nn.Module, task: str, protocol: str | None = None, *,
             budget: int | None = None, seed: int = 0, scale: str = "cpu", device: str = "auto",
             results_dir: str | Path | None = None, force: bool = False, progress: bool = True,
             threads: int | None = None, overrides: dict[str, Any] | None = None,
             encoders: dict[str, LoadedEncoder] | None = None, cache: bool = True,
             tracker: Tracker | None = None, pretrain: bool = False,
             precision: str | None = None, loader_workers: int | None = None) -> CellOutcome:
    """Run (or find already done) one cell; write its Result JSON under `results_dir` if given.

    `cache=False`: frozen/linear embeddings are computed in memory, no cache file is written.
    `precision`: auto (bf16 autocast on CUDA, fp32 on CPU), fp32 or bf16; `loader_workers`:
    worker processes reading splits too large to load (default: $JETBENCH_LOADER_WORKERS, else
    min(8, cores - 1)). Neither changes what the cell is (its hashes); the result records both.
    The result also goes to `tracker`, or to the backends `--track`/JETBENCH_TRACK selects."""

    preflight.check_run_args(seed=seed, threads=threads)  # before any data or training work
    resolve_precision(precision, "cpu")  # a wrong name fails before any work
    if results_dir is not None:
        preflight.check_output_dir(results_dir, "results folder", preflight.RESULT_BYTES)
    torch.set_num_threads(auto_threads(threads))
    t0 = time.perf_counter()
    plan = plan_cell(encoder, task, protocol, budget=budget, seed=seed, scale=scale,
                     device=device, results_dir=results_dir, progress=progress,
                     overrides=overrides, encoders=encoders, pretrain=pretrain)
    dd.setup(plan.device)  # after pretraining, which sets up and tears down its own group
    if not force:
        old, why = finished(plan)
        if old is not None:
            say(f"{plan.out.name} already done with the same hashes; not re-running "
                "(--force to redo)")
            return CellOutcome(old, plan.out, True)
        if why:
            say(why)
    plan.proto.refresh_cache = force
    plan.proto.use_cache = cache
    plan.proto.precision = resolve_precision(precision, plan.device)
    plan.proto.loader_workers = loader_workers
    if time.perf_counter() - t0 > 30:  # data generation or pretraining ran: look at the machine again
        torch.set_num_threads(auto_threads(threads))
    result = execute(plan, progress)
    out = plan.out
    if results_dir is not None and dd.is_main():
        out = save_result(result, results_dir)
    if dd.is_main():
        _track(result, tracker)
    return CellOutcome(result, out, False)


def _track(result: Result, tracker: Tracker | None) -> None:
    """One tracking run per scored cell (named by its cell id), or the caller's tracker."""
    if tracker is not None:
        tracker.log_result(result)
        return
    with open_trackers(result.cell_id(), params=result.config) as trackers:
        trackers.log_result(result)


def evaluate(model: str | nn.Module, tasks: list[str] | str | None = None,
             protocol: str = DEFAULT_PROTOCOL, scale: str = "cpu", budget: int | None = None,
             seed: int = 0, device: str = "auto", results_dir: str | Path | None = None,
             force: bool = False, progress: bool = True, cache: bool = True,
             tracker: Tracker | None = None, pretrain: bool = False,
             precision: str | None = None, tasks_dir: str | Path | None = None) -> list[Result]:
    """Benchmark an encoder (a registered name, or an in-memory `Encoder` from a training loop)
    on tasks; returns one Result per task. Results are written only when `results_dir` is given.

    From a training loop: `cache=False` keeps frozen/linear embeddings in memory (a changing
    model would otherwise add a cache file per call), and `tracker` (any object with the
    `jetbench.tracking.Tracker` methods, e.g. your own W&B wrapper) receives each result.

    A named encoder uses the checkpoint shipped with jetbench where there is one (cpu scale);
    `pretrain=True` pretrains it here instead (or uses the one pretrained before).

    An in-memory model is never modified: `finetune`/`scratch` train a copy, `frozen`/`linear`
    embed in eval mode and restore its train/eval state.

    `tasks_dir`: a folder of your own task YAMLs (as `--tasks-dir`; $JETBENCH_TASKS works too),
    on the search path for this call. `precision`: see `run_cell`.
    """
    with task_dirs([tasks_dir] if tasks_dir is not None else None):
        names = [t.name for t in list_tasks()] if tasks is None else (
            [tasks] if isinstance(tasks, str) else list(tasks))
        return [run_cell(model, t, protocol, budget=budget, seed=seed, scale=scale, device=device,
                         results_dir=results_dir, force=force, progress=progress, cache=cache,
                         tracker=tracker, pretrain=pretrain, precision=precision).result
                for t in names]
