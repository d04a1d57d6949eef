"""The ``cvrptw`` kind: CVRP with time windows, service times and (optionally asymmetric) durations.

Timing: a vehicle leaves the depot at the depot's opening time, waits when it arrives before a window opens,
is late (a violation) when it starts service after a window closes, and must be back before the depot closes.
The objective is total distance (the convention of the Solomon BKS in the shared benchmarks), not vehicles
first; durations default to the distances, as in Solomon's instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from routelab.problems.cvrp import CVRPInstance, check_routes, fmt, route_distance
from routelab.problems.errors import FormatError
from routelab.problems.score import Score, ViolationLog
from routelab.problems.validate import as_array, check_nonnegative

TIME_TOLERANCE = 1e-6
"""Slack on time-window checks, so float sums of one-decimal lengths do not flip feasibility."""


@dataclass(frozen=True, eq=False, kw_only=True)
class CVRPTWInstance(CVRPInstance):
    """CVRP plus ``time_windows`` ``(n, 2)``, ``service_times`` ``(n,)`` and an optional duration matrix."""

    kind: ClassVar[str] = "cvrptw"
    time_windows: np.ndarray
    service_times: np.ndarray
    duration_matrix: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        source = self.name
        n = self.num_nodes
        tw = as_array(source, "time_windows", self.time_windows, ndim=2)
        if tw.shape != (n, 2):
            raise FormatError(source, "time_windows", f"one [open, close] pair per node, shape ({n}, 2)", tw.shape)
        bad = np.flatnonzero(tw[:, 1] < tw[:, 0])
        if bad.size:
            i = int(bad[0])
            raise FormatError(
                source, "time_windows", f"open <= close at node {i}", f"[{fmt(tw[i, 0])}, {fmt(tw[i, 1])}]"
            )
        service = as_array(source, "service_times", self.service_times, ndim=1)
        if service.shape != (n,):
            raise FormatError(source, "service_times", f"one service time per node, shape ({n},)", service.shape)
        check_nonnegative(source, "service_times", service)
        object.__setattr__(self, "time_windows", tw)
        object.__setattr__(self, "service_times", service)
        if self.duration_matrix is not None:
            durations = as_array(source, "duration_matrix", self.duration_matrix, ndim=2)
            if durations.shape != (n, n):
                raise FormatError(source, "duration_matrix", f"shape ({n}, {n})", durations.shape)
            check_nonnegative(source, "duration_matrix", durations)
            object.__setattr__(self, "duration_matrix", durations)

    @cached_property
    def durations(self) -> np.ndarray:
        """Travel times; the distances themselves unless a duration matrix was given."""
        return self.distances if self.duration_matrix is None else self.duration_matrix

    def arc_durations(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        if self.duration_matrix is None:
            return self.arc_lengths(i, j)
        return self.duration_matrix[np.asarray(i, dtype=np.int64), np.asarray(j, dtype=np.int64)]

    def to_data(self) -> dict[str, Any]:
        out = {**super().to_data(), "time_windows": self.time_windows, "service_times": self.service_times}
        if self.duration_matrix is not None:
            out["duration_matrix"] = self.duration_matrix
        return out

    @classmethod
    def from_data(cls, name: str, data: dict[str, Any], meta: dict[str, Any]) -> CVRPTWInstance:
        for key in ("time_windows", "service_times"):
            if key not in data:
                raise FormatError(name, key, "a value (required for kind 'cvrptw')", "missing")
        return cls(
            name=name,
            meta=meta,
            **cls.node_kwargs(data),
            **cls.fleet_kwargs(name, data),
            time_windows=data["time_windows"],
            service_times=data["service_times"],
            duration_matrix=data.get("duration_matrix"),
        )


def route_schedule(instance: CVRPTWInstance, route: list[int]) -> tuple[list[float], float]:
    """Service start times along ``route`` and the arrival time back at the depot (no feasibility check)."""
    depot = instance.depot
    tw = instance.time_windows
    t = float(tw[depot, 0])
    prev = depot
    starts = []
    for node in route:
        t = max(t + float(instance.arc_durations(prev, node)), float(tw[node, 0]))
        starts.append(t)
        t += float(instance.service_times[node])
        prev = node
    return starts, t + float(instance.arc_durations(prev, depot))


def score(instance: CVRPTWInstance, payload: dict[str, Any]) -> Score:
    """CVRP checks plus time windows; the objective is total distance."""
    log = ViolationLog()
    routes = check_routes(instance, payload["routes"], log)
    tw = instance.time_windows
    total = 0.0
    duration = 0.0
    for r, route in enumerate(routes, start=1):
        if not route:
            continue
        total += route_distance(instance, instance.depot, route)
        starts, back = route_schedule(instance, route)
        for node, start in zip(route, starts, strict=True):
            if start > tw[node, 1] + TIME_TOLERANCE:
                log.add(
                    f"route {r}: customer {node} served at {fmt(start)} after its window closes at {fmt(tw[node, 1])}"
                )
        if back > tw[instance.depot, 1] + TIME_TOLERANCE:
            log.add(f"route {r} returns to the depot at {fmt(back)} after it closes at {fmt(tw[instance.depot, 1])}")
        duration += back - float(tw[instance.depot, 0])
    return Score(
        feasible=not log,
        objective=total,
        violations=log.as_tuple(),
        violation_count=log.count,
        details={"routes": sum(1 for r in routes if r), "total_duration": duration},
    )
