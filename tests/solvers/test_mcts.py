"""Heatmap-guided MCTS: feasible, better than nearest neighbour, optimal on tiny tours, honest lengths, refusals."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from routelab.problems import TSPInstance, check
from routelab.solvers import get_solver
from routelab.solvers.base import UnsupportedInstance
from routelab.solvers.heatmaps import nearest_neighbours
from routelab.solvers.mcts import MCTSSolver, _warm_up


def brute_force(instance: TSPInstance) -> float:
    d = instance.distances
    n = instance.num_nodes
    return min(float(d[[0, *p], [*p, 0]].sum()) for p in itertools.permutations(range(1, n)))


def assert_honest(instance: TSPInstance, solution) -> None:
    score = check(instance, solution)
    assert score.feasible, score.violations
    assert solution.objective == pytest.approx(score.objective, abs=1e-9)
    assert solution.payload["tour"][0] == 0


@pytest.fixture(scope="module", autouse=True)
def compiled() -> None:
    """Compile the kernels before any timed test: a cold numba compile (~5 s) counts against ``time_limit``."""
    _warm_up()


@pytest.fixture(scope="module")
def random200() -> TSPInstance:
    return TSPInstance(name="r200", coords=np.random.default_rng(0).random((200, 2)))


def test_feasible_and_clearly_better_than_nearest_neighbour(random200: TSPInstance) -> None:
    solution = MCTSSolver().solve(random200, time_limit=2.0, seed=1)
    assert_honest(random200, solution)
    nearest = get_solver("nearest").solve(random200)
    assert solution.objective < 0.9 * nearest.objective
    assert solution.stats["chains"] > 0 and solution.stats["actions_per_s"] > 0
    assert solution.stats["search_length"] == pytest.approx(solution.objective, rel=1e-9)
    assert solution.runtime_s < 2.0 + 1.0


@pytest.mark.parametrize("rounding", ["exact", "nint", "ceil", "att", "trunc1"])
def test_optimal_on_eight_cities(rounding: str) -> None:
    rng = np.random.default_rng(1)
    coords = rng.random((8, 2)) if rounding == "exact" else rng.integers(0, 1000, (8, 2)).astype(float)
    instance = TSPInstance(name=rounding, coords=coords, rounding=rounding)
    solution = MCTSSolver().solve(instance, time_limit=0.3, seed=0)
    assert_honest(instance, solution)
    assert solution.objective == pytest.approx(brute_force(instance), rel=1e-9)


def test_nint_kernel_lengths_match_the_scorer() -> None:
    coords = np.random.default_rng(2).integers(0, 10_000, (150, 2)).astype(float)
    instance = TSPInstance(name="nint150", coords=coords, rounding="nint")
    solution = MCTSSolver().solve(instance, time_limit=0.5, seed=3)
    assert_honest(instance, solution)
    assert solution.objective == float(int(solution.objective))
    assert solution.stats["search_length"] == solution.objective


def test_deterministic_for_a_seed_with_a_chain_cap(random200: TSPInstance) -> None:
    solver = MCTSSolver(max_chains=3000, restart_after=500, alpha=0.5)
    first = solver.solve(random200, time_limit=30.0, seed=7)
    second = solver.solve(random200, time_limit=30.0, seed=7)
    assert first.stats["chains"] == 3000 and first.stats["restarts"] > 0
    assert first.payload == second.payload
    assert first.stats["actions"] == second.stats["actions"]


@pytest.mark.parametrize("options", [{"heatmap": "zero"}, {"use_heatmap_candidates": False, "candidates": 8}])
def test_ablations_stay_feasible(random200: TSPInstance, options: dict) -> None:
    solution = MCTSSolver(**options).solve(random200, time_limit=0.5, seed=0)
    assert_honest(random200, solution)


def test_file_heatmap_with_fewer_columns(random200: TSPInstance, tmp_path) -> None:
    neighbours, dist = nearest_neighbours(random200.coords, 6)
    path = tmp_path / "heat.npz"
    np.savez(path, neighbours=neighbours, weights=np.exp(-dist * 10))
    solution = MCTSSolver(heatmap=str(path), candidates=20).solve(random200, time_limit=0.5, seed=0)
    assert_honest(random200, solution)
    assert solution.stats["candidates"] == 6 and solution.stats["heatmap"] == "heat"


def test_refusals() -> None:
    solver = MCTSSolver()
    matrix = np.random.default_rng(4).random((6, 6))
    np.fill_diagonal(matrix, 0)
    asymmetric = TSPInstance(name="atsp", distance_matrix=matrix, rounding="matrix")
    assert "symmetric coordinate" in solver.supports(asymmetric)
    with pytest.raises(UnsupportedInstance):
        solver.solve(asymmetric, time_limit=1.0)
    three = TSPInstance(name="three", coords=np.random.default_rng(5).random((3, 2)))
    assert "at least 4 cities" in solver.supports(three)
    duplicated = TSPInstance(name="dup", coords=np.array([[0, 0], [1, 0], [1, 1], [0, 1], [1, 0]], dtype=float))
    assert "duplicate cities" in solver.supports(duplicated)
    geo = TSPInstance(name="geo", coords=np.c_[np.linspace(30, 40, 6), np.linspace(0, 10, 6)], rounding="geo")
    assert "lkh" in solver.supports(geo)
    assert solver.supports(TSPInstance(name="ok", coords=np.random.default_rng(6).random((5, 2)))) is None


def test_bad_options_are_rejected() -> None:
    with pytest.raises(ValueError):
        MCTSSolver(candidates=0)
    with pytest.raises(ValueError):
        MCTSSolver(beta=-1.0)
    with pytest.raises(TypeError):
        get_solver("mcts", no_such_option=1)


@pytest.mark.parametrize("restart", ["sample", "kick"])
def test_both_restart_modes_restart_and_stay_feasible(restart):
    from routelab.data.generate import generate

    (instance,) = generate("tsp", 60, 1, 4)
    solver = get_solver("mcts", restart=restart, restart_after=20, max_chains=3000)
    solution = solver.solve(instance, time_limit=20, seed=1)
    assert check(instance, solution).feasible
    assert solution.stats["restarts"] > 0 and solution.stats["restart"] == restart
    assert solution.objective == pytest.approx(solution.stats["search_length"])


def test_restart_option_is_checked():
    with pytest.raises(ValueError, match="restart"):
        get_solver("mcts", restart="reboot")
