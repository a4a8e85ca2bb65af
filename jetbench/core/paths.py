"""Where jetbench keeps generated data, checkpoints and results (overridable by environment)."""

from __future__ import annotations

import os
from pathlib import Path


def data_dir() -> Path:
    """Cache of task data: $JETBENCH_DATA, else ~/.cache/jetbench/data."""
    env = os.environ.get("JETBENCH_DATA")
    return Path(env) if env else Path.home() / ".cache" / "jetbench" / "data"


def checkpoint_dir() -> Path:
    """Pretrained encoder checkpoints: $JETBENCH_CHECKPOINTS, else ~/.cache/jetbench/checkpoints."""
    env = os.environ.get("JETBENCH_CHECKPOINTS")
    return Path(env) if env else Path.home() / ".cache" / "jetbench" / "checkpoints"


def results_dir() -> Path:
    """Result JSONs: $JETBENCH_RESULTS, else ./results."""
    env = os.environ.get("JETBENCH_RESULTS")
    return Path(env) if env else Path("results")
