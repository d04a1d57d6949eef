from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from bench_helpers import comparable, tsp, write_spec

from routelab.bench import COLUMNS, read_results, run_spec
from routelab.problems import FormatError, Solution, check
from routelab.solvers.nearest import NearestNeighbourSolver

SPEC = """
name = "small"
time_limit = 1
seeds = [0, 1]

[[instances]]
glob = "tsp/*.json"
references = { t1 = 250.0 }

[[instances]]
glob = "cvrp/*.json"

[[solvers]]
name = "nearest"

[[solvers]]
name = "lying"
label = "liar"
"""


def spec_path(tmp_path: Path, text: str = SPEC) -> Path:
    return write_spec(tmp_path / "spec.toml", text)


def test_rows_carry_the_recomputed_objective(tmp_path: Path, root: Path) -> None:
    out = tmp_path / "results.csv"
    calls = []
    rows = run_spec(spec_path(tmp_path), out, workers=1, root=root, progress=lambda *a: calls.append(a))
    assert len(rows) == 4 * 2 * 2
    assert {r.status for r in rows} == {"ok"}
    assert [(r.instance, r.solver, r.seed) for r in rows[:4]] == [
        ("t1", "nearest", 0),
        ("t1", "nearest", 1),
        ("t1", "liar", 0),
        ("t1", "liar", 1),
    ]
    t1 = next(r for r in rows if r.key == ("t1", "nearest", 0))
    from routelab.problems import load_instance

    instance = load_instance(root / "tsp" / "t1.json")
    expected = check(instance, NearestNeighbourSolver().solve(instance)).objective
    assert t1.objective == pytest.approx(expected)
    assert (t1.kind, t1.n, t1.time_limit, t1.feasible, t1.violations) == ("tsp", 8, 1.0, True, 0)
    assert t1.reference == 250.0
    assert t1.gap_to_reference == pytest.approx(100 * (expected - 250) / 250)
    assert t1.source == "tsp/t1.json#0"
    assert t1.spec == "small" and t1.hostname and t1.timestamp and t1.runtime_s >= 0
    liar = next(r for r in rows if r.key == ("t1", "liar", 0))
    assert liar.solver_name == "lying"
    assert liar.solver_objective == 1.0
    assert liar.objective == pytest.approx(expected)
    assert '"lower_bound": 0.5' in liar.stats
    c1 = next(r for r in rows if r.instance == "c1")
    assert c1.kind == "cvrp" and c1.reference is None and c1.gap_to_reference is None
    # the file holds exactly the returned rows, and progress saw every one
    assert out.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert [r.as_dict() for r in read_results(out)] == [r.as_dict() for r in rows]
    assert calls[0] == (0, 16, None)
    assert [c[0] for c in calls[1:]] == list(range(1, 17))


def test_statuses(tmp_path: Path, root: Path) -> None:
    text = 'name = "statuses"\ntime_limit = 1\nseeds = [0, 1]\n[[instances]]\nglob = "tsp/t1.json"\n'
    for name in ("broken", "giveup", "crashing", "cvrp-only"):
        text += f'[[solvers]]\nname = "{name}"\n'
    rows = run_spec(spec_path(tmp_path, text), tmp_path / "r.csv", workers=1, root=root)
    by_solver = {(r.solver, r.seed): r for r in rows}
    broken = by_solver[("broken", 0)]
    assert (broken.status, broken.feasible, broken.solver_objective) == ("infeasible", False, 1.0)
    assert broken.violations == 3 and broken.first_violation == "city 0 visited 3 times"
    assert broken.objective is not None and broken.gap_to_reference is None
    assert by_solver[("giveup", 0)].status == "no_solution"
    assert by_solver[("giveup", 0)].objective is None
    assert by_solver[("crashing", 0)].status == "ok"
    crashed = by_solver[("crashing", 1)]
    assert crashed.status == "error"
    assert crashed.message == "RuntimeError: boom | on two lines"
    unsupported = by_solver[("cvrp-only", 0)]
    assert unsupported.status == "unsupported"
    assert "not tsp" in unsupported.message
    # every row is one physical line, whatever the messages held
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 1 + 8


def test_process_pool_matches_in_process(tmp_path: Path, root: Path) -> None:
    one = run_spec(spec_path(tmp_path), tmp_path / "one.csv", workers=1, root=root)
    pool = run_spec(spec_path(tmp_path), tmp_path / "pool.csv", workers=2, root=root)
    assert [comparable(r) for r in pool] == [comparable(r) for r in one]
    assert sorted(r.key for r in read_results(tmp_path / "pool.csv")) == sorted(r.key for r in one)


def test_second_run_does_nothing(tmp_path: Path, root: Path) -> None:
    out = tmp_path / "r.csv"
    first = run_spec(spec_path(tmp_path), out, workers=1, root=root)
    before = out.read_bytes()
    calls = []
    again = run_spec(spec_path(tmp_path), out, workers=1, root=root, progress=lambda *a: calls.append(a))
    assert out.read_bytes() == before
    assert [r.as_dict() for r in again] == [r.as_dict() for r in first]
    assert calls == [(16, 16, None)]


def test_torn_last_line_is_cut_and_rerun(tmp_path: Path, root: Path) -> None:
    out = tmp_path / "r.csv"
    run_spec(spec_path(tmp_path), out, workers=1, root=root)
    lines = out.read_bytes().splitlines(keepends=True)
    kept = b"".join(lines[:-1])
    out.write_bytes(kept + lines[-1][:17])  # the last row torn mid-write
    assert len(read_results(out)) == 15  # readers skip the torn line
    rows = run_spec(spec_path(tmp_path), out, workers=1, root=root)
    assert len(rows) == 16
    final = out.read_bytes()
    assert final.startswith(kept)
    assert len(final.splitlines()) == 17
    assert len({r.key for r in read_results(out)}) == 16


