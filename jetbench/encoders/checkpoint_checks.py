"""Checks a checkpoint must pass before jetbench allocates anything for it.

A checkpoint folder is untrusted input: a 3 KB config.json can ask for a model of any size, and a
tensor file can claim any shapes. So, before the model is built:
- the safetensors header is parsed from its 8-byte length prefix and every entry checked (dtype,
  shape, byte range inside the file, no overlap), giving the exact bytes the weights occupy;
- every number in the config is checked against sane limits (module counts such as depths are
  small; any integer fits in 32 bits; floats are finite);
- the constructor runs under `allocation_budget`, which sizes every tensor-creating call on the
  meta device first and refuses the one that would take the build past a budget derived from the
  header (a model whose weights match the file cannot need much more than the file).
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from jetbench.core.errors import JetbenchError

DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8, "F8_E4M3": 1, "F8_E5M2": 1}
MAX_HEADER_BYTES = 100_000_000
MAX_TENSORS = 100_000
MAX_INT = 2**31 - 1
MAX_COUNT = 1024  # depths, heads, blocks, ...: each one builds modules, so keep them small
COUNT_KEYS = re.compile(r"(depth|layers|blocks|heads|transforms|registers)$")
MAX_ITEMS = 4096  # list lengths / dict sizes in a config
MAX_NESTING = 16
# headroom over the weights' own bytes for buffers that are not saved and construction temporaries
BUILD_SLACK_BYTES = 256 << 20


def read_header(path: Path) -> dict[str, dict[str, Any]]:
    """The tensor entries of a safetensors file, each checked against the file; refuses pickles."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if head[:1] == b"\x80" or head[:2] == b"PK":
            raise JetbenchError(f"{path}: contains a pickle/torch.save payload, not safetensors; "
                                "refusing to load it (jetbench never unpickles checkpoints)")
        if len(head) < 8:
            raise JetbenchError(f"{path}: corrupt checkpoint (file too short for a safetensors header)")
        (n,) = struct.unpack("<Q", head)
        if n == 0 or n > size - 8 or n > MAX_HEADER_BYTES:
            raise JetbenchError(f"{path}: corrupt checkpoint (safetensors header length {n} does "
                                f"not fit the {size}-byte file)")
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise JetbenchError(f"{path}: corrupt checkpoint (safetensors header is not JSON: {err})") from err
    if not isinstance(header, dict):
        raise JetbenchError(f"{path}: corrupt checkpoint (safetensors header is not a JSON object)")
    header.pop("__metadata__", None)
    if len(header) > MAX_TENSORS:
        raise JetbenchError(f"{path}: {len(header)} tensors (more than {MAX_TENSORS}); refusing it")
    spans = []
    for key, entry in header.items():
        nbytes = _entry_bytes(path, key, entry)
        begin, end = entry["data_offsets"]
        if end - begin != nbytes or end > size - 8 - n:
            raise JetbenchError(f"{path}: tensor '{key}' claims bytes {begin}..{end}, which do not "
                                f"match its shape {entry['shape']} or lie outside the file")
        spans.append((begin, end, key))
    spans.sort()
    for (_, end_a, a), (begin_b, _, b) in zip(spans, spans[1:], strict=False):
        if begin_b < end_a:
            raise JetbenchError(f"{path}: tensors '{a}' and '{b}' overlap; corrupt checkpoint")
    return header


def _entry_bytes(path: Path, key: str, entry: Any) -> int:
    if not isinstance(entry, dict) or entry.get("dtype") not in DTYPE_BYTES:
        raise JetbenchError(f"{path}: tensor '{key}' has an unsupported or tampered entry "
                            f"{str(entry)[:200]}; refusing to load it")
    shape, offsets = entry.get("shape"), entry.get("data_offsets")
    if (not isinstance(shape, list) or len(shape) > 8
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
            or not isinstance(offsets, list) or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) and o >= 0 for o in offsets)
            or offsets[1] < offsets[0]):
        raise JetbenchError(f"{path}: tensor '{key}' has a malformed shape or byte range "
                            f"{str(entry)[:200]}; corrupt checkpoint")
    return math.prod(shape) * DTYPE_BYTES[entry["dtype"]]


def weights_bytes(header: dict[str, dict[str, Any]]) -> int:
    return sum(e["data_offsets"][1] - e["data_offsets"][0] for e in header.values())


