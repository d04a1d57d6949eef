"""Time AequilibraE's bi-conjugate Frank-Wolfe to relative gap 1e-4 / 1e-5 / 1e-6 on the TNTP networks, one core.

AequilibraE is not a project dependency: it pins its own stack (pandas, pyarrow, geopandas, shapely-era GIS
packages and a Cython build per Python version) that would fight routelab's, and it is only the yardstick of the
UE speed board. It therefore lives in a venv of its own, and this script imports nothing from routelab (its TNTP
reader pulls in ``routelab.data``, hence vrplib and friends): the two small parsers below read the same files.
Create the venv once with

    python3.11 -m venv /tmp/aeq-venv
    /tmp/aeq-venv/bin/pip install aequilibrae==1.7.2

and run (``benchmarks/ue_speed_board.py`` runs it for you, back-to-back with routelab's solvers)

    /tmp/aeq-venv/bin/python benchmarks/ue_aequilibrae.py [--networks SiouxFalls EMA Chicago] [--out DIR]
        [--repeat R] [--limit SECONDS]

Each run goes to relative gap 1e-6 (or ``--limit`` seconds) and records every iteration: AequilibraE's own relative
gap, wall-clock and process CPU seconds since the start of ``execute()``, and the link flows ``x_k`` it would
return if it stopped there. The time to a gap is the first iteration whose own gap is at or below it (AequilibraE
stops there with ``rgap_target`` set to that gap and ``steps_below_needed_to_terminate`` 1, its default), so one
run gives all three gaps. ``DIR/<network>-r<R>.npz`` keeps the trace; ``DIR/aequilibrae.csv`` gets one row per gap.

Set up to be the same problem as routelab's (``routelab/traffic/assignment.py``):

- every TNTP link is one directed link (``direction`` 1) whose ``link_id`` is its 1-based row, so flows come back in
  file order; BPR with per-link ``alpha`` = b and ``beta`` = power, capacity and free-flow time from the file;
- Chicago-Sketch's generalised cost ``time + 0.02 toll + 0.04 length``: the flow-independent part is a fixed cost
  of the traffic class (``set_fixed_cost``, value of time 1). AequilibraE routes on ``fixed + congested time`` and
  uses the same sum in its line search and relative gap, as routelab does with weights (1, 0.02, 0.04);
- AequilibraE refuses a zero free-flow time (``set_time_field``), and Chicago-Sketch's 774 zone connectors have one:
  they get ``ZERO_TIME`` (1e-8 min) instead, against 0.035 of length cost on each; TSTT and Beckmann below are
  computed with the file's zeros;
- FIRST THRU NODE: AequilibraE blocks paths through either all centroids or none (``set_blocked_centroid_flows``).
  FIRST THRU NODE 1 (all three networks as shipped) blocks none; zones + 1 blocks all; anything else is refused;
- ``set_cores(1)`` before ``set_algorithm``: ``LinearApproximation`` copies the core count when it is created, so a
  later ``set_cores(1)`` leaves its vector kernels on every core, where OpenMP spin-waits cost 30 ms per call on a
  busy 2-core machine (Sioux Falls to 1e-6 in 52 s instead of 3.5 s). Progress bars are off (``AEQ_SHOW_PROGRESS``).

Relative gaps differ: AequilibraE's gap at iteration k is ``|c(x_{k-1}).x_k - c(x_{k-1}).y_k| / c(x_{k-1}).x_k``
with ``y_k`` the all-or-nothing flows on ``c(x_{k-1})``, taken after the step to ``x_k``, so it is not the gap of the
flows it returns (routelab's: ``(c(x).x - c(x).y(x)) / c(x).x`` of the flows returned). The board script measures
routelab's gap of every recorded ``x_k`` afterwards.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import time
from pathlib import Path

os.environ.setdefault("AEQ_SHOW_PROGRESS", "FALSE")  # read when aequilibrae is imported

import numpy as np
import pandas as pd
from aequilibrae.matrix import AequilibraeMatrix
from aequilibrae.paths import Graph, TrafficAssignment, TrafficClass

ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "network_design" / "tntp"
GAPS = (1e-4, 1e-5, 1e-6)
ZERO_TIME = 1e-8
NETWORKS = {
    # name: (folder, file prefix, generalised-cost weights (time, toll, length)), as in benchmarks/ue_speed.py
    "SiouxFalls": ("SiouxFalls", "SiouxFalls", (1.0, 0.0, 0.0)),
    "EMA": ("Eastern-Massachusetts", "EMA", (1.0, 0.0, 0.0)),
    "Chicago": ("Chicago-Sketch", "ChicagoSketch", (1.0, 0.02, 0.04)),
}
_TAG = re.compile(r"^\s*<([^>]+)>\s*(.*?)\s*$")
_ENTRY = re.compile(r"(\d+)\s*:\s*([-+0-9.eE]+)")


def _metadata(path: Path) -> tuple[dict[str, str], list[str]]:
    lines = path.read_text().splitlines()
    meta: dict[str, str] = {}
    for i, line in enumerate(lines):
        m = _TAG.match(line)
        if m and m.group(1) == "END OF METADATA":
            return meta, lines[i + 1 :]
        if m:
            meta[m.group(1)] = m.group(2)
    raise SystemExit(f"{path}: no <END OF METADATA>")


def read_net(path: Path) -> tuple[dict[str, int], np.ndarray]:
    """Metadata (zones, nodes, first thru node, links) and the link table (init, term, capacity, length, t0, b,
    power, speed, toll, type) of a ``*_net.tntp``."""
    meta, body = _metadata(path)
    rows = [ln.replace(";", " ").split() for ln in body if ln.strip() and not ln.lstrip().startswith("~")]
    table = np.array([[float(v) for v in row[:10]] for row in rows])
    info = {
        key: int(meta[tag])
        for key, tag in (
            ("zones", "NUMBER OF ZONES"),
            ("nodes", "NUMBER OF NODES"),
            ("first_thru_node", "FIRST THRU NODE"),
            ("links", "NUMBER OF LINKS"),
        )
    }
    if table.shape != (info["links"], 10):
        raise SystemExit(f"{path}: expected {info['links']} links x 10 columns, got {table.shape}")
    return info, table


def read_trips(path: Path, zones: int) -> np.ndarray:
    """The ``zones x zones`` demand of a ``*_trips.tntp`` (its TOTAL OD FLOW checked)."""
    meta, body = _metadata(path)
    demand = np.zeros((zones, zones))
    for block in re.split(r"\bOrigin\b", "\n".join(body))[1:]:
        origin, *rest = block.split(None, 1)  # an origin without trips has no entries
        for dest, flow in _ENTRY.findall(rest[0] if rest else ""):
            demand[int(origin) - 1, int(dest) - 1] = float(flow)
    total = float(meta["TOTAL OD FLOW"])
    if abs(demand.sum() - total) > 1e-6 * total:
        raise SystemExit(f"{path}: trips sum to {demand.sum()}, TOTAL OD FLOW says {total}")
    return demand


def objectives(table: np.ndarray, flows: np.ndarray, weights: tuple[float, float, float]) -> tuple[float, float]:
    """TSTT (time only) and the Beckmann objective of the generalised cost, with the file's free-flow times."""
    cap, length, t0, b, power, toll = (table[:, k] for k in (2, 3, 4, 5, 6, 8))
    ratio = flows / cap
    tstt = float(np.dot(flows, t0 * (1.0 + b * ratio**power)))
    integral = t0 * (flows + b * cap * ratio ** (power + 1.0) / (power + 1.0))
    fixed = weights[1] * toll + weights[2] * length
    return tstt, float(weights[0] * integral.sum() + np.dot(fixed, flows))


