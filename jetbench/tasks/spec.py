"""Typed task definitions: the schema of the task YAMLs (docs/design.md, 'Tasks').

A `TaskSpec` says which jets a task uses (a `jetbench.datasets.DataSpec`, shared by name or
inline), what is learned from them (kind of head, labels, loss), how it is scored (metrics, main
score, binned metrics), and the label budgets, seeds and training settings per scale. Everything a
result must say about "what was measured" comes from this object, and `TaskSpec.hash()`
identifies it. What the `head:` value means (targets, head network, loss, scores) is the task's
kind, `spec.kind` (`jetbench.tasks.kinds`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    field_validator,
    model_validator,
)

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.core.hashing import hash_json
from jetbench.core.scales import check_scale
from jetbench.datasets.spec import DataSpec
from jetbench.tasks.checks import check_task
from jetbench.tasks.kinds import KINDS, TaskKind

BIN_VARIABLES = ("n_sv", "n_tracks", "flavour")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LossSpec(_Model):
    name: Literal["cross_entropy", "bce", "focal"]
    label_smoothing: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    class_weights: tuple[Annotated[float, Field(gt=0.0)], ...] | None = None
    gamma: Annotated[float, Field(ge=0.0)] | None = None
    alpha: Annotated[float, Field(ge=0.0, le=1.0)] | None = None

    @model_validator(mode="after")
    def _focal(self) -> LossSpec:
        if self.name == "focal" and self.gamma is None:
            raise ValueError("field 'gamma': the focal loss needs gamma")
        if self.name != "focal" and (self.gamma is not None or self.alpha is not None):
            raise ValueError("field 'gamma': gamma/alpha only apply to the focal loss")
        return self


class TrainingSpec(_Model):
    """Task-level training limits the protocols read (they own optimiser and schedule)."""

    max_epochs: PositiveInt
    max_steps: PositiveInt | None = None
    batch_size: PositiveInt
    patience: PositiveInt | None = None  # epochs without val-loss improvement; None = no early stop
    checkpoint: Literal["best", "last"] = "best"


class ScaleSpec(_Model):
    budgets: tuple[PositiveInt, ...]
    default_budget: PositiveInt
    seeds: tuple[NonNegativeInt, ...]
    default_seeds: tuple[NonNegativeInt, ...]
    training: TrainingSpec

    @model_validator(mode="after")
    def _defaults(self) -> ScaleSpec:
        if not self.budgets:
            raise ValueError("field 'budgets': at least one budget")
        if list(self.budgets) != sorted(set(self.budgets)):
            raise ValueError("field 'budgets': budgets must be increasing and distinct")
        if self.default_budget not in self.budgets:
            raise ValueError(f"field 'default_budget': {self.default_budget} is not one of "
                             f"the budgets {list(self.budgets)}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("field 'seeds': at least one seed, no repeats")
        if not self.default_seeds or not set(self.default_seeds) <= set(self.seeds):
            raise ValueError("field 'default_seeds': must be a non-empty subset of 'seeds'")
        return self


class MetricRef(_Model):
    """A metric of the registry (`jetbench.metrics.METRICS`) with its options."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class BinSpec(_Model):
    """A metric recomputed per bin of a jet variable (n_sv, n_tracks or flavour)."""

    metric: str
    by: Literal["n_sv", "n_tracks", "flavour"]
    bins: tuple[int, ...] | None = None  # exact values; None = every value present


class CwolaSpec(_Model):
    """CWoLa: background jets split in two halves (mixture 0 / 1); signal jets join mixture 1."""

    background: str
    signal: str


class TaskSpec(_Model):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    version: PositiveInt
    description: str
    summary: str = ""  # one line for `jetbench list tasks`
    data: DataSpec
    head: str  # a kind of `jetbench.tasks.kinds.KINDS`
    classes: tuple[str, ...] | None = None
    cwola: CwolaSpec | None = None
    loss: LossSpec
    metrics: tuple[MetricRef, ...]
    main_score: str
    binned: tuple[BinSpec, ...] = ()
    class_balanced: bool = False
    budget_shuffle: Literal["task", "run"] = "task"
    scales: dict[str, ScaleSpec]

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_refs(cls, v: Any) -> Any:
        """YAML entries are `name` or `{name: {options}}`."""
        if not isinstance(v, (list, tuple)):
            return v
        out = []
        for item in v:
            if isinstance(item, str):
                out.append({"name": item})
            elif isinstance(item, dict) and len(item) == 1 and "name" not in item:
                (name, opts), = item.items()
                out.append({"name": name, "options": opts or {}})
            else:
                out.append(item)
        return out

    @field_validator("head")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in KINDS:
            raise ValueError(str(unknown_name("head", v, KINDS)))
        return v

    @model_validator(mode="after")
    def _check(self) -> TaskSpec:
        problem = check_task(self)
        if problem:
            field, msg = problem
            raise ValueError(f"field '{field}': {msg}")
        return self

    # --- derived properties (the contract other modules read) ---
    @property
    def dataset(self) -> str:
        return self.data.dataset

    @property
    def kind(self) -> TaskKind:
        """What the task's `head:` means: targets, head network, loss, scores, metric inputs."""
        return KINDS[self.head](self)

    @property
    def labels(self) -> tuple[str, ...]:
        return KINDS[self.head].labels(self)

    @property
    def n_classes(self) -> int:
        return len(self.labels)

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.metrics)

    @property
    def budgets(self) -> dict[str, list[int]]:
        return {s: list(v.budgets) for s, v in self.scales.items()}

    @property
    def seeds(self) -> dict[str, list[int]]:
        return {s: list(v.seeds) for s, v in self.scales.items()}

    def scale(self, scale: str) -> ScaleSpec:
        if check_scale(scale) not in self.scales:
            raise JetbenchError(f"task '{self.name}' is not defined at scale '{scale}' (it "
                                f"defines {', '.join(self.scales)})")
        return self.scales[scale]

    def default_budget(self, scale: str) -> int:
        return self.scale(scale).default_budget

    def default_seeds(self, scale: str) -> list[int]:
        return list(self.scale(scale).default_seeds)

    def training(self, scale: str) -> TrainingSpec:
        return self.scale(scale).training

    def hash(self) -> str:
        """Identity of the definition (everything but the free-text descriptions)."""
        d = self.model_dump(mode="json", exclude={"description", "summary"})
        d["data"].pop("description", None)
        return hash_json(d)
