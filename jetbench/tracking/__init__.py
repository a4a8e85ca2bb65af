"""Experiment tracking: pretraining curves and cell results sent to W&B, MLflow or TensorBoard.

`open_trackers(run, group, params)` starts one tracking run on every backend selected by
`--track` / $JETBENCH_TRACK (none by default); the interface is `Tracker` (jetbench.tracking.base),
the backends are in jetbench.tracking.backends.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from jetbench.core.errors import JetbenchError
from jetbench.tracking.backends import open_backend
from jetbench.tracking.base import (
    BACKENDS,
    EXTRAS,
    GROUP_ENV,
    TRACK_ENV,
    NullTracker,
    Tracker,
    Trackers,
    flatten,
    result_record,
    selected,
    tracking_dir,
)


def open_trackers(run: str, group: str | None = None, params: Mapping[str, Any] | None = None,
                  names: str | Sequence[str] | None = None,
                  extra: Sequence[Tracker] = ()) -> Trackers:
    """Start one tracking run called `run` (in `group`) on every selected backend, plus the
    `extra` tracker objects; log `params`. With nothing selected this is a no-op tracker."""
    chosen = selected(names)
    group = group or os.environ.get(GROUP_ENV) or None
    made: list[Tracker] = list(extra)
    for name in chosen:
        try:
            made.append(open_backend(name, run, group, tracking_dir()))
        except ImportError as err:
            raise JetbenchError(f"--track {name}: its library is not installed ({err}); "
                                f"pip install 'jetbench[{EXTRAS[name]}]'") from None
    trackers = Trackers(made)
    if params:
        trackers.log_params(params)
    return trackers


__all__ = ["BACKENDS", "GROUP_ENV", "TRACK_ENV", "NullTracker", "Tracker", "Trackers", "flatten", "open_trackers",
           "result_record", "selected", "tracking_dir"]
