"""Every metric of the benchmark, in one place (docs/design.md, 'Tasks').

- `classification`: accuracy, balanced accuracy, AUCs, 1/εB at εS, SIC — with sample weights.
- `vertexing`: per-jet ARI of clustered tracks, the paper code's edge ARI, perfect jets, edge F1.
- `registry`: the names task YAMLs use (`METRICS`), with options.
- `scoring`: `score` (values, binned values, bootstrap standard error of the main score); a
  task's metrics are scored by `jetbench.tasks.score_task`.
"""

from jetbench.metrics.classification import (
    accuracy,
    balanced_accuracy,
    bkg_eff_at,
    class_aucs,
    inverse_bkg_eff,
    macro_auc,
    max_sic,
    roc_auc,
    sic_at_fpr,
    tpr_at_fpr,
)
from jetbench.metrics.registry import METRICS, Metric, MetricInput, get_metric
from jetbench.metrics.scoring import TaskScores, bootstrap_se, score
from jetbench.metrics.vertexing import (
    adjusted_rand_per_jet,
    bell_numbers,
    cluster_tracks,
    edge_ari_per_jet,
    edge_counts,
    n_secondary_vertices,
    pair_mask,
    same_vertex,
    vertex_ari_per_jet,
)

__all__ = [
    "METRICS", "Metric", "MetricInput", "TaskScores", "accuracy", "adjusted_rand_per_jet",
    "balanced_accuracy", "bell_numbers", "bkg_eff_at", "bootstrap_se", "class_aucs",
    "cluster_tracks", "edge_ari_per_jet", "edge_counts", "get_metric", "inverse_bkg_eff",
    "macro_auc", "max_sic", "n_secondary_vertices", "pair_mask", "roc_auc", "same_vertex",
    "score", "sic_at_fpr", "tpr_at_fpr", "vertex_ari_per_jet",
]
