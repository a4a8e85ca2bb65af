"""Periodic, atomic, pickle-free training checkpoints.

A checkpoint (model + optimizer + schedule + probe + RNG + data position) is a folder
`train_state/step-<N>/` holding the encoder (`jetbench.encoders.save_encoder`), `state.safetensors`
(every tensor of the optimizer, probe and RNG states) and `state.json` (everything else, with
tensors replaced by references). It is written under a temporary name and renamed into place;
only then is `train_state/latest.json` switched to it, so an interruption at any moment leaves the
previous checkpoint usable and no half-written folder under a final name.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from jetbench.core.errors import JetbenchError
from jetbench.core.files import write_json, write_text
from jetbench.encoders import load_encoder, save_encoder

STATE_DIR = "train_state"
LATEST = "latest.json"
_TENSOR = "__tensor__"
_ITEMS = "__items__"


def split_tensors(obj: Any, tensors: dict[str, torch.Tensor] | None = None, key: str = "t") -> tuple[Any, dict]:
    """A JSON-able skeleton of `obj` with each tensor moved to a flat dict (references by key).

    Dicts with non-string keys (optimizer states are keyed by parameter index) are stored as item
    lists so the keys come back with their types.
    """
    tensors = {} if tensors is None else tensors
    if isinstance(obj, torch.Tensor):
        tensors[key] = obj.detach().to("cpu").contiguous().clone()
        return {_TENSOR: key}, tensors
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj):
            return {k: split_tensors(v, tensors, f"{key}.{k}")[0] for k, v in obj.items()}, tensors
        return {_ITEMS: [[k, split_tensors(v, tensors, f"{key}.{k}")[0]] for k, v in obj.items()]}, tensors
    if isinstance(obj, (list, tuple)):
        return [split_tensors(v, tensors, f"{key}.{i}")[0] for i, v in enumerate(obj)], tensors
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj, tensors
    raise TypeError(f"cannot checkpoint a {type(obj).__name__} at '{key}' without pickle")


def join_tensors(skeleton: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of `split_tensors`."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {_TENSOR}:
            return tensors[skeleton[_TENSOR]]
        if set(skeleton) == {_ITEMS}:
            return {k: join_tensors(v, tensors) for k, v in skeleton[_ITEMS]}
        return {k: join_tensors(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [join_tensors(v, tensors) for v in skeleton]
    return skeleton


@dataclass
class TrainState:
    """A checkpoint read back: folder, completed steps, state tree, log records and model."""

    path: Path
    step: int
    state: dict
    log: list[dict]
    model: torch.nn.Module


def save_train_state(
    root: Path, step: int, model: torch.nn.Module, state: dict, log: list[dict], keep: int = 2
) -> Path:
    """Write checkpoint `root/step-<step>` atomically, point `latest.json` at it, prune old ones."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:09d}"
    tmp = root / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        save_encoder(model, tmp / "model")
        skeleton, tensors = split_tensors(state)
        save_file(tensors, str(tmp / "state.safetensors"))
        write_json(tmp / "state.json", {"step": step, "state": skeleton})
        write_text(tmp / "log.jsonl", "".join(json.dumps(r, sort_keys=True) + "\n" for r in log))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    write_json(root / LATEST, {"step": step, "dir": final.name})
    for old in sorted(root.glob("step-*"))[:-keep] if keep > 0 else []:
        if old.name != final.name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(root: Path) -> Path | None:
    """The folder `latest.json` points at, or None when there is no complete checkpoint."""
    pointer = root / LATEST
    if not pointer.exists():
        return None
    try:
        folder = root / json.loads(pointer.read_text())["dir"]
    except (ValueError, KeyError) as err:
        raise JetbenchError(f"{pointer}: unreadable checkpoint pointer ({err})") from None
    if not (folder / "state.json").exists():
        raise JetbenchError(f"{pointer}: points at {folder.name}, which is missing or incomplete")
    return folder


def load_train_state(root: Path) -> TrainState | None:
    """Read the latest checkpoint under `root` (None if there is none)."""
    folder = latest_checkpoint(root)
    if folder is None:
        return None
    try:
        meta = json.loads((folder / "state.json").read_text())
        tensors = load_file(str(folder / "state.safetensors"))
    except (OSError, ValueError) as err:
        raise JetbenchError(f"{folder}: corrupt checkpoint ({err})") from None
    log_text = (folder / "log.jsonl").read_text() if (folder / "log.jsonl").exists() else ""
    log = [json.loads(line) for line in log_text.splitlines() if line.strip()]
    model = load_encoder(folder / "model")
    return TrainState(folder, int(meta["step"]), join_tensors(meta["state"], tensors), log, model)


def clear_train_state(root: Path) -> None:
    """Forget previous checkpoints (a fresh run, or a finished one)."""
    shutil.rmtree(root, ignore_errors=True)
