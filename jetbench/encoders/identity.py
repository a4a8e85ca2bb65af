"""The one identity of an encoder: which code, configuration and weights produced an embedding,
a checkpoint or a result (docs/design.md, 'Results').

`revision` hashes all three, so it changes whenever `encode()` can:
- code: the source files that define the encoder. For jetbench's own encoders that is the whole
  `jetbench.encoders` package plus the set helpers it runs on (`jetbench.core.sets`); for a
  plug-in, every source file of its top-level package, together with the name and version of the
  distribution that installed it;
- config: the constructor arguments (`get_config()`);
- weights: every tensor of the state dict, bit for bit (fitted input transforms included).

The embedding cache is keyed by the revision, results record it and the full identity
(`EncoderIdentity`), and the checkpoint hash of a result is `weights`.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import inspect
import sys
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict
from torch import nn

from jetbench.core.hashing import hash_json

ENTRY_POINT_GROUP = "jetbench.encoders"  # where plug-ins register their factories
_ENCODERS_DIR = Path(__file__).resolve().parent
_BUILTIN_CODE = (_ENCODERS_DIR, _ENCODERS_DIR.parent / "core" / "sets.py")
_SKIP_MODULES = ("builtins", "abc", "typing")


class PluginInfo(BaseModel):
    """Where a third-party encoder comes from (None fields: not installed as a distribution)."""

    model_config = ConfigDict(frozen=True)

    module: str
    package: str | None = None
    version: str | None = None
    entry_point: str | None = None  # 'name = module:factory' in the jetbench.encoders group


class EncoderIdentity(BaseModel):
    """Everything a result says about the encoder that produced it."""

    model_config = ConfigDict(frozen=True)

    name: str
    revision: str  # hash of code, config and weights (16 hex digits)
    code: str  # hash of the defining source (16 hex digits)
    weights: str  # sha256 of every state tensor (64 hex digits)
    class_name: str  # 'module:qualname'
    config: dict[str, Any]
    n_params: int  # parameters on the encode() path
    embed_dim: int
    pretraining_data: tuple[str, ...] = ()
    license: str | None = None
    plugin: PluginInfo | None = None


def _module_files(module_name: str) -> list[Path]:
    """Source files of a module's top-level package (or of the module itself)."""
    top = sys.modules.get(module_name.partition(".")[0])
    roots = [Path(p) for p in getattr(top, "__path__", [])]
    if roots:
        return sorted(f for root in roots for f in root.rglob("*.py"))
    mod = sys.modules.get(module_name)
    src = inspect.getsourcefile(mod) if mod is not None and hasattr(mod, "__file__") else None
    return [Path(src)] if src else []


def _builtin_files() -> list[Path]:
    return sorted(f for p in _BUILTIN_CODE for f in ([p] if p.is_file() else p.rglob("*.py")))


def _defining_modules(cls: type) -> list[str]:
    return sorted({c.__module__ for c in cls.__mro__
                   if not c.__module__.startswith(("torch", *_SKIP_MODULES))})


@functools.lru_cache(maxsize=256)
def code_hash(cls: type) -> str:
    """Hash of the source files that define `cls` (see the module docstring), by relative name
    and content. Cached per class: a running process does not see its own source change."""
    h = hashlib.sha256()
    files: dict[Path, str] = {}
    for module in _defining_modules(cls):
        if module.partition(".")[0] == "jetbench":
            found = _builtin_files()
            base = _ENCODERS_DIR.parent
        else:
            found = _module_files(module)
            base = None
        for f in found:
            files.setdefault(f, str(f.relative_to(base)) if base else f.name)
    for f, label in sorted(files.items(), key=lambda kv: (kv[1], str(kv[0]))):
        h.update(f"{label}|".encode())
        h.update(f.read_bytes())
    if not files:  # defined interactively: the class's own source if it can be found
        try:
            h.update(inspect.getsource(cls).encode())
        except (OSError, TypeError):
            h.update(f"{cls.__module__}:{cls.__qualname__}".encode())
    plugin = plugin_info(cls)
    if plugin is not None:
        h.update(f"|{plugin.package}|{plugin.version}".encode())
    return h.hexdigest()[:16]


def weights_hash(module: nn.Module) -> str:
    """sha256 over every tensor of the state dict (name, dtype, shape and raw bytes)."""
    h = hashlib.sha256()
    for key, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


@functools.lru_cache(maxsize=256)
def plugin_info(cls: type, name: str | None = None) -> PluginInfo | None:
    """Distribution, version and entry point of a class defined outside jetbench (else None)."""
    module = cls.__module__
    top = module.partition(".")[0]
    if top == "jetbench":
        return None
    dists = importlib.metadata.packages_distributions().get(top, [])
    package = dists[0] if dists else None
    version = None
    if package is not None:
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = None
    entry = None
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name or ep.value.partition(":")[0].partition(".")[0] == top:
            entry = f"{ep.name} = {ep.value}"
            if ep.name == name:
                break
    return PluginInfo(module=module, package=package, version=version, entry_point=entry)


def _config(model: nn.Module) -> dict[str, Any]:
    fn = getattr(model, "get_config", None)
    return dict(fn()) if callable(fn) else {}


def _name(model: nn.Module) -> str:
    name = getattr(model, "name", None)
    if not isinstance(name, str) or not name:
        name = getattr(getattr(model, "meta", None), "name", None)
    return str(name or type(model).__name__)


def revision_of(cls: type, config: dict[str, Any], weights: str) -> str:
    return hash_json({"class": f"{cls.__module__}:{cls.__qualname__}", "code": code_hash(cls),
                      "config": config, "weights": weights})


def revision(model: nn.Module) -> str:
    """The encoder's revision: changes whenever its code, config or weights change."""
    return revision_of(type(model), _config(model), weights_hash(model))


def identify(model: nn.Module) -> EncoderIdentity:
    """The full identity of an encoder instance (a jetbench `Encoder` or any module with
    `encode`)."""
    cls = type(model)
    config, weights = _config(model), weights_hash(model)
    params = getattr(model, "encoder_parameters", None)
    n_params = sum(p.numel() for p in (params() if callable(params) else model.parameters()))
    return EncoderIdentity(
        name=_name(model), revision=revision_of(cls, config, weights), code=code_hash(cls),
        weights=weights, class_name=f"{cls.__module__}:{cls.__qualname__}", config=config,
        n_params=int(n_params), embed_dim=int(getattr(model, "embed_dim", 0) or 0),
        pretraining_data=tuple(getattr(model, "pretraining_data", ()) or ()),
        license=getattr(model, "license", None), plugin=plugin_info(cls, _name(model)))
