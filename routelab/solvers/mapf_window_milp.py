"""``mapf-milp``: the windowed exact baseline (:mod:`routelab.mapf.window_milp`) behind the Solver protocol.

Like ``rhcr`` and ``follower`` (:mod:`routelab.solvers.mapf_solvers`), the solution is the executed episode of the
policy in the POGEMA-semantics simulator, re-scored from the instance. ``time_limit`` does not cut an episode short;
each window solve is bounded by ``solve_time_limit`` instead (plus its model build).
"""

from __future__ import annotations

from typing import Any

from routelab.solvers.mapf_solvers import _EpisodeSolver


class WindowMILPSolver(_EpisodeSolver):
    """Rolling-horizon joint CP-SAT planning: every ``period`` steps one model for all agents over ``window`` steps.

    Args:
        window: steps optimised jointly (w); the model grows with about ``w^3`` variables per agent.
        period: steps executed between replans (h <= w).
        solve_time_limit: CP-SAT seconds per window (single thread); the prioritised warm start is executed
            when CP-SAT has no solution by then.
        replan_on_goal: re-solve as soon as any agent's goal changes (costly: about one solve per step).
    """

    name = "mapf-milp"
    kinds = frozenset({"lifelong_mapf"})
    needs = "a lifelong_mapf instance with few agents (exact window solves stop scaling at a few dozen agents)"

    def __init__(
        self, window: int = 8, period: int = 4, solve_time_limit: float = 2.0, replan_on_goal: bool = False
    ) -> None:
        if int(window) != window or int(period) != period or not 1 <= period <= window:
            raise ValueError(f"need integers 1 <= period <= window, got period={period!r}, window={window!r}")
        if not float(solve_time_limit) > 0:
            raise ValueError(f"solve_time_limit must be > 0, got {solve_time_limit!r}")
        self.window, self.period = int(window), int(period)
        self.solve_time_limit = float(solve_time_limit)
        self.replan_on_goal = bool(replan_on_goal)

    def policy(self, instance: Any, seed: int) -> Any:
        from routelab.mapf.window_milp import WindowMILP

        return WindowMILP(
            window=self.window,
            period=self.period,
            time_limit=self.solve_time_limit,
            replan_on_goal=self.replan_on_goal,
            seed=seed,
        )

    def policy_stats(self, policy: Any) -> dict[str, Any]:
        """Episode counters plus per-window status, gap and model size (the windows list is kept whole: an episode
        has ``horizon / period`` windows, a few dozen)."""
        from dataclasses import asdict

        s = policy.stats
        return {"mapf_milp": {**asdict(s), "optimal_fraction": s.optimal_fraction}}
