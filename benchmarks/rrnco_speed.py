"""RRNCO batched speed and quality on held-out real-road instances (built-in Helsinki) against classical solvers.

Usage: ``python benchmarks/rrnco_speed.py [--problems atsp,acvrp,acvrptw] [--size 100] [--count 32]
[--batch 32] [--reference-time 10] [--augment 8]``. For each problem it samples ``count`` Helsinki instances
(``generate(kind, size, count, seed=3333, city="helsinki")``), solves them in batches with the shipped
checkpoint, and reports milliseconds per instance (the batch's wall time over its size, one process, all its
torch threads), the mean objective, and the gap to LKH-3 (ATSP) or PyVRP (ACVRP/ACVRPTW) given
``--reference-time`` seconds per instance. Every solution is rescored by :func:`routelab.problems.check`.
Not a test: it takes about ``count x reference-time`` seconds per problem.
"""

from __future__ import annotations

import argparse
import time

from routelab.data.generate import generate
from routelab.problems import check
from routelab.solvers import get_solver

REFERENCE = {"atsp": "lkh", "acvrp": "pyvrp", "acvrptw": "pyvrp"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problems", default="atsp,acvrp,acvrptw")
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--augment", type=int, default=8)
    parser.add_argument("--reference-time", type=float, default=10.0)
    args = parser.parse_args()
    for problem in args.problems.split(","):
        instances = generate(problem, args.size, args.count, 3333, city="helsinki")
        solver = get_solver("rrnco", augment=args.augment)
        solver.solve_many(instances[:1])  # load the checkpoint and warm up outside the timing
        started = time.perf_counter()
        solutions = []
        for k in range(0, len(instances), args.batch):
            solutions += solver.solve_many(instances[k : k + args.batch])
        per_instance_ms = 1000 * (time.perf_counter() - started) / len(instances)
        ours = [check(i, s) for i, s in zip(instances, solutions, strict=True)]
        reference = get_solver(REFERENCE[problem])
        theirs = [check(i, reference.solve(i, time_limit=args.reference_time)) for i in instances]
        gaps = [100 * (a.objective / b.objective - 1) for a, b in zip(ours, theirs, strict=True) if a.feasible]
        feasible = sum(s.feasible for s in ours)
        mean_ours = sum(s.objective for s in ours) / len(ours)
        mean_theirs = sum(s.objective for s in theirs) / len(theirs)
        gap = sum(gaps) / max(len(gaps), 1)
        print(
            f"{problem}-{args.size}: rrnco {per_instance_ms:.1f} ms/instance (batch {args.batch}, augment "
            f"{args.augment}), feasible {feasible}/{len(ours)}, mean {mean_ours:.4f}; {REFERENCE[problem]} "
            f"({args.reference_time:g} s) mean {mean_theirs:.4f}; gap {gap:+.2f} %",
            flush=True,
        )


if __name__ == "__main__":
    main()
