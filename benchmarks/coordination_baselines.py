"""The coordination baselines side by side: MILP (CP-SAT) time, bound and gap, and FCFS / local search / random
ratios against it, on generated warehouse instances of 5 to 250 robots.

The ratio is the issue's optimality ratio, ``MILP objective / method objective`` (<= 1 when the MILP is optimal;
when it timed out the MILP objective is only its best solution, so the ratio is against that, and ``bound/obj``
shows how far the MILP itself may be from optimal). One row per instance, then the means per size.

    .venv/bin/python benchmarks/coordination_baselines.py [--sizes 5,10,25,50,100,250] [--count 2] \
        [--milp-time 60] [--ls-time 10] [--csv out.csv]
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import defaultdict

from routelab.data.coordination_gen import generate_coordination
from routelab.problems import check
from routelab.solvers import get_solver


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5,10,25,50,100,250")
    parser.add_argument("--count", type=int, default=2, help="instances per size (seed 0, indices 0..count-1)")
    parser.add_argument("--milp-time", type=float, default=60.0)
    parser.add_argument("--ls-time", type=float, default=10.0)
    parser.add_argument("--csv", default=None)
    args = parser.parse_args()
    rows = []
    head = (
        f"{'robots':>6} {'conflicts':>9} {'free':>7} {'milp':>8} {'status':>8} {'milp_s':>7} {'gap%':>6} "
        f"{'fcfs':>6} {'fcfs-d':>6} {'ls':>6} {'random':>6}"
    )
    print(head, flush=True)
    for size in [int(s) for s in args.sizes.split(",")]:
        for inst in generate_coordination(size, args.count, 0):
            row: dict[str, float | int | str] = {
                "robots": size,
                "instance": inst.name,
                "conflicts": inst.num_conflicts,
                "free_flow": float(inst.free_flow_completion.mean()),
            }
            t0 = time.perf_counter()
            milp = get_solver("milp").solve(inst, time_limit=args.milp_time)
            row["milp_s"] = time.perf_counter() - t0
            assert check(inst, milp).feasible
            row.update(milp=milp.objective, status=milp.stats["status"], bound=milp.stats["lower_bound"])
            row["gap"] = milp.stats["gap"]
            for label, name, options, limit in (
                ("fcfs", "fcfs", {}, None),
                ("fcfs_dynamic", "fcfs", {"mode": "dynamic"}, None),
                ("ls", "coord-ls", {}, args.ls_time),
                ("random", "coord-random", {}, None),
            ):
                t0 = time.perf_counter()
                sol = get_solver(name, **options).solve(inst, time_limit=limit)
                row[f"{label}_s"] = time.perf_counter() - t0
                assert check(inst, sol).feasible
                row[label] = sol.objective
                row[f"{label}_ratio"] = milp.objective / sol.objective
            rows.append(row)
            print(
                f"{size:>6} {inst.num_conflicts:>9} {row['free_flow']:>7.2f} {milp.objective:>8.3f} "
                f"{row['status']:>8} {row['milp_s']:>7.1f} {100 * row['gap']:>6.2f} {row['fcfs_ratio']:>6.3f} "
                f"{row['fcfs_dynamic_ratio']:>6.3f} {row['ls_ratio']:>6.3f} {row['random_ratio']:>6.3f}",
                flush=True,
            )
    by_size: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_size[int(row["robots"])].append(row)
    print("\nmeans per size: robots, milp_s, gap%, optimal, fcfs, fcfs-dynamic, ls, random (ratios), ls_s")
    for size, group in by_size.items():

        def mean(key: str, group: list[dict] = group) -> float:
            return sum(float(r[key]) for r in group) / len(group)

        optimal = sum(r["status"] == "optimal" for r in group)
        print(
            f"{size:>6} {mean('milp_s'):>7.1f} {100 * mean('gap'):>6.2f} {optimal}/{len(group)} "
            f"{mean('fcfs_ratio'):.3f} {mean('fcfs_dynamic_ratio'):.3f} {mean('ls_ratio'):.3f} "
            f"{mean('random_ratio'):.3f} {mean('ls_s'):.1f}"
        )
    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
