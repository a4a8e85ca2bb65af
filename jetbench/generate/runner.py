"""Run the shards of a generation (in-process or in a spawn-safe worker pool) and assemble them.

Shard results are put back in shard order and the jets shuffled with a permutation seeded by
(seed, profile, n, classes), so classes are mixed in the output and the result is the same for
any number of workers.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from jetbench.core.errors import JetbenchError, unknown_name
from jetbench.core.log import progress_bar
from jetbench.data.format import dataset_info
from jetbench.generate.columns import Columns
from jetbench.generate.processes import PROFILES, derive_seed
from jetbench.generate.shards import ShardTask, plan, run_shard


def check_request(profile: str, n: int, seed: int, workers: int,
                  classes: list[str] | None) -> list[str]:
    """Validate the arguments of a generation; return the class list (default: all labels)."""
    if profile not in PROFILES:
        raise unknown_name("generator profile", profile, PROFILES)
    labels = dataset_info(PROFILES[profile].dataset).labels
    if classes is None:
        classes = list(labels)
    for c in classes:
        if c not in labels:
            raise unknown_name(f"{profile} class", c, labels)
    if len(set(classes)) != len(classes) or not classes:
        raise JetbenchError(f"--classes must name distinct {profile} classes, got {classes}")
    classes = [c for c in labels if c in classes]  # label order, whatever order was given
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise JetbenchError(f"number of jets must be a positive integer, got {n}")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise JetbenchError(f"seed must be a non-negative integer, got {seed}")
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise JetbenchError(f"workers must be a positive integer, got {workers}")
    return classes


def _ignore_sigint() -> None:
    # Ctrl-C is handled by the parent, which terminates the pool; workers stay quiet
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run(item: tuple[int, ShardTask]) -> tuple[int, Columns]:
    index, task = item
    return index, run_shard(task)


def generate_columns(profile: str, n: int, seed: int, workers: int, classes: list[str],
                     progress: bool, shard_jets: int | None = None) -> Columns:
    """All jets of a request as Columns (btag: with the ancestry truth group 'truth').

    `shard_jets` overrides the profile's shard size (tests use it to get many small shards)."""
    tasks = plan(profile, n, seed, classes, shard_jets)
    results: list[Columns | None] = [None] * len(tasks)
    workers = min(workers, len(tasks))
    with progress_bar(total=n, unit="jet", desc=f"generate {profile}", enabled=progress,
                      smoothing=0.1) as bar:
        if workers == 1:
            for i, task in enumerate(tasks):
                results[i] = run_shard(task)
                bar.update(len(results[i]))
        else:
            # an executor, not mp.Pool: a worker that dies (killed, crashed) raises
            # BrokenProcessPool here instead of leaving its shard pending forever
            ctx = mp.get_context("spawn")
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_ignore_sigint) as pool:
                futures = [pool.submit(_run, item) for item in enumerate(tasks)]
                try:
                    for done in as_completed(futures):
                        i, cols = done.result()
                        results[i] = cols
                        bar.update(len(cols))
                except KeyboardInterrupt:
                    pool.shutdown(wait=False, cancel_futures=True)  # only running shards finish
                    raise
                except BrokenProcessPool as err:
                    raise JetbenchError(f"a generator worker process died ({err}); "
                                        "nothing was written") from err
    cols = Columns.concat([r for r in results if r is not None])
    if len(cols) != n:
        raise JetbenchError(f"generator produced {len(cols)} jets instead of {n}")
    rng = np.random.default_rng(derive_seed("shuffle", seed, profile, n, ",".join(classes)))
    return cols.take(rng.permutation(n))
