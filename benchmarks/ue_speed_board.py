"""The UE speed board: time to relative gap 1e-4 / 1e-5 / 1e-6, routelab's FW / CFW / BFW next to AequilibraE's BFW.

Writes ``leaderboards/results/ue-speed.csv`` and ``leaderboards/ue-speed.md``. For each network in turn it runs,
back to back and each on one thread: AequilibraE 1.7.2's bi-conjugate FW (``benchmarks/ue_aequilibrae.py`` in its
own venv, see that script for how to create it), then routelab's BFW; that pair ``--repeats`` times (the board
shows medians), then routelab's CFW and FW once each as context. Every run goes to 1e-6 or its time limit, and the
time to a coarser gap is the first time it was measured, as in ``benchmarks/ue_speed.py``.

Times are wall-clock and process CPU seconds from the start of the solve (network and demand already built;
numba compiled by a warm-up). routelab's CPU seconds at each gap come from a stand-in for the ``time`` module of
``routelab.traffic.assignment`` that notes ``time.process_time()`` whenever the solver reads its clock. Iterations
are counted as all-or-nothing loads (shortest-path trees for every origin), the unit both solvers spend: routelab's
``gaps[k]`` costs k + 2 loads, AequilibraE's iteration k costs k.

Two gap columns for AequilibraE: its own stopping rule (what ``rgap_target`` does), and routelab's relative gap of
the flows it holds at each iteration (measured here afterwards), which is the definition routelab stops on.

    .venv/bin/python benchmarks/ue_speed_board.py [--networks SiouxFalls EMA Chicago] [--repeats 3]
        [--aeq-python /tmp/aeq-venv/bin/python] [--work /tmp/ue-speed-board] [--reuse-aeq]
"""

from __future__ import annotations

import argparse
import csv
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/ue_speed.py: loading, published figures
import ue_speed

import routelab.traffic.assignment as assignment
from routelab.traffic import beckmann, relative_gap, solve_ue, tstt

REPO = Path(__file__).resolve().parents[1]
GAPS = ue_speed.GAPS
COLUMNS = [
    "network",
    "solver",
    "gap",
    "criterion",
    "seconds",
    "cpu_seconds",
    "runs_seconds",
    "runs_cpu_seconds",
    "aon_loads",
    "gap_of_flows",
    "tstt",
    "beckmann",
    "published_seconds",
]


class _Clock:
    """Stands in for ``time`` in ``routelab.traffic.assignment``: wall clock as usual, CPU time noted per read."""

    def __init__(self) -> None:
        self.reads: list[tuple[float, float]] = []

    def perf_counter(self) -> float:
        wall = time.perf_counter()
        self.reads.append((wall, time.process_time()))
        return wall


def run_ours(road, demand, weights, algorithm: str, limit: float) -> dict:
    """One routelab solve to 1e-6; per target gap: wall and CPU seconds, AON loads, the gap measured."""
    clock = _Clock()
    assignment.time = clock
    try:
        res = solve_ue(road, demand, algorithm=algorithm, gap=GAPS[-1], time_limit=limit, weights=weights, threads=1)
    finally:
        assignment.time = time
    wall0, cpu0 = clock.reads[0]
    cpu_at = {wall - wall0: cpu - cpu0 for wall, cpu in clock.reads}
    out = {"result": res, "gaps": {}}
    for target in GAPS:
        hit = ue_speed.first_reach(res.gaps, res.elapsed, target)
        if hit is not None:
            seconds, k = hit
            if seconds not in cpu_at:
                raise SystemExit("solve_ue no longer reads its clock through assignment.time: update _Clock")
            out["gaps"][target] = (seconds, cpu_at[seconds], k + 2, res.gaps[k])
    return out