def build(name: str) -> tuple[TrafficAssignment, np.ndarray, tuple[float, float, float]]:
    folder, prefix, weights = NETWORKS[name]
    info, table = read_net(ROOT / folder / f"{prefix}_net.tntp")
    zones = info["zones"]
    demand = read_trips(ROOT / folder / f"{prefix}_trips.tntp", zones)
    np.fill_diagonal(demand, 0.0)  # routelab skips intrazonal trips too (none in these files)
    if weights[0] != 1.0:
        raise SystemExit("only a time weight of 1 maps onto AequilibraE's fixed cost (value of time 1)")
    ftn = info["first_thru_node"]
    if ftn not in (1, zones + 1):
        raise SystemExit(f"{name}: FIRST THRU NODE {ftn} blocks some zones only; AequilibraE blocks all or none")
    m = len(table)
    t0 = table[:, 4]
    network = pd.DataFrame(
        {
            "link_id": np.arange(1, m + 1),
            "a_node": table[:, 0].astype(np.int64),
            "b_node": table[:, 1].astype(np.int64),
            "direction": np.ones(m, dtype=np.int8),
            "free_flow_time": np.where(t0 > 0, t0, ZERO_TIME),
            "capacity": table[:, 2],
            "b": table[:, 5],
            "power": table[:, 6],
            "fixed_cost": weights[1] * table[:, 8] + weights[2] * table[:, 3],
        }
    )
    graph = Graph()
    graph.network = network
    graph.prepare_graph(np.arange(1, zones + 1, dtype=np.int64))
    graph.set_graph("free_flow_time")
    graph.set_skimming([])
    graph.set_blocked_centroid_flows(ftn > 1)

    matrix = AequilibraeMatrix()
    matrix.create_empty(zones=zones, matrix_names=["demand"], memory_only=True)
    matrix.index[:] = np.arange(1, zones + 1)
    matrix.matrices[:, :, 0] = demand
    matrix.computational_view(["demand"])

    car = TrafficClass("car", graph, matrix)
    if weights[1] or weights[2]:
        car.set_fixed_cost("fixed_cost")
    assig = TrafficAssignment()
    assig.set_classes([car])
    assig.set_cores(1)  # before set_algorithm, see the module docstring
    assig.set_vdf("BPR")
    assig.set_vdf_parameters({"alpha": "b", "beta": "power"})
    assig.set_capacity_field("capacity")
    assig.set_time_field("free_flow_time")
    assig.set_algorithm("bfw")
    assig.max_iter = 100_000
    assig.rgap_target = GAPS[-1]
    if assig.assignment.cores != 1:
        raise SystemExit(f"AequilibraE runs on {assig.assignment.cores} cores, expected 1")
    return assig, table, weights


