"""The registry of problem kinds: how each kind builds its instance, reads its payload and scores it.

A new family (coordination, lifelong MAPF, network design) joins the shared format by adding one module with
an instance class (``kind``, ``from_data``, ``to_data``, ``name``, ``meta``), ``parse_payload`` and ``score``,
and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from routelab.problems import coordination, cvrp, cvrptw, mapf, network_design, tsp
from routelab.problems.errors import FormatError
from routelab.problems.score import Score


@dataclass(frozen=True)
class Kind:
    name: str
    instance_cls: type
    parse_payload: Callable[[str, dict[str, Any]], dict[str, Any]]
    score: Callable[[Any, dict[str, Any]], Score]
    payload_keys: tuple[str, ...]
    sense: str = "min"
    """Which way the objective improves: "min" (lengths) or "max" (throughput); see ``Score.sense``."""


KINDS: dict[str, Kind] = {
    "tsp": Kind("tsp", tsp.TSPInstance, tsp.parse_payload, tsp.score, ("tour",)),
    "cvrp": Kind("cvrp", cvrp.CVRPInstance, cvrp.parse_payload, cvrp.score, ("routes",)),
    "cvrptw": Kind("cvrptw", cvrptw.CVRPTWInstance, cvrp.parse_payload, cvrptw.score, ("routes",)),
    "lifelong_mapf": Kind(
        "lifelong_mapf", mapf.LifelongMAPFInstance, mapf.parse_payload, mapf.score, ("paths",), sense="max"
    ),
    "network_design": Kind(
        "network_design",
        network_design.NetworkDesignInstance,
        network_design.parse_payload,
        network_design.score,
        ("projects", "flows"),
    ),
    "coordination": Kind(
        "coordination",
        coordination.CoordinationInstance,
        coordination.parse_payload,
        coordination.score,
        ("orders", "modes"),
    ),
}


def get_kind(name: object, source: str = "<document>") -> Kind:
    if not isinstance(name, str) or name not in KINDS:
        raise FormatError(source, "kind", f"one of {', '.join(sorted(KINDS))}", name)
    return KINDS[name]


def objective_sense(kind: str) -> str:
    """``"min"`` or ``"max"``: which way a kind's objective improves (unknown kinds count as minimised)."""
    entry = KINDS.get(kind)
    return entry.sense if entry is not None else "min"


def gap_percent(value: float | None, target: float | None, sense: str = "min") -> float | None:
    """How much worse ``value`` is than ``target``, in percent of ``|target|``: positive means worse, for a
    minimised objective (a longer tour) and a maximised one (a lower throughput) alike."""
    if value is None or target is None or target == 0:
        return None
    return 100.0 * ((value - target) if sense == "min" else (target - value)) / abs(target)
