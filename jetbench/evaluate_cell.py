"""One benchmark cell end to end, and the Python API `jetbench.evaluate`.

A cell is (encoder, task, protocol, scale, budget, seed). `run_cell` makes the task data if
missing, pretrains the encoder if it has no checkpoint (both cached), trains and scores with the
protocol, and writes the Result JSON atomically. A cell whose result exists with the same task,
protocol, config, data-manifest and checkpoint hashes is not re-run (unless `force`).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from jetbench.core.errors import JetbenchError
from jetbench.core.hashing import hash_json
from jetbench.evaluate_report import auto_threads, format_result, provenance
from jetbench.protocols import Split, get_protocol
from jetbench.protocols import distributed as dd
from jetbench.protocols.embeddings import STATS as EMBED_STATS
from jetbench.protocols.embeddings import encoder_fingerprint
from jetbench.results import Result, cell_path, load_result, save_result

DEFAULT_PROTOCOL = "finetune"
SPLIT_NAMES = ("train", "val", "test")


@dataclass
class CellOutcome:
    result: Result
    path: Path | None
    skipped: bool


def say(message: str) -> None:
    if dd.is_main():
        print(message, file=sys.stderr, flush=True)


def max_budget(spec: Any, scale: str) -> int | None:
    """Largest label budget of a task at a scale, known without producing data (None: unknown)."""
    if spec.cwola is not None:
        return spec.data.class_size(scale, "train", spec.cwola.signal)
    return spec.data.split_size(scale, "train")


def check_names(encoder: str | nn.Module, task: str, protocol: str) -> None:
    """Unknown encoder/task/protocol names fail before any data or model work, listing the known."""
    from jetbench.protocols import PROTOCOLS
    from jetbench.tasks import get_task

    get_task(task)
    if protocol not in PROTOCOLS:
        from jetbench.core.errors import unknown_name

        raise unknown_name("protocol", protocol, PROTOCOLS)
    if isinstance(encoder, str):
        from jetbench.encoders.registry import get_factory

        get_factory(encoder)
    elif not callable(getattr(encoder, "encode", None)):
        raise JetbenchError(f"model of type {type(encoder).__name__} has no encode(batch) method; "
                            "pass an encoder name or a jetbench.encoders.Encoder")


def resolve_budget(spec: Any, scale: str, budget: int | None) -> int:
    if budget is None:
        return spec.default_budget(scale)
    if int(budget) != budget or budget <= 0:
        raise JetbenchError(f"--budget must be a positive whole number, got {budget}")
    most = max_budget(spec, scale)
    if most is not None and budget > most:
        what = f"{spec.cwola.signal} jets" if spec.cwola is not None else "jets"
        raise JetbenchError(f"budget {budget} is larger than the train split of task "
                            f"'{spec.name}' at scale '{scale}' ({most} {what}); "
                            f"the maximum budget is {most}")
    return int(budget)


def checkpoint_hash(name: str, scale: str) -> str | None:
    """sha256 of the stored encoder weights (from the checkpoint's config.json)."""
    import json

    from jetbench.pretraining import default_checkpoint

    cfg = default_checkpoint(name, scale) / "config.json"
    try:
        return json.loads(cfg.read_text()).get("weights_sha256")
    except (OSError, ValueError):
        return None


def load_encoder_for(encoder: str | nn.Module, scale: str, device: str
                     ) -> tuple[nn.Module, str, str | None]:
    """(encoder, name, checkpoint hash): pretrained from the cache (or now), or the given model."""
    if isinstance(encoder, str):
        from jetbench.pretraining import ensure_pretrained

        model = ensure_pretrained(encoder, scale, device=device)
        return model, encoder, checkpoint_hash(encoder, scale)
    meta = getattr(encoder, "meta", None)
    name = str(getattr(meta, "name", None) or type(encoder).__name__)
    return encoder, name, encoder_fingerprint(encoder)


def prepare_data(spec: Any, scale: str, progress: bool) -> tuple[dict[str, Path], str]:
    """Split stores (generated on first use; cached and locked by the task registry) + manifest."""
    from jetbench.tasks import manifest_hash, task_split

    paths = {s: task_split(spec, s, scale, progress=progress) for s in SPLIT_NAMES}
    return paths, manifest_hash(spec, scale, progress=progress)


def _existing(path: Path, prov_now: dict[str, Any]) -> tuple[Result | None, str]:
    """The finished result at `path` if its hashes all match; else why it must be (re)run."""
    if not path.exists():
        return None, ""
    try:
        old = load_result(path)
    except JetbenchError:
        return None, f"{path} is not a valid result; re-running"
    changed = [k for k, v in prov_now.items() if getattr(old.provenance, k) != v]
    if changed:
        return None, f"{path} was measured with different {', '.join(changed)}; re-running"
    return old, ""


@dataclass
class CellPlan:
    """Everything resolved for a cell before training: data, encoder, settings and hashes."""

    spec: Any
    proto: Any
    model: nn.Module
    name: str
    budget: int
    seed: int
    scale: str
    device: str
    paths: dict[str, Path]
    idx: np.ndarray
    identity: dict[str, Any]
    hashes: dict[str, Any]
    out: Path | None


def plan_cell(encoder: str | nn.Module, task: str, protocol: str | None = None, *,
              budget: int | None = None, seed: int = 0, scale: str = "cpu", device: str = "auto",
              results_dir: str | Path | None = None, progress: bool = True,
              overrides: dict[str, Any] | None = None,
              encoders: dict[str, tuple[nn.Module, str, str | None]] | None = None) -> CellPlan:
    """Validate the cell, produce its data and encoder (cached), resolve settings and hashes.

    `encoders` memoises loaded encoders by name (a sweep plans many cells of one encoder).
    """
    from jetbench.pretraining.config import resolve_device
    from jetbench.tasks import budget_indices, get_task

    protocol = protocol or DEFAULT_PROTOCOL
    check_names(encoder, task, protocol)
    spec = get_task(task)
    spec.scale(scale)
    budget = resolve_budget(spec, scale, budget)
    dev = str(resolve_device(device))
    # names and overrides are checked now, before any data is generated (resolved again below)
    proto = get_protocol(protocol, scale=scale, budget=budget, **(overrides or {}))
    paths, mhash = prepare_data(spec, scale, progress)
    key = encoder if isinstance(encoder, str) else None
    if encoders is not None and key in encoders:
        model, name, ckpt = encoders[key]
    else:
        model, name, ckpt = load_encoder_for(encoder, scale, dev)
        if encoders is not None and key is not None:
            encoders[key] = (model, name, ckpt)
    revision = str(getattr(getattr(model, "meta", None), "revision", None)
                   or encoder_fingerprint(model))
    idx = budget_indices(spec, scale, budget, seed)
    # settings that depend on how much labelled data there is (the fine-tuning freeze length)
    # follow the jets actually trained on: a CWoLa budget counts signal jets only, while its whole
    # training set carries (weak) labels
    proto = get_protocol(protocol, scale=scale, budget=len(idx), **(overrides or {}))
    resolved = proto.train_settings(spec, len(idx))
    identity = {"encoder": name, "encoder_revision": revision, "task": spec.name,
                "task_version": spec.version, "protocol": proto.identity(),
                "training": dataclasses.asdict(resolved), "scale": scale, "budget": budget,
                "seed": seed, "n_train": int(len(idx))}
    hashes = {"task_hash": spec.hash(), "protocol_hash": proto.hash(),
              "config_hash": hash_json(identity), "data_manifest_hash": mhash,
              "encoder_checkpoint_hash": ckpt}
    out = None if results_dir is None else cell_path(results_dir, name, spec.name, proto.name,
                                                     scale, budget, seed)
    return CellPlan(spec, proto, model, name, budget, seed, scale, dev, paths, idx, identity,
                    hashes, out)


def finished(plan: CellPlan) -> tuple[Result | None, str]:
    """The cell's stored result if it exists with the same hashes; else why it must run."""
    return (None, "") if plan.out is None else _existing(plan.out, plan.hashes)


def execute(plan: CellPlan, progress: bool = True) -> Result:
    """Train and score a planned cell; returns its Result (not written)."""
    from jetbench.metrics.predictions import Predictions
    from jetbench.metrics.scoring import score_predictions
    from jetbench.tasks import task_targets
    from jetbench.tasks.spec import HEAD_KIND

    spec, proto, seed = plan.spec, plan.proto, plan.seed
    t0 = time.perf_counter()
    emb0 = dict(EMBED_STATS)
    torch.manual_seed(seed)
    np.random.seed(seed)
    splits = {"train": Split.from_store("train", plan.paths["train"], plan.idx),
              "val": Split.from_store("val", plan.paths["val"]),
              "test": Split.from_store("test", plan.paths["test"])}
    proto.fit(plan.model, spec, splits["train"], splits["val"], seed=seed, device=plan.device,
              progress=progress)
    t_fit = time.perf_counter() - t0
    scores = proto.score(splits["test"])
    test = splits["test"].load()
    # scored at the precision the predictions file stores, so the file reproduces the metrics
    preds = Predictions.from_arrays(HEAD_KIND[spec.head], spec.labels, task_targets(spec, test),
                                    scores, test.labels, splits["test"].rows(), test.mask,
                                    test.vtx_id)
    ts = score_predictions(spec, preds, seed=seed)
    t_total = time.perf_counter() - t0
    hist = proto.history
    run_info = {"fit_s": round(t_fit, 2), "score_s": round(t_total - t_fit, 2),
                "steps": hist.steps, "best_step": hist.best_step,
                "best_val_loss": hist.best_val_loss, "val_loss": hist.val_loss,
                "n_val": len(splits["val"]), "n_test": len(test),
                "threads": torch.get_num_threads(), "world_size": dd.world_size(),
                "head_params": proto.n_params()["head"],
                "embedded_jets": int(EMBED_STATS["jets"] - emb0["jets"]),
                "embed_s": round(EMBED_STATS["seconds"] - emb0["seconds"], 2)}
    n_params = getattr(getattr(plan.model, "meta", None), "n_params", None)
    result = Result(
        encoder=plan.name, encoder_revision=plan.identity["encoder_revision"], task=spec.name,
        task_version=spec.version, protocol=proto.name, protocol_version=proto.version,
        scale=plan.scale, budget=plan.budget, seed=seed, main_score=spec.main_score,
        metrics=ts.metrics, binned=ts.binned, stderr=ts.stderr,
        n_params=int(n_params if n_params is not None else proto.n_params()["encoder"]),
        wall_time_s=round(t_total, 3), created=datetime.now(timezone.utc).isoformat(),
        provenance=provenance(**plan.hashes, device=plan.device),
        config={**plan.identity, "run": run_info})
    result._predictions = preds  # written next to the JSON by save_result
    return result


def run_cell(encoder: str | nn.Module, task: str, protocol: str | None = None, *,
             budget: int | None = None, seed: int = 0, scale: str = "cpu", device: str = "auto",
             results_dir: str | Path | None = None, force: bool = False, progress: bool = True,
             threads: int | None = None, overrides: dict[str, Any] | None = None,
             encoders: dict | None = None) -> CellOutcome:
    """Run (or find already done) one cell; write its Result JSON under `results_dir` if given."""
    torch.set_num_threads(auto_threads(threads))
    t0 = time.perf_counter()
    plan = plan_cell(encoder, task, protocol, budget=budget, seed=seed, scale=scale,
                     device=device, results_dir=results_dir, progress=progress,
                     overrides=overrides, encoders=encoders)
    dd.init_from_env(plan.device)  # after pretraining, which sets up and tears down its own group
    if not force:
        old, why = finished(plan)
        if old is not None:
            say(f"jetbench: {plan.out.name} already done with the same hashes; not re-running "
                "(--force to redo)")
            return CellOutcome(old, plan.out, True)
        if why:
            say(f"jetbench: {why}")
    if time.perf_counter() - t0 > 30:  # data generation or pretraining ran: look at the machine again
        torch.set_num_threads(auto_threads(threads))
    result = execute(plan, progress)
    out = plan.out
    if results_dir is not None and dd.is_main():
        out = save_result(result, results_dir)
    return CellOutcome(result, out, False)


def evaluate(model: str | nn.Module, tasks: list[str] | str | None = None,
             protocol: str = DEFAULT_PROTOCOL, scale: str = "cpu", budget: int | None = None,
             seed: int = 0, device: str = "auto", results_dir: str | Path | None = None,
             force: bool = False, progress: bool = True) -> list[Result]:
    """Benchmark an encoder (a registered name, or an in-memory `Encoder` from a training loop)
    on tasks; returns one Result per task. Results are written only when `results_dir` is given.

    An in-memory model is never modified: `finetune`/`scratch` train a copy, `frozen`/`linear`
    embed in eval mode and restore its train/eval state.
    """
    from jetbench.tasks import list_tasks

    names = [t.name for t in list_tasks()] if tasks is None else (
        [tasks] if isinstance(tasks, str) else list(tasks))
    return [run_cell(model, t, protocol, budget=budget, seed=seed, scale=scale, device=device,
                     results_dir=results_dir, force=force, progress=progress).result
            for t in names]


__all__ = ["CellOutcome", "CellPlan", "evaluate", "execute", "finished", "format_result",
           "plan_cell", "run_cell"]
