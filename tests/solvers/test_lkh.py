"""LKH-3 via elkai: optimal on small tours, every rounding convention mapped, ATSP, seeds and the time limit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from routelab.problems import CVRPInstance, TSPInstance, check
from routelab.solvers import get_solver
from routelab.solvers.lkh import LKHSolver
from routelab.solvers.nearest import NearestNeighbourSolver

SLACK = 3.0


def brute_force(instance: TSPInstance) -> float:
    d = instance.distances
    n = instance.num_nodes
    return min(float(d[[0, *p], [*p, 0]].sum()) for p in itertools.permutations(range(1, n)))


def coords_for(rounding: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if rounding == "exact":
        return rng.random((n, 2))
    if rounding == "geo":  # TSPLIB DDD.MM latitude/longitude
        return np.c_[rng.uniform(30, 50, n), rng.uniform(-10, 20, n)]
    return rng.integers(0, 1000, (n, 2)).astype(float)


def assert_honest(instance, solution) -> None:
    score = check(instance, solution)
    assert score.feasible, score.violations
    assert solution.objective == pytest.approx(score.objective, abs=1e-9)
    assert solution.payload["tour"][0] == 0


@pytest.mark.parametrize("rounding", ["exact", "nint", "ceil", "att", "geo", "trunc1"])
def test_optimal_on_eight_cities_under_every_coordinate_convention(rounding: str) -> None:
    instance = TSPInstance(name=rounding, coords=coords_for(rounding, 8, np.random.default_rng(1)), rounding=rounding)
    solution = LKHSolver().solve(instance, time_limit=2.0)
    assert_honest(instance, solution)
    assert solution.objective == pytest.approx(brute_force(instance), rel=1e-9)


@pytest.mark.parametrize("integral", [True, False])
def test_asymmetric_matrix_is_solved_as_atsp(integral: bool) -> None:
    rng = np.random.default_rng(2)
    matrix = rng.integers(1, 100, (8, 8)).astype(float) if integral else rng.random((8, 8))
    np.fill_diagonal(matrix, 0)
    instance = TSPInstance(name="atsp", distance_matrix=matrix, rounding="matrix")
    solution = LKHSolver().solve(instance, time_limit=2.0)
    assert_honest(instance, solution)
    assert solution.objective == pytest.approx(brute_force(instance), rel=1e-9)
    assert solution.stats["scale"] == (1 if integral else 10**6)


def test_beats_nearest_neighbour_and_is_reproducible_per_seed() -> None:
    instance = TSPInstance(name="r60", coords=np.random.default_rng(3).random((60, 2)))
    first = LKHSolver(runs=2).solve(instance, time_limit=2.0, seed=7)
    again = LKHSolver(runs=2).solve(instance, time_limit=2.0, seed=7)
    assert_honest(instance, first)
    assert first.objective <= NearestNeighbourSolver().solve(instance).objective
    assert first.payload == again.payload


def test_time_limit_is_roughly_honoured() -> None:
    """1,000 runs on 400 cities take far longer than 1 s, so LKH's TOTAL_TIME_LIMIT is what stops it."""
    instance = TSPInstance(name="r400", coords=np.random.default_rng(4).random((400, 2)))
    solution = LKHSolver(runs=1000).solve(instance, time_limit=1.0)
    assert solution.runtime_s < 1.0 + SLACK
    assert_honest(instance, solution)


@pytest.mark.parametrize("n", [2, 3])
def test_tiny_instances_are_enumerated(n: int) -> None:
    matrix = np.random.default_rng(5).random((n, n))
    instance = TSPInstance(name="tiny", distance_matrix=matrix, rounding="matrix")
    solution = get_solver("lkh").solve(instance)
    assert_honest(instance, solution)
    assert solution.objective == pytest.approx(brute_force(instance))


def test_declines_cvrp_with_a_reason() -> None:
    instance = CVRPInstance(
        name="c", coords=np.random.default_rng(6).random((5, 2)), demands=[0, 1, 1, 1, 1], capacity=2
    )
    assert "tsp" in LKHSolver().supports(instance)
    with pytest.raises(ValueError):
        LKHSolver(runs=0)
