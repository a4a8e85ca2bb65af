"""Leaderboard -> text tables: Markdown (GitHub), LaTeX (booktabs) and a long-format CSV.

Markdown and LaTeX share one wide layout (a row per encoder x protocol, a column per task x budget);
the CSV is long (a line per cell) because that is what a plotting script or a spreadsheet wants.
"""

from __future__ import annotations

import csv
import io
import math

from tabulate import tabulate

from jetbench.leaderboard.aggregate import FEW_SEEDS, MISSING, OK, STALE, Entry, Leaderboard

STALE_MARK = "§"
SAME_AS_REF_MARK = "†"  # not distinguishable from the random-init reference row
WORSE_THAN_REF_MARK = "‡"  # significantly worse than the random-init reference row
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


def fmt_pm(mean: float, se: float) -> str:
    """'46.7 ± 6.9', '321 ± 116': the error to two significant digits, the value to match."""
    if not (math.isfinite(se) and se > 0):
        return f"{fmt_score(mean)} ± {fmt_score(se)}"
    decimals = min(4, max(0, 1 - math.floor(math.log10(se))))
    return f"{mean:.{decimals}f} ± {se:.{decimals}f}"


def working_point_rows(lb: Leaderboard) -> dict[tuple[str, int], tuple[list[float], list[list[str]]]]:
    """Per column: the εS values and rows (curve, encoder, protocol, 'mean ± SE' per εS), grouped
    by curve so one physics problem's rows sit together; '*' marks an SE above 5 % of the value."""
    cols: dict[tuple[str, int], list[dict]] = {}
    for e in lb.working_points:
        cols.setdefault((e["task"], e["budget"]), []).append(e)
    out = {}
    for col, entries in cols.items():
        effs = sorted({e["eff"] for e in entries})
        curves = list(dict.fromkeys(e["curve"] for e in entries))
        table: dict[tuple[str, str, str], dict[float, str]] = {}
        for e in sorted(entries, key=lambda e: curves.index(e["curve"])):
            star = " *" if e["se"] > 0.05 * abs(e["mean"]) else ""
            table.setdefault((e["curve"], e["encoder"], e["protocol"]), {})[e["eff"]] = (
                fmt_pm(e["mean"], e["se"]) + star)
        out[col] = (effs, [[*key, *[vals.get(eff, DASH) for eff in effs]]
                           for key, vals in table.items()])
    return out


def ref_mark(c: Entry, alpha: float) -> str:
    """'†' not told apart from the random-init row, '‡' worse than it, '' better (or untested)."""
    if c.p_ref is None or math.isnan(c.p_ref):
        return ""
    if c.p_ref >= alpha:
        return SAME_AS_REF_MARK
    return WORSE_THAN_REF_MARK if (c.diff_ref or 0.0) < 0 else ""


def cell_text(c: Entry, alpha: float = 0.05) -> str:
    """'0.512 ± 0.004' (mean ± standard error) with its marks; see `footnotes`."""
    if c.status == MISSING or c.mean is None:
        return DASH
    text = fmt_score(c.mean)
    if c.se is not None:
        text += f" ± {fmt_score(c.se)}"
    if c.status == FEW_SEEDS or c.se is None:
        text += f" (n={c.n_seeds})"
    marks = ref_mark(c, alpha) + (STALE_MARK if c.status == STALE else "")
    return f"{text} {marks}" if marks else text


def column_headers(lb: Leaderboard) -> list[str]:
    return [f"{t} {lb.main_scores.get(t, '')} @{budget_label(b)}".replace("  ", " ")
            for t, b in lb.columns]


def best_cells(lb: Leaderboard) -> set[tuple[int, int]]:
    """(row, column) of bold cells: the best rank group where the column has paired tests,
    else the highest mean among cells with enough seeds."""
    best = set()
    for j, col in enumerate(lb.columns):
        if col in lb.significance:
            best.update((i, j) for i, r in enumerate(lb.rows) if r.cells[col].group == 1)
            continue
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
            text = cell_text(r.cells[col], lb.alpha)
            cells.append(f"{bold[0]}{text}{bold[1]}" if (i, j) in best else text)
        rows.append([r.encoder, r.protocol, _params_text(r.n_params), *cells,
                     _rank_text(r.mean_rank), r.status])
    return headers, rows


