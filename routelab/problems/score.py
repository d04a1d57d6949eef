"""The scorer's verdict: feasibility, the recomputed objective and every violation found."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Score:
    """What the independent scorer concluded about one solution.

    ``objective`` is recomputed from the instance even when the solution is infeasible (it helps to see how
    long an infeasible tour is); ``cost`` is the PyVRP-style ranking value, infinite when infeasible.
    ``sense`` says which way the objective improves: ``"min"`` (lengths, the default) or ``"max"``
    (throughput, ``lifelong_mapf``); ``cost`` is always lower-is-better (``-objective`` for ``"max"``).
    """

    feasible: bool
    objective: float
    violations: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    violation_count: int = 0
    """How many violations there were in all; ``violations`` lists only the first few."""
    sense: str = "min"

    def __post_init__(self) -> None:
        if self.sense not in ("min", "max"):
            raise ValueError(f"Score.sense must be 'min' or 'max', got {self.sense!r}")
        listed = sum(1 for v in self.violations if not v.startswith("... and "))
        if self.violation_count < listed:
            object.__setattr__(self, "violation_count", listed)

    @property
    def cost(self) -> float:
        if not self.feasible:
            return math.inf
        return -self.objective if self.sense == "max" else self.objective


MAX_REPORTED_VIOLATIONS = 20
"""A badly broken solution may violate thousands of constraints; listing the first few is enough to act on."""


class ViolationLog:
    """Collects violation messages, keeping the first :data:`MAX_REPORTED_VIOLATIONS` and counting the rest."""

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.count = 0

    def add(self, message: str) -> None:
        self.count += 1
        if len(self.messages) < MAX_REPORTED_VIOLATIONS:
            self.messages.append(message)

    def __bool__(self) -> bool:
        return self.count > 0

    def as_tuple(self) -> tuple[str, ...]:
        if self.count > len(self.messages):
            return (*self.messages, f"... and {self.count - len(self.messages)} more violations")
        return tuple(self.messages)
