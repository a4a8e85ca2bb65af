"""`pretrain` and `ensure_pretrained`: from an encoder name to a checkpoint `jetbench run` finds."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import torch

from jetbench import datasets
from jetbench.core import distributed
from jetbench.core.devices import resolve_device
from jetbench.core.errors import JetbenchError
from jetbench.core.files import write_json, write_text
from jetbench.core.hashing import sha256_file
from jetbench.core.kernels import cpu_model, kernel_fingerprint
from jetbench.core.log import get_logger
from jetbench.core.paths import checkpoint_dir
from jetbench.core.threads import pinned_threads
from jetbench.encoders import PretrainableEncoder, create_encoder, load_encoder, save_encoder
from jetbench.encoders.checkpoint import WEIGHTS
from jetbench.encoders.shipped import shipped, verify
from jetbench.pretraining.checkpointing import STATE_DIR, clear_train_state, load_train_state
from jetbench.pretraining.config import PretrainConfig
from jetbench.pretraining.data import PretrainData
from jetbench.pretraining.loop import PretrainLoop
from jetbench.tracking import NullTracker, open_trackers

SUMMARY = "pretrain_log.json"
LOG = "pretrain_log.jsonl"
SNAPSHOTS = "snapshots"  # encoder every `snapshot_every` steps, for the learning curve


def default_checkpoint(name: str, scale: str) -> Path:
    """Where `jetbench run` looks for the pretrained encoder `name` at `scale`."""
    return checkpoint_dir() / name.replace(":", "_").replace("/", "_") / scale


def is_complete(path: Path) -> bool:
    """A finished checkpoint folder: the summary is written last."""
    return (path / SUMMARY).exists()


def pretrain(
    name: str,
    scale: str = "cpu",
    steps: int | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    out: str | os.PathLike | None = None,
    resume: bool = False,
    seed: int = 0,
    *,
    data: str | os.PathLike | None = None,
    progress: bool = True,
    log_every: int | None = None,
    ckpt_every: int | None = None,
    probe_every: int | None = None,
) -> Path:
    """Pretrain encoder `name` on the jetclass pretraining split of `scale`; return its folder.

    Encoders that need no pretraining (scratch, nobackbone) only fit their input transform on the
    pretraining sample and are saved, so every run starts from the same stored model.
    `data` replaces the task split by another canonical jetclass store (e.g. real JetClass).
    """
    dev = resolve_device(device)
    info = distributed.setup(dev)
    if dev.type == "cuda" and info.world_size > 1:
        dev = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(dev)
    try:
        cfg = PretrainConfig.for_scale(
            name,
            scale,
            steps,
            batch_size,
            seed,
            log_every=log_every,
            ckpt_every=ckpt_every,
            probe_every=probe_every,
        )
        out_dir = Path(out) if out is not None else default_checkpoint(name, scale)
        with pinned_threads(cfg.threads if dev.type == "cpu" else 0):
            return _pretrain(cfg, dev, info, out_dir, resume, data, progress)
    finally:
        distributed.teardown(info)


_pretrain_now = pretrain  # `ensure_pretrained(pretrain=...)` shadows the name


def _data_path(scale: str, data: str | os.PathLike | None, info: distributed.DistInfo) -> Path:
    """The pretraining store. Under torchrun every rank asks; the task cache's file lock lets one
    generate it on first use while the others wait (no collective, so no timeout however long)."""
    if data is not None:
        return Path(data)
    return datasets.pretrain_split(scale, progress=info.is_main)


def _pretrain(
    cfg: PretrainConfig,
    dev: torch.device,
    info: distributed.DistInfo,
    out: Path,
    resume: bool,
    data: str | os.PathLike | None,
    progress: bool,
) -> Path:
    root = out / STATE_DIR
    saved = load_train_state(root) if resume else None
    if resume and saved is None and is_complete(out):
        _say(info, f"{out} is already complete; nothing to resume")
        return out
    if resume and saved is None:
        _say(info, f"no checkpoint under {root}; starting from scratch")
    if saved is None:
        torch.manual_seed(cfg.seed)
        model = create_encoder(cfg.name, cfg.scale)  # first: a wrong name fails before data work
        if not isinstance(model, PretrainableEncoder):
            raise JetbenchError(
                f"encoder '{cfg.name}' is a plain Encoder (no fit_preprocessing/pretrain_loss): "
                "there is nothing to pretrain; use it as it is"
            )
    data_path = _data_path(cfg.scale, data, info)
    jets = PretrainData(data_path)
    if saved is None:
        if info.is_main:
            clear_train_state(root)
            (out / SUMMARY).unlink(missing_ok=True)
        t0 = time.perf_counter()
        sample = jets.sample(cfg.sample_size, cfg.seed)
        _say(info, f"fitting the preprocessing of {cfg.name} on {len(sample)} jets")
        model.fit_preprocessing(sample, cfg.seed)
        fit_seconds = time.perf_counter() - t0
    else:
        _say(info, f"resuming {cfg.name} from step {saved.step} ({saved.path})")
        model, fit_seconds = saved.model, float(saved.state["fit_seconds"])
    if not getattr(model, "needs_pretraining", True):
        _say(info, f"{cfg.name} needs no pretraining; saving it with its fitted input transform")
        cfg = PretrainConfig(**{**cfg.to_dict(), "steps": 0})
    loop = PretrainLoop(model, jets, cfg, dev, info, n_classes=len(jets.labels))
    if saved is not None:
        loop.load(saved)
    loop.fit_seconds = fit_seconds
    # experiment tracking (--track / JETBENCH_TRACK): the main process logs the curves
    tracker = (open_trackers(f"pretrain-{cfg.name}-{cfg.scale}", params=cfg.to_dict())
               if info.is_main else NullTracker())
    try:
        loop.run(root, progress=progress, tracker=tracker, snapshots=out / SNAPSHOTS)
        if info.is_main:
            _save_final(loop, out, jets.content_hash, data_path, fit_seconds)
    finally:
        tracker.close()
    distributed.barrier()
    return out


def _save_final(loop: PretrainLoop, out: Path, data_hash: str, data_path: Path, fit_seconds: float) -> None:
    """Encoder files into `out`, then the log, then the summary last (its presence = complete)."""
    tmp = out / f".final.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        save_encoder(loop.model, tmp)
        for item in tmp.iterdir():
            target = out / item.name
            if target.is_dir():
                shutil.rmtree(target)
            os.replace(item, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log = loop.log
    write_text(out / LOG, "".join(_json_line(r) for r in log))
    probes = [r["probe_acc"] for r in log if r.get("probe_acc") is not None]
    write_json(
        out / SUMMARY,
        {
            "encoder": loop.cfg.name,
            "scale": loop.cfg.scale,
            "config": loop.cfg.to_dict(),
            "schedule": loop.schedule.to_dict(),
            "steps": loop.step,
            "world_size": loop.info.world_size,
            "device": str(loop.device),
            "loss_start": log[0]["loss"] if log else None,
            "loss_end": log[-1]["loss"] if log else None,
            "probe_acc_start": probes[0] if probes else None,
            "probe_acc_end": probes[-1] if probes else None,
            "train_seconds": round(loop.elapsed, 3),
            "fit_preprocessing_seconds": round(fit_seconds, 3),
            "data_hash": data_hash,
            "data_path": str(data_path),
            "n_params": sum(p.numel() for p in loop.model.parameters()),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cpu": cpu_model(),
            "kernels": kernel_fingerprint(),
        },
    )
    clear_train_state(out / STATE_DIR)


def _json_line(record: dict) -> str:
    return json.dumps(record, sort_keys=True) + "\n"


def _say(info: distributed.DistInfo, message: str) -> None:
    if info.is_main:
        get_logger().info(message)


def ensure_pretrained(name: str, scale: str = "cpu", device: str = "auto",
                      pretrain: bool = False) -> torch.nn.Module:
    """The pretrained encoder `name` at `scale`: the checkpoint shipped with jetbench (checked
    against its pinned sha256), else the local one, else pretrained now and kept. `pretrain=True`
    skips the shipped checkpoint and uses (or makes) a local one."""
    ship = None if pretrain else shipped(name, scale)
    if ship is not None:
        folder = verify(ship)
        get_logger().info(f"using the shipped {scale} checkpoint of {name} (weights sha256 "
                          f"{ship.weights_sha256[:12]}; --pretrain pretrains it here instead)")
        return load_encoder(folder, spec=name).to(resolve_device(device))
    path = default_checkpoint(name, scale)
    if not is_complete(path):
        model = create_encoder(name, scale)
        if not isinstance(model, PretrainableEncoder):  # a plug-in that arrives ready to encode
            return model.to(resolve_device(device))
        get_logger().info(f"no pretrained '{name}' for scale '{scale}' in {path}; pretraining "
                          "it now (once; later runs load it)")
        _pretrain_now(name, scale, device=device, resume=(path / STATE_DIR).exists())
    return load_encoder(path, spec=name).to(resolve_device(device))


def fitted_on(name: str, scale: str, data: str | os.PathLike, device: str = "auto",
              seed: int = 0) -> torch.nn.Module | None:
    """Encoder `name` with its input transform fitted on a sample of the store (or file set) at
    `data` — a user task's own training jets — when it is an encoder that needs no pretraining
    (scratch, nobackbone); None for one whose transform belongs to its pretrained weights.
    Nothing is saved: fitting takes seconds, and generating the jetclass pretraining split just
    to fit a transform for someone else's jets would take far longer."""
    model = create_encoder(name, scale)
    if not isinstance(model, PretrainableEncoder) or getattr(model, "needs_pretraining", True):
        return None
    cfg = PretrainConfig.for_scale(name, scale, seed=seed)
    torch.manual_seed(cfg.seed)
    model = create_encoder(name, scale)  # the same initial weights as a pretrained-then-saved one
    sample = PretrainData(data).sample(cfg.sample_size, cfg.seed)
    get_logger().info(f"fitting the input transform of {name} on {len(sample)} jets of the "
                      "task's training split")
    model.fit_preprocessing(sample, cfg.seed)
    return model.to(resolve_device(device))


def check_shipped(name: str, scale: str, folder: str | os.PathLike) -> tuple[bool, str]:
    """Does the checkpoint in `folder` have the weights of the shipped one, bit for bit?"""
    ship = shipped(name, scale)
    if ship is None:
        return False, f"jetbench ships no {scale} checkpoint of '{name}'"
    got = sha256_file(str(Path(folder) / WEIGHTS))
    if got == ship.weights_sha256:
        return True, f"{name}/{scale}: model.safetensors is bit-identical to the shipped one ({got[:16]})"
    made_with = ", ".join(f"{k} {ship.info[k]}" for k in ("torch", "cpu", "kernels")
                          if ship.info.get(k))
    return False, (f"{name}/{scale}: model.safetensors sha256 {got[:16]} differs from the shipped "
                   f"{ship.weights_sha256[:16]}; the bits depend on the torch build and the CPU's "
                   f"float kernels (shipped with {made_with or 'an unrecorded setup'}; here torch "
                   f"{torch.__version__}, {cpu_model() or 'unknown CPU'}, kernels "
                   f"{kernel_fingerprint()})")