def check_config_values(config: Any, where: str) -> None:
    """Refuse config values no real encoder has (before they reach a constructor)."""
    _check_value(config, "config", where, 0)


def _check_value(value: Any, key: str, where: str, depth: int) -> None:
    if depth > MAX_NESTING:
        raise JetbenchError(f"{where}: '{key}' is nested more than {MAX_NESTING} levels deep")
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        limit = MAX_COUNT if COUNT_KEYS.search(key.rsplit(".", 1)[-1]) else MAX_INT
        if abs(value) > limit:
            raise JetbenchError(f"{where}: '{key}' = {value} is outside the sane range "
                                f"[-{limit}, {limit}]; refusing to build the encoder")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise JetbenchError(f"{where}: '{key}' = {value} is not a finite number")
    elif isinstance(value, str):
        if len(value) > 10_000:
            raise JetbenchError(f"{where}: '{key}' is a {len(value)}-character string")
    elif isinstance(value, (list, dict)):
        if len(value) > MAX_ITEMS:
            raise JetbenchError(f"{where}: '{key}' has {len(value)} items (at most {MAX_ITEMS})")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for k, v in items:
            _check_value(v, f"{key}.{k}", where, depth + 1)
    else:
        raise JetbenchError(f"{where}: '{key}' has a value of type {type(value).__name__}")


class BudgetExceeded(JetbenchError):
    """The encoder's constructor asked for more memory than its checkpoint can justify."""


_LIKE = {torch.empty_like, torch.zeros_like, torch.ones_like, torch.full_like, torch.rand_like,
         torch.randn_like, torch.randint_like}
_FACTORIES = {torch.empty, torch.zeros, torch.ones, torch.full, torch.rand, torch.randn,
              torch.randint, torch.randperm, torch.arange, torch.linspace, torch.logspace,
              torch.eye, torch.empty_strided, torch.normal} | _LIKE


class _Budget(TorchFunctionMode):
    """Sizes each tensor factory call on the meta device and refuses one past the budget."""

    def __init__(self, limit: int, where: str) -> None:
        super().__init__()
        self.limit, self.used, self.where = limit, 0, where

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _FACTORIES:
            self.used += self._bytes(func, args, kwargs)
            if self.used > self.limit:
                raise BudgetExceeded(
                    f"{self.where}: building this encoder needs more than {self.limit >> 20} MB, "
                    "far more than its weights file holds; the config does not match the weights")
        return func(*args, **kwargs)

    @staticmethod
    def _bytes(func, args, kwargs) -> int:
        if func in _LIKE:
            t = args[0] if args else kwargs.get("input")
            return t.numel() * t.element_size() if isinstance(t, torch.Tensor) else 0
        try:
            meta = func(*args, **{**kwargs, "device": "meta"})
        except Exception:  # noqa: BLE001 - sizes what it can; the real call reports bad args
            return 0
        return meta.numel() * meta.element_size() if isinstance(meta, torch.Tensor) else 0


@contextmanager
def allocation_budget(limit_bytes: int, where: str) -> Iterator[None]:
    """Within the block, tensor factories may allocate at most `limit_bytes` in total."""
    with _Budget(limit_bytes, where):
        yield


def build_budget(header: dict[str, dict[str, Any]]) -> int:
    """Bytes a model whose weights are in `header` may allocate while it is built."""
    return 2 * weights_bytes(header) + BUILD_SLACK_BYTES


def check_shapes(model: torch.nn.Module, header: dict[str, dict[str, Any]], where: str) -> None:
    """The built model's state must be exactly the tensors of the file (names and shapes)."""
    state = model.state_dict()
    missing = sorted(set(state) - set(header))
    extra = sorted(set(header) - set(state))
    if missing or extra:
        what = (f"missing {missing[:3]}" if missing else "") + \
               (f"{'; ' if missing else ''}unexpected {extra[:3]}" if extra else "")
        raise JetbenchError(f"{where}: tensors do not match the config's encoder ({what})")
    for key, t in state.items():
        if list(t.shape) != header[key]["shape"]:
            raise JetbenchError(f"{where}: tensor '{key}' has shape {header[key]['shape']} in the "
                                f"file but {list(t.shape)} in the config's encoder")
