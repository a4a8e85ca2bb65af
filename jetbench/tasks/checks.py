"""Cross-field checks of a task definition: the ones a per-field schema cannot express
(every scale defined, the kind's own rules, metrics known and fitting the kind, main score among
them, budgets that fit the train split, ...).

`check_task` returns the first problem as (field, message) so the registry can name the YAML file
and the field in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from jetbench.core.errors import unknown_name
from jetbench.core.scales import SCALES
from jetbench.data.format import dataset_info
from jetbench.metrics.registry import METRICS
from jetbench.tasks.budgets import budget_cap
from jetbench.tasks.kinds import KINDS

if TYPE_CHECKING:
    from jetbench.tasks.spec import TaskSpec

Problem = tuple[str, str] | None


def check_task(spec: TaskSpec) -> Problem:
    for check in (_check_scales, _check_kind, _check_metrics, _check_binned, _check_budgets):
        problem = check(spec)
        if problem:
            return problem
    return None


def _check_scales(spec: TaskSpec) -> Problem:
    """Every scale the task defines is known and has data (shipped tasks define all three: the
    registry checks that; a user's task may define only the scales it uses)."""
    if not spec.scales:
        return "scales", "define at least one scale (smoke, cpu or paper)"
    for scale in spec.scales:
        if scale not in SCALES:
            return f"scales.{scale}", str(unknown_name("scale", scale, SCALES))
        has_data = scale in spec.data.scales or (scale == "paper" and spec.data.paper_files)
        if not has_data:
            return "data", f"dataset definition '{spec.data.name}' has no scale '{scale}'"
    return None


def _check_kind(spec: TaskSpec) -> Problem:
    return KINDS[spec.head].check(spec)


def _check_metrics(spec: TaskSpec) -> Problem:
    unit = KINDS[spec.head].unit
    seen = set()
    for i, ref in enumerate(spec.metrics):
        where = f"metrics.{i}"
        if ref.name not in METRICS:
            return where, str(unknown_name("metric", ref.name, METRICS))
        if ref.name in seen:
            return where, f"metric '{ref.name}' listed twice"
        seen.add(ref.name)
        metric = METRICS[ref.name]
        if unit not in metric.kinds:
            return where, (f"metric '{ref.name}' needs a {'/'.join(sorted(metric.kinds))} task, "
                           f"this is a {unit} task (head '{spec.head}')")
        try:
            opts = metric.parse_options(ref.options)
        except ValidationError as err:
            e = err.errors()[0]
            return f"{where}.{'.'.join(map(str, e['loc']))}", e["msg"]
        problem = metric.check(opts, spec.labels)
        if problem:
            return where, problem
    if spec.main_score not in seen:
        return "main_score", f"'{spec.main_score}' is not one of the task's metrics {sorted(seen)}"
    if not METRICS[spec.main_score].scalar:
        return "main_score", f"metric '{spec.main_score}' gives several values, not one score"
    return None


def _check_binned(spec: TaskSpec) -> Problem:
    names = spec.metric_names
    for i, b in enumerate(spec.binned):
        if b.metric not in names:
            return f"binned.{i}.metric", f"'{b.metric}' is not one of the metrics {list(names)}"
        if not METRICS[b.metric].scalar:
            return f"binned.{i}.metric", f"'{b.metric}' gives several values; bin a scalar one"
        if b.by == "n_sv" and not dataset_info(spec.dataset).has_tracks:
            return f"binned.{i}.by", f"'n_sv' needs vertex truth; '{spec.dataset}' has none"
    return None


def _check_budgets(spec: TaskSpec) -> Problem:
    for scale, s in spec.scales.items():
        if scale not in spec.data.scales:
            continue
        cap = budget_cap(spec, scale)
        if spec.cwola is not None:
            what = f"signal jets ({spec.cwola.signal}) in the train split"
        else:
            what = "jets in the train split"
        if cap is not None and max(s.budgets) > cap:
            return f"scales.{scale}.budgets", (f"budget {max(s.budgets)} exceeds the {cap} {what} "
                                               f"of '{spec.data.name}' at scale '{scale}'")
    return None
