"""GNN-VAE (``gnnvae``) against the MILP and the classical baselines, 5 to 250 robots: optimality ratio and seconds.

For every generated warehouse instance (seed 2026, never a training seed) the MILP (CP-SAT, 1 worker) runs first
with a size-dependent time limit; its objective and its proven lower bound are the references. Then, one at a
time and timed alone: ``gnnvae`` (K samples plus the all-zero-delay base candidate, no polish), ``learned-only``
(``gnnvae base=false``: the K learned samples alone, the model's own share), ``learned-static`` (the same with
the original static rank decoding, ``decode=static``, kept to show what dispatch decoding fixed), ``gnnvae`` +
polish (local search for ``--polish`` seconds), ``fcfs`` (best of planned and dynamic), ``coord-ls``
(``--ls-time`` seconds) and ``coord-random`` (K priority samples). Every answer is checked by the shared scorer.

Two ratios per method: ``milp/obj`` (the issue's optimality ratio; when the MILP timed out it is only a feasible
solution, so a method can score above 1) and ``bound/obj`` (a certified lower bound of the true optimality ratio;
at 250 robots CP-SAT's bound is barely above free flow, so this one is pessimistic). Seconds are wall-clock per
instance including graph construction, the FCFS base schedule, the batched decode, the batch evaluation and the
scorer, on one torch thread; the machine's load average is printed with every size because this CPU is shared.
MILP results are cached in ``--cache`` (JSON) so a rerun with a new checkpoint costs no MILP time.

    nice -n 10 .venv/bin/python benchmarks/coordination_gnnvae.py [--sizes 5,10,25,50,100,250] [--count 3]
        [--samples 32] [--polish 1.0] [--ls-time 2] [--checkpoint PATH] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from routelab.data.coordination_gen import generate_coordination
from routelab.problems import check
from routelab.solvers import get_solver

SEED = 2026
MILP_TIME = {5: 20.0, 10: 20.0, 25: 30.0, 50: 45.0, 100: 60.0, 250: 60.0}


def milp_reference(inst: Any, limit: float, cache: dict[str, Any]) -> dict[str, Any]:
    """The MILP's objective, bound, status and seconds for ``inst`` (from the cache when it ran before)."""
    key = f"{inst.name}@{limit}"
    if key not in cache:
        t0 = time.perf_counter()
        sol = get_solver("milp").solve(inst, time_limit=limit)
        seconds = time.perf_counter() - t0
        if not check(inst, sol).feasible:
            raise RuntimeError(f"{inst.name}: the MILP answer was rejected by the scorer")
        cache[key] = {
            "objective": sol.objective,
            "bound": sol.stats["lower_bound"],
            "status": sol.stats["status"],
            "seconds": round(seconds, 2),
        }
    return cache[key]


