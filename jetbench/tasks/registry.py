"""Find, load and validate the task YAMLs.

Search path: the definitions shipped in the package (`definitions/`), then every folder in
$JETBENCH_TASKS (os.pathsep separated), then folders passed by the caller. `<name>.yaml` defines
task `<name>`; files starting with `_` hold shared split definitions (`jetbench.datasets`) that
tasks reference by name (`data: btag`) — or a task writes its data definition inline. A task
folder may hold the definitions of its own datasets in `datasets/` (what `jetbench data import
--tasks-dir` writes). Shipped tasks define every scale; a user's task only the scales it uses.
Any problem is one JetbenchError naming the file and the field.

`add_task_dirs` (the `--tasks-dir` option, `jetbench.evaluate(tasks_dir=...)`) puts folders on
the search path through the environment, so worker processes and SLURM jobs see them too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.core.scales import SCALES
from jetbench.data.definitions import ENV_DIRS as DATASET_DIRS
from jetbench.data.definitions import refresh_definitions
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
            missing = [s for s in SCALES if s not in spec.scales]
            if d == builtin_dir() and missing:
                raise JetbenchError(f"{path}: field 'scales.{missing[0]}': missing (a shipped "
                                    "task defines smoke, cpu and paper)")
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


def is_builtin(task: str | TaskSpec) -> bool:
    """A task shipped with jetbench (not one from a user's task folder)."""
    spec = get_task(task)
    path = load_registry().files.get(spec.name)
    return path is not None and path.parent == builtin_dir()


def add_task_dirs(dirs: Iterable[str | os.PathLike]) -> list[Path]:
    """Put folders of task YAMLs first on the search path of this process and of the workers and
    jobs it starts ($JETBENCH_TASKS; each folder's `datasets/` joins $JETBENCH_DATASETS)."""
    added = [Path(d).expanduser().resolve() for d in dirs]
    for d in added:
        if not d.is_dir():
            raise JetbenchError(f"{d}: task folder does not exist (--tasks-dir)")
    for env, folders in ((ENV_DIRS, added),
                         (DATASET_DIRS, [d / "datasets" for d in added if (d / "datasets").is_dir()])):
        old = [p for p in os.environ.get(env, "").split(os.pathsep) if p]
        new = [str(f) for f in folders if str(f) not in old]
        if new:
            os.environ[env] = os.pathsep.join(new + old)
    refresh_definitions()
    return added


@contextlib.contextmanager
def task_dirs(dirs: Iterable[str | os.PathLike] | None) -> Iterator[None]:
    """`add_task_dirs` for the duration of a block (the environment is restored after)."""
    saved = {k: os.environ.get(k) for k in (ENV_DIRS, DATASET_DIRS)}
    try:
        if dirs:
            add_task_dirs(dirs)
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if dirs:
            refresh_definitions()
