"""Encoder checkpoints: a directory with `model.safetensors` + `config.json`. Never pickle.

`model.safetensors` holds every tensor of the module's state dict — weights and the fitted state
(the quantile table of the input transform, k-means centroids, bin edges, VQ-VAE weights and
codebook), so a loaded encoder reproduces `encode()` exactly. `config.json` names the class, its
constructor config, the metadata and the sha256 of the tensor file. Loading checks the file's
framing before parsing it and refuses anything that looks like a pickle/torch.save payload.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from jetbench.core.errors import JetbenchError
from jetbench.core.files import atomic_path, write_json
from jetbench.core.hashing import sha256_file
from jetbench.core.version import __version__
from jetbench.encoders.base import Encoder
from jetbench.encoders.registry import resolve_spec

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
FORMAT = "jetbench-encoder"
FORMAT_VERSION = 1
_SAFE_DTYPES = {
    "F64",
    "F32",
    "F16",
    "BF16",
    "I64",
    "I32",
    "I16",
    "I8",
    "U8",
    "BOOL",
    "U16",
    "U32",
    "U64",
    "F8_E4M3",
    "F8_E5M2",
}


def save_encoder(model: Encoder, path_dir: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the checkpoint directory (each file atomically; config.json last) and return it."""
    out = Path(path_dir)
    out.mkdir(parents=True, exist_ok=True)
    # clone: safetensors refuses shared/non-contiguous storage; loading copies into the module
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT})
    meta = model.meta
    cls = type(model)
    write_json(
        out / CONFIG,
        {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "config": model.get_config(),
            "meta": meta.model_dump(),
            "weights_sha256": sha256_file(str(out / WEIGHTS)),
            "jetbench_version": __version__,
            "extra": extra or {},
        },
    )
    return out


def _check_safetensors_framing(path: Path) -> None:
    """Refuse files that are not plain safetensors before any parser sees them."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if head[:1] == b"\x80" or head[:2] == b"PK":
            raise JetbenchError(
                f"{path}: contains a pickle/torch.save payload, not safetensors; "
                "refusing to load it (jetbench never unpickles checkpoints)"
            )
        if len(head) < 8:
            raise JetbenchError(f"{path}: corrupt checkpoint (file too short for a safetensors header)")
        (n,) = struct.unpack("<Q", head)
        if n == 0 or n > size - 8 or n > 100_000_000:
            raise JetbenchError(
                f"{path}: corrupt checkpoint (safetensors header length {n} does not fit the {size}-byte file)"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise JetbenchError(f"{path}: corrupt checkpoint (safetensors header is not JSON: {err})") from err
    if not isinstance(header, dict):
        raise JetbenchError(f"{path}: corrupt checkpoint (safetensors header is not a JSON object)")
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not isinstance(entry, dict) or entry.get("dtype") not in _SAFE_DTYPES:
            raise JetbenchError(
                f"{path}: tensor '{key}' has an unsupported or tampered entry {entry!r}; refusing to load it"
            )


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise JetbenchError(f"{path}: missing; not a jetbench encoder checkpoint")
    try:
        cfg = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise JetbenchError(f"{path}: corrupt checkpoint config ({err})") from err
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise JetbenchError(f"{path}: not a jetbench encoder config (format != '{FORMAT}')")
    if cfg.get("format_version") != FORMAT_VERSION:
        raise JetbenchError(
            f"{path}: checkpoint format version {cfg.get('format_version')} is not "
            f"supported (this jetbench reads {FORMAT_VERSION})"
        )
    for key in ("class", "config", "weights_sha256"):
        if key not in cfg:
            raise JetbenchError(f"{path}: corrupt checkpoint config (missing '{key}')")
    return cfg


def load_encoder(path_dir: str | Path, device: str | torch.device = "cpu") -> Encoder:
    """Rebuild the encoder from config.json, load model.safetensors (strict); eval mode."""
    root = Path(path_dir)
    if not root.is_dir():
        raise JetbenchError(f"{root}: no such checkpoint directory")
    cfg = _read_config(root / CONFIG)
    weights = root / WEIGHTS
    if not weights.is_file():
        raise JetbenchError(f"{weights}: missing; incomplete checkpoint")
    _check_safetensors_framing(weights)
    if sha256_file(str(weights)) != cfg["weights_sha256"]:
        raise JetbenchError(f"{weights}: corrupt checkpoint (sha256 differs from the one in {CONFIG})")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise JetbenchError(f"{weights}: corrupt checkpoint ({err})") from err
    cls = resolve_spec(cfg["class"])
    if not (isinstance(cls, type) and issubclass(cls, Encoder)):
        raise JetbenchError(f"{root / CONFIG}: class '{cfg['class']}' is not a jetbench Encoder")
    try:
        model = cls(**cfg["config"])
    except (TypeError, ValueError) as err:
        raise JetbenchError(f"{root / CONFIG}: cannot rebuild '{cfg['class']}' from its config: {err}") from err
    model._config = cfg["config"]
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise JetbenchError(f"{weights}: tensors do not match '{cfg['class']}': {first}") from err
    return model.to(device).eval()
