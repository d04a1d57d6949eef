"""Windowed exact planning (one joint CP-SAT model per window) on random-32-32-10: where does it stop scaling?

    .venv/bin/python benchmarks/mapf_window_milp.py [--agents 8 16 32] [--steps 64] [--seed 0]
                                                    [--window 8] [--period 4] [--solve-time-limit 2.0]
                                                    [--budget 120]

Per agent count, one episode of ``--steps`` steps on the instance ``make_instance(map, agents, horizon, seed)``
(random distinct starts, generated goals): throughput (goals / step), seconds per episode, the fraction of windows
solved optimally (and how many of those the lower bound proved without CP-SAT), fallbacks, mean gap, model size
(variables after cost pruning, and the radius-pruned size without it at the first window) and mean build / solve
seconds per window. RHCR (prioritised planning, same window and period, one attempt order) runs on the same
instance for reference. A configuration whose episode passes ``--budget`` seconds is stopped at the next replan
and reported as partial. CP-SAT runs single-threaded.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from routelab.data.mapf_io import make_instance
from routelab.mapf.episode import run_episode
from routelab.mapf.rhcr import RHCR, WindowPlanner
from routelab.mapf.window_milp import WindowMILP

MAP = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "mapf" / "maps" / "random-32-32-10.map"


class _OverBudget(Exception):
    pass


class _Budgeted(WindowMILP):
    """Stops the episode (by raising) at the first replan after ``budget`` seconds, keeping the stats so far."""

    def __init__(self, budget: float, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.budget = budget
        self.started = 0.0
        self.steps_done = 0

    def __call__(self, sim):  # type: ignore[no-untyped-def]
        if sim.t == 0:
            self.started = time.perf_counter()
        elif time.perf_counter() - self.started > self.budget:
            raise _OverBudget
        self.steps_done = sim.t + 1
        return super().__call__(sim)


def radius_vars(planner: WindowPlanner, starts: np.ndarray) -> int:
    """Move variables with radius pruning only: cell ``u`` at ``t`` exists when ``dist(start, u) <= t``."""
    deg = (planner.nbr >= 0).sum(axis=1)
    w = planner.window
    return int(sum((deg * np.maximum(0, w - planner.distances(int(s)))).sum() for s in starts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--map", type=Path, default=MAP)
    ap.add_argument("--agents", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--steps", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--period", type=int, default=4)
    ap.add_argument("--solve-time-limit", type=float, default=2.0)
    ap.add_argument("--budget", type=float, default=120.0, help="seconds per episode before it is stopped")
    args = ap.parse_args()

    print(
        f"{args.map.name}, {args.steps} steps, seed {args.seed}, w={args.window} h={args.period}, "
        f"CP-SAT {args.solve_time_limit:g} s/window, 1 thread"
    )
    print(
        "agents | thr MILP | s/ep MILP | optimal (by bound) | fallback | mean gap | vars mean/max | radius-only vars"
        " | build s | solve s | thr RHCR | s/ep RHCR"
    )
    for a in args.agents:
        inst = make_instance(args.map, agents=a, horizon=args.steps, seed=args.seed)
        policy = _Budgeted(
            args.budget, window=args.window, period=args.period, time_limit=args.solve_time_limit, seed=args.seed
        )
        t0 = time.perf_counter()
        partial = ""
        try:
            _, ep = run_episode(inst, policy)
            thr = f"{ep.throughput:8.3f}"
        except _OverBudget:
            thr = f"{'-':>8}"
            partial = f"  (stopped after {policy.steps_done - 1} of {args.steps} steps)"
        sec = time.perf_counter() - t0
        s = policy.stats
        wins = s.windows
        solved = [w for w in wins if w["solved_by"] == "cp-sat"]
        gaps = [w["gap"] for w in wins]
        nv = [w["vars"] for w in wins]
        assert policy.planner is not None
        rad = radius_vars(policy.planner, policy.planner.flat(inst.starts))
        build = np.mean([w["build_s"] for w in wins])
        solve = np.mean([w["solve_s"] for w in solved]) if solved else 0.0
        rh = RHCR(args.window, args.period, "distance", 0, 1.0, args.seed, replan_on_goal=False)
        _, ep_r = run_episode(inst, rh)
        print(
            f"{a:6d} | {thr} | {sec:9.1f} | {s.optimal:3d}/{s.replans:<3d} ({s.bound_proofs:2d})      | "
            f"{s.fallbacks:8d} | {np.mean(gaps):8.4f} | {np.mean(nv):6.0f}/{max(nv):<6d} | {rad:16d} | "
            f"{build:7.2f} | {solve:7.2f} | {ep_r.throughput:8.3f} | {ep_r.wall_time:9.2f}{partial}"
        )


if __name__ == "__main__":
    main()
