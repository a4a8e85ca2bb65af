"""Where jetbench keeps generated data, checkpoints and results (overridable by environment)."""

from __future__ import annotations

import os
from pathlib import Path

from jetbench.core.errors import JetbenchError


def _from_env(var: str, default: Path) -> Path:
    """$var if set (it must not name a file: every later use would fail obscurely), else default."""
    env = os.environ.get(var)
    if not env:
        return default
    path = Path(env).expanduser()
    if path.exists() and not path.is_dir():
        raise JetbenchError(f"${var}={env} is a file, not a folder; point it at a folder")
    return path


def data_dir() -> Path:
    """Cache of task data: $JETBENCH_DATA, else ~/.cache/jetbench/data."""
    return _from_env("JETBENCH_DATA", Path.home() / ".cache" / "jetbench" / "data")


def checkpoint_dir() -> Path:
    """Pretrained encoder checkpoints: $JETBENCH_CHECKPOINTS, else ~/.cache/jetbench/checkpoints."""
    return _from_env("JETBENCH_CHECKPOINTS", Path.home() / ".cache" / "jetbench" / "checkpoints")


def results_dir() -> Path:
    """Result JSONs: $JETBENCH_RESULTS, else ./results."""
    return _from_env("JETBENCH_RESULTS", Path("results"))


def real_data_dir(dataset: str | None = None) -> Path:
    """Where the downloaded files of the public datasets live — the folder the paper-scale splits
    read and the default `--dest` of `jetbench data download`: $JETBENCH_REAL_DATA, else
    <data dir>/real; one subfolder per dataset."""
    root = _from_env("JETBENCH_REAL_DATA", data_dir() / "real")
    return root if dataset is None else root / dataset
