"""Checks that run before any work: where output goes, and whether arguments make sense.

A cell that trains for minutes and then cannot write its result, or a generation that fills the
disk, loses the user's time; an argument that is silently clamped (`--threads -1` -> 1) hides a
typo. So commands check their output locations (a folder, or creatable; writable, probed with a
real file; enough free space for the expected size) and their numbers first, each failure one
JetbenchError line.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from jetbench.core import paths
from jetbench.core.errors import JetbenchError

MAX_JETS = 10**9  # larger than any real jet dataset (JetClass: 125M); more is a typo
BYTES_PER_JET = 4096  # canonical stores take ~0.4-1.3 kB/jet compressed; room for ROOT and temps
RESULT_BYTES = 1 << 20  # a result JSON (with binned metrics) is a few kB
MIN_FREE_BYTES = 64 << 20  # caches (data, embeddings, checkpoints) need at least this to start


def _human(n: int) -> str:
    for unit, div in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{n} B"


def _existing_ancestor(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def check_output_dir(path: str | os.PathLike, what: str, need_bytes: int = 0,
                     env: str | None = None) -> Path:
    """`path` is a writable folder, or can be created as one, with `need_bytes` free; else one line.

    Nothing is created: a missing folder is checked through its nearest existing parent."""
    p = Path(path).expanduser()
    label = f"{what} {p}" + (f" (${env})" if env and os.environ.get(env) else "")
    if p.exists() and not p.is_dir():
        raise JetbenchError(f"{label} is a file, not a folder")
    base = _existing_ancestor(p.absolute())
    if not base.is_dir():
        raise JetbenchError(f"{label} cannot be created: {base} is a file")
    try:
        with tempfile.NamedTemporaryFile(dir=base, prefix=".jetbench-probe-"):
            pass
    except OSError as err:
        raise JetbenchError(f"{label} is not writable ({err.strerror or err})") from None
    free = shutil.disk_usage(base).free
    if need_bytes and free < need_bytes:
        raise JetbenchError(f"{label}: only {_human(free)} free on its disk, about "
                            f"{_human(need_bytes)} needed")
    return p


def check_output_file(path: str | os.PathLike, what: str, force: bool = False,
                      need_bytes: int = 0) -> Path:
    """`path` may be written: not a folder, not an existing file unless `force`, its folder OK."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise JetbenchError(f"{what} {p} is a folder; give a file name")
    if p.exists() and not force:
        raise JetbenchError(f"{what} {p} already exists; pass --force to replace it")
    check_output_dir(p.parent, "output folder", need_bytes)
    return p


def check_caches(*which: str) -> None:
    """The cache folders in `which` ('data', 'checkpoints', 'results') are usable."""
    table = {"data": (paths.data_dir, "data cache", "JETBENCH_DATA", MIN_FREE_BYTES),
             "checkpoints": (paths.checkpoint_dir, "checkpoint cache", "JETBENCH_CHECKPOINTS",
                             MIN_FREE_BYTES),
             "results": (paths.results_dir, "results folder", "JETBENCH_RESULTS", RESULT_BYTES)}
    for name in which:
        where, what, env, need = table[name]
        check_output_dir(where(), what, need, env)


def jets_bytes(n: int) -> int:
    """Disk space to reserve for writing `n` jets."""
    return int(n) * BYTES_PER_JET


def check_count(name: str, value: int | None, low: int = 0, high: int | None = None) -> None:
    """An integer argument in [low, high] (None: not given, fine); else one line naming it."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (
            high is not None and value > high):
        rng = f"at least {low}" if high is None else f"between {low} and {high}"
        raise JetbenchError(f"{name} must be a whole number {rng}, got {value}")


def check_run_args(seed: int | None = None, threads: int | None = None,
                   workers: int | None = None, seeds: list[int] | None = None,
                   budget: int | None = None) -> None:
    """The numbers shared by run, sweep, pretrain and generate."""
    check_count("--budget", budget, 1)
    check_count("--seed", seed, 0, 2**32 - 1)
    for s in seeds or ():
        check_count("--seeds", s, 0, 2**32 - 1)
    check_count("--threads", threads, 1, 4096)
    check_count("--workers", workers, 1, 1024)


def check_run_outputs(results: str | os.PathLike | None) -> Path:
    """Results folder (given, or $JETBENCH_RESULTS / ./results) and the caches a cell writes."""
    res = Path(results) if results is not None else paths.results_dir()
    check_output_dir(res, "results folder", RESULT_BYTES,
                     env=None if results is not None else "JETBENCH_RESULTS")
    check_caches("data", "checkpoints")
    return res
