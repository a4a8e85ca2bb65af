"""Dataset definitions: what a dataset name means, read from YAML files shipped in the package.

One file per dataset in `jetbench/data/datasets/` (plus any folder listed in the environment
variable JETBENCH_DATASETS, separated by ':'), so adding a dataset in a format jetbench already
reads is adding a file. The keys are documented in `jetbench/data/datasets/README.md`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.data.features import EXTRA_FIELDS, FEATURES, REQUIRED_FEATURES

ENV_DIRS = "JETBENCH_DATASETS"
_KEYS = {"name", "description", "reference", "slots", "labels", "features", "extra_fields",
         "generator", "files"}
_FILE_KEYS = {"format", "zenodo_record", "list"}
_HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class PinnedFile:
    """A file of a dataset's public record, with the checksums published for it (if any)."""

    name: str
    md5: str | None = None
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class DatasetInfo:
    """Slots per jet, label list, features present, truth fields and the sources of a dataset."""

    name: str
    n_slots: int
    labels: tuple[str, ...]
    has_tracks: bool
    features_present: tuple[str, ...] = FEATURES
    description: str = ""
    reference: str = ""
    generator_profile: str | None = None
    file_format: str | None = None  # reader of the real files (jetbench.data.readers)
    zenodo_record: int | None = None
    files: tuple[PinnedFile, ...] = ()
    origin: str = ""  # the YAML file it was read from

    @property
    def extra_fields(self) -> tuple[str, ...]:
        return EXTRA_FIELDS if self.has_tracks else ()


def _fail(where: str, msg: str) -> JetbenchError:
    return JetbenchError(f"{where}: {msg}")


def _digest(where: str, entry: dict, key: str, length: int) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    text = str(value).lower()
    if len(text) != length or not set(text) <= _HEX:
        raise _fail(where, f"file '{entry.get('name')}': {key} must be {length} hex digits")
    return text


def _files(where: str, raw: Any) -> tuple[str | None, int | None, tuple[PinnedFile, ...]]:
    if raw is None:
        return None, None, ()
    if not isinstance(raw, dict) or set(raw) - _FILE_KEYS:
        raise _fail(where, f"'files' must be a mapping with keys {sorted(_FILE_KEYS)}")
    record = raw.get("zenodo_record")
    if record is not None and (not isinstance(record, int) or record <= 0):
        raise _fail(where, "'files.zenodo_record' must be a positive integer")
    out = []
    for entry in raw.get("list") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise _fail(where, f"every entry of 'files.list' needs a 'name', got {entry!r}")
        name = entry["name"]
        if "/" in name or "\\" in name or name in (".", "..") or not name.strip():
            raise _fail(where, f"file name '{name}' must be a plain file name")
        size = entry.get("size")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise _fail(where, f"file '{name}': size must be a non-negative integer")
        out.append(PinnedFile(name, _digest(where, entry, "md5", 32),
                              _digest(where, entry, "sha256", 64), size))
    names = [f.name for f in out]
    if len(set(names)) != len(names):
        raise _fail(where, "'files.list' names a file twice")
    return raw.get("format"), record, tuple(out)


def parse_definition(raw: Any, where: str) -> DatasetInfo:
    """Check one YAML document and build its DatasetInfo; errors name `where` and the key."""
    if not isinstance(raw, dict):
        raise _fail(where, "a dataset definition must be a mapping")
    unknown = set(raw) - _KEYS
    if unknown:
        raise _fail(where, f"unknown keys {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    name, slots, labels = raw.get("name"), raw.get("slots"), raw.get("labels")
    if not isinstance(name, str) or not name.isidentifier():
        raise _fail(where, f"'name' must be an identifier, got {name!r}")
    if not isinstance(slots, int) or isinstance(slots, bool) or not 1 <= slots <= 4096:
        raise _fail(where, f"'slots' must be an integer in 1..4096, got {slots!r}")
    if (not isinstance(labels, list) or len(labels) < 2 or len(set(map(str, labels))) != len(labels)
            or len(labels) > 32767):
        raise _fail(where, "'labels' must list at least two distinct class names")
    features = raw.get("features", list(FEATURES))
    if not isinstance(features, list) or not set(features) <= set(FEATURES):
        raise _fail(where, f"'features' must be a subset of {list(FEATURES)}, got {features!r}")
    missing = [f for f in REQUIRED_FEATURES if f not in features]
    if missing:
        raise _fail(where, f"'features' must include {', '.join(missing)}")
    extra = raw.get("extra_fields") or []
    if sorted(extra) not in ([], sorted(EXTRA_FIELDS)):
        raise _fail(where, f"'extra_fields' must be [] or {list(EXTRA_FIELDS)} (both), got {extra!r}")
    generator = raw.get("generator")
    if generator is not None and not isinstance(generator, str):
        raise _fail(where, "'generator' must be a profile name or null")
    fmt, record, files = _files(where, raw.get("files"))
    return DatasetInfo(
        name=name, n_slots=slots, labels=tuple(str(x) for x in labels), has_tracks=bool(extra),
        features_present=tuple(f for f in FEATURES if f in features),
        description=" ".join(str(raw.get("description", "")).split()),
        reference=str(raw.get("reference", "")), generator_profile=generator,
        file_format=fmt, zenodo_record=record, files=files, origin=where,
    )


def load_file(path: Path) -> DatasetInfo:
    try:
        raw = yaml.safe_load(path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise _fail(str(path), f"cannot read dataset definition ({str(err).splitlines()[0]})") from None
    info = parse_definition(raw, str(path))
    if info.name != path.stem:
        raise _fail(str(path), f"'name' is '{info.name}' but the file is named '{path.stem}.yaml'")
    return info


def _dirs() -> list[Path]:
    package = Path(str(resources.files("jetbench.data") / "datasets"))
    extra = [Path(p).expanduser() for p in os.environ.get(ENV_DIRS, "").split(os.pathsep) if p]
    for d in extra:
        if not d.is_dir():
            raise JetbenchError(f"{ENV_DIRS}: '{d}' is not a folder")
    return [package, *extra]


def load_definitions() -> dict[str, DatasetInfo]:
    """Every dataset definition: the package's, then those of $JETBENCH_DATASETS (no overrides)."""
    out: dict[str, DatasetInfo] = {}
    for folder in _dirs():
        for path in sorted(folder.glob("*.yaml")):
            info = load_file(path)
            if info.name in out:
                raise _fail(str(path), f"dataset '{info.name}' is already defined in "
                                       f"{out[info.name].origin}")
            out[info.name] = info
    return out


DATASETS: dict[str, DatasetInfo] = load_definitions()


def refresh_definitions() -> dict[str, DatasetInfo]:
    """Re-read the definitions after $JETBENCH_DATASETS changed (e.g. `--tasks-dir` added a
    folder with a `datasets/` subfolder); DATASETS is updated in place, so every module that
    imported it sees the new entries."""
    fresh = load_definitions()
    DATASETS.clear()
    DATASETS.update(fresh)
    return DATASETS


def definition_yaml(info: DatasetInfo, description: str = "") -> str:
    """The YAML definition of a dataset without real files or generator (a user's own data)."""
    doc = {"name": info.name, "description": description or info.description,
           "slots": info.n_slots, "labels": list(info.labels),
           "features": list(info.features_present),
           "extra_fields": list(info.extra_fields), "generator": None}
    text = yaml.safe_dump(doc, sort_keys=False, default_flow_style=None)
    parse_definition(yaml.safe_load(text), info.name)  # what is written must read back
    return text


def dataset_info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise unknown_name("dataset", name, DATASETS)
    return DATASETS[name]
