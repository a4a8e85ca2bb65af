"""`jetbench mock-run`: every core task end to end at the smoke scale, before spending real compute.

The scores mean nothing (seconds of generated data, a few steps); what the run shows is that the
encoder trains, scores and yields a finite main score on every task and head type — jet
classification, weak supervision, track classification and vertex pairs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from tabulate import tabulate
from torch import nn

from jetbench.encoders import PretrainableEncoder
from jetbench.evaluation.run import evaluate
from jetbench.evaluation.validate import load_model, one_line
from jetbench.protocols import check_protocol
from jetbench.tasks import CORE_TASKS, get_task


@dataclass
class MockRow:
    task: str
    protocol: str
    passed: bool
    budget: int | None = None
    main_score: str = ""
    value: float | None = None
    wall_s: float = 0.0
    error: str = ""


def evaluation_target(encoder: str | nn.Module, scale: str) -> str | nn.Module:
    """What to hand to `jetbench.evaluate`: a name when jetbench's pretraining pipeline knows how
    to prepare the encoder (fit its preprocessing, pretrain it once and cache the checkpoint),
    else the built model itself (a plug-in that arrives ready to encode)."""
    if not isinstance(encoder, str):
        return encoder
    model = load_model(encoder, scale)  # a wrong name fails here, before any data work
    if isinstance(model, PretrainableEncoder) and not Path(encoder).is_dir():
        return encoder
    return model


def mock_run(encoder: str | nn.Module, tasks: tuple[str, ...] | list[str] = CORE_TASKS,
             protocol: str = "finetune", scale: str = "smoke", seed: int = 0,
             device: str = "auto", results_dir: str | Path | None = None,
             progress: bool = False) -> list[MockRow]:
    """Evaluate `encoder` on each task; a task that fails becomes a failed row, not an abort."""
    for task in tasks:  # wrong names are the user's input: one clear error before any work
        get_task(task)
    check_protocol(protocol, scale)
    target = evaluation_target(encoder, scale)
    rows = []
    for task in tasks:
        t0 = time.perf_counter()
        row = MockRow(task, protocol, False)
        try:
            (res,) = evaluate(target, tasks=[task], protocol=protocol, scale=scale,
                                       seed=seed, device=device, results_dir=results_dir,
                                       progress=progress)
        except Exception as err:  # whatever the encoder broke, report it and go on
            row.error = one_line(err)
        else:
            row.budget, row.main_score = res.budget, res.main_score
            row.value = res.metrics.get(res.main_score)
            row.passed = row.value is not None and math.isfinite(row.value)
            if not row.passed:
                row.error = f"main score '{res.main_score}' is {row.value}"
        row.wall_s = time.perf_counter() - t0
        rows.append(row)
    return rows


def format_rows(rows: list[MockRow]) -> str:
    table = [[r.task, r.protocol, "" if r.budget is None else r.budget, r.main_score,
              "" if r.value is None else f"{r.value:.4f}", f"{r.wall_s:.1f}",
              "PASS" if r.passed else f"FAIL {r.error}"] for r in rows]
    n_ok = sum(r.passed for r in rows)
    return (tabulate(table, headers=["task", "protocol", "budget", "main score", "value",
                                     "time [s]", "status"], disable_numparse=True)
            + f"\n{n_ok}/{len(rows)} tasks ran end to end (smoke-scale scores carry no meaning)")
