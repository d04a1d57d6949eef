"""Building a :class:`~routelab.problems.Solution` from a solver's answer, the same way for every solver.

Two rules keep leaderboards honest: the objective is always recomputed from the payload by the shared scorer
(never a solver's scaled integer cost divided back), and an answer the scorer rejects is reported with
``objective=None`` (so ``Solution.found`` is False and nothing ranks it), its payload kept for inspection and its
violations in ``stats``. A solver that found nothing returns an empty payload instead of raising.
"""

from __future__ import annotations

from typing import Any

from routelab.problems import Solution, score_payload
from routelab.solvers.base import Stopwatch

MAX_STATS_VIOLATIONS = 3
"""How many of the scorer's violation messages an infeasible answer carries in its stats."""


def empty_payload(kind: str) -> dict[str, Any]:
    return {"tour": []} if kind == "tsp" else {"routes": []}


def no_solution(solver: str, instance: Any, clock: Stopwatch, stats: dict[str, Any], why: str) -> Solution:
    """The "nothing found" answer: empty payload, objective None, ``stats["status"]`` says why."""
    return Solution(
        kind=instance.kind,
        instance=instance.name,
        solver=solver,
        payload=empty_payload(instance.kind),
        objective=None,
        feasible=False,
        runtime_s=clock.elapsed(),
        stats={**stats, "status": why},
    )


def scored_solution(
    solver: str, instance: Any, payload: dict[str, Any], clock: Stopwatch, stats: dict[str, Any]
) -> Solution:
    """The solver's payload with the scorer's objective and verdict; infeasible answers get objective None."""
    score = score_payload(instance, payload)
    stats = dict(stats)
    if not score.feasible:
        stats.setdefault("status", "infeasible")
        stats["infeasible_objective"] = score.objective
        stats["violations"] = list(score.violations[:MAX_STATS_VIOLATIONS])
    return Solution(
        kind=instance.kind,
        instance=instance.name,
        solver=solver,
        payload=payload,
        objective=score.objective if score.feasible else None,
        feasible=score.feasible,
        runtime_s=clock.elapsed(),
        stats=stats,
    )
