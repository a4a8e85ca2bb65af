"""The scales every component is sized for, defined once.

`smoke` (tests, seconds), `cpu` (the default without a GPU, minutes per cell) and `paper` (the
papers' sizes, a GPU cluster). Components keep their own per-scale values next to their code
(backbone widths, protocol settings, pretraining lengths, task budgets) but declare them as a
`PerScale` table, so a table that misses a scale or names an unknown one fails at import, and
asking for an unknown scale gives the same one-line error everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Generic, TypeVar

from jetbench.core.errors import JetbenchError, unknown_name

SCALES: tuple[str, ...] = ("smoke", "cpu", "paper")

T = TypeVar("T")


def check_scale(scale: str) -> str:
    """`scale` if it is one of SCALES, else the 'unknown scale' error listing the known ones."""
    if scale not in SCALES:
        raise unknown_name("scale", str(scale), SCALES)
    return scale


class PerScale(Mapping[str, T], Generic[T]):
    """A component's settings at every scale: exactly one entry per name in SCALES.

    A read-only mapping, so code that indexes or iterates a plain {scale: value} dict keeps
    working; `at(scale)` is the checked lookup.
    """

    def __init__(self, table: Mapping[str, T], what: str = "settings") -> None:
        missing = [s for s in SCALES if s not in table]
        extra = [s for s in table if s not in SCALES]
        if missing or extra:
            raise JetbenchError(f"{what}: per-scale table must define exactly {list(SCALES)} "
                                f"(missing {missing}, unknown {extra})")
        self._table = {s: table[s] for s in SCALES}
        self.what = what

    def at(self, scale: str) -> T:
        return self._table[check_scale(scale)]

    def __getitem__(self, scale: str) -> T:
        return self.at(scale)

    def __iter__(self) -> Iterator[str]:
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)

    def __repr__(self) -> str:
        return f"PerScale({self.what}: {self._table!r})"
