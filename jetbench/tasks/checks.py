"""Cross-field checks of a task definition: the ones a per-field schema cannot express
(metrics known and fitting the head, main score among them, budgets that fit the train split, ...).

`check_task` returns the first problem as (field, message) so the registry can name the YAML file
and the field in one line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from jetbench.core.errors import unknown_name
from jetbench.data.format import dataset_info
from jetbench.tasks.spec import HEAD_KIND, SCALES

if TYPE_CHECKING:
    from jetbench.tasks.spec import TaskSpec

Problem = tuple[str, str] | None


def check_task(spec: TaskSpec) -> Problem:
    for check in (_check_scales, _check_head, _check_classes, _check_loss, _check_metrics,
                  _check_binned, _check_budgets):
        problem = check(spec)
        if problem:
            return problem
    return None


def _check_scales(spec: TaskSpec) -> Problem:
    for scale in SCALES:
        if scale not in spec.scales:
            return f"scales.{scale}", "missing (every task defines smoke, cpu and paper)"
        if scale not in spec.data.scales:
            return "data", f"dataset definition '{spec.data.name}' has no scale '{scale}'"
    for scale in spec.scales:
        if scale not in SCALES:
            return f"scales.{scale}", str(unknown_name("scale", scale, SCALES))
    return None


def _check_head(spec: TaskSpec) -> Problem:
    if spec.head != "jet_class" and not dataset_info(spec.dataset).has_tracks:
        return "head", f"'{spec.head}' needs per-track truth; dataset '{spec.dataset}' has none"
    return None


def _check_classes(spec: TaskSpec) -> Problem:
    labels = dataset_info(spec.dataset).labels
    if spec.classes is not None:
        if spec.head != "jet_class":
            return "classes", "a class subset only applies to the jet_class head"
        for c in spec.classes:
            if c not in labels:
                return "classes", str(unknown_name("class", c, labels))
    if spec.cwola is not None:
        if spec.head != "jet_class" or spec.classes is not None:
            return "cwola", "CWoLa tasks use the jet_class head and no 'classes' list"
        for key in ("background", "signal"):
            c = getattr(spec.cwola, key)
            if c not in labels:
                return f"cwola.{key}", str(unknown_name("class", c, labels))
        if spec.cwola.background == spec.cwola.signal:
            return "cwola.signal", "signal and background must differ"
    return None


def _check_loss(spec: TaskSpec) -> Problem:
    loss = spec.loss
    if loss.class_weights is not None and len(loss.class_weights) != spec.n_classes:
        return "loss.class_weights", (f"{len(loss.class_weights)} weights for "
                                      f"{spec.n_classes} classes {list(spec.labels)}")
    if loss.name == "bce" and (spec.head != "jet_class" or spec.n_classes != 2):
        return "loss.name", "'bce' is for binary jet tasks (2 classes)"
    if spec.head == "vertex_pair" and loss.name != "focal":
        return "loss.name", "the vertex_pair head is trained with the 'focal' loss"
    if spec.head != "vertex_pair" and loss.name == "focal":
        return "loss.name", "'focal' is the vertex_pair loss"
    return None


def _check_metrics(spec: TaskSpec) -> Problem:
    from jetbench.metrics.registry import METRICS

    kind = HEAD_KIND[spec.head]
    seen = set()
    for i, ref in enumerate(spec.metrics):
        where = f"metrics.{i}"
        if ref.name not in METRICS:
            return where, str(unknown_name("metric", ref.name, METRICS))
        if ref.name in seen:
            return where, f"metric '{ref.name}' listed twice"
        seen.add(ref.name)
        metric = METRICS[ref.name]
        if kind not in metric.kinds:
            return where, (f"metric '{ref.name}' needs a {'/'.join(sorted(metric.kinds))} task, "
                           f"this is a {kind} task (head '{spec.head}')")
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
    from jetbench.metrics.registry import METRICS

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
        if spec.cwola is not None:
            cap = spec.data.class_size(scale, "train", spec.cwola.signal)
            what = f"signal jets ({spec.cwola.signal}) in the train split"
        else:
            cap = spec.data.split_size(scale, "train")
            what = "jets in the train split"
        if cap is not None and max(s.budgets) > cap:
            return f"scales.{scale}.budgets", (f"budget {max(s.budgets)} exceeds the {cap} {what} "
                                               f"of '{spec.data.name}' at scale '{scale}'")
    return None
