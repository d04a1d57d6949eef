"""The ``tsp`` kind: visit every node once and return; asymmetric matrices make it an ATSP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from routelab.problems.errors import FormatError
from routelab.problems.routing import RoutingInstance
from routelab.problems.score import Score, ViolationLog
from routelab.problems.validate import as_index_list


@dataclass(frozen=True, eq=False, kw_only=True)
class TSPInstance(RoutingInstance):
    """A (possibly asymmetric) travelling salesman instance over ``num_nodes`` cities."""

    kind: ClassVar[str] = "tsp"

    @classmethod
    def from_data(cls, name: str, data: dict[str, Any], meta: dict[str, Any]) -> TSPInstance:
        return cls(name=name, meta=meta, **cls.node_kwargs(data))


def tour_length(instance: RoutingInstance, tour: list[int] | np.ndarray) -> float:
    """Length of the closed tour (the arc back to the first city included)."""
    t = np.asarray(tour, dtype=np.int64)
    return float(instance.arc_lengths(t, np.roll(t, -1)).sum())


def parse_payload(source: str, payload: dict[str, Any]) -> dict[str, Any]:
    if "tour" not in payload:
        raise FormatError(source, "tour", "a list of city indices (the tsp solution payload)", "missing")
    return {"tour": as_index_list(source, "tour", payload["tour"])}


def score(instance: TSPInstance, payload: dict[str, Any]) -> Score:
    """Check that ``payload["tour"]`` is a permutation of the cities and recompute its closed length."""
    tour = payload["tour"]
    n = instance.num_nodes
    log = ViolationLog()
    seen = np.zeros(n, dtype=np.int64)
    for pos, city in enumerate(tour):
        if not 0 <= city < n:
            log.add(f"tour position {pos}: city {city} does not exist (cities are 0..{n - 1})")
            continue
        seen[city] += 1
    for city in np.flatnonzero(seen > 1):
        log.add(f"city {city} visited {seen[city]} times")
    for city in np.flatnonzero(seen == 0):
        log.add(f"city {city} never visited")
    valid = [c for c in tour if 0 <= c < n]
    length = tour_length(instance, valid) if len(valid) > 1 else 0.0
    return Score(
        feasible=not log,
        objective=length,
        violations=log.as_tuple(),
        violation_count=log.count,
        details={"cities": len(tour)},
    )