def method_note(lb: Leaderboard) -> str:
    """How the ± and the marks are made, in the words the tables' footnotes use."""
    a = f"{lb.alpha:g}"
    return (
        f"± is the standard error of the seed mean: SE² = s²/S + max(V_test − Q/S, 0), where s² "
        f"is the sample variance of the S per-seed scores, V_test the bootstrap variance of the "
        f"seed mean over the test jets (each resample draws the same jets for every seed and row) "
        f"and Q/S the part of s²/S that test-jet noise explains (not counted twice). Bold: "
        f"the best rank group (going down the rows sorted by mean, a row joins the current group "
        f"unless a paired test finds it worse than the group's leader at α = {a}; then it leads "
        f"the next group). Paired test: the "
        f"difference of seed means over common seeds, the same SE formula on the per-seed "
        f"differences and shared resamples, t reference with S − 1 degrees of freedom, two-sided "
        f"p, Benjamini-Hochberg-corrected across the rows of a column (false discovery rate "
        f"α). "
        f"'{SAME_AS_REF_MARK}': not distinguishable from the random-init row ('{lb.reference}' "
        f"encoder, same protocol) at α = {a}; '{WORSE_THAN_REF_MARK}': significantly worse than "
        f"it; unmarked rows with a reference are significantly better. Columns or cells without "
        f"predictions files: bold = highest mean, ± from the result JSONs (stored bootstrap error "
        f"+ seed spread), no marks.")


def footnotes(lb: Leaderboard) -> list[str]:
    b = lb.benchmark
    lines = [
        f"Benchmark {b.label}: {b.description}",
        f"Cells: mean ± standard error of the task's main score over seeds; a cell needs "
        f"{b.min_seeds} seed(s). '(n=k)': too few seeds. '{STALE_MARK}': measured under an older "
        f"task/protocol definition. Mean rank: over all cells, among complete rows only "
        f"(incomplete rows are never averaged).",
        method_note(lb),
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
    for text, tex in (("±", r"$\pm$"), (STALE_MARK, r"$^\S$"), (SAME_AS_REF_MARK, r"$^\dagger$"),
                      (WORSE_THAN_REF_MARK, r"$^\ddagger$"), (DASH, "--"), ("²", "$^2$"),
                      ("α", r"$\alpha$"), ("−", "-")):
        out = out.replace(text, tex)
    return out


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
              rf"\caption{{{tex_escape(lb.benchmark.label)}: mean $\pm$ standard error over seeds "
              rf"of each task's main score. Bold: best rank group (paired test, Benjamini-Hochberg, $\alpha$ = "
              rf"{lb.alpha:g}). $^\dagger$ not distinguishable from the random-init row "
              rf"({tex_escape(lb.reference)}, same protocol); $^\ddagger$ worse than it; "
              rf"$^\S$ older task/protocol definition.}}",
              rf"\label{{tab:{lb.benchmark.name}}}", r"\end{table}", ""]
    return "\n".join(lines)


CSV_FIELDS = ["benchmark", "encoder", "revisions", "protocol", "task", "main_score", "budget",
              "status", "n_seeds", "seeds", "mean", "std", "se", "se_test", "se_seed", "se_method",
              "group", "p_best", "p_ref", "diff_ref", "row_status", "mean_rank", "n_params",
              "flags"]


def _num(x: float | int | None) -> str:
    return "" if x is None else repr(x)


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
                "std": _num(c.std), "se": _num(c.se), "se_test": _num(c.se_test),
                "se_seed": _num(c.se_seed), "se_method": c.se_method, "group": _num(c.group),
                "p_best": _num(c.p_best), "p_ref": _num(c.p_ref), "diff_ref": _num(c.diff_ref),
                "row_status": r.status,
                "mean_rank": "" if r.mean_rank is None else repr(r.mean_rank),
                "n_params": "" if r.n_params is None else r.n_params,
                "flags": "; ".join(r.flags + c.flags),
            })
    return buf.getvalue()


def working_points_markdown(lb: Leaderboard) -> str:
    """The working-point tables: 1/εB at each εS, mean ± SE over seeds, one table per column."""
    lines = [f"# Working points: {lb.benchmark.name}", ""]
    if not lb.working_points:
        lines.append("_No result with a predictions file has a jet-level ROC curve yet._")
        return "\n".join(lines) + "\n"
    lines += [
        "Background rejection 1/εB at signal efficiency εS, from the saved per-jet predictions: "
        "mean over seeds ± standard error (bootstrap over test jets + seed spread, as in the "
        "leaderboard). '*': SE above the stated bound (5 % of the value). JetClass curves use "
        "p_c/(p_c + p_QCD), b-tagging p_b/(p_b + p_light) and p_b/(p_b + p_c).", ""]
    for (task, budget), (effs, rows) in working_point_rows(lb).items():
        headers = ["curve", "encoder", "protocol", *[f"1/εB @ εS={eff:.0%}" for eff in effs]]
        lines += [f"## {task} @{budget_label(budget)}", "",
                  tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True), ""]
    return "\n".join(lines)
