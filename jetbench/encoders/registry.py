"""Encoder registry: `create_encoder(name, scale, **overrides)` and `list_encoders()` (timm-style).

Built-in variants are factories made by `register_variant` (per-scale default tables + fixed
values, one line each); any function decorated with `@register_encoder` works too. Third parties
register a factory under the entry-point group `jetbench.encoders` (name = 'module:factory'), or
pass a 'module:factory' spec directly as the name. A factory takes `scale` (if it accepts it) and
keyword overrides and returns an `Encoder`.
"""

from __future__ import annotations

import copy
import importlib
import importlib.metadata
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.core.scales import PerScale, check_scale
from jetbench.encoders.base import Encoder
from jetbench.encoders.identity import ENTRY_POINT_GROUP

Factory = Callable[..., Encoder]

_REGISTRY: dict[str, Factory] = {}
_BUILTIN_MODULES = (
    "jetbench.encoders.baselines",
    "jetbench.encoders.mpmv1",
    "jetbench.encoders.mpmv2",
    "jetbench.encoders.ssfm",
)


def register_encoder(fn: Factory) -> Factory:
    """Decorator: register a factory under its function name."""
    _REGISTRY[fn.__name__] = fn
    return fn


def register_variant(
    cls: type[Encoder], name: str, *scale_tables: Mapping[str, Mapping[str, Any]], **fixed: Any
) -> Factory:
    """Register `name` as a factory `(scale="cpu", **overrides)` that builds `cls` from its defaults.

    The defaults at a scale are each table's entry for that scale, merged in order, then `fixed`.
    Variants of one model differ only in these defaults, so they share this one factory body. The
    factory reports `cls`'s module as its own: assign it to a module-level name there, under `name`,
    so 'module:factory' specs (and pickling) find it. Each table must define every scale
    (`jetbench.core.scales.PerScale`), checked here once at registration.
    """
    tables = [t if isinstance(t, PerScale) else PerScale(t, f"encoder '{name}'") for t in scale_tables]

    def factory(scale: str = "cpu", **overrides: Any) -> Encoder:
        defaults = {key: value for table in tables for key, value in table.at(scale).items()}
        return build(cls, name, {**defaults, **fixed}, overrides)

    factory.__name__ = factory.__qualname__ = name
    factory.__module__ = cls.__module__
    factory.__doc__ = f"The '{name}' variant of {cls.__name__} at a scale, with config overrides."
    return register_encoder(factory)


def _load_builtins() -> None:
    for mod in _BUILTIN_MODULES:
        importlib.import_module(mod)


def _entry_points() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def list_encoders() -> list[str]:
    """Registered names: built-ins and installed entry points, sorted."""
    _load_builtins()
    return sorted(set(_REGISTRY) | set(_entry_points()))


def resolve_spec(spec: str) -> Any:
    """Import 'package.module:attr' (the attribute may be dotted)."""
    module, _, attr = spec.partition(":")
    try:
        obj = importlib.import_module(module)
    except ImportError as err:
        raise JetbenchError(f"cannot import module '{module}' of encoder spec '{spec}': {err}") from err
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise JetbenchError(f"module '{module}' has no attribute '{attr}' (encoder spec '{spec}')")
        obj = getattr(obj, part)
    return obj


def get_factory(name: str) -> Factory:
    """The factory for a registered name, an entry point, or a 'module:factory' spec."""
    if ":" in name:
        return resolve_spec(name)
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    eps = _entry_points()
    if name in eps:
        try:
            return eps[name].load()
        except Exception as err:
            raise JetbenchError(f"entry point '{name}' of group {ENTRY_POINT_GROUP} failed to load: {err}") from err
    raise unknown_name("encoder", name, set(_REGISTRY) | set(eps))


def create_encoder(name: str, scale: str = "cpu", **overrides: Any) -> Encoder:
    """Build an encoder by name at a scale ('smoke' | 'cpu' | 'paper'), with config overrides."""
    check_scale(scale)
    factory = get_factory(name)
    if not callable(factory):
        raise JetbenchError(f"encoder spec '{name}' does not name a callable factory")
    params = inspect.signature(factory).parameters
    takes_scale = "scale" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    model = factory(scale=scale, **overrides) if takes_scale else factory(**overrides)
    if not isinstance(model, Encoder):
        raise JetbenchError(
            f"encoder factory '{name}' returned {type(model).__name__}, not a jetbench.encoders.Encoder"
        )
    if model.name == "encoder":
        model.name = name
    return model


def merge_config(defaults: dict[str, Any], overrides: dict[str, Any], where: str) -> dict[str, Any]:
    """defaults updated by overrides, dict values merged recursively; unknown keys refused."""
    cfg = copy.deepcopy(defaults)
    for key, value in overrides.items():
        if key not in cfg:
            raise JetbenchError(f"unknown option '{key}' for encoder '{where}'; known: {', '.join(sorted(cfg))}")
        if isinstance(cfg[key], dict) and isinstance(value, dict):
            cfg[key] = merge_config(cfg[key], value, f"{where}.{key}")
        else:
            cfg[key] = value
    return cfg


def signature_defaults(cls: type) -> dict[str, Any]:
    """Keyword defaults of `cls.__init__` along its MRO, so every constructor knob is configurable
    and the stored config is complete."""
    out: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None or klass.__module__.startswith(("torch", "builtins", "abc")):
            continue
        for p in inspect.signature(init).parameters.values():
            if p.default is not p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                out[p.name] = list(p.default) if isinstance(p.default, tuple) else p.default
    return out


def build(cls: type[Encoder], name: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> Encoder:
    """Instantiate `cls` from its signature defaults, the variant's defaults and the overrides;
    remember the full config for checkpoints."""
    cfg = merge_config({**signature_defaults(cls), "name": name, **defaults}, overrides, name)
    try:
        model = cls(**cfg)
    except (TypeError, ValueError) as err:
        raise JetbenchError(f"invalid configuration for encoder '{name}': {err}") from err
    model._config = cfg
    return model
