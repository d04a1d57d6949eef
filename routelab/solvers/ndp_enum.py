"""``ndp-enum``: complete enumeration of the budget-feasible plans of a small network design instance.

The ground truth that SORB's bounds and the heuristics are tested against. Every subset of projects whose cost
fits the budget is built and its UE solved to the instance's ``ue_gap``. No subset is skipped as dominated:
adding capacity can raise TSTT (Braess's paradox), so a maximal plan need not be the best one.

``parts`` and ``part`` split one enumeration over bench jobs: the feasible subsets, in increasing bitmask order,
are dealt round-robin to ``parts`` parts and a job enumerates part ``part`` (``part`` in ``0 .. parts - 1``), so
the parts are about equally hard. Each job reports the best plan of its part (status ``part_complete``); the
optimum is the best over all parts. With ``parts = 1`` a finished run proves it: status ``optimal`` and
``lower_bound`` equal to the objective (exact up to the UE gap: TSTTs of plans closer than about ``10 ue_gap``
relative may rank either way).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from routelab.problems import Solution
from routelab.solvers.base import Stopwatch, ensure_supported
from routelab.solvers.ndp_common import PlanEvaluator, budget_limit, design_reason, plan_solution

DEFAULT_MAX_PROJECTS = 20
"""2^20 subsets is about a million: the bitmask table is 8 MB, the UE solves (a few ms each) the real limit."""


def subset_costs(costs: np.ndarray) -> np.ndarray:
    """Cost of every subset, indexed by its bitmask (bit ``k`` set: project ``k`` is in)."""
    out = np.zeros(1 << len(costs))
    for k, c in enumerate(costs):
        out[1 << k : 2 << k] = out[: 1 << k] + c
    return out


def mask_plan(mask: int) -> list[int]:
    return [k for k in range(mask.bit_length()) if mask >> k & 1]


class EnumerationSolver:
    """Options: ``part``, ``parts`` (split the enumeration, see the module doc), ``max_projects`` (20)."""

    name = "ndp-enum"
    kinds = frozenset({"network_design"})
    needs = f"at most {DEFAULT_MAX_PROJECTS} projects (one UE per budget-feasible subset)"

    def __init__(self, *, part: int = 0, parts: int = 1, max_projects: int = DEFAULT_MAX_PROJECTS) -> None:
        for key, value, least in (("parts", parts, 1), ("part", part, 0), ("max_projects", max_projects, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{key}: expected an integer >= {least}, got {value!r}")
        if part >= parts:
            raise ValueError(f"part: expected 0 .. parts - 1 = {parts - 1}, got {part}")
        if max_projects > 30:
            raise ValueError(f"max_projects: expected at most 30 (2^30 subsets), got {max_projects}")
        self.part, self.parts, self.max_projects = part, parts, max_projects
        self.needs = f"at most {max_projects} projects (one UE per budget-feasible subset)"

    def supports(self, instance: Any) -> str | None:
        reason = design_reason(self, instance)
        if reason is None and instance.num_projects > self.max_projects:
            reason = f"more than {self.max_projects} projects ({instance.num_projects}): 2^n subsets"
        return reason

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        clock = Stopwatch()
        deadline = math.inf if time_limit is None else time.perf_counter() + float(time_limit)
        costs = np.array([p["cost"] for p in instance.projects], dtype=np.float64)
        feasible = np.flatnonzero(subset_costs(costs) <= budget_limit(instance))
        mine = feasible[self.part :: self.parts]
        evaluator = PlanEvaluator(instance)
        best_plan: list[int] = []
        best = math.inf
        done = 0
        for mask in mine.tolist():
            if time.perf_counter() >= deadline:
                break
            plan = mask_plan(mask)
            value = evaluator.tstt(plan)
            done += 1
            if value < best:
                best, best_plan = value, plan
        complete = done == len(mine)
        status = ("optimal" if self.parts == 1 else "part_complete") if complete else "time_limit"
        stats: dict[str, Any] = {
            "status": status,
            "part": self.part,
            "parts": self.parts,
            "evaluated": done,
            "plans_in_part": len(mine),
            "budget_feasible_plans": len(feasible),
            "ue_seconds": evaluator.seconds,
        }
        solution = plan_solution(self, instance, best_plan, clock, stats)
        if status == "optimal" and solution.objective is not None:
            solution.stats["lower_bound"] = solution.objective
            solution.stats["gap"] = 0.0
        return solution
