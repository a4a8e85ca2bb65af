"""Split definitions: where the jets of each split come from at each scale.

A `DataSpec` is the schema of one entry of the shared split YAML (`definitions/_datasets.yaml`)
or of a task's inline `data:`: per scale and split, a list of parts, each a call of the embedded
generator (profile, classes, number of jets, seed), a file pinned by sha256, or files of a public
dataset's download folder (`jetbench data download`), checked against its pinned and recorded
checksums. Tasks say what is learned from these jets; this module only says which jets they are.
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
from jetbench.core.preflight import MAX_JETS
from jetbench.core.scales import SCALES
from jetbench.data.format import DATASETS, dataset_info

SPLITS = ("train", "val", "test")
PRETRAIN_SPLIT = "pretrain"


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


class DownloadPart(_Model):
    """Files of the dataset's download folder (<real data dir>/<dataset>, where `jetbench
    data download` puts them), matched by a glob relative to it (`**` crosses folders; sorted by
    path; `exclude` drops matches), read in place. `start`/`stop` cut a jet range of their
    concatenation; `expect` is the published number of jets (a smaller download is read, with a
    warning, and the manifest records the count)."""

    files: Annotated[str, Field(min_length=1)]
    exclude: str | None = None
    start: NonNegativeInt = 0
    stop: PositiveInt | None = None
    expect: PositiveInt | None = None

    @model_validator(mode="after")
    def _check(self) -> DownloadPart:
        if self.files.startswith("/") or ".." in self.files.split("/"):
            raise ValueError(f"field 'files': '{self.files}' must stay inside the download "
                             "folder (no leading '/', no '..')")
        if self.stop is not None and self.stop <= self.start:
            raise ValueError(f"stop ({self.stop}) must be larger than start ({self.start})")
        return self


RealPart = FilePart | DownloadPart


def _part_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "file" if "path" in value else "download" if "files" in value else "generated"
    if isinstance(value, FilePart):
        return "file"
    return "download" if isinstance(value, DownloadPart) else "generated"


Part = Annotated[Annotated[GeneratedPart, Tag("generated")] | Annotated[FilePart, Tag("file")]
                 | Annotated[DownloadPart, Tag("download")], Discriminator(_part_kind)]


class DataSpec(_Model):
    """Split definitions of one dataset at every scale: {scale: {split: [parts]}}.

    `paper_files` ({split: [real-file parts]}) are the published files the paper scale reads in
    place of its `scales.paper` parts. They are kept apart, and out of the definition's dump
    (and so of the task hashes), so that pointing the paper scale at the real files leaves the
    identity of the smoke and cpu definitions — and of every result measured with them — as it
    was; a paper-scale result is identified by its data manifest (the files' sha256s).
    """

    name: str
    dataset: str
    profile: str | None = None
    description: str = ""
    scales: dict[str, dict[str, list[Part]]]
    paper_files: dict[str, list[Part]] | None = Field(default=None, exclude=True)

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
            return {s: cls._lists(sp) for s, sp in v.items()}
        return v

    @field_validator("paper_files", mode="before")
    @classmethod
    def _single_file_part(cls, v: Any) -> Any:
        return cls._lists(v)

    @staticmethod
    def _lists(splits: Any) -> Any:
        if isinstance(splits, dict):
            return {k: ([p] if isinstance(p, dict) else p) for k, p in splits.items()}
        return splits

    @model_validator(mode="after")
    def _check(self) -> DataSpec:
        labels = dataset_info(self.dataset).labels
        if self.paper_files is not None:
            self._check_paper_files()
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
                kinds = {isinstance(p, GeneratedPart) for p in parts}
                if len(kinds) > 1 and any(isinstance(p, DownloadPart) for p in parts):
                    raise ValueError(f"field 'scales.{scale}.{split}': downloaded files and "
                                     "generated jets cannot share a split")
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

    def _check_paper_files(self) -> None:
        files = self.paper_files or {}
        want = set(self.scales.get("paper", {})) or set(SPLITS)
        for split in sorted(want - set(files)):
            raise ValueError(f"field 'paper_files.{split}': split missing (the paper scale "
                             "reads only these files)")
        for split, parts in files.items():
            if split not in (*SPLITS, PRETRAIN_SPLIT):
                raise ValueError(f"field 'paper_files.{split}': "
                                 f"{unknown_name('split', split, (*SPLITS, PRETRAIN_SPLIT))}")
            if not parts or any(isinstance(p, GeneratedPart) for p in parts):
                raise ValueError(f"field 'paper_files.{split}': real-file parts only "
                                 "({path, sha256} or {files: glob})")

    def parts(self, scale: str, split: str) -> list[GeneratedPart | FilePart | DownloadPart]:
        if scale == "paper" and self.paper_files is not None:
            if split not in self.paper_files:
                raise unknown_name(f"split of '{self.name}' at scale 'paper'", split,
                                   self.paper_files)
            return list(self.paper_files[split])
        if scale not in self.scales:
            raise unknown_name("scale", scale, self.scales)
        if split not in self.scales[scale]:
            raise unknown_name(f"split of '{self.name}' at scale '{scale}'", split,
                               self.scales[scale])
        return list(self.scales[scale][split])

    def reads_files(self, scale: str, split: str) -> bool:
        """True when every part of the split is a real file (read in place, no copy)."""
        return not any(isinstance(p, GeneratedPart) for p in self.parts(scale, split))

    def split_size(self, scale: str, split: str) -> int | None:
        """Jets in a split, or None when it reads real files (size known only once read)."""
        parts = self.parts(scale, split)
        if any(not isinstance(p, GeneratedPart) for p in parts):
            return None
        return sum(p.n for p in parts)

    def class_size(self, scale: str, split: str, cls: str) -> int | None:
        """Jets of class `cls` generated for a split (even split over each part's classes)."""
        total = 0
        labels = dataset_info(self.dataset).labels
        for p in self.parts(scale, split):
            if not isinstance(p, GeneratedPart):
                return None
            classes = p.classes or labels
            if cls in classes:
                total += p.n // len(classes)
        return total
