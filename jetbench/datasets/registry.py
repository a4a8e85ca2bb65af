"""Find and load the shared split definitions, and the YAML plumbing the task registry shares.

Definitions live in `_*.yaml` files (`{data name: DataSpec}`): the ones shipped in this package
(`definitions/`), then those in every folder of $JETBENCH_TASKS (os.pathsep separated), then in
folders passed by the caller — the same folders that hold user task YAMLs, which reference a
definition by name (`data: btag`). Any problem is one JetbenchError naming the file and field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.datasets.spec import DataSpec

ENV_DIRS = "JETBENCH_TASKS"
DATA_GLOB = "_*.yaml"
_UNION_TAGS = {"generated", "file", "download"}


def builtin_dir() -> Path:
    """The split definitions shipped in the package."""
    return Path(__file__).resolve().parent / "definitions"


def user_dirs(extra: Iterable[str | os.PathLike] | None = None) -> list[Path]:
    """Folders from $JETBENCH_TASKS and the caller, resolved; a missing one is an error."""
    env = [p for p in os.environ.get(ENV_DIRS, "").split(os.pathsep) if p]
    dirs: list[Path] = []
    for d in [*env, *(extra or [])]:
        p = Path(d).expanduser().resolve()
        if not p.is_dir():
            raise JetbenchError(f"{p}: task folder does not exist (from {ENV_DIRS} or arguments)")
        if p not in dirs:
            dirs.append(p)
    return dirs


def search_dirs(builtin: Path, extra: Iterable[str | os.PathLike] | None = None) -> list[Path]:
    """`builtin` first, then the user folders (each once)."""
    return [builtin, *(d for d in user_dirs(extra) if d != builtin)]


def format_error(path: Path, err: ValidationError, prefix: str = "") -> JetbenchError:
    """One line: file, field path, first problem (and how many more)."""
    errors = err.errors()
    e = errors[0]
    loc = [str(x) for x in e["loc"] if str(x) not in _UNION_TAGS]
    if prefix:
        loc.insert(0, prefix)
    msg = re.sub(r"^(Value|Assertion) error, ", "", e["msg"])
    inner = re.match(r"field '([^']*)': (.*)", msg, re.S)
    if inner:
        loc.append(inner.group(1))
        msg = inner.group(2)
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    where = f"field '{'.'.join(loc)}': " if loc else ""
    return JetbenchError(f"{path}: {where}{msg}{more}")


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML file that must hold a mapping; parse errors are one line naming the file."""
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else "parse error"
        raise JetbenchError(f"{path}: not valid YAML ({first})") from None
    if not isinstance(raw, dict):
        raise JetbenchError(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
    return raw


def load_data_file(path: Path) -> dict[str, DataSpec]:
    out = {}
    for name, raw in read_yaml(path).items():
        if not isinstance(raw, dict):
            raise JetbenchError(f"{path}: field '{name}': expected a dataset definition mapping")
        try:
            out[str(name)] = DataSpec.model_validate({**raw, "name": str(name)})
        except ValidationError as err:
            raise format_error(path, err, prefix=str(name)) from None
    return out


def load_definitions(dirs: Sequence[Path]) -> tuple[dict[str, DataSpec], dict[str, Path]]:
    """Every split definition in `dirs` and the file defining it; a name defined twice fails."""
    data: dict[str, DataSpec] = {}
    files: dict[str, Path] = {}
    for d in dirs:
        for path in sorted(d.glob(DATA_GLOB)):
            for name, spec in load_data_file(path).items():
                if name in data:
                    raise JetbenchError(f"{path}: dataset definition '{name}' is also defined in "
                                        f"{files[name]}")
                data[name], files[name] = spec, path
    return data, files


_CACHE: dict[tuple, dict[str, DataSpec]] = {}


def file_signature(dirs: Sequence[Path], pattern: str = "*.yaml") -> tuple:
    """(path, mtime, size) of the YAML files in `dirs`: caches re-read when a file changes."""
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                 for d in dirs for p in sorted(d.glob(pattern)))


def get_data(name: str | DataSpec, extra: Iterable[str | os.PathLike] | None = None) -> DataSpec:
    """A shared split definition by name (e.g. 'jetclass', holding the 'pretrain' split)."""
    if isinstance(name, DataSpec):
        return name
    dirs = search_dirs(builtin_dir(), extra)
    sig = file_signature(dirs, DATA_GLOB)
    if sig not in _CACHE:
        _CACHE.clear()
        _CACHE[sig] = load_definitions(dirs)[0]
    data = _CACHE[sig]
    if name not in data:
        raise unknown_name("dataset definition", name, data)
    return data[name]
