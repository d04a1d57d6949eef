from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from routelab.bench import ResultRow, ResultWriter, instance_rows, leaderboards, summary_rows, write_report


def row(instance: str, solver: str, seed: int, objective: float | None, status: str = "ok", **kw) -> ResultRow:
    return ResultRow(
        spec="hand",
        instance=instance,
        kind="tsp",
        n=10,
        solver=solver,
        solver_name=kw.pop("solver_name", solver),
        options="{}",
        seed=seed,
        time_limit=1.0,
        status=status,
        objective=objective,
        feasible=status == "ok",
        runtime_s=kw.pop("runtime_s", 1.0),
        reference={"A": 100.0, "B": 200.0}.get(instance),
        **kw,
    )


ROWS = [
    row("A", "ortools", 0, 110.0, runtime_s=2.0),
    row("A", "ortools", 1, 120.0, runtime_s=4.0),
    row("A", "nearest", 0, 138.0),
    row("A", "nearest", 1, 90.0, status="infeasible"),
    row("B", "ortools", 0, 200.0, runtime_s=2.0),
    row("B", "ortools", 1, 200.0, runtime_s=4.0),
    row("B", "nearest", 0, 220.0),
    row("B", "nearest", 1, 220.0),
]


def test_gaps_by_hand() -> None:
    (board,) = leaderboards(ROWS)
    assert board.baseline == "ortools"
    cells = {(c.instance, c.solver): c for c in board.cells}
    assert cells[("A", "ortools")].objective == 115.0
    assert cells[("A", "ortools")].gap_to_reference == pytest.approx(15.0)
    assert cells[("A", "ortools")].runtime_s == 3.0
    assert cells[("A", "nearest")].objective == 138.0  # the infeasible seed is left out of the mean
    assert cells[("A", "nearest")].gap_to_reference == pytest.approx(38.0)
    assert cells[("A", "nearest")].gap_to_baseline == pytest.approx(20.0)
    assert cells[("A", "nearest")].feasible == 1
    assert cells[("B", "nearest")].gap_to_baseline == pytest.approx(10.0)
    summary = {s.solver: s for s in board.summary}
    assert summary["ortools"].mean_gap_to_reference == pytest.approx(7.5)
    assert summary["nearest"].mean_gap_to_reference == pytest.approx(24.0)
    assert summary["nearest"].mean_gap_to_baseline == pytest.approx(15.0)
    assert (summary["nearest"].feasible, summary["nearest"].jobs) == (3, 4)
    assert summary["ortools"].mean_runtime_s == 3.0


def test_table_rows_for_the_cli() -> None:
    (board,) = leaderboards(ROWS)
    headers, rows = summary_rows(board)
    assert headers == [
        "solver",
        "mean objective",
        "mean gap to ref %",
        "mean gap to best %",
        "mean gap to ortools %",
        "feasible / jobs",
        "mean time s",
    ]
    assert rows == [
        ["ortools", "157.5", "+7.50 (n=2)", "+0.00", "+0.00", "4/4", "3.00"],
        ["nearest", "179", "+24.00 (n=2)", "+15.00", "+15.00 (n=2)", "3/4", "1.00"],
    ]
    headers, rows = instance_rows(board)
    assert headers[0:2] == ["instance", "solver"]
    assert ["A", "nearest", "138", "", "100", "+38.00", "+20.00", "+20.00", "1/2 (infeasible 1, ok 1)", "1.00"] in rows


def test_baseline_falls_back_to_an_ortools_label() -> None:
    relabelled = [
        row(
            r.instance,
            "ortools-savings" if r.solver == "ortools" else r.solver,
            r.seed,
            r.objective,
            r.status,
            solver_name=r.solver,
        )
        for r in ROWS
    ]
    (board,) = leaderboards(relabelled)
    assert board.baseline == "ortools-savings"
    (board,) = leaderboards([r for r in ROWS if r.solver == "nearest"])
    assert board.baseline is None
    assert all(c.gap_to_baseline is None for c in board.cells)


def test_write_report_reads_csvs(tmp_path: Path) -> None:
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    with ResultWriter(first) as writer:
        for r in ROWS[:4]:
            writer.write(r)
    with ResultWriter(second) as writer:
        for r in ROWS[4:]:
            writer.write(r)
    text = write_report([first, second], tmp_path / "board.md", title="Hand board", machine_note="2 vCPU VM")
    assert (tmp_path / "board.md").read_text() == text
    assert text.startswith("# Hand board\n")
    assert "Machine: 2 vCPU VM" in text
    assert "## hand" in text
    assert "| nearest | 179 | +24.00 (n=2) | +15.00 | +15.00 (n=2) | 3/4 | 1.00 |" in text
    assert "| A | nearest | 138 |  | 100 | +38.00 | +20.00 | +20.00 | 1/2 (infeasible 1, ok 1) | 1.00 |" in text


def test_later_rows_override_earlier_ones() -> None:
    (board,) = leaderboards([*ROWS, row("A", "nearest", 1, 100.0)])
    cells = {(c.instance, c.solver): c for c in board.cells}
    assert cells[("A", "nearest")].objective == 119.0
    assert cells[("A", "nearest")].feasible == 2


def test_unsupported_jobs_are_named_in_the_summary() -> None:
    rows = [*ROWS, row("A", "milp", 0, None, status="unsupported"), row("B", "milp", 0, None, status="unsupported")]
    (board,) = leaderboards(rows)
    _, table = summary_rows(board)
    assert ["milp", "-", "-", "-", "-", "0/2 (2 unsupported)", "1.00"] in table


def test_exact_solvers_show_what_they_proved() -> None:
    rows = [
        *ROWS,
        row("A", "milp", 0, 100.0, stats='{"status": "optimal", "lower_bound": 100.0}'),
        row("B", "milp", 0, 210.0, stats='{"status": "feasible", "lower_bound": 190.5}'),
    ]
    (board,) = leaderboards(rows)
    cells = {(c.instance, c.solver): c for c in board.cells}
    assert cells[("A", "milp")].bound == "optimal"
    assert cells[("B", "milp")].bound == ">= 190.5"
    assert cells[("A", "ortools")].bound == ""


def test_gap_to_the_best_found_by_hand() -> None:
    (board,) = leaderboards(ROWS)
    cells = {(c.instance, c.solver): c for c in board.cells}
    assert cells[("A", "ortools")].gap_to_best == 0.0  # 115 is the best mean on A
    assert cells[("A", "nearest")].gap_to_best == pytest.approx(100 * (138 / 115 - 1))
    assert cells[("B", "nearest")].gap_to_best == pytest.approx(10.0)
    summary = {s.solver: s for s in board.summary}
    assert summary["nearest"].mean_gap_to_best == pytest.approx(15.0)
    assert summary["ortools"].mean_objective == pytest.approx(157.5)


def test_a_maximised_objective_ranks_higher_values_first() -> None:
    rows = [
        replace(row("A", "follower", 0, 3.2), kind="lifelong_mapf"),
        replace(row("A", "rhcr", 0, 2.4), kind="lifelong_mapf"),
    ]
    (board,) = leaderboards(rows)
    cells = {c.solver: c for c in board.cells}
    assert cells["follower"].gap_to_best == 0.0
    assert cells["rhcr"].gap_to_best == pytest.approx(25.0)  # 2.4 is 25 % below the best throughput 3.2
    assert [s.solver for s in sorted(board.summary, key=lambda s: s.mean_gap_to_best)] == ["follower", "rhcr"]
