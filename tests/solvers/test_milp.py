"""The ``milp`` solver against brute force on tiny instances, and its honesty when time runs out.

Brute force: every permutation for (A)TSP; for (A)CVRP(TW) the best route over each customer subset (all orders,
checked by the shared scorer's timing rules) combined by a dynamic programme over set partitions.
"""

from __future__ import annotations

import math
from functools import cache
from itertools import permutations

import numpy as np
import pytest

from routelab.problems import CVRPInstance, CVRPTWInstance, TSPInstance, check
from routelab.problems.cvrptw import TIME_TOLERANCE, route_schedule
from routelab.solvers.base import UnsupportedInstance
from routelab.solvers.milp import MILPSolver
from routelab.solvers.registry import get_solver

# -- brute force --------------------------------------------------------------------------------------------------


def brute_tsp(dist: np.ndarray) -> float:
    n = len(dist)
    best = math.inf
    for perm in permutations(range(1, n)):
        tour = (0, *perm)
        best = min(best, sum(dist[tour[k], tour[(k + 1) % n]] for k in range(n)))
    return float(best)


def route_ok(instance: CVRPInstance, route: tuple[int, ...]) -> bool:
    if instance.demands[list(route)].sum() > instance.capacity:
        return False
    if instance.kind != "cvrptw":
        return True
    starts, back = route_schedule(instance, list(route))
    tw = instance.time_windows
    late = any(s > tw[v, 1] + TIME_TOLERANCE for v, s in zip(route, starts, strict=True))
    return not late and back <= tw[instance.depot, 1] + TIME_TOLERANCE


def brute_vrp(instance: CVRPInstance) -> float:
    """Optimal total distance by enumerating every route per customer subset and every set partition."""
    dist = instance.distances
    depot = instance.depot
    customers = [v for v in range(instance.num_nodes) if v != depot]
    m = len(customers)
    route_cost = np.full(1 << m, math.inf)
    for mask in range(1, 1 << m):
        members = [customers[b] for b in range(m) if mask >> b & 1]
        for order in permutations(members):
            if route_ok(instance, order):
                path = [depot, *order, depot]
                route_cost[mask] = min(route_cost[mask], sum(dist[path[k], path[k + 1]] for k in range(len(order) + 1)))
    fleet = instance.num_vehicles or m

    @cache
    def best(mask: int, vehicles: int) -> float:
        if mask == 0:
            return 0.0
        if vehicles == 0:
            return math.inf
        low = mask & -mask
        rest = mask ^ low
        out = math.inf
        sub = rest
        while True:
            block = sub | low
            if route_cost[block] < math.inf:
                out = min(out, route_cost[block] + best(mask ^ block, vehicles - 1))
            if sub == 0:
                break
            sub = (sub - 1) & rest
        return out

    return float(best((1 << m) - 1, fleet))


# -- instances ----------------------------------------------------------------------------------------------------


def random_cvrp(m: int, seed: int, *, asymmetric: bool = False, zero_demands: int = 0, **kw: object) -> CVRPInstance:
    rng = np.random.default_rng(seed)
    coords = rng.integers(0, 100, (m + 1, 2)).astype(float)
    demands = rng.integers(1, 10, m + 1)
    demands[0] = 0
    demands[1 : 1 + zero_demands] = 0
    capacity = max(int(demands.max()), int(demands.sum() / 3))
    if asymmetric:
        base = np.rint(np.hypot(*(coords[:, None, :] - coords[None, :, :]).transpose(2, 0, 1)))
        matrix = base + rng.integers(0, 15, base.shape) * (1 - np.eye(m + 1))
        return CVRPInstance(
            name=f"acvrp{m}", distance_matrix=matrix, rounding="matrix", demands=demands, capacity=capacity, **kw
        )
    return CVRPInstance(name=f"cvrp{m}", coords=coords, rounding="nint", demands=demands, capacity=capacity, **kw)


def random_cvrptw(m: int, seed: int) -> CVRPTWInstance:
    rng = np.random.default_rng(seed)
    coords = rng.uniform(0, 50, (m + 1, 2))
    demands = rng.integers(1, 10, m + 1)
    demands[0] = 0
    direct = np.hypot(*(coords - coords[0]).T)
    opens = rng.uniform(0, 120, m + 1)
    windows = np.stack([opens, opens + rng.uniform(20, 60, m + 1)], axis=1)
    windows[:, 0] = np.minimum(windows[:, 0], 150 - direct)  # every customer reachable on its own
    windows[:, 1] = np.maximum(windows[:, 1], direct + 1)
    windows[0] = [0.0, 250.0]
    service = np.full(m + 1, 5.0)
    service[0] = 0.0
    return CVRPTWInstance(
        name=f"cvrptw{m}",
        coords=coords,
        rounding="trunc1",
        demands=demands,
        capacity=int(demands.sum() / 2),
        time_windows=windows,
        service_times=service,
    )


def assert_honest(instance: object, solution: object) -> None:
    """The shared scorer agrees with the solver, and the bound never exceeds what was returned."""
    score = check(instance, solution)
    assert score.feasible == solution.feasible
    if solution.feasible:
        assert solution.objective == pytest.approx(score.objective, abs=1e-9)
        assert solution.stats["lower_bound"] <= solution.objective + 1e-9
    assert solution.stats["status"] in {"optimal", "feasible", "timeout_no_solution", "infeasible"}


# -- TSP ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rounding", ["nint", "exact"])
def test_tsp_8_cities_matches_brute_force(rounding: str) -> None:
    coords = np.random.default_rng(3).uniform(0, 100, (8, 2))
    instance = TSPInstance(name="t8", coords=coords, rounding=rounding)
    solution = MILPSolver().solve(instance, time_limit=30)
    assert_honest(instance, solution)
    assert solution.stats["status"] == "optimal"
    assert solution.objective == pytest.approx(brute_tsp(instance.distances), abs=1e-6)
    assert sorted(solution.payload["tour"]) == list(range(8))