def run_method(inst: Any, name: str, options: dict[str, Any], limit: float | None, seed: int) -> tuple[float, float]:
    """``(objective, seconds)`` of one scored run; an answer the scorer rejects is an error, never a number."""
    solver = get_solver(name, **options)
    t0 = time.perf_counter()
    sol = solver.solve(inst, time_limit=limit, seed=seed)
    seconds = time.perf_counter() - t0
    verdict = check(inst, sol)
    if not verdict.feasible:
        raise RuntimeError(f"{name} on {inst.name}: infeasible ({verdict.violations[:1]})")
    return float(verdict.objective), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="5,10,25,50,100,250")
    parser.add_argument("--count", type=int, default=3, help="instances per size (2 at 100 and 250 robots)")
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--polish", type=float, default=1.0, help="local-search seconds after decoding")
    parser.add_argument("--ls-time", type=float, default=2.0, help="coord-ls seconds (the issue's 2 s budget)")
    parser.add_argument("--milp-scale", type=float, default=1.0, help="multiply the MILP time limits")
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--cache", default="runs/coordination_gnnvae_milp.json")
    parser.add_argument("--json", default=None, help="write every row and the summary here")
    parser.add_argument("--milp-only", action="store_true", help="only fill the MILP cache (run it ahead)")
    args = parser.parse_args()

    cache_path = Path(args.cache)
    cache: dict[str, Any] = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    gnn = {"samples": args.samples, **({"checkpoint": args.checkpoint} if args.checkpoint else {})}
    methods: list[tuple[str, str, dict[str, Any], float | None]] = [
        ("gnnvae", "gnnvae", gnn, None),
        ("learned-only", "gnnvae", {**gnn, "base": False}, None),
        ("learned-static", "gnnvae", {**gnn, "base": False, "decode": "static"}, None),
        ("gnnvae+polish", "gnnvae", {**gnn, "polish": args.polish}, None),
        ("fcfs", "fcfs", {"mode": "best"}, None),
        ("coord-ls", "coord-ls", {}, args.ls_time),
        ("coord-random", "coord-random", {"samples": args.samples}, None),
    ]
    warm = generate_coordination(5, 1, SEED + 1)[0]
    for _, name, options, limit in [] if args.milp_only else methods:  # load the model, compile numba: untimed
        run_method(warm, name, options, limit, 0)

    rows: list[dict[str, Any]] = []
    sizes = [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        count = args.count if size < 100 else min(args.count, 2)
        for inst in generate_coordination(size, count, SEED):
            limit = MILP_TIME.get(size, 60.0) * args.milp_scale
            ref = milp_reference(inst, limit, cache)
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_path.write_text(json.dumps(cache, indent=1))
            if args.milp_only:
                print(f"{inst.name}: milp {ref}", flush=True)
                continue
            row: dict[str, Any] = {
                "robots": size,
                "instance": inst.name,
                "conflicts": inst.num_conflicts,
                "free_flow": float(inst.free_flow_completion.mean()),
                "milp": ref["objective"],
                "milp_bound": ref["bound"],
                "milp_status": ref["status"],
                "milp_s": ref["seconds"],
                "milp_limit_s": limit,
                "load1": round(os.getloadavg()[0], 1),
            }
            for label, name, options, mlimit in methods:
                obj, seconds = run_method(inst, name, options, mlimit, 0)
                row[label] = obj
                row[f"{label}_s"] = round(seconds, 3)
            rows.append(row)
            print(
                f"{size:>4} robots {inst.num_conflicts:>6} conflicts  milp {ref['objective']:.3f} ({ref['status']}, "
                f"bound {ref['bound']:.3f})  "
                + "  ".join(f"{label} {row[label]:.3f}/{row[f'{label}_s']:.2f}s" for label, *_ in methods)
                + f"  load {row['load1']}",
                flush=True,
            )

    if args.milp_only:
        return
    summary: dict[int, dict[str, Any]] = defaultdict(dict)
    for size in sizes:
        mine = [r for r in rows if r["robots"] == size]
        if not mine:
            continue
        summary[size]["instances"] = len(mine)
        summary[size]["milp_optimal"] = sum(r["milp_status"] == "optimal" for r in mine)
        summary[size]["milp_s"] = _mean([r["milp_s"] for r in mine])
        summary[size]["load1"] = _mean([r["load1"] for r in mine])
        for label, *_ in methods:
            summary[size][f"{label}_ratio"] = _mean([r["milp"] / r[label] for r in mine])
            summary[size][f"{label}_bound_ratio"] = _mean([r["milp_bound"] / r[label] for r in mine])
            summary[size][f"{label}_s"] = _mean([r[f"{label}_s"] for r in mine])

    labels = [label for label, *_ in methods]
    print("\nmean optimality ratio MILP/method (bound/method) and seconds per instance")
    print("| robots | n | MILP opt. | MILP s | " + " | ".join(labels) + " | load |")
    print("|---" * (len(labels) + 5) + "|")
    for size, s in summary.items():
        cells = [
            f"{s[f'{label}_ratio']:.3f} ({s[f'{label}_bound_ratio']:.3f}), {s[f'{label}_s']:.2f} s" for label in labels
        ]
        print(
            f"| {size} | {s['instances']} | {s['milp_optimal']}/{s['instances']} | {s['milp_s']:.1f} | "
            + " | ".join(cells)
            + f" | {s['load1']:.1f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "summary": summary}, indent=1))


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")


if __name__ == "__main__":
    main()
