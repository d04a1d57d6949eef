"""Lifelong MAPF solvers behind the Solver protocol: ``rhcr`` and ``follower``, each a policy run in the simulator.

A lifelong MAPF "solution" is the executed episode: every agent's path over the horizon, produced by stepping the
POGEMA-semantics simulator with the solver's policy (:func:`routelab.mapf.episode.run_episode`); the scorer then
replays the paths and recounts the goals from the instance. ``time_limit`` does not cut an episode short (a
partial episode has no throughput); RHCR bounds each replan instead (``replan_time_limit``).
"""

from __future__ import annotations

from typing import Any

from routelab.problems import Solution
from routelab.solvers.base import Stopwatch, ensure_supported, kind_reason
from routelab.solvers.results import scored_solution


class _EpisodeSolver:
    """Shared part: run the policy for the instance's horizon and score the executed paths."""

    name = "episode"
    kinds = frozenset({"lifelong_mapf"})
    needs = "a lifelong_mapf instance (grid, starts, goal stream, horizon)"

    def supports(self, instance: Any) -> str | None:
        return kind_reason(self, instance)

    def policy(self, instance: Any, seed: int) -> Any:
        raise NotImplementedError

    def policy_stats(self, policy: Any) -> dict[str, Any]:
        return {}

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        from routelab.mapf.episode import run_episode

        ensure_supported(self, instance)
        clock = Stopwatch()
        policy = self.policy(instance, seed)
        payload, episode = run_episode(instance, policy)
        stats = {
            "status": "ok",
            "seed": seed,
            "agents": instance.num_agents,
            "horizon": instance.horizon,
            "simulated_throughput": episode.throughput,
            "episode_s": episode.wall_time,
            "time_limit_ignored": time_limit,
            **self.policy_stats(policy),
        }
        return scored_solution(self.name, instance, payload, clock, stats)


class RHCRSolver(_EpisodeSolver):
    """Rolling-horizon collision resolution (Li et al. 2021) with prioritised windowed planning.

    Args:
        window: steps planned collision-free ahead (w).
        period: steps between replans (h <= w).
        order: ``"random"`` (seeded, with restarts) or ``"distance"`` priorities.
        restarts: extra priority orders tried when some agent finds no path (its failed agents first).
        replan_time_limit: seconds per replan; agents not planned by then wait.
    """

    name = "rhcr"
    needs = "a lifelong_mapf instance; time per episode grows quickly with agent density"

    def __init__(
        self,
        window: int = 30,
        period: int = 5,
        order: str = "random",
        restarts: int = 3,
        replan_time_limit: float = 1.0,
        replan_on_goal: bool = True,
    ) -> None:
        if int(window) != window or int(period) != period or not 1 <= period <= window:
            raise ValueError(f"need integers 1 <= period <= window, got period={period!r}, window={window!r}")
        if order not in ("random", "distance"):
            raise ValueError(f"order must be 'random' or 'distance', got {order!r}")
        self.window, self.period, self.order = int(window), int(period), order
        self.restarts, self.replan_time_limit, self.replan_on_goal = (
            int(restarts),
            float(replan_time_limit),
            bool(replan_on_goal),
        )

    def policy(self, instance: Any, seed: int) -> Any:
        from routelab.mapf.rhcr import RHCR

        return RHCR(
            window=self.window,
            period=self.period,
            order=self.order,
            restarts=self.restarts,
            time_limit=self.replan_time_limit,
            seed=seed,
            replan_on_goal=self.replan_on_goal,
        )

    def policy_stats(self, policy: Any) -> dict[str, Any]:
        from dataclasses import asdict, is_dataclass

        stats = getattr(policy, "stats", None)
        return {"rhcr": asdict(stats)} if stats is not None and is_dataclass(stats) else {}


class FollowerSolver(_EpisodeSolver):
    """Follower (Skrynnik et al. 2024): per-agent A* on static + congestion costs (see
    :mod:`routelab.mapf.follower`), with the move chosen by ``policy``: ``"rules"`` (default; rule-based avoidance,
    options are :class:`FollowerConfig`'s fields) or ``"learned"`` (the shipped FollowerLite-like CNN,
    :mod:`routelab.mapf.learned`; options ``checkpoint`` (a path) and ``deterministic``)."""

    name = "follower"
    needs = "a lifelong_mapf instance"

    def __init__(self, policy: str = "rules", **options: Any) -> None:
        from dataclasses import fields

        from routelab.mapf.follower import FollowerConfig

        if policy not in ("rules", "learned"):
            raise ValueError(f"follower policy must be 'rules' or 'learned', got {policy!r}")
        known = {"checkpoint", "deterministic"} if policy == "learned" else {f.name for f in fields(FollowerConfig)}
        known -= {"seed"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"follower (policy={policy}) got unknown options {unknown}; it accepts {sorted(known)}")
        self.policy_kind = policy
        self.options = options
        if policy == "rules":
            FollowerConfig(**options)  # bad values fail here, with the dataclass's message
        else:
            from routelab.mapf.learned import DEFAULT_CHECKPOINT, load_checkpoint

            load_checkpoint(options.get("checkpoint") or DEFAULT_CHECKPOINT)  # a bad file fails now, not mid-run

    def policy(self, instance: Any, seed: int) -> Any:
        if self.policy_kind == "learned":
            from routelab.mapf.learned import LearnedFollowerPolicy

            return LearnedFollowerPolicy(
                self.options.get("checkpoint"), seed=seed, deterministic=bool(self.options.get("deterministic", False))
            )
        from routelab.mapf.follower import FollowerPolicy

        return FollowerPolicy(seed=seed, **self.options)

    def policy_stats(self, policy: Any) -> dict[str, Any]:
        return {"policy": self.policy_kind}
