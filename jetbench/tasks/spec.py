"""Typed task and dataset definitions: the schema of tasks/*.yaml (DESIGN §4).

A `DataSpec` says where the jets of each split come from at each scale (generator calls — profile,
classes, number of jets, seed — or real files pinned by sha256); a `TaskSpec` says what is learned
from them (labels, head, loss), how it is scored (metrics, main score, binned metrics), and the
label budgets, seeds and training settings per scale. Everything a result must say about "what was
measured" comes from these objects, and `TaskSpec.hash()` identifies them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    NonNegativeInt,
    PositiveInt,
    Tag,
    field_validator,
    model_validator,
)

from jetbench.core.errors import unknown_name
from jetbench.core.hashing import hash_json
from jetbench.core.preflight import MAX_JETS
from jetbench.data.format import DATASETS, TRACK_TYPES, dataset_info

SCALES = ("smoke", "cpu", "paper")
SPLITS = ("train", "val", "test")
PRETRAIN_SPLIT = "pretrain"
HEAD_KIND = {"jet_class": "jet", "track_class": "track", "vertex_pair": "vertex"}
BIN_VARIABLES = ("n_sv", "n_tracks", "flavour")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GeneratedPart(_Model):
    """One call of the embedded generator: `n` jets spread evenly over `classes` (default: all)."""

    n: Annotated[int, Field(gt=0, le=MAX_JETS)]  # more than any real dataset: a typo
    seed: NonNegativeInt
    classes: tuple[str, ...] | None = None


class FilePart(_Model):
    """A real data file (any format `jetbench.data.readers` reads), pinned by its sha256;
    `start`/`stop` select a jet range so one file can feed disjoint splits."""

    path: str
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    start: NonNegativeInt = 0
    stop: PositiveInt | None = None

    @model_validator(mode="after")
    def _range(self) -> FilePart:
        if self.stop is not None and self.stop <= self.start:
            raise ValueError(f"stop ({self.stop}) must be larger than start ({self.start})")
        return self


def _part_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "file" if "path" in value else "generated"
    return "file" if isinstance(value, FilePart) else "generated"


Part = Annotated[Annotated[GeneratedPart, Tag("generated")] | Annotated[FilePart, Tag("file")],
                 Discriminator(_part_kind)]


class DataSpec(_Model):
    """Split definitions of one dataset at every scale: {scale: {split: [parts]}}."""

    name: str
    dataset: str
    profile: str | None = None
    description: str = ""
    scales: dict[str, dict[str, list[Part]]]

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, v: str) -> str:
        if v not in DATASETS:
            raise ValueError(str(unknown_name("dataset", v, DATASETS)))
        return v

    @field_validator("scales", mode="before")
    @classmethod
    def _single_part(cls, v: Any) -> Any:
        """A split may be written as one part (a mapping) instead of a list of parts."""
        if isinstance(v, dict):
            return {s: ({k: ([p] if isinstance(p, dict) else p) for k, p in sp.items()}
                        if isinstance(sp, dict) else sp) for s, sp in v.items()}
        return v

    @model_validator(mode="after")
    def _check(self) -> DataSpec:
        labels = dataset_info(self.dataset).labels
        for scale, splits in self.scales.items():
            if scale not in SCALES:
                raise ValueError(f"field 'scales.{scale}': {unknown_name('scale', scale, SCALES)}")
            for split in SPLITS:
                if split not in splits:
                    raise ValueError(f"field 'scales.{scale}.{split}': split missing")
            for split, parts in splits.items():
                if split not in (*SPLITS, PRETRAIN_SPLIT):
                    raise ValueError(f"field 'scales.{scale}.{split}': "
                                     f"{unknown_name('split', split, (*SPLITS, PRETRAIN_SPLIT))}")
                if not parts:
                    raise ValueError(f"field 'scales.{scale}.{split}': no parts")
                for i, part in enumerate(parts):
                    where = f"scales.{scale}.{split}.{i}"
                    if isinstance(part, GeneratedPart):
                        if self.profile is None:
                            raise ValueError(f"field '{where}': generated parts need a 'profile'")
                        for c in part.classes or ():
                            if c not in labels:
                                raise ValueError(f"field '{where}.classes': "
                                                 f"{unknown_name('class', c, labels)}")
        return self

    def parts(self, scale: str, split: str) -> list[GeneratedPart | FilePart]:
        if scale not in self.scales:
            raise unknown_name("scale", scale, self.scales)
        if split not in self.scales[scale]:
            raise unknown_name(f"split of '{self.name}' at scale '{scale}'", split,
                               self.scales[scale])
        return list(self.scales[scale][split])

    def split_size(self, scale: str, split: str) -> int | None:
        """Jets in a split, or None when it reads real files (size known only once read)."""
        parts = self.parts(scale, split)
        if any(isinstance(p, FilePart) for p in parts):
            return None
        return sum(p.n for p in parts)

    def class_size(self, scale: str, split: str, cls: str) -> int | None:
        """Jets of class `cls` generated for a split (even split over each part's classes)."""
        total = 0
        labels = dataset_info(self.dataset).labels
        for p in self.parts(scale, split):
            if isinstance(p, FilePart):
                return None
            classes = p.classes or labels
            if cls in classes:
                total += p.n // len(classes)
        return total


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
    data: DataSpec
    head: Literal["jet_class", "track_class", "vertex_pair"]
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

    @model_validator(mode="after")
    def _check(self) -> TaskSpec:
        from jetbench.tasks.checks import check_task

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
    def labels(self) -> tuple[str, ...]:
        if self.head == "track_class":
            return TRACK_TYPES
        if self.head == "vertex_pair":
            return ("different_vertex", "same_vertex")
        if self.cwola is not None:
            return (self.cwola.background, self.cwola.signal)
        return self.classes or dataset_info(self.dataset).labels

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
        if scale not in self.scales:
            raise unknown_name("scale", scale, self.scales)
        return self.scales[scale]

    def default_budget(self, scale: str) -> int:
        return self.scale(scale).default_budget

    def default_seeds(self, scale: str) -> list[int]:
        return list(self.scale(scale).default_seeds)

    def training(self, scale: str) -> TrainingSpec:
        return self.scale(scale).training

    def hash(self) -> str:
        """Identity of the definition (everything but the free-text descriptions)."""
        d = self.model_dump(mode="json", exclude={"description"})
        d["data"].pop("description", None)
        return hash_json(d)
