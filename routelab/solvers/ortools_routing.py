"""``ortools``: Google OR-Tools routing (``pywrapcp``) for tsp, cvrp and cvrptw, asymmetric matrices included.

This is the baseline every routing leaderboard is read against, so it is configured the way OR-Tools users
would expect: a first-solution strategy, then guided local search until the time limit.

Integer scaling. OR-Tools only takes integer arc costs and transit times. Lengths are multiplied by the factor
of :func:`routelab.solvers.scaling.length_scale` (1 for nint/ceil/att/geo, ``TRUNC1_SCALE`` = 10 for Solomon's
one-decimal lengths, the largest power of ten keeping the longest arc <= 10**6 for float lengths) and rounded;
times are rounded conservatively so that a schedule OR-Tools calls on time is on time.
The ``scale`` option overrides the length factor. ``stats["scaled_objective"]`` is OR-Tools' own integer
objective; ``objective`` is recomputed in the instance's units from the routes by the shared scorer, because
``ObjectiveValue() / scale`` carries the rounding error.

Finding a first solution. With tight time windows (Solomon R1/RC1) the path-building strategies such as
``PATH_CHEAPEST_ARC`` can spend the whole time limit without completing one feasible route set. The search
therefore runs in two phases. (1) A fallback chain of starts, each first-solution strategy stopped at its first
solution and given at most ``FIRST_SOLUTION_SHARE`` of the time: the kind's default strategy (or the
``first_solution`` option), then ``LOCAL_CHEAPEST_INSERTION``, then the nearest-neighbour routes (or tour) of
:mod:`routelab.solvers.nearest`, feasible by construction when every customer fits some route, loaded with
``ReadAssignmentFromRoutes``. (2) The metaheuristic from that start for the rest of the time limit. Defaults
per kind: tsp ``PATH_CHEAPEST_ARC``, cvrp ``SAVINGS``, cvrptw ``PARALLEL_CHEAPEST_INSERTION`` (it starts every
Solomon instance within 30 ms; see ``benchmarks/ortools_feasibility.py``).

Fleet. cvrptw/cvrp use ``instance.num_vehicles`` when given; otherwise a safe bound: the nearest-neighbour
construction's route count plus 10% (it is a feasible route count, and a distance-optimal solution rarely
needs more), or the number of customers when that construction fails. The objective is total distance only
(the BKS convention of the shared benchmarks), not vehicles first: unused vehicles cost nothing.

Seeds. OR-Tools routing has no random seed: for a fixed number of search steps it is deterministic, but the
time limit is wall-clock, so how far the search gets (and hence the result) can vary with machine load. The
``seed`` argument is recorded in ``stats`` and otherwise ignored.
"""

from __future__ import annotations

import math
from typing import Any

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routelab.problems import Solution
from routelab.solvers.base import Stopwatch, ensure_supported, size_reason
from routelab.solvers.results import no_solution, scored_solution
from routelab.solvers.scaling import (
    checked_scale,
    integer_loads,
    length_scale,
    round_down,
    round_nearest,
    round_up,
    time_scale,
)

DEFAULT_TIME_LIMIT = 10.0
"""Seconds of search when the caller passes ``time_limit=None``."""

MAX_NODES = 3000
"""OR-Tools gets the full integer matrix as Python lists (n**2 ints); beyond this the model build dominates."""

DEFAULT_FIRST_SOLUTION: dict[str, str] = {
    "tsp": "PATH_CHEAPEST_ARC",
    "cvrp": "SAVINGS",
    "cvrptw": "PARALLEL_CHEAPEST_INSERTION",
}
"""The first strategy tried per kind when ``first_solution`` is ``"auto"``."""

FALLBACK_FIRST_SOLUTION = "LOCAL_CHEAPEST_INSERTION"
"""Tried next when the first strategy finds nothing in its share of the time."""

FIRST_SOLUTION_SHARE = 0.3
"""Share of the time limit one first-solution strategy may spend before the chain moves on."""

FLEET_MARGIN = 0.1
"""Extra vehicles, as a share of the nearest-neighbour route count, when the instance sets no fleet size."""

FIRST_SOLUTION_STRATEGIES: frozenset[str] = frozenset(
    name for name in routing_enums_pb2.FirstSolutionStrategy.Value.keys() if name != "UNSET"
)
METAHEURISTICS: frozenset[str] = frozenset(
    name for name in routing_enums_pb2.LocalSearchMetaheuristic.Value.keys() if name != "UNSET"
)

NEAREST_START = "nearest_routes"
"""Name of the last link of the fallback chain in ``stats``: the nearest-neighbour routes as the start."""


def _enum_name(value: str, allowed: frozenset[str], what: str) -> str:
    name = value.strip().upper()
    if name not in allowed:
        raise ValueError(f"unknown OR-Tools {what} {value!r}; one of {', '.join(sorted(allowed)).lower()}")
    return name