def test_torn_header_is_rewritten(tmp_path: Path, root: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("spec,instance,ki")
    rows = run_spec(spec_path(tmp_path), out, workers=1, root=root)
    assert out.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert len(read_results(out)) == len(rows) == 16


def test_foreign_csv_is_not_touched(tmp_path: Path, root: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("a,b\n1,2")
    with pytest.raises(FormatError) as info:
        run_spec(spec_path(tmp_path), out, workers=1, root=root)
    assert info.value.field == "header"
    assert out.read_text() == "a,b\n1,2"


def test_changed_time_limit_warns_and_keeps_rows(tmp_path: Path, root: Path) -> None:
    out = tmp_path / "r.csv"
    run_spec(spec_path(tmp_path), out, workers=1, root=root)
    with pytest.warns(UserWarning, match="16 recorded rows"):
        rows = run_spec(spec_path(tmp_path, SPEC.replace("time_limit = 1", "time_limit = 3")), out, root=root)
    assert {r.time_limit for r in rows} == {1.0}


def test_generator_entries(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated instances, via a stand-in for routelab.data.generate (the real one may not exist yet)."""
    seen = []

    def generate(kind: str, size: int, count: int, seed: int, **options: object) -> list:
        seen.append((kind, size, count, seed, options))
        return [tsp(f"{kind}{size}-{seed}-{k}", size, seed + k) for k in range(count)]

    module = types.ModuleType("routelab.data.generate")
    module.generate = generate
    monkeypatch.setitem(sys.modules, "routelab.data.generate", module)
    text = 'name = "gen"\ntime_limit_per_node = 0.1\n[[instances]]\n'
    text += 'generator = { kind = "tsp", size = 6, count = 3, seed = 7, spread = "uniform" }\n'
    text += '[[solvers]]\nname = "nearest"\n'
    rows = run_spec(spec_path(tmp_path, text), tmp_path / "r.csv", workers=1, root=root)
    assert [r.instance for r in rows] == ["tsp6-7-0", "tsp6-7-1", "tsp6-7-2"]
    assert {r.status for r in rows} == {"ok"}
    assert rows[1].source == "generate(kind=tsp, size=6, count=3, seed=7)[1]"
    assert rows[0].time_limit == pytest.approx(0.6)
    assert seen[0] == ("tsp", 6, 3, 7, {"spread": "uniform"})


def test_instance_changed_after_planning_is_an_error_row(tmp_path: Path, root: Path) -> None:
    from routelab.bench import plan_jobs, run_job
    from routelab.bench.spec import load_spec
    from routelab.problems import save_instance

    jobs = plan_jobs(load_spec(spec_path(tmp_path)), root)
    save_instance(tsp("renamed", 8, 1), root / "tsp" / "t1.json")
    row = run_job(jobs[0])
    assert row.status == "error"
    assert "'renamed'" in row.message


def test_solution_for_another_instance_is_infeasible(tmp_path: Path, root: Path) -> None:
    from routelab.bench.jobs import ResultRow, _score_into

    row = ResultRow("s", "t1", "tsp", 8, "x", "x", "{}", 0, 1.0, "error")
    solution = Solution(kind="tsp", instance="other", solver="x", payload={"tour": [0]}, objective=3.0)
    _score_into(row, tsp("t1", 8, 1), solution, None)
    assert row.status == "infeasible" and row.violations == 1 and "instance" in row.first_violation


def test_violation_count_includes_the_ones_the_scorer_summarised() -> None:
    from routelab.bench.jobs import ResultRow, _score_into

    row = ResultRow("s", "big", "tsp", 40, "x", "x", "{}", 0, 1.0, "error")
    solution = Solution(kind="tsp", instance="big", solver="x", payload={"tour": [0] * 30}, objective=3.0)
    _score_into(row, tsp("big", 40, 1), solution, None)
    assert row.status == "infeasible"
    assert row.violations == 1 + 39  # city 0 repeated, 39 cities never visited
    assert row.first_violation == "city 0 visited 30 times"


def test_a_dying_worker_costs_only_its_own_job(tmp_path: Path, root: Path) -> None:
    text = 'name = "dying"\ntime_limit = 1\nseeds = [0, 1, 2, 3]\n[[instances]]\nglob = "tsp/t[12].json"\n'
    text += '[[solvers]]\nname = "dying"\n'
    rows = run_spec(spec_path(tmp_path, text), tmp_path / "r.csv", workers=2, root=root)
    assert len(rows) == 8
    errors = {r.key for r in rows if r.status == "error"}
    assert errors == {("t1", "dying", 1), ("t2", "dying", 1)}
    assert all("worker process died" in r.message for r in rows if r.status == "error")
    assert {r.status for r in rows if r.key not in errors} == {"ok"}
    assert len(read_results(tmp_path / "r.csv")) == 8


def test_real_generator_entry(tmp_path: Path, root: Path) -> None:
    pytest.importorskip("routelab.data.generate")
    text = 'name = "gen"\ntime_limit = 1\n[[instances]]\ngenerator = { kind = "cvrp", size = 8, count = 2, seed = 3 }\n'
    text += '[[solvers]]\nname = "nearest"\n'
    rows = run_spec(spec_path(tmp_path, text), tmp_path / "r.csv", workers=1, root=root)
    assert len(rows) == 2 and {r.status for r in rows} == {"ok"} and {r.kind for r in rows} == {"cvrp"}
    assert len({r.instance for r in rows}) == 2
