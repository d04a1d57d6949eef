"""The shared solution record and the independent check of a solution against its instance."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from routelab.problems.errors import FormatError
from routelab.problems.kinds import get_kind
from routelab.problems.score import Score


@dataclass
class Solution:
    """What a solver returns. ``objective`` is the solver's own claim; :func:`check` recomputes it.

    ``payload`` holds the kind-specific answer (``{"tour": [...]}`` for tsp, ``{"routes": [[...], ...]}``
    for cvrp/cvrptw). ``objective`` is None when the solver found nothing.
    """

    kind: str
    instance: str
    solver: str
    payload: dict[str, Any]
    objective: float | None = None
    feasible: bool = False
    runtime_s: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.objective is not None and math.isfinite(self.objective)


def check(instance: Any, solution: Solution, source: str = "<solution>") -> Score:
    """Score ``solution`` on ``instance`` from scratch; never uses the solver's objective."""
    if solution.kind != instance.kind:
        raise FormatError(source, "kind", f"{instance.kind!r} (the instance's kind)", solution.kind)
    if solution.instance != instance.name:
        raise FormatError(source, "instance", f"{instance.name!r} (the instance's name)", solution.instance)
    kind = get_kind(solution.kind, source)
    payload = kind.parse_payload(source, solution.payload)
    return kind.score(instance, payload)


def score_payload(instance: Any, payload: dict[str, Any]) -> Score:
    """Score a raw payload (used by solvers to report the objective they computed the shared way)."""
    kind = get_kind(instance.kind)
    return kind.score(instance, kind.parse_payload(instance.name, payload))
