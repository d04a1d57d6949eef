"""Prove the optimum of TSPLIB kroA100 (21282) with the ``milp`` solver and print status, objective, bound, time.

Usage: ``python benchmarks/milp_kroa100.py [PATH_TO_kroA100.tsp] [--time-limit S]``. Not a test: it takes tens of
seconds; the default path is the shared benchmark root next to the repository.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import vrplib

from routelab.problems import TSPInstance, check
from routelab.solvers.milp import MILPSolver

OPTIMUM = 21282
DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "tsp" / "tsplib" / "kroA100.tsp"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--time-limit", type=float, default=300.0)
    args = parser.parse_args()
    raw = vrplib.read_instance(str(args.path))
    instance = TSPInstance(name="kroA100", coords=raw["node_coord"], rounding="nint")
    start = time.perf_counter()
    solution = MILPSolver().solve(instance, time_limit=args.time_limit)
    wall = time.perf_counter() - start
    score = check(instance, solution)
    stats = solution.stats
    print(f"status     {stats['status']}")
    print(f"objective  {solution.objective} (scorer: {score.objective}, feasible: {score.feasible})")
    print(f"bound      {stats['lower_bound']} (gap {stats.get('gap')})")
    print(f"root bound {stats.get('root_bound')}, heuristic {stats.get('heuristic')}")
    print(f"mip solves {stats['mip_solves']}, cuts {stats['cuts']}")
    print(f"time       {wall:.1f} s (runtime_s {solution.runtime_s:.1f})")
    print(f"optimum    {OPTIMUM}: {'matches' if solution.objective == OPTIMUM else 'DIFFERS'}")


if __name__ == "__main__":
    main()
