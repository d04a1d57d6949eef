"""``nearest``: the nearest-neighbour construction, a fast deterministic floor for every routing board.

It exists so that every leaderboard has a trivially reproducible reference and so that tests of the bench
runner and CLI have a solver that answers in milliseconds. For cvrp/cvrptw it opens a new route whenever no
unvisited customer fits (capacity, and for cvrptw the window and the return to the depot).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from routelab.problems import Solution
from routelab.solvers.base import Stopwatch, ensure_supported, kind_reason


class NearestNeighbourSolver:
    name = "nearest"
    kinds = frozenset({"tsp", "cvrp", "cvrptw"})
    needs = "nothing (any size, asymmetric allowed); cvrptw needs every customer reachable in its window"

    def supports(self, instance: Any) -> str | None:
        return kind_reason(self, instance)

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        clock = Stopwatch()
        dist = instance.distances
        if instance.kind == "tsp":
            payload: dict[str, Any] = {"tour": _tsp_tour(dist)}
            objective = float(dist[payload["tour"], np.roll(payload["tour"], -1)].sum())
        else:
            routes = _routes(instance)
            payload = {"routes": routes}
            objective = float(sum(dist[np.r_[instance.depot, r], np.r_[r, instance.depot]].sum() for r in routes if r))
        return Solution(
            kind=instance.kind,
            instance=instance.name,
            solver=self.name,
            payload=payload,
            objective=objective,
            feasible=True,
            runtime_s=clock.elapsed(),
        )


def _tsp_tour(dist: np.ndarray) -> list[int]:
    n = len(dist)
    unvisited = np.ones(n, dtype=bool)
    tour = [0]
    unvisited[0] = False
    for _ in range(n - 1):
        row = np.where(unvisited, dist[tour[-1]], np.inf)
        nxt = int(np.argmin(row))
        tour.append(nxt)
        unvisited[nxt] = False
    return tour


def _routes(instance: Any) -> list[list[int]]:
    dist = instance.distances
    depot = instance.depot
    timed = instance.kind == "cvrptw"
    dur = instance.durations if timed else dist
    unvisited = np.ones(instance.num_nodes, dtype=bool)
    unvisited[depot] = False
    routes: list[list[int]] = []
    while unvisited.any():
        route: list[int] = []
        load = 0.0
        at, t = depot, float(instance.time_windows[depot, 0]) if timed else 0.0
        while True:
            fits = unvisited & (instance.demands + load <= instance.capacity)
            if timed:
                start = np.maximum(t + dur[at], instance.time_windows[:, 0])
                back = start + instance.service_times + dur[:, depot]
                fits &= (start <= instance.time_windows[:, 1]) & (back <= instance.time_windows[depot, 1])
            if not fits.any():
                break
            nxt = int(np.argmin(np.where(fits, dist[at], np.inf)))
            if timed:
                t = float(start[nxt] + instance.service_times[nxt])
            route.append(nxt)
            load += float(instance.demands[nxt])
            unvisited[nxt] = False
            at = nxt
        if not route:
            stuck = int(np.flatnonzero(unvisited)[0])
            raise ValueError(f"{instance.name}: customer {stuck} cannot be served by any single route")
        routes.append(route)
    return routes
