"""Encoder checkpoints: a directory with `model.safetensors` + `config.json`. Never pickle.

`model.safetensors` holds every tensor of the module's state dict — weights and the fitted state
(the quantile table of the input transform, k-means centroids, bin edges, VQ-VAE weights and
codebook), so a loaded encoder reproduces `encode()` exactly. `config.json` names the class, its
constructor config, the metadata and the sha256 of the tensor file.

A checkpoint folder is untrusted data. Loading imports nothing it names (the class must already be
known to the registry), refuses pickle/torch.save payloads, and checks the config's values and the
tensor header against sane limits before it allocates anything (`checkpoint_checks`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from jetbench.core.errors import JetbenchError
from jetbench.core.files import atomic_path, write_json
from jetbench.core.hashing import sha256_file
from jetbench.core.version import __version__
from jetbench.encoders import checkpoint_checks as checks
from jetbench.encoders.base import Encoder
from jetbench.encoders.registry import known_encoder_class

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
FORMAT = "jetbench-encoder"
FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 10 << 20


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


def _read_config(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise JetbenchError(f"{path}: missing; not a jetbench encoder checkpoint")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise JetbenchError(f"{path}: {path.stat().st_size} bytes, too large for an encoder config")
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


def load_encoder(path_dir: str | Path, device: str | torch.device = "cpu",
                 spec: str | None = None) -> Encoder:
    """Rebuild the encoder from config.json, load model.safetensors (strict); eval mode.

    The class must be known to the registry (`spec`: the encoder name or 'module:factory' the
    caller asked for, whose classes count as known); config values and tensor shapes are checked
    against sane limits and the file's header before anything is allocated."""
    root = Path(path_dir)
    if not root.is_dir():
        raise JetbenchError(f"{root}: no such checkpoint directory")
    cfg = _read_config(root / CONFIG)
    where = str(root / CONFIG)
    if not isinstance(cfg["class"], str) or not isinstance(cfg["config"], dict):
        raise JetbenchError(f"{where}: corrupt checkpoint config ('class' must be a string, "
                            "'config' an object)")
    checks.check_config_values(cfg["config"], where)
    cls = known_encoder_class(cfg["class"], where, spec)
    weights = root / WEIGHTS
    if not weights.is_file():
        raise JetbenchError(f"{weights}: missing; incomplete checkpoint")
    header = checks.read_header(weights)
    if sha256_file(str(weights)) != cfg["weights_sha256"]:
        raise JetbenchError(f"{weights}: corrupt checkpoint (sha256 differs from the one in {CONFIG})")
    try:
        with checks.allocation_budget(checks.build_budget(header), where):
            model = cls(**cfg["config"])
    except (TypeError, ValueError) as err:
        raise JetbenchError(f"{where}: cannot rebuild '{cfg['class']}' from its config: {err}") from err
    model._config = cfg["config"]
    checks.check_shapes(model, header, str(weights))
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as err:
        raise JetbenchError(f"{weights}: corrupt checkpoint ({err})") from err
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise JetbenchError(f"{weights}: tensors do not match '{cfg['class']}': {first}") from err
    return model.to(device).eval()