def run(name: str, limit: float) -> dict[str, np.ndarray | float]:
    """One assignment to the finest gap; every iterate's flows, own gap, wall and CPU seconds."""
    clock = time.perf_counter()
    assig, table, weights = build(name)
    setup = time.perf_counter() - clock
    algo = assig.assignment
    flows: list[np.ndarray] = []
    cpu: list[float] = []
    original = algo.check_convergence
    start: list[float] = []

    def traced() -> bool:  # called once per iteration after the step, before the report row is written
        converged = original()
        flows.append(np.array(algo.fw_total_flow, copy=True))  # x_k, indexed by link (supernet id = link_id - 1)
        cpu.append(time.process_time() - start[0])
        if time.perf_counter() - start[1] > limit:
            return True  # stop: the trace says which gaps were reached
        return converged

    algo.check_convergence = traced
    start.extend([time.process_time(), time.perf_counter()])
    assig.execute()
    report = assig.report()
    results = assig.results().sort_index()
    final = results["demand_tot"].to_numpy()
    if not np.allclose(final, flows[-1], rtol=1e-9, atol=1e-6):
        raise SystemExit(f"{name}: traced flows are not in link order (results() disagrees)")
    # report rows start at iteration 1 (the first AON, no gap); the trace starts at iteration 2
    rep = report[report["iteration"] >= 2]
    return {
        "iteration": rep["iteration"].to_numpy(),
        "rgap": rep["rgap"].to_numpy(),
        "wall": rep["time"].to_numpy(),
        "cpu": np.array(cpu),
        "flows": np.array(flows),
        "setup": setup,
        "weights": np.array(weights),
        "table": table,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=list(NETWORKS))
    parser.add_argument("--out", type=Path, default=Path("/tmp/ue-speed-board"))
    parser.add_argument("--repeat", type=int, default=0, help="repeat number, only names the output")
    parser.add_argument("--limit", type=float, default=120.0, help="seconds per run")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    summary = args.out / "aequilibrae.csv"
    new = not summary.exists()
    with summary.open("a", newline="") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(
                ["network", "repeat", "gap", "seconds", "cpu_seconds", "iterations", "own_gap", "tstt", "beckmann"]
            )
        for name in args.networks:
            trace = run(name, args.limit)
            np.savez_compressed(args.out / f"{name}-r{args.repeat}.npz", **trace)
            for target in GAPS:
                hit = np.flatnonzero(trace["rgap"] <= target)
                if not len(hit):
                    print(
                        f"{name}: gap {target:.0e} not reached (own gap {trace['rgap'][-1]:.2e} after "
                        f"{trace['wall'][-1]:.1f} s)"
                    )
                    continue
                k = hit[0]
                tstt, beck = objectives(trace["table"], trace["flows"][k], tuple(trace["weights"]))
                row = [
                    name,
                    args.repeat,
                    f"{target:.0e}",
                    f"{trace['wall'][k]:.4f}",
                    f"{trace['cpu'][k]:.4f}",
                    int(trace["iteration"][k]),
                    f"{trace['rgap'][k]:.3e}",
                    f"{tstt:.2f}",
                    f"{beck:.2f}",
                ]
                writer.writerow(row)
                print(" ".join(str(v) for v in row), flush=True)


if __name__ == "__main__":
    main()
