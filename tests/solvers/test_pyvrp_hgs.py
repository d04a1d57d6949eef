"""PyVRP solver: feasible and honest on cvrp/cvrptw/tsp, asymmetric matrices, fleet limits and time limits."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from routelab.problems import CVRPInstance, CVRPTWInstance, TSPInstance, check
from routelab.solvers import get_solver
from routelab.solvers.nearest import NearestNeighbourSolver
from routelab.solvers.pyvrp_hgs import PyVRPSolver

LIMIT = 1.0
SLACK = 3.0


def cvrp(n: int, seed: int, **kwargs) -> CVRPInstance:
    rng = np.random.default_rng(seed)
    demands = np.r_[0, rng.integers(1, 10, n - 1)]
    return CVRPInstance(name=f"cvrp{n}", coords=rng.random((n, 2)) * 100, demands=demands, capacity=30, **kwargs)


def cvrptw(n: int, seed: int) -> CVRPTWInstance:
    rng = np.random.default_rng(seed)
    coords = np.r_[[[50.0, 50.0]], rng.integers(0, 100, (n - 1, 2)).astype(float)]
    opens = np.r_[0, rng.integers(0, 250, n - 1)].astype(float)
    windows = np.c_[opens, opens + 40]
    windows[0, 1] = 400
    return CVRPTWInstance(
        name=f"cvrptw{n}",
        coords=coords,
        rounding="trunc1",
        demands=np.r_[0, rng.integers(1, 10, n - 1)],
        capacity=40,
        time_windows=windows,
        service_times=np.r_[0, np.full(n - 1, 5.0)],
        num_vehicles=n - 1,
    )


def assert_honest(instance, solution) -> None:
    score = check(instance, solution)
    assert score.feasible, score.violations
    assert solution.objective == pytest.approx(score.objective, abs=1e-9)


@pytest.mark.parametrize("make", [lambda: cvrp(20, 1), lambda: cvrptw(16, 2)])
def test_feasible_honest_and_not_worse_than_nearest_neighbour(make) -> None:
    instance = make()
    solution = PyVRPSolver().solve(instance, time_limit=LIMIT, seed=3)
    assert_honest(instance, solution)
    assert solution.objective <= NearestNeighbourSolver().solve(instance).objective + 1e-9
    assert solution.runtime_s < LIMIT + SLACK
    assert solution.stats["iterations"] > 0


def test_trunc1_scaling_is_exact() -> None:
    instance = cvrptw(12, 4)
    solution = PyVRPSolver().solve(instance, time_limit=LIMIT)
    assert solution.stats["scale"] == 10
    assert solution.stats["scaled_objective"] == round(10 * solution.objective)


def test_tsp_as_one_vehicle_cvrp_finds_the_eight_city_optimum() -> None:
    instance = TSPInstance(name="t8", coords=np.random.default_rng(5).random((8, 2)))
    solution = get_solver("pyvrp").solve(instance, time_limit=0.5)
    assert_honest(instance, solution)
    d = instance.distances
    best = min(float(d[[0, *p], [*p, 0]].sum()) for p in itertools.permutations(range(1, 8)))
    assert solution.objective == pytest.approx(best, rel=1e-6)


def test_asymmetric_matrix_with_a_non_zero_depot_and_a_fleet_limit() -> None:
    rng = np.random.default_rng(6)
    matrix = rng.uniform(1, 50, (12, 12))
    np.fill_diagonal(matrix, 0)
    demands = np.r_[rng.integers(1, 5, 4), 0, rng.integers(1, 5, 7)]
    instance = CVRPInstance(
        name="acvrp", distance_matrix=matrix, rounding="matrix", demands=demands, capacity=12, depot=4, num_vehicles=4
    )
    solution = PyVRPSolver().solve(instance, time_limit=LIMIT)
    assert_honest(instance, solution)
    assert len(solution.payload["routes"]) <= 4
    assert all(4 not in route for route in solution.payload["routes"])


def test_infeasible_answer_has_no_objective() -> None:
    """Too few vehicles for the load: PyVRP returns its best (infeasible) routes; we report objective None."""
    instance = cvrp(12, 7, num_vehicles=1)
    solution = PyVRPSolver().solve(instance, time_limit=0.3)
    assert solution.objective is None
    assert not solution.feasible
    assert solution.stats["violations"]
    assert "PenaltyBoundWarning" in solution.stats["pyvrp_warnings"]
