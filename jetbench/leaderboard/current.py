"""What the task and protocol definitions are *now*, to flag results measured under older ones.

The leaderboard only needs (version, hash) per task and protocol, plus each task's budgets and
main score. A protocol's settings can depend on the label budget (the fine-tuning freeze length),
so its hash is kept per budget. `Definitions` holds exactly that, so tests and offline tools can
hand one in as plain data; `current_definitions` fills it from the live registries and records a
note for every name it cannot look up instead of failing (a leaderboard of old results must
still build).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jetbench.core.errors import JetbenchError
from jetbench.leaderboard.benchmarks import resolve_budgets
from jetbench.protocols import get_protocol
from jetbench.tasks import get_task

if TYPE_CHECKING:
    from jetbench.leaderboard.benchmarks import Benchmark


@dataclass(frozen=True)
class Definition:
    """One task's or protocol's current identity."""

    version: int
    hash: str
    budgets: dict[str, list[int]] = field(default_factory=dict)  # task: scale -> budgets
    default_budget: dict[str, int] = field(default_factory=dict)  # task: scale -> budget
    main_score: str = ""  # task
    hash_by_budget: dict[int, str] = field(default_factory=dict)  # protocol: budget -> hash

    def hash_for(self, budget: int) -> str:
        return self.hash_by_budget.get(budget, self.hash)

    def is_current(self, got: str, budget: int) -> bool:
        """A result's hash is current if it is this budget's, or (protocols) any budget variant's:
        settings follow the labelled training jets, which for CWoLa are more than its budget."""
        return got == self.hash_for(budget) or got in self.hash_by_budget.values()


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


def _task_definition(name: str) -> Definition:
    spec = get_task(name)
    return Definition(
        version=int(spec.version), hash=str(spec.hash()),
        budgets={str(s): [int(b) for b in bs] for s, bs in spec.budgets.items()},
        default_budget={str(s): int(spec.default_budget(s)) for s in spec.budgets},
        main_score=str(spec.main_score))


def _protocol_definition(name: str, scale: str, budgets: Iterable[int]) -> Definition:
    proto = get_protocol(name, scale=scale)
    every = sorted({*map(int, budgets), *proto.REGIME_BUDGETS})
    return Definition(version=int(proto.version), hash=str(proto.hash()),
                      hash_by_budget={b: str(get_protocol(name, scale=scale, budget=b).hash())
                                      for b in every})


def _note(defs: Definitions, kind: str, name: str, err: Exception) -> None:
    if isinstance(err, ImportError):
        defs.notes.append(f"{kind} registry not available ({err}); '{name}' results are not "
                          f"checked against a current definition")
        return
    why = str(err).splitlines()[0] if str(err) else type(err).__name__
    defs.notes.append(f"{kind} '{name}' has no current definition ({why}); its results are "
                      f"not checked")


_LOOKUP_ERRORS = (ImportError, JetbenchError, KeyError, AttributeError, TypeError, ValueError)


def current_definitions(bench: Benchmark) -> Definitions:
    """Look the benchmark's tasks and protocols up in the live registries; note what is missing."""
    defs = Definitions()
    for name in bench.tasks:
        try:
            defs.tasks[name] = _task_definition(name)
        except _LOOKUP_ERRORS as err:
            _note(defs, "task", name, err)
    budgets, _ = resolve_budgets(bench, defs)
    every_budget = sorted({b for bs in budgets.values() for b in bs})
    for name in bench.protocols:
        try:
            defs.protocols[name] = _protocol_definition(name, bench.scale, every_budget)
        except _LOOKUP_ERRORS as err:
            _note(defs, "protocol", name, err)
    return defs
