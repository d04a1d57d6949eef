"""Feasibility sweep of the ``ortools`` solver on every Solomon (cvrptw) and CVRPLIB X (cvrp) instance.

Why: OR-Tools' path-building first-solution strategies find nothing on tight-window instances (R101, RC101)
within 20 s; this sweep is the evidence that the solver's fallback chain finds a feasible solution on every
instance of the shared benchmarks. It prints one row per instance (feasible, objective, gap to the BKS in the
folder's bks.csv, the first-solution strategy that produced the start) and a summary, and exits non-zero when
any instance ends without a feasible solution.

Usage: ``python benchmarks/ortools_feasibility.py BENCHMARK_ROOT [TIME_LIMIT_S] [FIRST_SOLUTION]`` (default 5 s
per instance and the solver's per-kind default strategy, ``auto``), where BENCHMARK_ROOT holds
``cvrptw/solomon/*.txt`` and ``cvrp/x/*.vrp``. Instances are read in place by :mod:`routelab.data` (Solomon:
trunc1 lengths and the file's fleet size; X: nint lengths, unlimited fleet); nothing is copied into the repo.
"""

from __future__ import annotations

import csv
import statistics
import sys
from pathlib import Path

from routelab.data.readers import read_instance
from routelab.problems import check
from routelab.solvers.ortools_routing import ORToolsSolver


def read_bks(folder: Path) -> dict[str, float]:
    """``instance -> best-known distance`` from the folder's bks.csv (the column name differs per set)."""
    with open(folder / "bks.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    column = next(c for c in rows[0] if c.startswith("bks"))
    return {row["instance"]: float(row[column]) for row in rows}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 2
    root = Path(argv[1])
    limit = float(argv[2]) if len(argv) > 2 else 5.0
    sets = [
        ("solomon", root / "cvrptw" / "solomon", "*.txt"),
        ("x", root / "cvrp" / "x", "*.vrp"),
    ]
    solver = ORToolsSolver(first_solution=argv[3] if len(argv) > 3 else "auto")
    failures: list[str] = []
    gaps: dict[str, list[float]] = {}
    print(f"{'set':8} {'instance':12} {'feasible':8} {'objective':>11} {'bks':>9} {'gap%':>7} {'time':>6}  start")
    for label, folder, pattern in sets:
        bks = read_bks(folder)
        files = sorted(folder.glob(pattern))
        if not files:
            print(f"no instances under {folder}", file=sys.stderr)
            failures.append(f"{label}: no instances")
        for path in files:
            instance = read_instance(path)
            solution = solver.solve(instance, time_limit=limit)
            score = check(instance, solution) if solution.found else None
            feasible = score is not None and score.feasible
            best = bks.get(instance.name)
            gap = 100.0 * (score.objective - best) / best if feasible and best else float("nan")
            if feasible:
                gaps.setdefault(label, []).append(gap)
            else:
                failures.append(f"{instance.name}: {solution.stats.get('status')}")
            obj = f"{score.objective:11.1f}" if score is not None else f"{'-':>11}"
            print(
                f"{label:8} {instance.name:12} {feasible!s:8} {obj} {best or float('nan'):9.1f} {gap:7.2f} "
                f"{solution.runtime_s:6.1f}  {solution.stats.get('first_solution')}",
                flush=True,
            )
    print()
    for label, values in gaps.items():
        print(f"{label}: {len(values)} feasible, mean gap {statistics.mean(values):.2f}% at {limit:g} s per instance")
    print(f"first solution option: {solver.first_solution.lower()}")
    if failures:
        print(f"NOT FEASIBLE ({len(failures)}): " + "; ".join(failures))
        return 1
    print("all instances feasible")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
