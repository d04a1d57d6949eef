"""Coordination solvers: the CP-SAT model is optimal by brute force on tiny instances, heuristics never beat it,
local search never loses to FCFS, and every answer is checked by the shared scorer."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from routelab.data.coordination_gen import generate_coordination
from routelab.problems import CoordinationInstance, check
from routelab.solvers import get_solver
from routelab.solvers.coordination_heuristics import fcfs_dynamic, fcfs_planned


def brute_force(instance: CoordinationInstance) -> float:
    """The best mean completion over all 2^C orders (the evaluator gives inf for deadlocks)."""
    rows = np.array(list(itertools.product((0, 1), repeat=instance.num_conflicts)), dtype=np.int8)
    return float(instance.evaluator.evaluate(rows).min())


@pytest.mark.parametrize(("robots", "seed"), [(4, 5), (4, 6), (5, 4), (5, 9), (3, 0)])
def test_milp_is_optimal_on_tiny_instances(robots: int, seed: int) -> None:
    inst = generate_coordination(robots, 1, seed)[0]
    assert inst.num_conflicts <= 14
    sol = get_solver("milp").solve(inst, time_limit=10)
    score = check(inst, sol)
    assert score.feasible and sol.stats["status"] == "optimal" and sol.stats["gap"] == 0
    assert score.objective == pytest.approx(brute_force(inst))
    assert sol.stats["lower_bound"] == pytest.approx(score.objective)
    for name in ("fcfs", "coord-ls", "coord-random"):
        other = get_solver(name).solve(inst, time_limit=1)
        assert check(inst, other).feasible and other.objective >= score.objective - 1e-9


def test_following_is_used_by_the_milp_when_enabled() -> None:
    spec = {
        "coords": [[0, 0], [1, 0], [2, 0], [3, 0], [1, 1]],
        "edges": [[0, 1], [1, 2], [2, 3], [4, 1]],
        "paths": [[0, 1, 2], [4, 1, 2, 3]],
    }
    inst = CoordinationInstance(name="corridor", follow_gap=0.25, **spec)
    sol = get_solver("milp").solve(inst, time_limit=5)
    assert check(inst, sol).feasible and sol.objective == pytest.approx((2.0 + 3.25) / 2)
    assert sol.payload["modes"] == [1, 0] and sol.stats["time_scale"] == 100


def test_heuristics_on_a_crowded_floor() -> None:
    inst = generate_coordination(40, 1, 3)[0]
    planned = check(inst, get_solver("fcfs").solve(inst))
    dynamic = check(inst, get_solver("fcfs", mode="dynamic").solve(inst))
    best = get_solver("fcfs", mode="best").solve(inst)
    assert planned.feasible and dynamic.feasible and best.objective == min(planned.objective, dynamic.objective)
    ls = get_solver("coord-ls").solve(inst, time_limit=1.5, seed=1)
    assert check(inst, ls).feasible and ls.objective <= best.objective + 1e-9
    assert ls.stats["start_objective"] == pytest.approx(best.objective)
    rnd = get_solver("coord-random", samples=4).solve(inst, seed=2)
    assert check(inst, rnd).feasible
    assert inst.free_flow_completion.mean() <= ls.objective
    # FCFS orders follow one total order of the intervals, so they can never deadlock
    for orders in (fcfs_planned(inst), fcfs_dynamic(inst)):
        assert math.isfinite(inst.evaluator.evaluate(orders))


def test_milp_timeout_reports_an_honest_gap() -> None:
    inst = generate_coordination(60, 1, 1)[0]
    sol = get_solver("milp").solve(inst, time_limit=1.5)
    score = check(inst, sol)
    assert score.feasible and sol.stats["status"] in ("optimal", "feasible")
    assert sol.stats["lower_bound"] <= score.objective + 1e-9
    assert sol.stats["lower_bound"] >= inst.free_flow_completion.mean() - 1e-9
    assert 0 <= sol.stats["gap"] < 1
    assert score.objective <= sol.stats["warm_start"]["objective"] + 1e-9


def test_bad_options_and_kinds() -> None:
    with pytest.raises(ValueError, match="mode must be one of"):
        get_solver("fcfs", mode="lifo")
    from routelab.data.generate import generate

    tsp = generate("tsp", 5, 1, 0)[0]
    assert "solves coordination" in get_solver("coord-ls").supports(tsp)
