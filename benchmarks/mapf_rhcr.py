"""RHCR (windowed prioritised planning) on RHCR's warehouse map vs the published POGEMA-benchmark RHCR numbers.

    .venv/bin/python benchmarks/mapf_rhcr.py [--agents 32 64 128] [--steps 256] [--seeds 0 1 2]
                                             [--window 10] [--period 5] [--order random] [--restarts 3]
                                             [--time-limit 1.0] [--no-replan-on-goal]

Per agent count: mean throughput (goals / step) and seconds per 256-step episode (``Episode.wall_time``,
policy + simulator) over the seeds, next to the published RHCR throughput and runtime (PBS solver, C++, from
``../shared/benchmarks/mapf/README.md``). Starts are random distinct free cells (seeded), goals come from
:class:`routelab.mapf.ComponentGoalSource` with the same seed. The map is read in place and never copied.
A warm-up episode (numba compile / cache load) is excluded.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from routelab.mapf import ComponentGoalSource, Simulator
from routelab.mapf.rhcr import RHCR

MAP = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "mapf" / "maps" / "kiva-rhcr.map"
PUBLISHED = {  # agents: (RHCR throughput, RHCR s/episode), POGEMA benchmark, warehouse 33x46, 256 steps
    32: (1.225, 1.29),
    64: (2.268, 2.81),
    96: (3.103, 6.81),
    128: (3.493, 20.95),
    160: (2.456, 109.94),
    192: (1.568, 337.53),
}


def _read_kiva(path: Path) -> np.ndarray:
    """RHCR's kiva format: ``rows,cols``, three count lines, then rows of ``.``/``e``/``r`` (free) and ``@``."""
    lines = path.read_text().split()
    rows, cols = (int(x) for x in lines[0].split(","))
    body = lines[4 : 4 + rows]
    if len(body) != rows or any(len(r) != cols for r in body):
        raise ValueError(f"{path}: expected {rows} rows of {cols} cells")
    return np.array([[ch == "@" for ch in r] for r in body], dtype=np.uint8)


def run_one(
    grid: np.ndarray, agents: int, steps: int, seed: int, args: argparse.Namespace
) -> tuple[float, float, RHCR]:
    """One episode; returns (throughput, seconds per episode, the policy with its stats)."""
    rng = np.random.default_rng(seed)
    free = np.argwhere(grid == 0)
    starts = free[rng.choice(len(free), agents, replace=False)]
    sim = Simulator(grid, starts, ComponentGoalSource(grid, agents, seed=seed), horizon=steps)
    policy = RHCR(args.window, args.period, args.order, args.restarts, args.time_limit, seed, args.replan_on_goal)
    ep = sim.run(policy)
    return ep.throughput, ep.wall_time, policy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--map", type=Path, default=MAP)
    ap.add_argument("--agents", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--steps", type=int, default=256)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--window", type=int, default=10)
    ap.add_argument("--period", type=int, default=5)
    ap.add_argument("--order", choices=["random", "distance"], default="random")
    ap.add_argument("--restarts", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=1.0)
    ap.add_argument("--no-replan-on-goal", dest="replan_on_goal", action="store_false", help="park until next period")
    args = ap.parse_args()

    grid = _read_kiva(args.map)
    run_one(grid, 8, 8, 0, args)  # warm-up
    print(
        f"{args.map.name} {grid.shape[0]}x{grid.shape[1]}, {args.steps} steps, w={args.window} h={args.period}, "
        f"order={args.order}, restarts={args.restarts}, replan_on_goal={args.replan_on_goal}, seeds={args.seeds}"
    )
    print("agents | throughput | s/episode | max s/replan | failed/replan | divergences | published thr | pub s/ep")
    for a in args.agents:
        res = [run_one(grid, a, args.steps, s, args) for s in args.seeds]
        thr = float(np.mean([r[0] for r in res]))
        sec = float(np.mean([r[1] for r in res]))
        mx = max(r[2].stats.max_plan_time for r in res)
        fail = float(np.mean([r[2].stats.failed_agents / max(r[2].stats.replans, 1) for r in res]))
        div = float(np.mean([r[2].stats.divergences for r in res]))
        pub = PUBLISHED.get(a)
        ptxt = f"{pub[0]:13.3f} | {pub[1]:8.2f}" if pub else f"{'-':>13} | {'-':>8}"
        print(f"{a:6d} | {thr:10.3f} | {sec:9.3f} | {mx:12.4f} | {fail:13.2f} | {div:11.1f} | {ptxt}")


if __name__ == "__main__":
    main()
