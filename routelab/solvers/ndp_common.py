"""What the network design solvers (greedy, SORB, enumeration) share: the input check, a UE cache, the answer.

Every one of them scores plans by solving the user equilibrium of the built network, often the same plan twice
(greedy's prefixes, SORB's incumbents), so plans are cached by their project set and the gap they were solved to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from routelab.problems import Solution
from routelab.problems.network_design import BUDGET_RTOL
from routelab.solvers.base import Stopwatch, kind_reason


def design_reason(solver: Any, instance: Any) -> str | None:
    """``kind_reason`` plus the design checks: there is something to build, and the budget pays for some of it.

    A budget below every project's cost is rejected rather than answered with the empty plan, because it is
    almost always a mistake in the instance (a share taken of the wrong total), which an answer would hide.
    """
    reason = kind_reason(solver, instance)
    if reason is not None:
        return reason
    if not instance.projects:
        return "no candidate projects (use the `ue` solver for a plain assignment)"
    cheapest = min(p["cost"] for p in instance.projects)
    if cheapest > budget_limit(instance):
        return f"budget: {instance.budget!r} is smaller than every project's cost (the cheapest costs {cheapest!r})"
    return None


def budget_limit(instance: Any) -> float:
    """The budget with the scorer's slack, so a plan the scorer accepts is never refused here."""
    return instance.budget * (1 + BUDGET_RTOL) + 1e-12


class PlanEvaluator:
    """UE TSTT of plans, cached by (project set, gap); counts the UE solves and their seconds."""

    def __init__(self, instance: Any, *, algorithm: str = "bfw") -> None:
        self.instance = instance
        self.algorithm = algorithm
        self.cache: dict[tuple[frozenset[int], float], float] = {}
        self.solves = 0
        self.seconds = 0.0

    def tstt(self, plan: Iterable[int], gap: float | None = None) -> float:
        """TSTT at the UE of ``plan`` solved to ``gap`` (default: the instance's ``ue_gap``)."""
        gap = self.instance.ue_gap if gap is None else float(gap)
        key = (frozenset(plan), gap)
        value = self.cache.get(key)
        if value is None:
            clock = Stopwatch()
            try:
                value = float(self.instance.solve_ue(sorted(key[0]), gap=gap, algorithm=self.algorithm).tstt)
            except ValueError:  # swaps that close a congestible link: the scorer rejects such a plan too
                value = math.inf
            self.seconds += clock.elapsed()
            self.solves += 1
            self.cache[key] = value
        return value


def plan_solution(solver: Any, instance: Any, plan: Iterable[int], clock: Stopwatch, stats: dict[str, Any]) -> Solution:
    """The answer for ``plan``: its UE solved to the instance's ``ue_gap`` (as the scorer will), flows included."""
    selection = sorted(int(k) for k in plan)
    result = instance.solve_ue(selection)
    cost = instance.plan_cost(selection)
    stats = {"plan_cost": cost, "budget": instance.budget, "ue_gap": result.gap, **stats}
    return Solution(
        kind=instance.kind,
        instance=instance.name,
        solver=solver.name,
        payload={"projects": selection, "flows": result.flows.tolist()},
        objective=float(result.tstt),
        feasible=cost <= budget_limit(instance) and math.isfinite(result.tstt),
        runtime_s=clock.elapsed(),
        stats=stats,
    )