class ORToolsSolver:
    """OR-Tools routing with a first-solution fallback chain and a metaheuristic (GLS by default).

    Args:
        first_solution: an OR-Tools ``FirstSolutionStrategy`` name (case-insensitive), or ``"auto"`` for the
            per-kind default in :data:`DEFAULT_FIRST_SOLUTION`. The fallback chain follows it either way.
        metaheuristic: a ``LocalSearchMetaheuristic`` name, ``"guided_local_search"`` by default.
        scale: integer factor for lengths, overriding :func:`~routelab.solvers.scaling.length_scale`.
    """

    name = "ortools"
    kinds = frozenset({"tsp", "cvrp", "cvrptw"})
    needs = (
        f"at most {MAX_NODES} nodes (full integer matrix); asymmetric allowed; "
        "deterministic per search step, seed ignored"
    )

    def __init__(
        self,
        first_solution: str = "auto",
        metaheuristic: str = "guided_local_search",
        scale: int | None = None,
    ) -> None:
        self.first_solution = (
            "AUTO"
            if first_solution.lower() == "auto"
            else _enum_name(first_solution, FIRST_SOLUTION_STRATEGIES, "strategy")
        )
        self.metaheuristic = _enum_name(metaheuristic, METAHEURISTICS, "metaheuristic")
        self.scale = checked_scale(scale)

    def supports(self, instance: Any) -> str | None:
        return size_reason(self, instance, MAX_NODES)

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        clock = Stopwatch()
        limit = DEFAULT_TIME_LIMIT if time_limit is None else float(time_limit)
        model = _Model(instance, self.scale)
        first = self.first_solution if self.first_solution != "AUTO" else DEFAULT_FIRST_SOLUTION[instance.kind]
        chain = [first] + ([FALLBACK_FIRST_SOLUTION] if first != FALLBACK_FIRST_SOLUTION else [])
        stats: dict[str, Any] = {
            "scale": model.scale,
            "metaheuristic": self.metaheuristic.lower(),
            "vehicles": model.num_vehicles,
            "seed": seed,
            "seed_note": "OR-Tools routing has no seed; deterministic per step, wall-clock limit",
            "time_limit": limit,
        }
        if instance.kind == "cvrptw":
            stats["time_scale"] = model.time_scale
        if model.load_scale != 1:
            stats["load_scale"] = model.load_scale
        if model.infeasible_reason is not None:
            return no_solution(self.name, instance, clock, stats, model.infeasible_reason)

        start, start_name, tried = None, None, []
        for strategy in chain:
            budget = max(0.05, min(clock.remaining(limit), FIRST_SOLUTION_SHARE * limit))
            start, status = model.first_solution(strategy, budget)
            tried.append(f"{strategy.lower()}: {'found' if start is not None else status}")
            if start is not None:
                start_name = strategy.lower()
                break
        if start is None and model.nearest_routes is not None:
            start = model.routing.ReadAssignmentFromRoutes(model.nearest_routes, True)
            tried.append(f"{NEAREST_START}: {'ok' if start is not None else 'rejected by OR-Tools'}")
            start_name = NEAREST_START if start is not None else None
        stats["first_solution_tried"] = tried
        if start is None:
            return no_solution(self.name, instance, clock, stats, "no first solution found")
        stats["first_solution"] = start_name
        stats["first_solution_s"] = round(clock.elapsed(), 3)

        remaining = clock.remaining(limit)
        best = start
        if remaining > 0.01:
            improved = model.improve(start, self.metaheuristic, remaining)
            if improved is not None:
                best = improved
        stats["status"] = _status_name(model.routing.status())
        stats["scaled_objective"] = int(best.ObjectiveValue())
        return scored_solution(self.name, instance, model.payload(best), clock, stats)


def _status_name(status: int) -> str:
    """``ROUTING_FAIL_TIMEOUT`` -> ``"fail_timeout"``; the raw number if OR-Tools adds a status we do not know."""
    try:
        return routing_enums_pb2.RoutingSearchStatus.Value.Name(status).removeprefix("ROUTING_").lower()
    except ValueError:
        return str(status)


def _fleet_size(instance: Any) -> tuple[int, list[list[int]] | None]:
    """Vehicles for the model and the nearest-neighbour routes (the last-resort start), if they exist."""
    from routelab.solvers.nearest import NearestNeighbourSolver

    try:
        payload = NearestNeighbourSolver().solve(instance).payload
    except ValueError:  # a customer no single route can serve on time: no nearest-neighbour start
        payload = None
    if instance.kind == "tsp":
        return 1, None if payload is None else [payload["tour"][1:]]  # its tour starts at city 0, the depot here
    routes = None if payload is None else payload["routes"]
    customers = instance.num_nodes - 1
    if instance.num_vehicles is not None:
        vehicles = instance.num_vehicles
    elif routes is not None:
        vehicles = min(customers, len(routes) + max(1, math.ceil(FLEET_MARGIN * len(routes))))
    else:
        vehicles = customers
    if routes is not None and len(routes) > vehicles:
        routes = None  # more routes than vehicles: not a usable start
    return max(1, vehicles), routes


