"""MCTS speed and quality on 1,000 uniform cities against LKH with the same time budget.

Usage: ``python benchmarks/mcts_speed.py [--time-limit S] [--size N] [--seed K]``. Prints each solver's tour
length and time, MCTS's k-opt actions per second (depth steps evaluated, compile time excluded) and the gap of
MCTS to LKH. Not a test: it takes twice the time limit. The instance is ``generate("tsp", N, 1, 0)[0]``, the
same one every run, so numbers are comparable across commits on the same machine.
"""

from __future__ import annotations

import argparse

from routelab.data.generate import generate
from routelab.solvers import get_solver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-limit", type=float, default=20.0)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    instance = generate("tsp", args.size, 1, 0)[0]
    mcts = get_solver("mcts").solve(instance, time_limit=args.time_limit, seed=args.seed)
    lkh = get_solver("lkh").solve(instance, time_limit=args.time_limit, seed=args.seed)
    s = mcts.stats
    print(f"instance: uniform tsp, {args.size} cities (generate seed 0), time limit {args.time_limit:g} s each")
    print(
        f"mcts: length {mcts.objective:.4f}  time {mcts.runtime_s:.2f} s  initial {s['initial_length']:.4f}  "
        f"actions/s {s['actions_per_s']:,.0f}  chains {s['chains']:,}  improvements {s['improvements']:,}  "
        f"restarts {s['restarts']}  compile {s['compile_s']:.2f} s"
    )
    print(f"lkh:  length {lkh.objective:.4f}  time {lkh.runtime_s:.2f} s")
    if mcts.objective is not None and lkh.objective:
        print(f"gap mcts vs lkh: {100 * (mcts.objective / lkh.objective - 1):+.3f} %")


if __name__ == "__main__":
    main()
