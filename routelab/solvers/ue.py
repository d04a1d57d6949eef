"""``ue``: the user equilibrium of a road network, as a ``network_design`` solution with a fixed plan.

It is the baseline of the network design boards (build nothing, or a plan given as an option) and the way to run
a plain traffic assignment from the CLI: ``routelab solve SiouxFalls_net.tntp --solver ue``. The flows go into
the payload for inspection; the scorer ignores them and solves the UE again itself, so the objective the
solver claims and the rescored one agree to within the UE gap.
"""

from __future__ import annotations

from typing import Any

from routelab.problems import Solution
from routelab.solvers.base import Stopwatch, ensure_supported, kind_reason


class UESolver:
    """Solve the UE of the instance's network with ``projects`` built (default: none).

    Options: ``algorithm`` (``"bfw"``, ``"cfw"`` or ``"fw"``), ``gap`` (default: the instance's ``ue_gap``),
    ``projects`` (a list of project indices, or a comma-separated string from the CLI) and ``threads``.
    """

    name = "ue"
    kinds = frozenset({"network_design"})
    needs = "nothing (numba); the plan in `projects` must fit the budget to be feasible"

    def __init__(
        self,
        *,
        algorithm: str = "bfw",
        gap: float | None = None,
        projects: list[int] | str | int | None = None,
        threads: int | None = 1,
    ) -> None:
        from routelab.traffic import ALGORITHMS

        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm: expected one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
        if gap is not None and not 0 < float(gap) < 1:
            raise ValueError(f"gap: expected a relative gap in (0, 1), got {gap!r}")
        self.algorithm = algorithm
        self.gap = None if gap is None else float(gap)
        self.projects = _plan(projects)
        self.threads = threads

    def supports(self, instance: Any) -> str | None:
        reason = kind_reason(self, instance)
        if reason is None:
            bad = [k for k in self.projects if not 0 <= k < instance.num_projects]
            if bad:
                reason = f"project {bad[0]} does not exist ({instance.num_projects} projects)"
        return reason

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        clock = Stopwatch()
        result = instance.solve_ue(
            self.projects, gap=self.gap, algorithm=self.algorithm, time_limit=time_limit, threads=self.threads
        )
        cost = instance.plan_cost(self.projects)
        return Solution(
            kind=instance.kind,
            instance=instance.name,
            solver=self.name,
            payload={"projects": list(self.projects), "flows": result.flows.tolist()},
            objective=result.tstt,
            feasible=cost <= instance.budget * (1 + 1e-9) + 1e-12,
            runtime_s=clock.elapsed(),
            stats={
                "status": "converged" if result.converged else "gap not reached",
                "gap": result.gap,
                "iterations": result.iterations,
                "beckmann": result.beckmann,
                "algorithm": self.algorithm,
                "plan_cost": cost,
            },
        )


def _plan(projects: list[int] | str | int | None) -> list[int]:
    """The plan from an option: a list, one index, or ``"3,7"`` as typed on the command line."""
    if projects is None:
        return []
    if isinstance(projects, str):
        items: list[Any] = [p for p in projects.replace(" ", "").split(",") if p]
    elif isinstance(projects, int):
        items = [projects]
    else:
        items = list(projects)
    try:
        plan = [int(p) for p in items]
    except (TypeError, ValueError):
        raise ValueError(f"projects: expected project indices, got {projects!r}") from None
    if len(set(plan)) != len(plan) or any(p < 0 for p in plan):
        raise ValueError(f"projects: expected distinct non-negative indices, got {plan}")
    return plan
