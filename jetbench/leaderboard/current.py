"""What the task and protocol definitions are *now*, to flag results measured under older ones.

The leaderboard only needs (version, hash) per task and protocol, plus each task's budgets per
scale. `Definitions` holds exactly that, so tests and offline tools can hand one in directly;
`current_definitions` fills it from the live registries and records a note for every name it
cannot look up instead of failing (a leaderboard of old results must still build).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from jetbench.errors import JetbenchError


@dataclass(frozen=True)
class Definition:
    """One task's or protocol's current identity."""

    version: int
    hash: str
    budgets: dict[str, list[int]] = field(default_factory=dict)  # tasks only: scale -> budgets
    main_score: str = ""  # tasks only


@dataclass
class Definitions:
    """Current tasks and protocols by name; `notes` say what could not be looked up."""

    tasks: dict[str, Definition] = field(default_factory=dict)
    protocols: dict[str, Definition] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Definitions:
        """From plain data: {"tasks": {name: {"version", "hash", ...}}, "protocols": {...}}."""
        def conv(section: dict[str, Any]) -> dict[str, Definition]:
            return {name: v if isinstance(v, Definition) else Definition(**v)
                    for name, v in section.items()}

        return cls(tasks=conv(d.get("tasks", {})), protocols=conv(d.get("protocols", {})),
                   notes=list(d.get("notes", [])))

    def task_budgets(self) -> dict[str, dict[str, list[int]]]:
        return {name: dict(d.budgets) for name, d in self.tasks.items()}


def _hash_of(obj: Any) -> str:
    h = obj.hash
    return str(h() if callable(h) else h)


def _task_definition(name: str) -> Definition:
    from jetbench.tasks import get_task

    spec = get_task(name)
    budgets = {str(scale): [int(b) for b in bs] for scale, bs in dict(spec.budgets).items()}
    return Definition(version=int(spec.version), hash=_hash_of(spec), budgets=budgets,
                      main_score=str(spec.main_score))


def _protocol_definition(name: str) -> Definition:
    from jetbench.protocols import get_protocol

    proto = get_protocol(name)
    return Definition(version=int(proto.version), hash=_hash_of(proto))


def current_definitions(tasks: Iterable[str], protocols: Iterable[str]) -> Definitions:
    """Look the named tasks and protocols up in the live registries; note what is unavailable."""
    defs = Definitions()
    for kind, names, lookup, target in (
        ("task", tasks, _task_definition, defs.tasks),
        ("protocol", protocols, _protocol_definition, defs.protocols),
    ):
        for name in names:
            try:
                target[name] = lookup(name)
            except ImportError as err:
                defs.notes.append(f"{kind} registry not available ({err}); '{name}' results "
                                  f"are not checked against a current definition")
            except (JetbenchError, KeyError, AttributeError, TypeError, ValueError) as err:
                why = str(err).splitlines()[0] if str(err) else type(err).__name__
                defs.notes.append(f"{kind} '{name}' has no current definition ({why}); "
                                  f"its results are not checked")
    return defs
