"""Speed of the coordination schedule evaluator: evaluations per second by robot count, single and batched.

For each size, one generated warehouse instance; each row of the batch orients the conflicts by planned start times
shifted by a random per-robot delay in [0, 10] (ranks that grow along every robot, so no row deadlocks: a deadlocked
row stops early and would flatter the rate), the kind of varied, valid orders a decoder samples.
Reports one-at-a-time calls (Python overhead included), a K-row batch on one thread and, with ``--threads``, the
same batch spread over numba threads. The numba kernels are compiled (or loaded from the cache) before timing.

    .venv/bin/python benchmarks/coordination_eval_speed.py [--sizes 5,10,25,50,100,250] [--batch 64] [--threads 0]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from routelab.data.coordination_gen import generate_coordination
from routelab.problems.coordination import orders_from_ranks
from routelab.solvers.coordination_heuristics import fcfs_dynamic, planned_starts


def rate(fn: Callable[[], object], work: int, min_seconds: float = 1.0) -> float:
    """Calls of ``fn`` (each doing ``work`` evaluations) per second, repeated for at least ``min_seconds``."""
    fn()
    done = 0
    t0 = time.perf_counter()
    while True:
        fn()
        done += work
        elapsed = time.perf_counter() - t0
        if elapsed >= min_seconds:
            return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,10,25,50,100,250")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="numba threads for a parallel batch (0: skip)")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum timing per measurement")
    args = parser.parse_args()
    if args.threads:
        import numba

        numba.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    header = f"{'robots':>6} {'intervals':>9} {'conflicts':>9} {'single/s':>10} {'batch/s':>10}"
    print(header + (f" {'parallel/s':>10}" if args.threads else ""))
    for size in [int(s) for s in args.sizes.split(",")]:
        inst = generate_coordination(size, 1, 0)[0]
        ev = inst.evaluator
        base = fcfs_dynamic(inst)
        planned = planned_starts(inst)
        robot = inst.intervals["robot"]
        rows = np.stack([orders_from_ranks(inst, planned + 10 * rng.random(size)[robot]) for _ in range(args.batch)])
        assert np.isfinite(ev.evaluate(rows)).all()
        single = rate(lambda ev=ev, base=base: ev.evaluate(base), 1, args.seconds)
        batch = rate(lambda ev=ev, rows=rows: ev.evaluate(rows), len(rows), args.seconds)
        line = f"{size:>6} {inst.num_intervals:>9} {inst.num_conflicts:>9} {single:>10.0f} {batch:>10.0f}"
        if args.threads:
            par = rate(lambda ev=ev, rows=rows: ev.evaluate(rows, parallel=True), len(rows), args.seconds)
            line += f" {par:>10.0f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
