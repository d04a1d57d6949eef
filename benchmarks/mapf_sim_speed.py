"""Steps per second of :class:`routelab.mapf.Simulator` (random actions, POGEMA soft collisions + restart).

    .venv/bin/python benchmarks/mapf_sim_speed.py [--size 64] [--agents 256] [--density 0.1] [--steps 20000]

Reports two numbers: ``step()`` alone with pre-drawn actions (the simulator), and ``run()`` with a seeded random
policy (what an episode costs including the policy call). The first call compiles/loads the numba kernel and is
excluded.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from routelab.mapf import ComponentGoalSource, Simulator, random_policy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--agents", type=int, default=256)
    ap.add_argument("--density", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    grid = (rng.random((args.size, args.size)) < args.density).astype(np.uint8)
    free = np.argwhere(grid == 0)
    starts = free[rng.choice(len(free), args.agents, replace=False)]
    src = ComponentGoalSource(grid, args.agents, seed=args.seed)

    Simulator(grid, starts, src, horizon=2).run(random_policy(0))  # warm-up: numba compile / cache load

    sim = Simulator(grid, starts, src, horizon=args.steps)
    actions = rng.integers(0, 5, size=(args.steps, args.agents))
    t0 = time.perf_counter()
    reached = 0
    for t in range(args.steps):
        reached += sim.step(actions[t]).num_reached
    dt_step = time.perf_counter() - t0

    ep = sim.run(random_policy(args.seed))
    print(f"map {args.size}x{args.size} density {args.density}, {args.agents} agents, {args.steps} steps")
    print(
        f"step() with pre-drawn actions: {args.steps / dt_step:,.0f} steps/s ({dt_step / args.steps * 1e6:.1f} us/step)"
    )
    print(f"run(random_policy):            {args.steps / ep.wall_time:,.0f} steps/s (throughput {ep.throughput:.3f})")


if __name__ == "__main__":
    main()
