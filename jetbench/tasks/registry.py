"""Find, load and validate the task YAMLs.

Search path: the repository's `tasks/` folder, then every folder in $JETBENCH_TASKS (os.pathsep
separated), then folders passed by the caller. `<name>.yaml` defines task `<name>`; files starting
with `_` hold shared dataset definitions (`{data name: DataSpec}`) that tasks reference by name
(`data: btag`) — or a task writes its data definition inline. Any problem is one JetbenchError
naming the file and the field.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.tasks.spec import DataSpec, GeneratedPart, TaskSpec

ENV_DIRS = "JETBENCH_TASKS"
_UNION_TAGS = {"generated", "file"}


def builtin_dir() -> Path:
    """The repository's tasks/ folder (next to the jetbench package)."""
    return Path(__file__).resolve().parents[2] / "tasks"


def search_dirs(extra: Iterable[str | os.PathLike] | None = None) -> list[Path]:
    env = [p for p in os.environ.get(ENV_DIRS, "").split(os.pathsep) if p]
    dirs: list[Path] = []
    for d in [builtin_dir(), *env, *(extra or [])]:
        p = Path(d).expanduser().resolve()
        if p.is_dir() and p not in dirs:
            dirs.append(p)
        elif not p.is_dir() and p != builtin_dir():
            raise JetbenchError(f"{p}: task folder does not exist (from {ENV_DIRS} or arguments)")
    return dirs


@dataclass
class Registry:
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    data: dict[str, DataSpec] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # task or data name -> defining file


def _format(path: Path, err: ValidationError, prefix: str = "") -> JetbenchError:
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


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        first = str(err).splitlines()[0] if str(err) else "parse error"
        raise JetbenchError(f"{path}: not valid YAML ({first})") from None
    if not isinstance(raw, dict):
        raise JetbenchError(f"{path}: expected a mapping of fields, got {type(raw).__name__}")
    return raw


def _load_data_file(path: Path) -> dict[str, DataSpec]:
    out = {}
    for name, raw in _read_yaml(path).items():
        if not isinstance(raw, dict):
            raise JetbenchError(f"{path}: field '{name}': expected a dataset definition mapping")
        try:
            out[str(name)] = DataSpec.model_validate({**raw, "name": str(name)})
        except ValidationError as err:
            raise _format(path, err, prefix=str(name)) from None
    return out


def load_task_file(path: str | os.PathLike, data: dict[str, DataSpec] | None = None) -> TaskSpec:
    """Validate one task YAML; `data` = shared dataset definitions (default: the registry's)."""
    path = Path(path)
    if data is None:
        data = load_registry().data
    raw = _read_yaml(path)
    ref = raw.get("data")
    if isinstance(ref, str):
        if ref not in data:
            raise JetbenchError(f"{path}: field 'data': "
                                f"{unknown_name('dataset definition', ref, data)}")
        raw["data"] = data[ref]
    elif isinstance(ref, dict):
        raw["data"] = {"name": str(raw.get("name", path.stem)), **ref}
    try:
        spec = TaskSpec.model_validate(raw)
    except ValidationError as err:
        raise _format(path, err) from None
    if spec.name != path.stem:
        raise JetbenchError(f"{path}: field 'name': task '{spec.name}' must live in "
                            f"'{spec.name}.yaml'")
    return spec


def _check_seeds(reg: Registry, inline: list[tuple[Path, DataSpec]]) -> None:
    """Every generator call of a profile has its own seed, so splits are disjoint by construction
    (the same seed in two splits could reproduce the same jets)."""
    seen: dict[tuple[str, int], str] = {}
    specs = [(reg.files[n], d) for n, d in reg.data.items()] + inline
    for path, d in specs:
        for scale, splits in d.scales.items():
            for split, parts in splits.items():
                for i, part in enumerate(parts):
                    if not isinstance(part, GeneratedPart):
                        continue
                    where = f"{d.name}.scales.{scale}.{split}.{i}"
                    key = (str(d.profile), part.seed)
                    if key in seen and seen[key] != where:
                        raise JetbenchError(f"{path}: field '{where}.seed': seed {part.seed} of "
                                            f"profile '{d.profile}' is also used by {seen[key]}")
                    seen[key] = where


def _build(dirs: Sequence[Path]) -> Registry:
    reg = Registry()
    for d in dirs:
        for path in sorted(d.glob("_*.yaml")):
            for name, spec in _load_data_file(path).items():
                if name in reg.data:
                    raise JetbenchError(f"{path}: dataset definition '{name}' is also defined in "
                                        f"{reg.files[name]}")
                reg.data[name], reg.files[name] = spec, path
    inline = []
    for d in dirs:
        for path in sorted(d.glob("[!_]*.yaml")):
            spec = load_task_file(path, reg.data)
            if spec.name in reg.tasks:
                raise JetbenchError(f"{path}: task '{spec.name}' is also defined in "
                                    f"{reg.files[spec.name]}")
            reg.tasks[spec.name], reg.files[spec.name] = spec, path
            if reg.data.get(spec.data.name) is not spec.data:
                inline.append((path, spec.data))
    _check_seeds(reg, inline)
    return reg


_CACHE: dict[tuple, Registry] = {}


def load_registry(extra: Iterable[str | os.PathLike] | None = None) -> Registry:
    """All task and dataset definitions on the search path (re-read when a file changes)."""
    dirs = search_dirs(extra)
    sig = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size)
                for d in dirs for p in sorted(d.glob("*.yaml")))
    if sig not in _CACHE:
        _CACHE.clear()
        _CACHE[sig] = _build(dirs)
    return _CACHE[sig]


def get_task(task: str | TaskSpec, extra: Iterable[str | os.PathLike] | None = None) -> TaskSpec:
    """The task named `task` (a TaskSpec passes through); unknown names list the known ones."""
    if isinstance(task, TaskSpec):
        return task
    reg = load_registry(extra)
    if task not in reg.tasks:
        raise unknown_name("task", str(task), reg.tasks)
    return reg.tasks[task]


def list_tasks(extra: Iterable[str | os.PathLike] | None = None) -> list[TaskSpec]:
    return [t for _, t in sorted(load_registry(extra).tasks.items())]


def get_data(name: str | DataSpec, extra: Iterable[str | os.PathLike] | None = None) -> DataSpec:
    """A shared dataset definition by name (e.g. 'jetclass', holding the 'pretrain' split)."""
    if isinstance(name, DataSpec):
        return name
    reg = load_registry(extra)
    if name not in reg.data:
        raise unknown_name("dataset definition", name, reg.data)
    return reg.data[name]
