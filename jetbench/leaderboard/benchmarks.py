"""Named, versioned benchmarks: which task x protocol x budget cells a leaderboard row must fill.

A benchmark is data, not code: the built-in ones are the small typed table `BENCHMARKS` below, and
a YAML file with the same fields works anywhere a name does (`jetbench leaderboard --benchmark
my.yaml`). Changing which cells a benchmark asks for means a new version, never an edit in place,
so a leaderboard built today and one built next year under the same name compare the same thing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.tasks import CORE_TASKS

if TYPE_CHECKING:
    from jetbench.leaderboard.current import Definitions

__all__ = ["BENCHMARKS", "CORE_TASKS", "Benchmark", "get_benchmark", "list_benchmarks",
           "load_benchmark_file", "resolve_budgets"]


class Benchmark(BaseModel):
    """The grid a leaderboard row is measured on.

    `budgets` maps a task to explicit label budgets; a task left out of it takes, from its current
    task definition at `scale`, every budget (`budget_rule: all`) or its default budget
    (`budget_rule: default`), resolved when the leaderboard is built (`resolve_budgets`). Budgets
    that come from a task definition are pinned by the task's version, which results carry.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    version: int = Field(ge=1)
    description: str
    scale: str
    tasks: tuple[str, ...] = Field(min_length=1)
    protocols: tuple[str, ...] = Field(min_length=1)
    budgets: dict[str, tuple[int, ...]] = Field(default_factory=dict)
    budget_rule: Literal["all", "default"] = "all"
    min_seeds: int = Field(default=2, ge=1)

    @field_validator("budgets")
    @classmethod
    def _positive(cls, v: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
        for task, budgets in v.items():
            if not budgets or any(b <= 0 for b in budgets):
                raise ValueError(f"budgets of '{task}' must be a non-empty list of positive ints")
        return v

    @model_validator(mode="after")
    def _budgets_name_tasks(self) -> Benchmark:
        extra = set(self.budgets) - set(self.tasks)
        if extra:
            raise ValueError(f"budgets given for tasks not in the benchmark: {sorted(extra)}")
        return self

    @property
    def label(self) -> str:
        return f"{self.name} (v{self.version}, scale {self.scale})"


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark(
            name="jetbench-core-v1", version=1, scale="cpu", tasks=CORE_TASKS,
            protocols=("frozen", "finetune"), min_seeds=2,
            description="The five core tasks, frozen and fine-tuned, at every label budget the "
                        "task defines for the cpu scale.",
        ),
        Benchmark(
            name="jetbench-core-lite-v1", version=1, scale="cpu", tasks=CORE_TASKS,
            protocols=("frozen", "finetune"), budget_rule="default", min_seeds=2,
            description="The five core tasks, frozen and fine-tuned, at one label budget each "
                        "(the task's default at the cpu scale): the quick leaderboard.",
        ),
        Benchmark(
            name="jetbench-core-v2", version=2, scale="cpu", tasks=CORE_TASKS,
            protocols=("frozen", "linear", "finetune"), min_seeds=3,
            description="The five core tasks under the frozen head, the linear probe and "
                        "fine-tuning, at every label budget the task defines for the cpu scale, "
                        "3 seeds per cell.",
        ),
        Benchmark(
            name="jetbench-core-lite-v2", version=2, scale="cpu", tasks=CORE_TASKS,
            protocols=("frozen", "linear", "finetune"), budget_rule="default", min_seeds=3,
            description="The five core tasks under the frozen head, the linear probe and "
                        "fine-tuning, at one label budget each (the task's default at the cpu "
                        "scale), 3 seeds per cell: the quick leaderboard.",
        ),
        Benchmark(
            name="jetbench-jetclass-labels-v1", version=1, scale="cpu", tasks=("jetclass",),
            protocols=("frozen", "linear", "finetune"), budgets={"jetclass": (100, 1000, 10000)},
            min_seeds=3,
            description="JetClass accuracy against the number of labelled jets (100, 1k, 10k): "
                        "where pretraining should help most (small budgets), 3 seeds per cell.",
        ),
        Benchmark(
            name="jetbench-transfer-v1", version=1, scale="cpu", tasks=("toptag", "quarkgluon"),
            protocols=("frozen", "linear", "finetune"), budget_rule="default", min_seeds=3,
            description="Transfer of jetclass-pretrained encoders to the community's top tagging "
                        "and quark-gluon datasets (cpu-scale stand-ins from the embedded "
                        "generator), at the task's default budget, 3 seeds per cell.",
        ),
        Benchmark(
            name="jetbench-smoke-v2", version=2, scale="smoke", tasks=CORE_TASKS,
            protocols=("frozen", "linear", "finetune"), min_seeds=1,
            description="Smoke-scale run of the core grid: checks the plumbing, not the physics.",
        ),
        Benchmark(
            name="jetbench-smoke-v1", version=1, scale="smoke", tasks=CORE_TASKS,
            protocols=("frozen", "finetune"), min_seeds=1,
            description="Smoke-scale run of the core grid: checks the plumbing, not the physics.",
        ),
    )
}


def list_benchmarks() -> list[Benchmark]:
    return [BENCHMARKS[k] for k in sorted(BENCHMARKS)]


def load_benchmark_file(path: str | os.PathLike) -> Benchmark:
    """A benchmark from a YAML file with the fields of `Benchmark`."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as err:
        first = str(err).splitlines()[0]
        raise JetbenchError(f"{p}: cannot read benchmark YAML ({first})") from None
    if not isinstance(raw, dict):
        raise JetbenchError(f"{p}: a benchmark YAML must be a mapping of fields")
    try:
        return Benchmark.model_validate(raw)
    except ValidationError as err:
        e = err.errors()[0]
        where = ".".join(str(x) for x in e["loc"]) or "(top level)"
        raise JetbenchError(f"{p}: field '{where}': {e['msg']}") from None


def get_benchmark(name_or_path: str) -> Benchmark:
    """A built-in benchmark by name, or one read from a YAML path."""
    if name_or_path in BENCHMARKS:
        return BENCHMARKS[name_or_path]
    if name_or_path.endswith((".yaml", ".yml")) or Path(name_or_path).is_file():
        return load_benchmark_file(name_or_path)
    raise unknown_name("benchmark", name_or_path, BENCHMARKS)


def resolve_budgets(bench: Benchmark, defs: Definitions
                    ) -> tuple[dict[str, tuple[int, ...]], list[str]]:
    """Budgets per task of `bench`, filling unspecified tasks from the current task definitions.

    A task that neither the benchmark nor the definitions give budgets for gets none (it cannot be
    scored), with a note saying so.
    """
    out: dict[str, tuple[int, ...]] = {}
    notes: list[str] = []
    for task in bench.tasks:
        if task in bench.budgets:
            out[task] = tuple(bench.budgets[task])
            continue
        d = defs.tasks.get(task)
        if d is not None and bench.budget_rule == "default" and bench.scale in d.default_budget:
            out[task] = (int(d.default_budget[bench.scale]),)
        elif d is not None and bench.budget_rule == "all" and d.budgets.get(bench.scale):
            out[task] = tuple(sorted(int(b) for b in d.budgets[bench.scale]))
        else:
            out[task] = ()
            notes.append(f"task '{task}': no budgets known at scale '{bench.scale}' (no current "
                         f"task definition), so its cells cannot be filled")
    return out, notes
