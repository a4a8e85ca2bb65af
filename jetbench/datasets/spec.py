"""Split definitions: where the jets of each split come from at each scale.

A `DataSpec` is the schema of one entry of the shared split YAML (`definitions/_datasets.yaml`)
or of a task's inline `data:`: per scale and split, a list of parts, each a call of the embedded
generator (profile, classes, number of jets, seed) or a real file pinned by sha256. Tasks say
what is learned from these jets; this module only says which jets they are.
"""

from __future__ import annotations

from typing import Annotated, Any

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
from jetbench.core.scales import SCALES
from jetbench.data.format import DATASETS, dataset_info

SPLITS = ("train", "val", "test")
PRETRAIN_SPLIT = "pretrain"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GeneratedPart(_Model):
    """One call of the embedded generator: `n` jets spread evenly over `classes` (default: all)."""

    n: PositiveInt
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
