"""Evaluation protocols (docs/design.md, 'Protocols'): `frozen`, `linear`, `finetune`, `scratch`.

    proto = get_protocol("finetune", scale="cpu", budget=1000)
    proto.fit(encoder, task, train_split, val_split, seed=0)
    scores = proto.score(test_split)

A new protocol is one `Protocol` subclass with a name, a version and per-scale settings,
registered in `PROTOCOLS`.
"""

from __future__ import annotations

from typing import Any

from jetbench.core.errors import unknown_name
from jetbench.protocols.base import Measured, Protocol
from jetbench.protocols.data import Split
from jetbench.protocols.finetune import FinetuneProtocol, ScratchProtocol
from jetbench.protocols.frozen import FrozenProtocol, LinearProtocol

PROTOCOLS: dict[str, type[Protocol]] = {
    p.name: p for p in (FrozenProtocol, LinearProtocol, FinetuneProtocol, ScratchProtocol)
}


def list_protocols() -> list[str]:
    return list(PROTOCOLS)


def get_protocol(name: str, scale: str = "cpu", budget: int | None = None,
                 **overrides: Any) -> Protocol:
    """A fresh protocol object with settings resolved for the scale (and label budget)."""
    if name not in PROTOCOLS:
        raise unknown_name("protocol", name, PROTOCOLS)
    return PROTOCOLS[name](scale=scale, budget=budget, **overrides)


def check_protocol(name: str, scale: str, overrides: dict[str, Any] | None = None) -> None:
    """Name, scale and setting overrides valid? Checked before any data or model work."""
    if name not in PROTOCOLS:
        raise unknown_name("protocol", name, PROTOCOLS)
    PROTOCOLS[name].check_overrides(scale, overrides or {})


__all__ = ["PROTOCOLS", "Measured", "Protocol", "Split", "check_protocol", "get_protocol",
           "list_protocols"]