def test_atsp_7_cities_matches_brute_force() -> None:
    rng = np.random.default_rng(5)
    matrix = rng.integers(1, 100, (7, 7)).astype(float)
    np.fill_diagonal(matrix, 0)
    instance = TSPInstance(name="a7", distance_matrix=matrix, rounding="matrix")
    assert not instance.is_symmetric
    solution = MILPSolver().solve(instance, time_limit=30)
    assert_honest(instance, solution)
    assert solution.stats["status"] == "optimal"
    assert solution.objective == brute_tsp(matrix)


@pytest.mark.parametrize("n", [2, 3])
def test_tsp_tiny(n: int) -> None:
    instance = TSPInstance(name="tiny", coords=np.arange(2 * n, dtype=float).reshape(n, 2), rounding="nint")
    solution = MILPSolver().solve(instance)
    assert_honest(instance, solution)
    assert solution.stats["status"] == "optimal"


def test_tsp_40_cities_proves_optimum_with_bound_equal() -> None:
    instance = TSPInstance(name="t40", coords=np.random.default_rng(0).uniform(0, 1000, (40, 2)), rounding="nint")
    solution = MILPSolver().solve(instance, time_limit=30)
    assert_honest(instance, solution)
    assert solution.stats["status"] == "optimal"
    assert solution.stats["lower_bound"] == solution.objective
    assert solution.stats["gap"] == 0.0


@pytest.mark.parametrize("limit", [0.0, 0.05])
def test_tsp_time_limit_is_honest(limit: float) -> None:
    instance = TSPInstance(name="t60", coords=np.random.default_rng(1).uniform(0, 1000, (60, 2)), rounding="nint")
    solution = MILPSolver().solve(instance, time_limit=limit)
    assert_honest(instance, solution)
    assert solution.feasible
    assert solution.stats["status"] == "feasible"
    assert 0 < solution.stats["lower_bound"] < solution.objective
    assert 0 < solution.stats["gap"] < 1
    assert solution.runtime_s < limit + 1.0


# -- CVRP ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"asymmetric": True},
        {"zero_demands": 2},
        {"asymmetric": True, "zero_demands": 2},
        {"num_vehicles": 3},
    ],
    ids=["cvrp", "acvrp", "zero-demand", "acvrp-zero-demand", "fleet-3"],
)
def test_cvrp_7_customers_matches_brute_force(kwargs: dict) -> None:
    instance = random_cvrp(7, seed=12, **kwargs)  # seed 12: three vehicles cost 470, an unlimited fleet 410
    solution = MILPSolver().solve(instance, time_limit=30)
    assert_honest(instance, solution)
    assert solution.stats["status"] == "optimal"
    assert solution.objective == brute_vrp(instance)
    assert solution.stats["lower_bound"] == solution.objective


def test_cvrptw_7_customers_matches_brute_force() -> None:
    instance = random_cvrptw(7, seed=2)
    solution = MILPSolver().solve(instance, time_limit=30)
    assert_honest(instance, solution)
    assert solution.stats["status"] == "optimal"
    assert solution.objective == pytest.approx(brute_vrp(instance), abs=1e-6)


def test_cvrptw_12_customers_feasible_and_not_worse_than_nearest() -> None:
    instance = random_cvrptw(12, seed=4)
    solution = MILPSolver().solve(instance, time_limit=20)
    assert_honest(instance, solution)
    assert solution.feasible
    nearest = get_solver("nearest").solve(instance)
    assert solution.objective <= nearest.objective + 1e-9


def test_cvrp_fleet_too_small_is_infeasible() -> None:
    instance = random_cvrp(7, seed=15, num_vehicles=3)  # three vehicles can carry the load, but no packing fits
    solution = MILPSolver().solve(instance, time_limit=10)
    assert_honest(instance, solution)
    assert solution.stats["status"] == "infeasible"
    assert not solution.feasible
    assert solution.objective is None


def test_cvrptw_unreachable_window_is_infeasible() -> None:
    base = random_cvrptw(5, seed=2)
    windows = base.time_windows.copy()
    windows[3] = [0.0, 1.0]  # closes before anyone can arrive from the depot
    instance = CVRPTWInstance(
        name=base.name,
        coords=base.coords,
        rounding=base.rounding,
        demands=base.demands,
        capacity=base.capacity,
        time_windows=windows,
        service_times=base.service_times,
    )
    solution = MILPSolver().solve(instance, time_limit=10)
    assert_honest(instance, solution)
    assert solution.stats["status"] == "infeasible"
    assert not solution.feasible


def test_cvrp_time_limit_zero_is_honest() -> None:
    instance = random_cvrp(20, seed=3)
    solution = MILPSolver().solve(instance, time_limit=0.0)
    assert_honest(instance, solution)
    assert solution.stats["status"] in {"feasible", "timeout_no_solution"}


# -- the protocol -------------------------------------------------------------------------------------------------


def test_supports_and_registry() -> None:
    solver = get_solver("milp", max_nodes=10)
    assert solver.name == "milp"
    assert solver.supports(random_cvrp(10, seed=0)) is None
    big = random_cvrp(11, seed=0)
    assert "more than 10 customers" in solver.supports(big)
    with pytest.raises(UnsupportedInstance):
        solver.solve(big)
    assert MILPSolver(max_tsp_nodes=5).supports(TSPInstance(name="t", coords=np.zeros((6, 2)))) is not None
