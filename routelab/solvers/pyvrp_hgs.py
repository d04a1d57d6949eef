"""``pyvrp``: PyVRP's state-of-the-art metaheuristic for cvrp and cvrptw (and tsp as a one-vehicle CVRP).

PyVRP started as a hybrid genetic search (HGS-CVRP); since 0.12 its ``solve`` runs an iterated local search
around the same local search operators. The registered name and module keep "HGS" for continuity; ``stats``
records the version that ran.

Integer scaling. PyVRP's distances, durations and loads are int64. Lengths are multiplied by
:func:`routelab.solvers.scaling.length_scale` (1 for nint, 10 for Solomon's one-decimal truncation, a power of
ten keeping the longest arc <= 10**6 for float lengths) and rounded; durations, windows and service times are
rounded conservatively (travel/service/openings up, closings down) so that a route PyVRP finds on time is on
time in the instance's units. ``stats["scaled_objective"]`` is PyVRP's integer cost; ``objective`` is recomputed
from the routes in the instance's units by the shared scorer.

Fleet. ``instance.num_vehicles`` when given, else one vehicle per customer (PyVRP's own convention when a
VRPLIB file names no fleet; unused vehicles cost nothing). The objective is distance only: no fixed vehicle
cost, duration cost zero, matching the BKS convention of the shared benchmarks.

Timing model (cvrptw). The depot's window is the vehicles' shift (``tw_early``/``tw_late`` of the vehicle type
and the depot); service at the depot is not counted, as in the shared scorer.

Stopping and seeds. ``pyvrp.stop.MaxRuntime(time_limit)`` (default :data:`DEFAULT_TIME_LIMIT`), seed passed to
PyVRP's random number generator: fixed seed and fixed iteration count give the same result; under a wall-clock
limit the number of iterations depends on machine load.
"""

from __future__ import annotations

import warnings
from importlib.metadata import version
from typing import Any

import numpy as np
import pyvrp
from pyvrp.stop import MaxRuntime

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

MAX_NODES = 5000
"""PyVRP keeps dense int64 distance and duration matrices (2 x 8 n**2 bytes) and granular neighbourhoods."""


class PyVRPSolver:
    """PyVRP (iterated local search, formerly HGS) behind the Solver protocol.

    Args:
        scale: integer factor for lengths, overriding :func:`~routelab.solvers.scaling.length_scale`.
    """

    name = "pyvrp"
    kinds = frozenset({"tsp", "cvrp", "cvrptw"})
    needs = f"at most {MAX_NODES} nodes; asymmetric allowed; tsp is solved as a one-vehicle CVRP; seeded"

    def __init__(self, scale: int | None = None) -> None:
        self.scale = checked_scale(scale)

    def supports(self, instance: Any) -> str | None:
        return size_reason(self, instance, MAX_NODES)

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        clock = Stopwatch()
        limit = DEFAULT_TIME_LIMIT if time_limit is None else float(time_limit)
        try:
            data, customers, stats = _problem_data(instance, self.scale)
        except ValueError as error:  # e.g. a window that closes before it opens once rounded
            return no_solution(self.name, instance, clock, {"seed": seed}, f"PyVRP rejected the data: {error}")
        with warnings.catch_warnings(record=True) as caught:
            # PyVRP warns when a penalty hits its bound (hard or infeasible instance); keep it in stats instead
            # of printing it from every worker of a benchmark run.
            warnings.simplefilter("always")
            result = pyvrp.solve(
                data,
                stop=MaxRuntime(max(0.0, clock.remaining(limit))),
                seed=int(seed),
                collect_stats=False,
                display=False,
            )
        routes = [[int(customers[a.idx]) for a in route if a.is_client()] for route in result.best.routes()]
        routes = [r for r in routes if r]
        stats.update(
            seed=seed,
            time_limit=limit,
            pyvrp_version=version("pyvrp"),
            iterations=result.num_iterations,
            pyvrp_feasible=result.is_feasible(),
        )
        if caught:
            stats["pyvrp_warnings"] = sorted({type(w.message).__name__ for w in caught})
        if result.is_feasible():
            stats["scaled_objective"] = int(result.cost())
        if instance.kind == "tsp":
            payload: dict[str, Any] = {"tour": [0, *(routes[0] if routes else [])]}
        else:
            payload = {"routes": routes}
        # PyVRP returns its best solution even when it is infeasible (penalised time warp / excess load); the
        # scorer then rejects it and scored_solution reports objective None with the violations in stats.
        stats["status"] = "ok" if result.is_feasible() else "no feasible solution found within the time limit"
        return scored_solution(self.name, instance, payload, clock, stats)


def _problem_data(instance: Any, scale: int | None) -> tuple[Any, np.ndarray, dict[str, Any]]:
    """PyVRP ``ProblemData`` (depot first, then the customers in node order), the client -> node map, stats.

    The model objects (locations, depot, clients, vehicle type) go through ``pyvrp.Model``; the matrices are
    set in one piece with ``ProblemData.replace`` rather than n**2 ``add_edge`` calls, which would build a
    Python object per arc.
    """
    n = instance.num_nodes
    depot = 0 if instance.kind == "tsp" else instance.depot
    customers = np.array([i for i in range(n) if i != depot], dtype=np.int64)
    order = np.r_[depot, customers]
    factor = length_scale(instance) if scale is None else scale
    stats: dict[str, Any] = {"scale": factor}
    coords = instance.coords if instance.coords is not None else np.zeros((n, 2))

    model = pyvrp.Model()
    locations = [model.add_location(x=float(coords[i, 0]), y=float(coords[i, 1])) for i in order]
    distances = round_nearest(instance.distances[np.ix_(order, order)], factor)
    durations = np.zeros_like(distances)

    if instance.kind == "tsp":
        model.add_depot(locations[0])
        for loc in locations[1:]:
            model.add_client(loc)
        model.add_vehicle_type(num_available=1)
    else:
        demands, capacity, load_factor = integer_loads(instance)
        if load_factor != 1:
            stats["load_scale"] = load_factor
        vehicles = instance.num_vehicles if instance.num_vehicles is not None else len(customers)
        stats["vehicles"] = vehicles
        if instance.kind == "cvrptw":
            ts = time_scale(instance, factor)
            stats["time_scale"] = ts
            opens = round_up(instance.time_windows[order, 0], ts)
            closes = round_down(instance.time_windows[order, 1], ts)
            service = round_up(instance.service_times[order], ts)
            durations = round_up(instance.durations[np.ix_(order, order)], ts)
            start, end = int(opens[0]), int(closes[0])
            model.add_depot(locations[0], tw_early=start, tw_late=end)
            for k, loc in enumerate(locations[1:], start=1):
                model.add_client(
                    loc,
                    delivery=[int(demands[order[k]])],
                    service_duration=int(service[k]),
                    tw_early=int(opens[k]),
                    tw_late=int(closes[k]),
                )
            model.add_vehicle_type(num_available=vehicles, capacity=[capacity], tw_early=start, tw_late=end)
        else:
            model.add_depot(locations[0])
            for k, loc in enumerate(locations[1:], start=1):
                model.add_client(loc, delivery=[int(demands[order[k]])])
            model.add_vehicle_type(num_available=vehicles, capacity=[capacity])
    np.fill_diagonal(distances, 0)
    np.fill_diagonal(durations, 0)
    data = model.data().replace(distance_matrices=[distances], duration_matrices=[durations])
    return data, customers, stats
