"""The ``cvrp`` kind: capacitated vehicle routing from one depot; asymmetric matrices make it an ACVRP.

A solution is a list of routes, each a list of customer indices (the depot is implicit at both ends).
Messages number routes from 1 (as VRPLIB ``.sol`` files do) and nodes by their 0-based index, so customer
``i`` of a ``.sol`` file is node ``i`` here when the depot is node 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from routelab.problems.errors import FormatError
from routelab.problems.routing import RoutingInstance
from routelab.problems.score import Score, ViolationLog
from routelab.problems.validate import as_array, as_index_list, as_int, as_number, check_nonnegative


def fmt(x: float) -> str:
    """A number as people write it in messages: 1034.2, not 1034.2000000000003."""
    return f"{round(float(x), 4):.10g}"


def demand_array(source: str, value: Any, n: int) -> np.ndarray:
    """Demands as int64 when integral (OR-Tools needs integers), float64 otherwise."""
    arr = as_array(source, "demands", value, ndim=1)
    if arr.shape != (n,):
        raise FormatError(source, "demands", f"one demand per node, shape ({n},)", f"shape {arr.shape}")
    check_nonnegative(source, "demands", arr)
    return arr.astype(np.int64) if np.all(arr == np.round(arr)) else arr


@dataclass(frozen=True, eq=False, kw_only=True)
class CVRPInstance(RoutingInstance):
    """Capacitated VRP: ``demands[depot] == 0``, identical vehicles of ``capacity``, optional fleet limit."""

    kind: ClassVar[str] = "cvrp"
    demands: np.ndarray
    capacity: float
    depot: int = 0
    num_vehicles: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self._validate_fleet(self.name)

    def _validate_fleet(self, source: str) -> None:
        n = self.num_nodes
        object.__setattr__(self, "demands", demand_array(source, self.demands, n))
        capacity = as_number(source, "capacity", self.capacity, minimum=0)
        if capacity <= 0:
            raise FormatError(source, "capacity", "a positive number", self.capacity)
        object.__setattr__(self, "capacity", int(capacity) if capacity.is_integer() else capacity)
        depot = as_int(source, "depot", self.depot, minimum=0)
        if depot >= n:
            raise FormatError(source, "depot", f"a node index in 0..{n - 1}", depot)
        object.__setattr__(self, "depot", depot)
        if self.demands[depot] != 0:
            raise FormatError(source, "demands", f"0 at the depot (node {depot})", self.demands[depot])
        over = np.flatnonzero(self.demands > capacity)
        if over.size:
            c = int(over[0])
            raise FormatError(
                source, "demands", f"each demand <= capacity {fmt(capacity)}", f"{fmt(self.demands[c])} at node {c}"
            )
        if self.num_vehicles is not None:
            object.__setattr__(self, "num_vehicles", as_int(source, "num_vehicles", self.num_vehicles, minimum=1))

    @property
    def customers(self) -> np.ndarray:
        return np.array([i for i in range(self.num_nodes) if i != self.depot], dtype=np.int64)

    def to_data(self) -> dict[str, Any]:
        return {
            **self.node_fields(),
            "depot": self.depot,
            "demands": self.demands,
            "capacity": self.capacity,
            "num_vehicles": self.num_vehicles,
        }

    @classmethod
    def fleet_kwargs(cls, source: str, data: dict[str, Any]) -> dict[str, Any]:
        for key in ("demands", "capacity"):
            if key not in data:
                raise FormatError(source, key, f"a value (required for kind {cls.kind!r})", "missing")
        return {
            "demands": data["demands"],
            "capacity": data["capacity"],
            "depot": data.get("depot", 0),
            "num_vehicles": data.get("num_vehicles"),
        }

    @classmethod
    def from_data(cls, name: str, data: dict[str, Any], meta: dict[str, Any]) -> CVRPInstance:
        return cls(name=name, meta=meta, **cls.node_kwargs(data), **cls.fleet_kwargs(name, data))


def parse_payload(source: str, payload: dict[str, Any]) -> dict[str, Any]:
    routes = payload.get("routes")
    if not isinstance(routes, list):
        raise FormatError(source, "routes", "a list of routes, each a list of customer indices", routes)
    return {"routes": [as_index_list(source, f"routes[{k}]", r) for k, r in enumerate(routes)]}


def route_distance(instance: RoutingInstance, depot: int, route: list[int]) -> float:
    """Length of depot -> route... -> depot."""
    path = np.asarray([depot, *route, depot], dtype=np.int64)
    return float(instance.arc_lengths(path[:-1], path[1:]).sum())


def check_routes(instance: CVRPInstance, routes: list[list[int]], log: ViolationLog) -> list[list[int]]:
    """Visit, capacity and fleet checks shared by cvrp and cvrptw; returns the routes with valid nodes only."""
    n = instance.num_nodes
    visits = np.zeros(n, dtype=np.int64)
    clean: list[list[int]] = []
    for r, route in enumerate(routes, start=1):
        kept = []
        for node in route:
            if not 0 <= node < n:
                log.add(f"route {r}: node {node} does not exist (nodes are 0..{n - 1})")
            elif node == instance.depot:
                log.add(f"route {r}: contains the depot (node {node}); routes list customers only")
            else:
                visits[node] += 1
                kept.append(node)
        load = instance.demands[kept].sum() if kept else 0
        if load > instance.capacity + 1e-9:
            log.add(f"route {r} carries {fmt(load)} > capacity {fmt(instance.capacity)}")
        clean.append(kept)
    for c in np.flatnonzero(visits > 1):
        log.add(f"customer {c} visited {visits[c]} times")
    for c in np.flatnonzero(visits == 0):
        if c != instance.depot:
            log.add(f"customer {c} never visited")
    used = sum(1 for route in clean if route)
    if instance.num_vehicles is not None and used > instance.num_vehicles:
        log.add(f"{used} routes used > {instance.num_vehicles} vehicles available")
    return clean


def score(instance: CVRPInstance, payload: dict[str, Any]) -> Score:
    """Check visits, loads and fleet size, and recompute the total distance."""
    log = ViolationLog()
    routes = check_routes(instance, payload["routes"], log)
    lengths = [route_distance(instance, instance.depot, r) for r in routes if r]
    return Score(
        feasible=not log,
        objective=float(sum(lengths)),
        violations=log.as_tuple(),
        violation_count=log.count,
        details={"routes": len(lengths)},
    )
