"""Evaluation protocols (DESIGN §6): `frozen`, `linear`, `finetune`, `scratch`.

    proto = get_protocol("finetune", scale="cpu", budget=1000)
    proto.fit(encoder, task, train_split, val_split, seed=0)
    scores = proto.score(test_split)

A new protocol is one `Protocol` subclass with a name, a version and per-scale settings,
registered in `PROTOCOLS`.
"""

from __future__ import annotations

from typing import Any

from jetbench.core.errors import unknown_name
from jetbench.protocols.base import Protocol
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


__all__ = ["PROTOCOLS", "Protocol", "Split", "get_protocol", "list_protocols"]
