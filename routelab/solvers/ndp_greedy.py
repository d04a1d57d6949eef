"""``greedy``: the benefit/cost baseline of road network design.

Each project's benefit is the TSTT it saves, measured by solving the UE with it built; projects are taken in order
of benefit per unit cost while they fit the budget. Why this shape:

- Benefits are not additive (two parallel roads compete for the same traffic, and by Braess's paradox a project
  can even raise TSTT), so after each pick the benefits of the best ``shortlist`` candidates (by their last known
  ratio) are measured again on the network built so far, and the pick is made among those fresh values.
  Re-measuring every candidate each round would cost ``projects x picks`` UE solves (about 2 hours of UE on
  Eastern-Massachusetts); a shortlist of 16 costs ``16 x picks``. ``reevaluate=False`` is the one-pass static
  ranking.
- Screening solves the UE to a looser gap (``screen_gap``, default 1e-4: TSTT within about 0.1 %, 3x faster than
  1e-5 on Sioux Falls) than the scorer; the final plan is solved to the instance's ``ue_gap``.
- Every plan built along the way is a candidate answer: the best of them (screened TSTT) is returned, so a
  project that made things worse never stays in the plan because a later one helped.
- ``time_limit`` stops the screening: unmeasured projects are never picked, and re-evaluation stops (the rest of
  the budget is filled from the last known ratios).
"""

from __future__ import annotations

import math
import time
from typing import Any

from routelab.problems import Solution
from routelab.solvers.base import Stopwatch, ensure_supported
from routelab.solvers.ndp_common import PlanEvaluator, budget_limit, design_reason, plan_solution

DEFAULT_SCREEN_GAP = 1e-4
DEFAULT_SHORTLIST = 16


class GreedySolver:
    """Benefit/cost greedy for ``network_design``.

    Options: ``screen_gap`` (UE gap of the benefit evaluations; default ``max(1e-4, ue_gap)``), ``reevaluate``
    (re-measure benefits after each pick, default True), ``shortlist`` (how many candidates are re-measured per
    pick; 0: all), ``algorithm`` (UE algorithm, ``bfw``).
    """

    name = "greedy"
    kinds = frozenset({"network_design"})
    needs = "nothing (numba UE); one UE per project, then `shortlist` per pick"

    def __init__(
        self,
        *,
        screen_gap: float | None = None,
        reevaluate: bool = True,
        shortlist: int = DEFAULT_SHORTLIST,
        algorithm: str = "bfw",
    ) -> None:
        if screen_gap is not None and not 0 < float(screen_gap) < 1:
            raise ValueError(f"screen_gap: expected a relative gap in (0, 1), got {screen_gap!r}")
        if isinstance(shortlist, bool) or not isinstance(shortlist, int) or shortlist < 0:
            raise ValueError(f"shortlist: expected a non-negative integer (0: every candidate), got {shortlist!r}")
        self.screen_gap = None if screen_gap is None else float(screen_gap)
        self.reevaluate = bool(reevaluate)
        self.shortlist = shortlist
        self.algorithm = algorithm

    def supports(self, instance: Any) -> str | None:
        return design_reason(self, instance)

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        clock = Stopwatch()
        deadline = math.inf if time_limit is None else time.perf_counter() + float(time_limit)
        gap = self.screen_gap if self.screen_gap is not None else max(DEFAULT_SCREEN_GAP, instance.ue_gap)
        evaluator = PlanEvaluator(instance, algorithm=self.algorithm)
        plan, screened, complete = greedy_plan(
            instance, evaluator, gap=gap, deadline=deadline, reevaluate=self.reevaluate, shortlist=self.shortlist
        )
        stats = {
            "status": "complete" if complete else "time_limit",
            "screen_gap": gap,
            "screened_tstt": screened,
            "ue_solves": evaluator.solves,
            "ue_seconds": evaluator.seconds,
            "reevaluate": self.reevaluate,
        }
        return plan_solution(self, instance, plan, clock, stats)


def greedy_plan(
    instance: Any,
    evaluator: PlanEvaluator,
    *,
    gap: float,
    deadline: float = math.inf,
    reevaluate: bool = True,
    shortlist: int = DEFAULT_SHORTLIST,
) -> tuple[list[int], float, bool]:
    """The greedy plan, its screened TSTT, and whether the search ran to the end (not stopped by ``deadline``).

    Also the warm start of SORB (with ``reevaluate=False``: one UE per project).
    """
    costs = [float(p["cost"]) for p in instance.projects]
    limit = budget_limit(instance)
    base = evaluator.tstt((), gap)
    complete = True
    benefit: dict[int, float] = {}
    for k in range(instance.num_projects):
        if costs[k] > limit:
            continue
        if time.perf_counter() >= deadline:
            complete = False
            break
        benefit[k] = base - evaluator.tstt((k,), gap)

    def ratio(k: int) -> float:
        b = benefit[k]
        if costs[k] <= 0:
            return math.inf if b > 0 else b
        return b / costs[k]

    plan: list[int] = []
    spent = 0.0
    current, measured_current = base, True  # TSTT of the plan so far, and whether it was measured (not estimated)
    best_plan, best = [], base
    stale = False  # benefits were measured against an earlier plan
    while True:
        fits = [k for k in benefit if k not in plan and spent + costs[k] <= limit]
        if not fits:
            break
        if stale and time.perf_counter() < deadline:
            ranked = sorted(fits, key=ratio, reverse=True)
            measured = []
            for k in ranked if shortlist == 0 else ranked[:shortlist]:
                if time.perf_counter() >= deadline:
                    complete = False
                    break
                benefit[k] = current - evaluator.tstt((*plan, k), gap)
                measured.append(k)
            if measured:
                fits = measured
        pick = max(fits, key=ratio)
        if benefit[pick] <= 0:
            break
        plan.append(pick)
        spent += costs[pick]
        if reevaluate and measured_current and time.perf_counter() < deadline:
            current, stale = evaluator.tstt(plan, gap), True
            if current < best:
                best, best_plan = current, list(plan)
        else:  # static ranking, or out of time: the estimate may be off, the plan is measured once at the end
            current, measured_current, stale = current - benefit[pick], False, False
    if measured_current:
        return best_plan, best, complete
    final = evaluator.tstt(plan, gap)
    return (plan, final, complete) if final < best else (best_plan, best, complete)
