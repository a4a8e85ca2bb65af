"""The metric registry: task YAMLs name metrics (with options); `score_task` looks them up here.

A metric's `prepare(inp, options)` does the expensive work once (clustering, per-jet values) and
returns `value(w)`, a function of per-jet weights (None = all 1). `score_task` calls value(None);
the bootstrap calls it with resampling counts, so a resample never redoes the expensive part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from jetbench.core.errors import unknown_name
from jetbench.metrics import classification as cl
from jetbench.metrics import vertexing as vx

Value = float | dict[str, float]
Prepared = Callable[[np.ndarray | None], Value]


@dataclass
class MetricInput:
    """Targets and scores of one task on N jets.

    kind 'jet': y [N], scores [N, C] or [N] (binary); 'track': y [N, P] (-1 padding),
    scores [N, P, C]; 'vertex': y = vertex ids [N, P] (-1 padding), scores = same-vertex
    probabilities [N, P, P]. `mask` [N, P] marks real tracks (track/vertex kinds).
    """

    kind: str
    y: np.ndarray
    scores: np.ndarray
    labels: tuple[str, ...]
    mask: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, sel: np.ndarray) -> MetricInput:
        return MetricInput(self.kind, self.y[sel], self.scores[sel], self.labels,
                           None if self.mask is None else self.mask[sel])

    def flat(self, w: np.ndarray | None):
        """(y, scores, weights) over units: jets, or real tracks (each with its jet's weight)."""
        w = np.ones(len(self)) if w is None else np.asarray(w, np.float64)
        if self.kind == "jet":
            return self.y, self.scores, w
        valid = self.mask & (self.y >= 0)
        return self.y[valid], self.scores[valid], np.broadcast_to(w[:, None], self.y.shape)[valid]


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoOptions(_Options):
    pass


class ThresholdOptions(_Options):
    threshold: float = Field(0.5, gt=0.0, lt=1.0)


class RejectionOptions(_Options):
    background: str = "QCD"
    eff: float = Field(0.5, gt=0.0, lt=1.0)
    eff_per_class: dict[str, Annotated[float, Field(gt=0.0, lt=1.0)]] = Field(default_factory=dict)


class BtagRejectionOptions(_Options):
    b_eff: float = Field(0.7, gt=0.0, lt=1.0)
    discriminant: Literal["ratio", "db"] = "ratio"
    f_c: float = Field(0.05, ge=0.0, le=1.0)


class SicOptions(_Options):
    fpr: float = Field(0.01, gt=0.0, lt=1.0)


class MaxSicOptions(_Options):
    fpr_floor: float = Field(1e-3, gt=0.0, le=1.0)
    min_background: int = Field(10, ge=0)


@dataclass(frozen=True)
class Metric:
    name: str
    kinds: frozenset[str]
    prepare: Callable[[MetricInput, Any], Prepared]
    options: type[BaseModel] = NoOptions
    scalar: bool = True
    binary_only: bool = False
    requires: tuple[str, ...] = ()  # class names the task must have
    doc: str = ""
    extra_check: Callable[[Any, tuple[str, ...]], str | None] | None = field(default=None)

    def parse_options(self, options: dict[str, Any]) -> BaseModel:
        return self.options.model_validate(options or {})

    def check(self, options: BaseModel, labels: tuple[str, ...]) -> str | None:
        """Problem with using this metric for a task with these class names, or None."""
        if self.binary_only and len(labels) != 2:
            return f"metric '{self.name}' needs a binary task, this one has {len(labels)} classes"
        missing = [c for c in self.requires if c not in labels]
        if missing:
            return f"metric '{self.name}' needs classes {missing}; the task has {list(labels)}"
        return self.extra_check(options, labels) if self.extra_check else None


METRICS: dict[str, Metric] = {}


def register(name: str, kinds: str, **kw: Any):
    """Decorator adding a `prepare` function to the registry under `name`."""
    def deco(fn: Callable[[MetricInput, Any], Prepared]):
        METRICS[name] = Metric(name, frozenset(kinds.split()), fn, doc=(fn.__doc__ or "").strip(),
                               **kw)
        return fn
    return deco


def get_metric(name: str) -> Metric:
    if name not in METRICS:
        raise unknown_name("metric", name, METRICS)
    return METRICS[name]


def _binary(inp: MetricInput, fn: Callable[..., float]) -> Prepared:
    """value(w) = fn(is_signal, score of class 1, weights) for a binary jet task."""
    def value(w):
        y, s, ww = inp.flat(w)
        return fn(y == 1, cl.positive_score(s), ww)
    return value


def _pct(eff: float) -> str:
    return f"{eff * 100:g}"


# --- jet / track classification -----------------------------------------------------------
@register("accuracy", "jet track")
def _accuracy(inp: MetricInput, _o: Any) -> Prepared:
    """Fraction of jets (tracks) whose highest-probability class is the true one."""
    return lambda w: cl.accuracy(*inp.flat(w))


@register("balanced_accuracy", "jet track")
def _balanced(inp: MetricInput, _o: Any) -> Prepared:
    """Mean per-class recall."""
    return lambda w: cl.balanced_accuracy(*inp.flat(w))


@register("macro_auc", "jet track")
def _macro_auc(inp: MetricInput, _o: Any) -> Prepared:
    """One-vs-rest AUC averaged over classes (binary: the AUC)."""
    return lambda w: cl.macro_auc(*inp.flat(w))


@register("auc", "jet", binary_only=True)
def _auc(inp: MetricInput, _o: Any) -> Prepared:
    """ROC AUC of class 1 vs class 0."""
    return _binary(inp, cl.roc_auc)


@register("class_auc", "jet track", scalar=False)
def _class_auc(inp: MetricInput, _o: Any) -> Prepared:
    """One-vs-rest AUC per class: keys auc_<class>."""
    def value(w):
        aucs = cl.class_aucs(*inp.flat(w))
        return {f"auc_{label}": float(a) for label, a in zip(inp.labels, aucs, strict=True)}
    return value


def _check_rejection(o: RejectionOptions, labels: tuple[str, ...]) -> str | None:
    for c in (o.background, *o.eff_per_class):
        if c not in labels:
            return f"rejection: class '{c}' is not one of {list(labels)}"
    return None


@register("rejection", "jet", options=RejectionOptions, scalar=False,
          extra_check=_check_rejection)
def _rejection(inp: MetricInput, o: RejectionOptions) -> Prepared:
    """1/εB of every class against the background class at its εS, score p_c/(p_c + p_bkg):
    keys rej<εS%>_<class>, e.g. rej50_Hbb, rej99.5_Tbl (the JetClass paper's working points)."""
    bkg = inp.labels.index(o.background)

    def value(w):
        y, s, ww = inp.flat(w)
        out = {}
        for c, label in enumerate(inp.labels):
            if c == bkg:
                continue
            sel = (y == c) | (y == bkg)
            eff = o.eff_per_class.get(label, o.eff)
            out[f"rej{_pct(eff)}_{label}"] = cl.inverse_bkg_eff(
                y[sel] == c, cl.ratio_score(s[sel], c, bkg), eff, ww[sel])
        return out
    return value


@register("btag_rejection", "jet", options=BtagRejectionOptions, scalar=False,
          requires=("light", "c", "b"))
def _btag_rejection(inp: MetricInput, o: BtagRejectionOptions) -> Prepared:
    """Light- and c-jet rejection at a b-jet efficiency: keys light_rej<eff%>, c_rej<eff%>.
    discriminant 'ratio': p_b/(p_b+p_light) vs light, p_b/(p_b+p_c) vs c (as for JetClass);
    'db': D_b = ln(p_b / (f_c p_c + (1-f_c) p_light)) against both."""
    b, c, light = (inp.labels.index(x) for x in ("b", "c", "light"))

    def value(w):
        y, s, ww = inp.flat(w)
        out = {}
        for name, bkg in (("light", light), ("c", c)):
            sel = (y == b) | (y == bkg)
            score = (cl.ratio_score(s[sel], b, bkg) if o.discriminant == "ratio"
                     else cl.db_score(s[sel], b, c, light, o.f_c))
            out[f"{name}_rej{_pct(o.b_eff)}"] = cl.inverse_bkg_eff(y[sel] == b, score, o.b_eff,
                                                                   ww[sel])
        return out
    return value


@register("sic", "jet", options=SicOptions, binary_only=True)
def _sic(inp: MetricInput, o: SicOptions) -> Prepared:
    """Significance improvement TPR/sqrt(FPR) at FPR = `fpr` (default 1%)."""
    return _binary(inp, lambda t, s, w: cl.sic_at_fpr(t, s, o.fpr, w))


@register("max_sic", "jet", options=MaxSicOptions, binary_only=True)
def _max_sic(inp: MetricInput, o: MaxSicOptions) -> Prepared:
    """Maximum SIC over working points with FPR >= max(fpr_floor, min_background/N_bkg)."""
    return _binary(inp, lambda t, s, w: cl.max_sic(t, s, o.fpr_floor, o.min_background, w))


# --- vertexing ----------------------------------------------------------------------------
def _jet_mean(values: np.ndarray) -> Prepared:
    ok = np.isfinite(values)

    def value(w):
        ww = np.ones(len(values)) if w is None else np.asarray(w, np.float64)
        den = np.sum(ww[ok])
        return float(np.sum(ww[ok] * values[ok]) / den) if den > 0 else float("nan")
    return value


@register("ari", "vertex", options=ThresholdOptions)
def _ari(inp: MetricInput, o: ThresholdOptions) -> Prepared:
    """Per jet: tracks clustered by connected components of edges with p > 0.5, sklearn ARI
    against the true vertex ids; averaged over jets with >= 2 tracks."""
    return _jet_mean(vx.vertex_ari_per_jet(inp.scores, inp.y, inp.mask, o.threshold))


@register("edge_ari", "vertex", options=ThresholdOptions)
def _edge_ari(inp: MetricInput, o: ThresholdOptions) -> Prepared:
    """The paper code's ARI of pair predictions (Bell-number expectation), averaged over jets."""
    return _jet_mean(vx.edge_ari_per_jet(inp.scores, inp.y, inp.mask, o.threshold))


@register("perfect_jet_fraction", "vertex", options=ThresholdOptions)
def _perfect(inp: MetricInput, o: ThresholdOptions) -> Prepared:
    """Fraction of jets (>= 2 tracks) with every track pair predicted right."""
    counts = vx.edge_counts(inp.scores, inp.y, inp.mask, o.threshold)
    return _jet_mean(vx.perfect_per_jet(counts, inp.mask))


@register("edge_f1", "vertex", options=ThresholdOptions)
def _edge_f1(inp: MetricInput, o: ThresholdOptions) -> Prepared:
    """F1 of the same-vertex class over all real track pairs (pooled over jets)."""
    counts = vx.edge_counts(inp.scores, inp.y, inp.mask, o.threshold)

    def value(w):
        ww = np.ones(len(counts)) if w is None else np.asarray(w, np.float64)
        tp, fp, fn, _ = ww @ counts
        return vx.f1_from_counts(tp, fp, fn)
    return value
