"""Leaderboard -> text tables: Markdown (GitHub), LaTeX (booktabs) and a long-format CSV.

Markdown and LaTeX share one wide layout (a row per encoder x protocol, a column per task x budget);
the CSV is long (a line per cell) because that is what a plotting script or a spreadsheet wants.
"""

from __future__ import annotations

import csv
import io

from tabulate import tabulate

from jetbench.leaderboard.aggregate import FEW_SEEDS, MISSING, OK, STALE, Entry, Leaderboard

STALE_MARK = "†"
DASH = "—"


def budget_label(n: int) -> str:
    """1000 -> '1k', 2020000 -> '2.02M': short budget names for column headers."""
    for div, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= div:
            return f"{n / div:.3g}{suffix}"
    return str(n)


def fmt_score(x: float) -> str:
    """Three decimals for scores near 1, fewer for large ones (SIC, 1/eB)."""
    return f"{x:.1f}" if abs(x) >= 100 else f"{x:.2f}" if abs(x) >= 10 else f"{x:.3f}"


def cell_text(c: Entry) -> str:
    if c.status == MISSING or c.mean is None:
        return DASH
    if c.status == FEW_SEEDS or c.std is None:
        text = f"{fmt_score(c.mean)} (n={c.n_seeds})"
    else:
        text = f"{fmt_score(c.mean)} ± {fmt_score(c.std)}"
    return f"{text} {STALE_MARK}" if c.status == STALE else text


def column_headers(lb: Leaderboard) -> list[str]:
    return [f"{t} {lb.main_scores.get(t, '')} @{budget_label(b)}".replace("  ", " ")
            for t, b in lb.columns]


def best_cells(lb: Leaderboard) -> set[tuple[int, int]]:
    """(row, column) of the highest complete-seed mean per column, for bold face."""
    best = set()
    for j, col in enumerate(lb.columns):
        vals = [(r.cells[col].mean, i) for i, r in enumerate(lb.rows) if r.cells[col].status == OK]
        if vals:
            top = max(v for v, _ in vals)
            best.update((i, j) for v, i in vals if v == top)
    return best


def _rank_text(rank: float | None) -> str:
    return DASH if rank is None else f"{rank:.2f}"


def _params_text(n: int | None) -> str:
    if n is None:
        return DASH
    return budget_label(n) if n >= 1000 else str(n)


def wide_table(lb: Leaderboard, bold: tuple[str, str]) -> tuple[list[str], list[list[str]]]:
    """Headers and string rows of the wide table; best cells wrapped in `bold` (prefix, suffix)."""
    best = best_cells(lb)
    headers = ["encoder", "protocol", "params", *column_headers(lb), "mean rank", "status"]
    rows = []
    for i, r in enumerate(lb.rows):
        cells = []
        for j, col in enumerate(lb.columns):
            text = cell_text(r.cells[col])
            cells.append(f"{bold[0]}{text}{bold[1]}" if (i, j) in best else text)
        rows.append([r.encoder, r.protocol, _params_text(r.n_params), *cells,
                     _rank_text(r.mean_rank), r.status])
    return headers, rows


def footnotes(lb: Leaderboard) -> list[str]:
    b = lb.benchmark
    lines = [
        f"Benchmark {b.label}: {b.description}",
        f"Cells: mean ± sample std (ddof 1) of the task's main score over seeds; a cell needs "
        f"{b.min_seeds} seed(s). Best complete cell per column in bold. '(n=k)': too few seeds. "
        f"'{STALE_MARK}': measured under an older task/protocol definition. "
        f"Mean rank: over all cells, among complete rows only (incomplete rows are never "
        f"averaged).",
        "Grid: " + (", ".join(column_headers(lb)) or "(no cells)") + f" × protocols "
        f"{', '.join(b.protocols)}.",
        f"{lb.n_used} of {lb.n_results} result file(s) used.",
    ]
    lines += lb.notes
    for r in lb.rows:
        for flag in r.flags:
            lines.append(f"{r.encoder}/{r.protocol}: {flag}")
        for col in lb.columns:
            for flag in r.cells[col].flags:
                lines.append(f"{r.encoder}/{r.protocol} {col[0]}@{budget_label(col[1])}: {flag}")
    return lines


def to_markdown(lb: Leaderboard) -> str:
    headers, rows = wide_table(lb, ("**", "**"))
    body = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True) if rows else \
        "_No results in this benchmark yet._"
    notes = "\n".join(f"- {line}" for line in footnotes(lb))
    return f"# Leaderboard: {lb.benchmark.name}\n\n{body}\n\n{notes}\n"


_TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}


def tex_escape(s: str) -> str:
    out = "".join(_TEX_ESCAPES.get(ch, ch) for ch in s)
    return out.replace("±", r"$\pm$").replace(STALE_MARK, r"$^\dagger$").replace(DASH, "--")


def to_latex(lb: Leaderboard) -> str:
    """A booktabs table (needs \\usepackage{booktabs}); bold = best complete cell per column."""
    headers, rows = wide_table(lb, ("\x00", "\x01"))  # placeholders survive escaping

    def tex(s: str) -> str:
        return tex_escape(s).replace("\x00", r"\textbf{").replace("\x01", "}")

    spec = "ll r " + "c" * len(lb.columns) + " r l"
    lines = [
        r"% generated by `jetbench leaderboard`; needs \usepackage{booktabs}",
        r"\begin{table}[htbp]", r"\centering", r"\small",
        rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
        " & ".join(tex(h) for h in headers) + r" \\", r"\midrule",
    ]
    lines += [" & ".join(tex(c) for c in row) + r" \\" for row in rows]
    lines += [r"\bottomrule", r"\end{tabular}",
              rf"\caption{{{tex_escape(lb.benchmark.label)}: mean $\pm$ std over seeds of each "
              rf"task's main score. $^\dagger$ older task/protocol definition.}}",
              rf"\label{{tab:{lb.benchmark.name}}}", r"\end{table}", ""]
    return "\n".join(lines)


CSV_FIELDS = ["benchmark", "encoder", "revisions", "protocol", "task", "main_score", "budget",
              "status", "n_seeds", "seeds", "mean", "std", "row_status", "mean_rank", "n_params",
              "flags"]


def to_csv(lb: Leaderboard) -> str:
    """Long format: one line per (row, cell), missing cells included with empty values."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in lb.rows:
        for col in lb.columns:
            c = r.cells[col]
            w.writerow({
                "benchmark": lb.benchmark.name, "encoder": r.encoder,
                "revisions": ";".join(r.revisions), "protocol": r.protocol, "task": c.task,
                "main_score": lb.main_scores.get(c.task, ""), "budget": c.budget,
                "status": c.status, "n_seeds": c.n_seeds, "seeds": ";".join(map(str, c.seeds)),
                "mean": "" if c.mean is None else repr(c.mean),
                "std": "" if c.std is None else repr(c.std), "row_status": r.status,
                "mean_rank": "" if r.mean_rank is None else repr(r.mean_rank),
                "n_params": "" if r.n_params is None else r.n_params,
                "flags": "; ".join(r.flags + c.flags),
            })
    return buf.getvalue()
