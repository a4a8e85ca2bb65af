"""Evaluation: from a cell to a result file (docs/design.md, 'Results' and 'Scale-out').

    cell        the one identity of a unit of work (encoder, task, protocol, scale, budget, seed)
    plan        names checked, data and encoder made (cached), settings and hashes resolved
    run         train + score a planned cell, write its result; `evaluate` (the Python API)
    results     the result schema and its storage; provenance (versions, host, git state)
    sweep       grids of cells in local worker processes; slurm (array jobs); report (printing)
    mock        `jetbench mock-run`; validate (`jetbench validate-encoder`)
"""

from jetbench.evaluation.cell import Cell
from jetbench.evaluation.plan import CellPlan, LoadedEncoder, plan_cell
from jetbench.evaluation.report import format_result
from jetbench.evaluation.results import Provenance, Result, load_result, load_results, save_result
from jetbench.evaluation.run import CellOutcome, evaluate, execute, finished, run_cell

__all__ = ["Cell", "CellOutcome", "CellPlan", "LoadedEncoder", "Provenance", "Result", "evaluate",
           "execute", "finished", "format_result", "load_result", "load_results", "plan_cell",
           "run_cell", "save_result"]
