"""OR-Tools routing solver: feasibility, honest objectives, known optima, fallbacks, and 'no solution' answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from routelab.problems import CVRPInstance, CVRPTWInstance, TSPInstance, check
from routelab.solvers import get_solver
from routelab.solvers.nearest import NearestNeighbourSolver
from routelab.solvers.ortools_routing import NEAREST_START, ORToolsSolver, _Model

LIMIT = 1.0
SLACK = 3.0  # generous: model building and OR-Tools' own timer granularity, never a tight timing test


def tsp(n: int, seed: int, rounding: str = "exact") -> TSPInstance:
    rng = np.random.default_rng(seed)
    coords = rng.random((n, 2)) if rounding == "exact" else rng.integers(0, 1000, (n, 2)).astype(float)
    return TSPInstance(name=f"tsp{n}", coords=coords, rounding=rounding)


def atsp(n: int, seed: int) -> TSPInstance:
    rng = np.random.default_rng(seed)
    matrix = rng.uniform(1, 100, (n, n))
    np.fill_diagonal(matrix, 0)
    return TSPInstance(name=f"atsp{n}", distance_matrix=matrix, rounding="matrix")


def cvrp(n: int, seed: int) -> CVRPInstance:
    rng = np.random.default_rng(seed)
    demands = np.r_[0, rng.integers(1, 10, n - 1)]
    return CVRPInstance(name=f"cvrp{n}", coords=rng.random((n, 2)) * 100, demands=demands, capacity=30)


def cvrptw(n: int, seed: int) -> CVRPTWInstance:
    """Solomon-like: one-decimal lengths, windows of 40 reachable from the depot, horizon 400."""
    rng = np.random.default_rng(seed)
    coords = np.r_[[[50.0, 50.0]], rng.integers(0, 100, (n - 1, 2)).astype(float)]
    opens = np.r_[0, rng.integers(0, 250, n - 1)].astype(float)
    windows = np.c_[opens, opens + 40]
    windows[0, 1] = 400
    service = np.r_[0, np.full(n - 1, 5.0)]
    demands = np.r_[0, rng.integers(1, 10, n - 1)]
    return CVRPTWInstance(
        name=f"cvrptw{n}",
        coords=coords,
        rounding="trunc1",
        demands=demands,
        capacity=40,
        time_windows=windows,
        service_times=service,
        num_vehicles=n - 1,
    )


def brute_force_tsp(instance: TSPInstance) -> float:
    d = instance.distances
    n = instance.num_nodes
    return min(float(d[[0, *p], [*p, 0]].sum()) for p in itertools.permutations(range(1, n)))


def assert_honest(instance, solution) -> None:
    """Feasible, and the claimed objective is exactly what the independent scorer recomputes."""
    score = check(instance, solution)
    assert score.feasible, score.violations
    assert solution.feasible
    assert solution.objective == pytest.approx(score.objective, abs=1e-9)


@pytest.mark.parametrize("make", [lambda: tsp(15, 1), lambda: cvrp(20, 2), lambda: cvrptw(16, 3)])
def test_feasible_honest_and_not_worse_than_nearest_neighbour(make) -> None:
    instance = make()
    solution = ORToolsSolver().solve(instance, time_limit=LIMIT)
    assert_honest(instance, solution)
    baseline = NearestNeighbourSolver().solve(instance)
    assert solution.objective <= baseline.objective + 1e-9
    assert solution.runtime_s < LIMIT + SLACK
    assert solution.stats["scaled_objective"] > 0


@pytest.mark.parametrize("make", [lambda: tsp(8, 4), lambda: atsp(8, 5)])
def test_finds_the_brute_force_optimum_on_eight_cities(make) -> None:
    instance = make()
    solution = ORToolsSolver().solve(instance, time_limit=LIMIT)
    assert_honest(instance, solution)
    assert solution.objective == pytest.approx(brute_force_tsp(instance), rel=1e-9)
    assert sorted(solution.payload["tour"]) == list(range(8))


def test_trunc1_lengths_are_scaled_by_ten_and_exact() -> None:
    instance = cvrptw(12, 6)
    solution = ORToolsSolver().solve(instance, time_limit=LIMIT)
    assert solution.stats["scale"] == 10
    assert solution.stats["time_scale"] == 10
    # one-decimal lengths times 10 are integers, so OR-Tools' own cost is exact here
    assert solution.stats["scaled_objective"] == round(10 * solution.objective)


@pytest.mark.parametrize("make", [lambda: cvrptw(14, 7), lambda: tsp(12, 7)])
def test_nearest_neighbour_routes_rescue_a_failed_first_solution(monkeypatch, make) -> None:
    """If every first-solution strategy fails, the nearest-neighbour routes start the search instead."""
    monkeypatch.setattr(_Model, "first_solution", lambda self, strategy, seconds: (None, "fail_timeout"))
    instance = make()
    solution = ORToolsSolver().solve(instance, time_limit=LIMIT)
    assert_honest(instance, solution)
    assert solution.stats["first_solution"] == NEAREST_START
    assert len(solution.stats["first_solution_tried"]) == 3
    assert solution.objective <= NearestNeighbourSolver().solve(instance).objective + 1e-9


def test_unreachable_customer_returns_no_solution_instead_of_raising() -> None:
    base = cvrptw(8, 8)
    windows = base.time_windows.copy()
    windows[3] = [0.0, 1.0]  # closes before any vehicle can get there from the depot
    instance = CVRPTWInstance(
        name="unreachable",
        coords=base.coords,
        rounding="trunc1",
        demands=base.demands,
        capacity=base.capacity,
        time_windows=windows,
        service_times=base.service_times,
        num_vehicles=base.num_vehicles,
    )
    solution = ORToolsSolver().solve(instance, time_limit=0.5)
    assert solution.objective is None
    assert not solution.feasible
    assert solution.payload == {"routes": []}
    assert solution.stats["status"]


def test_fleet_limit_is_respected() -> None:
    instance = cvrp(20, 9)
    limited = CVRPInstance(
        name=instance.name, coords=instance.coords, demands=instance.demands, capacity=30, num_vehicles=5
    )
    solution = ORToolsSolver().solve(limited, time_limit=LIMIT)
    assert_honest(limited, solution)
    assert len(solution.payload["routes"]) <= 5


def test_options_through_the_registry_and_bad_options() -> None:
    solver = get_solver("ortools", first_solution="savings", metaheuristic="tabu_search")
    instance = cvrp(12, 10)
    solution = solver.solve(instance, time_limit=0.5)
    assert_honest(instance, solution)
    assert solution.stats["first_solution"] == "savings"
    assert solution.stats["metaheuristic"] == "tabu_search"
    with pytest.raises(ValueError, match="unknown OR-Tools strategy"):
        ORToolsSolver(first_solution="teleport")
    with pytest.raises(ValueError, match="scale"):
        ORToolsSolver(scale=0)


def test_supports_names_the_kind_and_size_limits() -> None:
    solver = ORToolsSolver()
    assert solver.supports(tsp(10, 11)) is None
    assert solver.needs


def acvrp_depot_four() -> CVRPInstance:
    rng = np.random.default_rng(12)
    matrix = rng.uniform(1, 50, (12, 12))
    np.fill_diagonal(matrix, 0)
    demands = np.r_[rng.integers(1, 5, 4), 0, rng.integers(1, 5, 7)]
    return CVRPInstance(
        name="acvrp", distance_matrix=matrix, rounding="matrix", demands=demands, capacity=12, depot=4, num_vehicles=4
    )


@pytest.mark.parametrize("fail_first", [False, True])
def test_asymmetric_matrix_with_a_non_zero_depot(monkeypatch, fail_first: bool) -> None:
    """Node <-> OR-Tools index mapping, also for the nearest-neighbour start, when the depot is not node 0."""
    if fail_first:
        monkeypatch.setattr(_Model, "first_solution", lambda self, strategy, seconds: (None, "fail_timeout"))
    instance = acvrp_depot_four()
    solution = ORToolsSolver().solve(instance, time_limit=0.5)
    assert_honest(instance, solution)
    assert len(solution.payload["routes"]) <= 4
    assert solution.stats["first_solution"] == (NEAREST_START if fail_first else "savings")