class _Model:
    """The OR-Tools routing model of one instance, in scaled integers."""

    def __init__(self, instance: Any, scale: int | None) -> None:
        self.instance = instance
        self.infeasible_reason: str | None = None
        n = instance.num_nodes
        depot = 0 if instance.kind == "tsp" else instance.depot
        self.scale = length_scale(instance) if scale is None else scale
        self.time_scale = 1
        self.load_scale = 1
        self.num_vehicles, routes = _fleet_size(instance)
        self.manager = pywrapcp.RoutingIndexManager(n, self.num_vehicles, depot)
        self.routing = pywrapcp.RoutingModel(self.manager)
        self.nearest_routes = (
            None if routes is None else [[self.manager.NodeToIndex(c) for c in route] for route in routes]
        )

        arc = round_nearest(instance.distances, self.scale)
        cost = self.routing.RegisterTransitMatrix(arc.tolist())
        self.routing.SetArcCostEvaluatorOfAllVehicles(cost)

        if instance.kind in ("cvrp", "cvrptw"):
            demands, capacity, self.load_scale = integer_loads(instance)
            load = self.routing.RegisterUnaryTransitVector(demands.tolist())
            self.routing.AddDimensionWithVehicleCapacity(load, 0, [capacity] * self.num_vehicles, True, "Capacity")
        if instance.kind == "cvrptw":
            self._add_time(instance, depot)

    def _add_time(self, instance: Any, depot: int) -> None:
        """Cumul = service start; transit i->j = service at i + travel i->j (no service at the depot on leaving,
        matching the scorer, which starts every route at the depot's opening time)."""
        self.time_scale = time_scale(instance, self.scale)
        ts = self.time_scale
        service = round_up(instance.service_times, ts)
        service[depot] = 0
        travel = round_up(instance.durations, ts)
        transit = self.routing.RegisterTransitMatrix((travel + service[:, None]).tolist())
        opens = round_up(instance.time_windows[:, 0], ts)
        closes = round_down(instance.time_windows[:, 1], ts)
        horizon = int(closes[depot])
        if opens[depot] > horizon:
            self.infeasible_reason = "the depot's time window is empty after scaling"
            return
        self.routing.AddDimension(transit, horizon, horizon, False, "Time")
        time = self.routing.GetDimensionOrDie("Time")
        for node in range(instance.num_nodes):
            if node == depot:
                continue
            lo, hi = int(opens[node]), min(int(closes[node]), horizon)
            if lo > hi:
                self.infeasible_reason = f"customer {node}'s window opens after it closes or after the depot closes"
                return
            time.CumulVar(self.manager.NodeToIndex(node)).SetRange(lo, hi)
        for v in range(self.num_vehicles):
            time.CumulVar(self.routing.Start(v)).SetRange(int(opens[depot]), horizon)
            time.CumulVar(self.routing.End(v)).SetRange(int(opens[depot]), horizon)

    def _params(self, seconds: float) -> Any:
        params = pywrapcp.DefaultRoutingSearchParameters()
        params.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
        params.log_search = False
        return params

    def first_solution(self, strategy: str, seconds: float) -> tuple[Any, str]:
        """Run one first-solution strategy alone (stopping at its first solution); ``(assignment, status)``."""
        params = self._params(seconds)
        params.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, strategy)
        params.local_search_metaheuristic = routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
        params.solution_limit = 1
        assignment = self.routing.SolveWithParameters(params)
        return assignment, _status_name(self.routing.status())

    def improve(self, start: Any, metaheuristic: str, seconds: float) -> Any:
        params = self._params(seconds)
        params.local_search_metaheuristic = getattr(routing_enums_pb2.LocalSearchMetaheuristic, metaheuristic)
        return self.routing.SolveFromAssignmentWithParameters(start, params)

    def payload(self, assignment: Any) -> dict[str, Any]:
        routes = []
        for v in range(self.num_vehicles):
            index = self.routing.Start(v)
            route = []
            index = assignment.Value(self.routing.NextVar(index))
            while not self.routing.IsEnd(index):
                route.append(self.manager.IndexToNode(index))
                index = assignment.Value(self.routing.NextVar(index))
            routes.append(route)
        if self.instance.kind == "tsp":
            return {"tour": [0, *routes[0]]}
        return {"routes": [r for r in routes if r]}