def run_aeq(args: argparse.Namespace, name: str, repeat: int) -> dict:
    """AequilibraE's BFW in its own venv (or a trace left by an earlier run with ``--reuse-aeq``)."""
    path = args.work / f"{name}-r{repeat}.npz"
    if not (args.reuse_aeq and path.exists()):
        script = REPO / "benchmarks" / "ue_aequilibrae.py"
        cmd = [str(args.aeq_python), str(script), "--networks", name, "--out", str(args.work)]
        cmd += ["--repeat", str(repeat), "--limit", str(args.limit)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def aeq_true_gaps(road, demand, weights, trace: dict) -> np.ndarray:
    """routelab's relative gap of every iterate AequilibraE held (from the first with its own gap <= 1e-3).

    Its own gap at iteration k + 1 is at most about routelab's gap of ``x_k``, so no iterate before that point can
    have reached 1e-4 by routelab's measure.
    """
    gaps = np.full(len(trace["rgap"]), np.inf)
    start = np.flatnonzero(trace["rgap"] <= 1e-3)
    for k in range(start[0] if len(start) else len(gaps), len(gaps)):
        gaps[k] = relative_gap(road, demand, trace["flows"][k], weights)
    return gaps


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{os.cpu_count()} cores ({cpu}), load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--networks", nargs="+", default=list(ue_speed.NETWORKS), choices=list(ue_speed.NETWORKS))
    parser.add_argument("--repeats", type=int, default=3, help="AequilibraE + routelab BFW pairs per network")
    parser.add_argument("--limit", type=float, default=150.0, help="seconds per BFW run (both solvers)")
    parser.add_argument("--context-limit", type=float, default=45.0, help="seconds per routelab FW / CFW run")
    parser.add_argument("--aeq-python", type=Path, default=Path("/tmp/aeq-venv/bin/python"))
    parser.add_argument("--work", type=Path, default=Path("/tmp/ue-speed-board"), help="AequilibraE traces")
    parser.add_argument("--reuse-aeq", action="store_true", help="read AequilibraE traces already in --work")
    parser.add_argument("--csv", type=Path, default=REPO / "leaderboards" / "results" / "ue-speed.csv")
    parser.add_argument("--board", type=Path, default=REPO / "leaderboards" / "ue-speed.md")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if not args.reuse_aeq:
        (args.work / "aequilibrae.csv").unlink(missing_ok=True)
    started = datetime.datetime.now(datetime.UTC)
    load_before = machine()
    rows: list[dict] = []
    finals: list[str] = []
    thru: dict[str, int] = {}
    for name in args.networks:
        road, demand, ref, weights = ue_speed.load(name)
        thru[name] = road.first_thru_node
        published = ue_speed.NETWORKS[name][3]
        solve_ue(road, demand, algorithm="bfw", gap=1e-2, weights=weights, threads=1)  # compile
        ours: dict[str, list[dict]] = {"bfw": [], "cfw": [], "fw": []}
        traces: list[dict] = []
        for repeat in range(args.repeats):
            traces.append(run_aeq(args, name, repeat))
            ours["bfw"].append(run_ours(road, demand, weights, "bfw", args.limit))
            print(
                f"{name} repeat {repeat}: AequilibraE {traces[-1]['wall'][-1]:.2f} s, routelab bfw "
                f"{ours['bfw'][-1]['result'].seconds:.2f} s",
                flush=True,
            )
        for algorithm in ("cfw", "fw"):
            ours[algorithm].append(run_ours(road, demand, weights, algorithm, args.context_limit))
        # AequilibraE is deterministic: every repeat takes the same iterates, so routelab's gap of them is measured
        # on the first repeat's flows only.
        for trace in traces[1:]:
            if not np.array_equal(trace["rgap"], traces[0]["rgap"]):
                print(f"warning: {name}: AequilibraE repeats took different iterates", file=sys.stderr)
        true_gaps = aeq_true_gaps(road, demand, weights, traces[0])
        first = traces[0]
        for target in GAPS:
            pub = published.get(target, "")
            for algorithm in ("bfw", "cfw", "fw"):
                hits = [run["gaps"][target] for run in ours[algorithm] if target in run["gaps"]]
                row = {"network": name, "solver": f"routelab-{algorithm}", "gap": f"{target:.0e}"}
                row["criterion"] = "routelab"
                last = ours[algorithm][-1]["result"]
                if len(hits) == len(ours[algorithm]):
                    row.update(
                        seconds=median([h[0] for h in hits]),
                        cpu_seconds=median([h[1] for h in hits]),
                        runs_seconds=";".join(f"{h[0]:.3f}" for h in hits),
                        runs_cpu_seconds=";".join(f"{h[1]:.3f}" for h in hits),
                        aon_loads=hits[0][2],
                        gap_of_flows=f"{hits[0][3]:.3e}",
                    )
                    if target == GAPS[-1] or target == min(ours[algorithm][-1]["gaps"]):
                        row.update(tstt=f"{last.tstt:.2f}", beckmann=f"{last.beckmann:.2f}")
                else:
                    row.update(gap_of_flows=f"not reached: {last.gap:.2e} after {last.seconds:.0f} s")
                    row["note"] = f"> {last.seconds:.0f} s (gap {last.gap:.1e})"
                rows.append(row)
            for criterion, gaps in (("aequilibrae", first["rgap"]), ("routelab", true_gaps)):
                hit = np.flatnonzero(gaps <= target)
                row = {"network": name, "solver": "aequilibrae-bfw", "gap": f"{target:.0e}", "criterion": criterion}
                row["published_seconds"] = pub if criterion == "aequilibrae" else ""
                if len(hit):
                    k = hit[0]
                    x = first["flows"][k]
                    row.update(
                        seconds=median([float(t["wall"][k]) for t in traces]),
                        cpu_seconds=median([float(t["cpu"][k]) for t in traces]),
                        runs_seconds=";".join(f"{t['wall'][k]:.3f}" for t in traces),
                        runs_cpu_seconds=";".join(f"{t['cpu'][k]:.3f}" for t in traces),
                        aon_loads=int(first["iteration"][k]),
                        gap_of_flows=f"{true_gaps[k]:.3e}" if np.isfinite(true_gaps[k]) else "",
                        tstt=f"{tstt(road, x):.2f}",
                        beckmann=f"{beckmann(road, x, weights):.2f}",
                    )
                else:
                    row.update(gap_of_flows=f"not reached after {first['wall'][-1]:.0f} s")
                    row["note"] = f"> {first['wall'][-1]:.0f} s (gap {first['rgap'][-1]:.1e})"
                rows.append(row)
        bfw = ours["bfw"][-1]["result"]
        x_aeq = first["flows"][-1]
        line = (
            f"| {name} | routelab bfw: {bfw.tstt:,.2f} / {bfw.beckmann:,.2f} (gap {bfw.gap:.2e}) | AequilibraE: "
            f"{tstt(road, x_aeq):,.2f} / {beckmann(road, x_aeq, weights):,.2f} (own gap {first['rgap'][-1]:.2e}, "
            f"routelab's {relative_gap(road, demand, x_aeq, weights):.2e}) |"
        )
        if ref is not None:
            line += f" {tstt(road, ref):,.2f} / {beckmann(road, ref, weights):,.2f} |"
        else:
            line += " about 28,182 TSTT at 1e-6 (README) |"
        finals.append(line)
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _fmt(row.get(key, "")) for key in COLUMNS})
    load = f"{load_before} at the start, {', '.join(f'{v:.1f}' for v in os.getloadavg())} at the end"
    args.board.write_text(board(rows, finals, thru, args, started, load))
    print(f"wrote {args.csv} and {args.board}")


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _cell(row: dict | None) -> str:
    if row is None:
        return "-"
    if "seconds" not in row:
        return row.get("note", "-")
    return f"{row['seconds']:.3f} ({row['aon_loads']})"


