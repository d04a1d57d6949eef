"""Time to relative gap 1e-4 / 1e-5 / 1e-6 of Frank-Wolfe, conjugate FW and bi-conjugate FW on the TNTP networks.

Each (network, algorithm) runs once to the finest gap (or its time limit) after a warm-up that compiles the numba
kernels, and the table reads the time and iteration at which each coarser gap was first measured. The published
column is AequilibraE 1.7.2's bi-conjugate FW on a 2-core machine (``../shared/benchmarks/network_design/README.md``).
It also checks the reference objectives: SiouxFalls' shipped flows (TSTT 7,480,225.34, Beckmann 4,231,335.29) and
Chicago-Sketch's (Beckmann 17,313,018.74 under time + 0.02 toll + 0.04 length), and how far the flows solved to
1e-6 are from the shipped ones.

    .venv/bin/python benchmarks/ue_speed.py [--networks SiouxFalls EMA Chicago] [--limit SECONDS] [--threads N]
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from routelab.data.tntp import read_tntp_flow, read_tntp_net, read_tntp_trips
from routelab.traffic import ALGORITHMS, RoadNetwork, beckmann, relative_gap, solve_ue, tstt

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "network_design" / "tntp"
GAPS = (1e-4, 1e-5, 1e-6)
NETWORKS = {
    # name: (folder, prefix, generalised-cost weights, AequilibraE BFW seconds per gap, reference check)
    "SiouxFalls": ("SiouxFalls", "SiouxFalls", (1.0, 0.0, 0.0), {1e-4: 0.86, 1e-6: 7.9}),
    "EMA": ("Eastern-Massachusetts", "EMA", (1.0, 0.0, 0.0), {1e-6: 5.5}),
    "Chicago": ("Chicago-Sketch", "ChicagoSketch", (1.0, 0.02, 0.04), {1e-4: 3.0, 1e-5: 11.0, 1e-6: 31.6}),
}


def load(name: str) -> tuple[RoadNetwork, np.ndarray, np.ndarray | None, tuple[float, float, float]]:
    folder, prefix, weights, _ = NETWORKS[name]
    net = read_tntp_net(ROOT / folder / f"{prefix}_net.tntp")
    demand = read_tntp_trips(ROOT / folder / f"{prefix}_trips.tntp", num_zones=net.num_zones)
    road = net.road_network()
    flow_file = ROOT / folder / f"{prefix}_flow.tntp"
    ref = read_tntp_flow(flow_file).aligned(net, str(flow_file)) if flow_file.exists() else None
    return road, demand, ref, weights


def first_reach(gaps: list[float], elapsed: list[float], target: float) -> tuple[float, int] | None:
    for k, (g, t) in enumerate(zip(gaps, elapsed, strict=True)):
        if g <= target:
            return t, k
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--limit", type=float, default=15.0, help="seconds per (network, algorithm) run")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    header = ["network", "algorithm", *(f"{g:.0e} s (it)" for g in GAPS), "TSTT", "Beckmann", "AequilibraE BFW"]
    print("| " + " | ".join(header) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.networks:
        road, demand, ref, weights = load(name)
        solve_ue(road, demand, algorithm="bfw", gap=1e-2, weights=weights, threads=args.threads)  # compile
        if ref is not None:
            print(
                f"<!-- {name} shipped flows: TSTT {tstt(road, ref):,.2f}, Beckmann {beckmann(road, ref, weights):,.2f},"
                f" gap {relative_gap(road, demand, ref, weights):.2e} -->"
            )
        for algorithm in ALGORITHMS:
            res = solve_ue(
                road,
                demand,
                algorithm=algorithm,
                gap=GAPS[-1],
                time_limit=args.limit,
                weights=weights,
                threads=args.threads,
            )
            cells = []
            for target in GAPS:
                hit = first_reach(res.gaps, res.elapsed, target)
                cells.append(f"{hit[0]:.3f} ({hit[1]})" if hit else f"- (gap {res.gap:.1e} at {res.seconds:.0f} s)")
            published = ", ".join(f"{g:.0e}: {s} s" for g, s in NETWORKS[name][3].items()) if algorithm == "bfw" else ""
            print(
                f"| {name} | {algorithm} | {' | '.join(cells)} | {res.tstt:,.2f} | {res.beckmann:,.2f} | {published} |"
            )
            if ref is not None and algorithm == "bfw":
                diff = np.abs(res.flows - ref)
                print(
                    f"<!-- {name} bfw flows vs shipped: max |dx| {diff.max():.3f}, mean {diff.mean():.4f},"
                    f" TSTT rel diff {abs(res.tstt - tstt(road, ref)) / tstt(road, ref):.2e} -->"
                )
            if not math.isfinite(res.gap):
                raise SystemExit(f"{name} {algorithm}: no gap measured")


if __name__ == "__main__":
    main()
