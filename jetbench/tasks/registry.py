"""Find, load and validate the task YAMLs.

Search path: the definitions shipped in the package (`definitions/`), then every folder in
$JETBENCH_TASKS (os.pathsep separated), then folders passed by the caller. `<name>.yaml` defines
task `<name>`; files starting with `_` hold shared split definitions (`jetbench.datasets`) that
tasks reference by name (`data: btag`) — or a task writes its data definition inline. Any problem
is one JetbenchError naming the file and the field.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.datasets import registry as data_registry
from jetbench.datasets.spec import DataSpec, GeneratedPart
from jetbench.tasks.spec import TaskSpec

ENV_DIRS = data_registry.ENV_DIRS
TASK_GLOB = "[!_]*.yaml"


def builtin_dir() -> Path:
    """The task definitions shipped in the package."""
    return Path(__file__).resolve().parent / "definitions"


@dataclass
class Registry:
    tasks: dict[str, TaskSpec] = field(default_factory=dict)
    data: dict[str, DataSpec] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # task or data name -> defining file


def load_task_file(path: str | os.PathLike, data: dict[str, DataSpec] | None = None) -> TaskSpec:
    """Validate one task YAML; `data` = shared dataset definitions (default: the registry's)."""
    path = Path(path)
    if data is None:
        data = load_registry().data
    raw = data_registry.read_yaml(path)
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
        raise data_registry.format_error(path, err) from None
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


def _build(task_dirs: Sequence[Path], data_dirs: Sequence[Path]) -> Registry:
    reg = Registry()
    reg.data, data_files = data_registry.load_definitions(data_dirs)
    reg.files.update(data_files)
    inline = []
    for d in task_dirs:
        for path in sorted(d.glob(TASK_GLOB)):
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
    task_dirs = data_registry.search_dirs(builtin_dir(), extra)
    data_dirs = data_registry.search_dirs(data_registry.builtin_dir(), extra)
    sig = (data_registry.file_signature(task_dirs)
           + data_registry.file_signature(data_dirs, data_registry.DATA_GLOB))
    if sig not in _CACHE:
        _CACHE.clear()
        _CACHE[sig] = _build(task_dirs, data_dirs)
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