def board(
    rows: list[dict], finals: list[str], thru: dict[str, int], args: argparse.Namespace, started, load_before
) -> str:
    def find(network: str, solver: str, gap: str, criterion: str) -> dict | None:
        for row in rows:
            if (row["network"], row["solver"], row["gap"], row["criterion"]) == (network, solver, gap, criterion):
                return row
        return None

    def ratio(num: dict | None, den: dict | None, key: str) -> str:
        if num is None or den is None or key not in num or key not in den or not den[key]:
            return "-"
        return f"{num[key] / den[key]:.1f}x"

    lines = [
        "# UE speed: time to relative gap, routelab vs AequilibraE",
        "",
        f"Machine: {load_before}. Other jobs shared it, so wall-clock seconds depend on the load; process CPU"
        " seconds (in `leaderboards/results/ue-speed.csv` and the ratio columns) are the steadier measure. Every"
        " solver runs on one thread.",
        "",
        f"Generated {started:%Y-%m-%d %H:%M} UTC by `.venv/bin/python benchmarks/ue_speed_board.py"
        f" --repeats {args.repeats}` (AequilibraE 1.7.2 through `benchmarks/ue_aequilibrae.py` in its own venv)."
        " Raw rows: `leaderboards/results/ue-speed.csv`.",
        "",
        "Cells: seconds from the start of the solve (median of the repeats for BFW and AequilibraE; one run for CFW"
        " and FW) and, in brackets, all-or-nothing loads, the unit of work both solvers share. Each AequilibraE run"
        " and routelab BFW run was made back to back, network by network. Ratio: AequilibraE's seconds over"
        " routelab BFW's (above 1 means routelab is faster).",
        "",
        "Two gap columns for AequilibraE. *Own rule*: when its `rgap_target` stops it;"
        " its relative gap at iteration k is `|c(x_{k-1}).x_k - c(x_{k-1}).y_k| / c(x_{k-1}).x_k`, measured after the"
        " step to x_k, so it is not the gap of the flows it returns. *routelab's rule*: the first iteration whose"
        " flows x_k have routelab's relative gap `(c(x).x - c(x).y(x)) / c(x).x` at or below the target (measured"
        " afterwards, the time is that of iteration k, which leaves out the load that would certify it). routelab"
        " stops on its own gap of the flows it returns. Published: AequilibraE BFW on a 2-core machine"
        " (`../shared/benchmarks/network_design/README.md`).",
        "",
        "| network | gap | routelab BFW s (loads) | CFW | FW | AequilibraE BFW, own rule | AequilibraE, routelab's"
        " rule | ratio wall (own / routelab's rule) | ratio CPU (own / routelab's rule) | published AequilibraE s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for network in args.networks:
        for target in GAPS:
            gap = f"{target:.0e}"
            bfw = find(network, "routelab-bfw", gap, "routelab")
            own = find(network, "aequilibrae-bfw", gap, "aequilibrae")
            true = find(network, "aequilibrae-bfw", gap, "routelab")
            pub = own.get("published_seconds", "") if own else ""
            lines.append(
                f"| {network} | {gap} | {_cell(bfw)} | {_cell(find(network, 'routelab-cfw', gap, 'routelab'))} |"
                f" {_cell(find(network, 'routelab-fw', gap, 'routelab'))} | {_cell(own)} | {_cell(true)} |"
                f" {ratio(own, bfw, 'seconds')} / {ratio(true, bfw, 'seconds')} |"
                f" {ratio(own, bfw, 'cpu_seconds')} / {ratio(true, bfw, 'cpu_seconds')} | {pub or '-'} |"
            )
    lines += [
        "",
        "## Target: three times faster than the published AequilibraE figures",
        "",
        "| network | gap | published AequilibraE s | target s (a third) | routelab BFW s, wall / CPU |"
        " met, wall / CPU | AequilibraE here s, wall / CPU |",
        "|---|---|---|---|---|---|---|",
    ]
    for network in args.networks:
        for target in GAPS:
            gap = f"{target:.0e}"
            bfw = find(network, "routelab-bfw", gap, "routelab")
            own = find(network, "aequilibrae-bfw", gap, "aequilibrae")
            pub = own.get("published_seconds", "") if own else ""
            if pub == "":
                continue
            ours = f"{bfw['seconds']:.3f} / {bfw['cpu_seconds']:.3f}" if bfw and "seconds" in bfw else "-"
            met = "-"
            if bfw and "seconds" in bfw:
                met = " / ".join("yes" if bfw[key] <= pub / 3 else "no" for key in ("seconds", "cpu_seconds"))
            here = f"{own['seconds']:.3f} / {own['cpu_seconds']:.3f}" if own and "seconds" in own else "-"
            lines.append(f"| {network} | {gap} | {pub} | {pub / 3:.2f} | {ours} | {met} | {here} |")
    lines += [
        "",
        "## Solutions at the finest gap reached",
        "",
        "TSTT / Beckmann objective (generalised cost on Chicago-Sketch) of the last flows of each solver's run.",
        "",
        "| network | routelab | AequilibraE | reference (shipped flows) |",
        "|---|---|---|---|",
        *finals,
        "",
        "## Set-up",
        "",
        "- Same problem on both sides: each TNTP link one directed link, BPR with the file's b and power;"
        " Chicago-Sketch routes on `time + 0.02 toll + 0.04 length`, in AequilibraE as the class's fixed cost"
        " (`set_fixed_cost`, value of time 1), which its line search and gap include as routelab's weights do.",
        "- FIRST THRU NODE as shipped: "
        + ", ".join(f"{name} {node}" for name, node in thru.items())
        + " (1: neither solver blocks paths through zones; zones + 1: both block all of them).",
        "- AequilibraE refuses zero free-flow times: Chicago-Sketch's 774 connectors get 1e-8 min there (their"
        " length cost is 0.035); objectives above use the file's zeros.",
        "- AequilibraE on one core: `set_cores(1)` before `set_algorithm` (set after it, the assignment keeps every"
        " core for its vector kernels and OpenMP spin-waits on a busy box: Sioux Falls to 1e-6 took 52 s instead"
        " of 3.5 s), progress bars off. Its times start at `execute()`; routelab's at `solve_ue()`; building the"
        " graph and the demand matrix is outside both.",
        "- AequilibraE's iteration counts match the published ones (Sioux Falls 118 to 1e-4, 976 to 1e-6).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
