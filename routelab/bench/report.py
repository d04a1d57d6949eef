"""Leaderboards from results CSVs: a per (instance, solver) table and a per-solver summary, as markdown.

Conventions, stated in every report: objectives are the scorer's recomputation; an instance's objective for a
solver is the mean over its *feasible* seeds; gaps are ``100 * (objective - other) / other`` in percent;
the baseline (OR-Tools by default) gap compares two such means on the same instance. Means of gaps in the
summary run over the instances where the gap exists, so read them next to the feasible count.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from routelab.bench.jobs import ResultRow
from routelab.bench.results import read_results
from routelab.problems import atomic_write, gap_percent, objective_sense

DEFAULT_BASELINE = "ortools"


@dataclass(frozen=True)
class Cell:
    """One solver on one instance, aggregated over seeds."""

    spec: str
    instance: str
    solver: str
    jobs: int
    feasible: int
    objective: float | None
    reference: float | None
    gap_to_reference: float | None
    gap_to_baseline: float | None
    runtime_s: float | None
    statuses: str
    bound: str = ""
    gap_to_best: float | None = None
    """Gap to the best feasible objective any solver of the board found on this instance (mean over seeds)."""
    """What exact solvers proved: "optimal", or the best lower bound over seeds; empty for heuristics."""


@dataclass(frozen=True)
class SolverSummary:
    """One solver over a whole spec."""

    spec: str
    solver: str
    instances: int
    jobs: int
    feasible: int
    mean_gap_to_reference: float | None
    gaps_to_reference: int
    mean_gap_to_baseline: float | None
    gaps_to_baseline: int
    mean_runtime_s: float | None
    unsupported: int = 0
    mean_objective: float | None = None
    """Mean over the instances this solver solved: comparable across solvers when all solved the same ones."""
    mean_gap_to_best: float | None = None
    """Jobs the solver declined (``supports`` gave a reason); counted in ``jobs`` but not a failure to find."""


@dataclass(frozen=True)
class Leaderboard:
    spec: str
    baseline: str | None
    cells: tuple[Cell, ...]
    summary: tuple[SolverSummary, ...]


def _gap(value: float | None, other: float | None, sense: str = "min") -> float | None:
    return gap_percent(value, other, sense)


def _proof(group: list[ResultRow]) -> str:
    """``optimal`` when a seed proved its answer optimal, else ``>= B`` for the best proven lower bound, else ""."""
    bounds = []
    for row in group:
        try:
            stats = json.loads(row.stats) if row.stats else {}
        except json.JSONDecodeError:
            continue
        if row.status == "ok" and stats.get("status") == "optimal":
            return "optimal"
        if isinstance(stats.get("lower_bound"), (int, float)):
            bounds.append(float(stats["lower_bound"]))
    return f">= {fmt_objective(max(bounds))}" if bounds else ""


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def latest_rows(rows: Iterable[ResultRow]) -> list[ResultRow]:
    """One row per (spec, instance, solver, seed), the last one read, so a re-run job overrides its old row."""
    out: dict[tuple[str, str, str, int], ResultRow] = {}
    for row in rows:
        out[(row.spec, *row.key)] = row
    return list(out.values())


def pick_baseline(rows: Sequence[ResultRow], baseline: str | None = None) -> str | None:
    """The label to compare against: ``baseline`` if given, else ``ortools``, else the first label that runs
    the ``ortools`` solver (e.g. ``ortools-savings``), else None (no baseline column)."""
    labels = {row.solver for row in rows}
    if baseline is not None:
        return baseline if baseline in labels else None
    if DEFAULT_BASELINE in labels:
        return DEFAULT_BASELINE
    candidates = sorted({row.solver for row in rows if row.solver_name == DEFAULT_BASELINE})
    return candidates[0] if candidates else None


def leaderboards(rows: Iterable[ResultRow], *, baseline: str | None = None) -> list[Leaderboard]:
    """One leaderboard per spec found in ``rows``."""
    rows = latest_rows(rows)
    specs = sorted({row.spec for row in rows})
    return [_leaderboard(spec, [r for r in rows if r.spec == spec], baseline) for spec in specs]


def _leaderboard(spec: str, rows: list[ResultRow], baseline: str | None) -> Leaderboard:
    base = pick_baseline(rows, baseline)
    sense = objective_sense(rows[0].kind) if rows else "min"
    better = min if sense == "min" else max
    groups: dict[tuple[str, str], list[ResultRow]] = {}
    for row in rows:
        groups.setdefault((row.instance, row.solver), []).append(row)

    def feasible_mean(group: list[ResultRow]) -> float | None:
        return _mean(r.objective for r in group if r.status == "ok")

    cells = []
    for (instance, solver), group in sorted(groups.items()):
        objective = feasible_mean(group)
        reference = next((r.reference for r in group if r.reference is not None), None)
        base_objective = feasible_mean(groups.get((instance, base), [])) if base is not None else None
        counts: dict[str, int] = {}
        for r in group:
            counts[r.status] = counts.get(r.status, 0) + 1
        cells.append(
            Cell(
                spec=spec,
                instance=instance,
                solver=solver,
                jobs=len(group),
                feasible=sum(r.status == "ok" for r in group),
                objective=objective,
                reference=reference,
                gap_to_reference=_gap(objective, reference, sense),
                gap_to_baseline=None if solver == base else _gap(objective, base_objective, sense),
                runtime_s=_mean(r.runtime_s for r in group if r.status in ("ok", "infeasible", "no_solution")),
                statuses=", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
                bound=_proof(group),
            )
        )
    best: dict[str, float] = {}
    for c in cells:
        if c.objective is not None:
            best[c.instance] = better(best.get(c.instance, c.objective), c.objective)
    cells = [replace(c, gap_to_best=_gap(c.objective, best.get(c.instance), sense)) for c in cells]
    summary = []
    for solver in sorted({c.solver for c in cells}):
        mine = [c for c in cells if c.solver == solver]
        ref_gaps = [c.gap_to_reference for c in mine if c.gap_to_reference is not None]
        base_gaps = [c.gap_to_baseline for c in mine if c.gap_to_baseline is not None]
        summary.append(
            SolverSummary(
                spec=spec,
                solver=solver,
                instances=len(mine),
                jobs=sum(c.jobs for c in mine),
                feasible=sum(c.feasible for c in mine),
                mean_gap_to_reference=_mean(ref_gaps),
                gaps_to_reference=len(ref_gaps),
                mean_gap_to_baseline=0.0 if solver == base else _mean(base_gaps),
                gaps_to_baseline=len(base_gaps),
                mean_runtime_s=_mean(r.runtime_s for r in rows if r.solver == solver and r.runtime_s is not None),
                unsupported=sum(r.solver == solver and r.status == "unsupported" for r in rows),
                mean_objective=_mean(c.objective for c in mine if c.objective is not None),
                mean_gap_to_best=_mean(c.gap_to_best for c in mine if c.gap_to_best is not None),
            )
        )
    return Leaderboard(spec=spec, baseline=base, cells=tuple(cells), summary=tuple(summary))


# -- formatting -----------------------------------------------------------------------------------------
def fmt_objective(value: float | None) -> str:
    return "-" if value is None else f"{round(value, 4):.10g}"


def fmt_gap(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def fmt_time(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def summary_rows(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """Headers and string rows of the per-solver summary (ready for ``rich.table.Table.add_row``)."""
    vs = board.baseline or DEFAULT_BASELINE
    headers = [
        "solver",
        "mean objective",
        "mean gap to ref %",
        "mean gap to best %",
        f"mean gap to {vs} %",
        "feasible / jobs",
        "mean time s",
    ]
    rows = [
        [
            s.solver,
            fmt_objective(s.mean_objective),
            fmt_gap(s.mean_gap_to_reference) + (f" (n={s.gaps_to_reference})" if s.gaps_to_reference else ""),
            fmt_gap(s.mean_gap_to_best),
            fmt_gap(s.mean_gap_to_baseline) + (f" (n={s.gaps_to_baseline})" if s.gaps_to_baseline else ""),
            f"{s.feasible}/{s.jobs}" + (f" ({s.unsupported} unsupported)" if s.unsupported else ""),
            fmt_time(s.mean_runtime_s),
        ]
        for s in sorted(board.summary, key=_summary_order)
    ]
    return headers, rows


def _summary_order(s: SolverSummary) -> tuple[int, float, str]:
    """Most feasible first, then smallest mean gap to the reference (to the best found when there is none)."""
    gap = s.mean_gap_to_reference if s.mean_gap_to_reference is not None else s.mean_gap_to_best
    gap = gap if gap is not None else float("inf")
    return (-s.feasible, gap, s.solver)


def instance_rows(board: Leaderboard) -> tuple[list[str], list[list[str]]]:
    """Headers and string rows of the per (instance, solver) table."""
    vs = board.baseline or DEFAULT_BASELINE
    headers = [
        "instance",
        "solver",
        "objective",
        "proven",
        "reference",
        "gap to ref %",
        "gap to best %",
        f"gap to {vs} %",
        "feasible",
        "time s",
    ]
    rows = [
        [
            c.instance,
            c.solver,
            fmt_objective(c.objective),
            c.bound,
            fmt_objective(c.reference),
            fmt_gap(c.gap_to_reference),
            fmt_gap(c.gap_to_best),
            fmt_gap(c.gap_to_baseline),
            f"{c.feasible}/{c.jobs}" + ("" if c.feasible == c.jobs else f" ({c.statuses})"),
            fmt_time(c.runtime_s),
        ]
        for c in board.cells
    ]
    return headers, rows


def _markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(esc(h) for h in headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(esc(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(
    rows: Iterable[ResultRow],
    *,
    title: str = "Leaderboard",
    machine_note: str | None = None,
    baseline: str | None = None,
    sources: Sequence[str] = (),
) -> str:
    """The whole report as markdown: conventions, then per spec a summary and the per-instance table."""
    boards = leaderboards(rows, baseline=baseline)
    out = [f"# {title}", ""]
    if machine_note:
        out += [f"Machine: {machine_note}", ""]
    if sources:
        out += ["Results: " + ", ".join(f"`{s}`" for s in sources), ""]
    out += [
        f"Generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by `routelab bench report`. Objectives are "
        "recomputed by `routelab check`, never taken from the solver; a cell's objective is the mean over its "
        "feasible seeds; gaps are `100 * (objective - other) / |other|` percent for minimised objectives and "
        "`100 * (other - objective) / |other|` for maximised ones (throughput), so a positive gap is always worse; "
        "mean gaps run over the instances "
        "where the gap exists (n=...), so read them next to the feasible counts.",
        "",
    ]
    if not boards:
        out += ["No results.", ""]
    for board in boards:
        out += [f"## {board.spec}", ""]
        if board.baseline is None:
            out += [f"(no `{DEFAULT_BASELINE}` results: the baseline gap column is empty)", ""]
        out += ["### Summary", "", _markdown_table(*summary_rows(board)), ""]
        out += ["### Per instance", "", _markdown_table(*instance_rows(board)), ""]
    return "\n".join(out)


def write_report(
    results_paths: str | Path | Sequence[str | Path],
    out_md: str | Path,
    *,
    title: str = "Leaderboard",
    machine_note: str | None = None,
    baseline: str | None = None,
) -> str:
    """Read results CSVs, write the markdown leaderboard to ``out_md`` (atomically) and return its text."""
    paths = [results_paths] if isinstance(results_paths, (str, Path)) else list(results_paths)
    text = render_markdown(
        read_results(paths),
        title=title,
        machine_note=machine_note,
        baseline=baseline,
        sources=[str(p) for p in paths],
    )
    atomic_write(out_md, lambda handle: handle.write(text.encode()))
    return text
