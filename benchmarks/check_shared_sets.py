"""Check that routelab reads the shared benchmark sets exactly and that their published solutions score as published.

For every TSPLIB, X (CVRP) and Solomon (CVRPTW) instance: read it, write it to shared ``.json``, ``.npz`` and back
to its own format, and require the re-read instance to be identical (arrays bit for bit). For every shipped
``.sol``: score it with :func:`routelab.problems.check` and compare with the ``Cost`` line and the published
value in ``bks.csv``. The TSP test sets are read for their first ``--lines`` lines. Prints a table and exits 1
on any mismatch.

    .venv/bin/python benchmarks/check_shared_sets.py [BENCHMARK_ROOT] [--lines K]
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routelab.data import (
    instance_differences,
    read_instance,
    read_solution,
    read_tsp_testset_with_tours,
    write_instance,
    write_instances,
    write_solution,
)
from routelab.problems import check

DEFAULT_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks"
TOLERANCE = 1e-6


@dataclass
class Row:
    group: str
    instance: str
    n: int
    round_trip: str
    published: str = "-"
    recomputed: str = "-"
    feasible: str = "-"
    ok: bool = True
    note: str = ""


def round_trip(instance: Any, native_name: str, scratch: Path) -> list[str]:
    """Differences after json, npz and native-format round trips ([] when all are lossless)."""
    problems = []
    for target in (scratch / "rt.json", scratch / "rt.npz", scratch / native_name):
        write_instance(instance, target)
        diffs = instance_differences(instance, read_instance(target))
        problems += [f"{target.suffix}: {d}" for d in diffs]
    return problems


def fmt(x: float) -> str:
    return f"{x:.10g}"


def check_tsplib(root: Path, scratch: Path) -> list[Row]:
    folder = root / "tsp" / "tsplib"
    rows = []
    with (folder / "optimal.csv").open() as handle:
        table = list(csv.DictReader(handle))
    for entry in table:
        path = folder / f"{entry['name']}.tsp"
        instance = read_instance(path)
        diffs = round_trip(instance, path.name, scratch)
        expected_type = {"EUC_2D": "nint"}.get(entry["edge_weight_type"], entry["edge_weight_type"])
        ok = not diffs and instance.num_nodes == int(entry["n"]) and instance.rounding == expected_type
        rows.append(
            Row(
                "tsplib",
                instance.name,
                instance.num_nodes,
                "ok" if not diffs else "DIFF",
                entry["optimal_length"],
                note="; ".join(diffs[:2]) or f"rounding {instance.rounding} (no tour shipped to score)",
                ok=ok,
            )
        )
    listed = {e["name"] for e in table}
    for extra in sorted(p.stem for p in folder.glob("*.tsp") if p.stem not in listed):
        rows.append(Row("tsplib", extra, 0, "-", ok=False, note="not in optimal.csv"))
    return rows


def check_with_solutions(
    group: str,
    instance_paths: list[Path],
    solution_for: Callable[[Path, Any], Path],
    bks: dict[str, tuple[float, int]],
    scratch: Path,
) -> list[Row]:
    rows = []
    for path in instance_paths:
        instance = read_instance(path)
        diffs = round_trip(instance, path.name, scratch)
        sol_path = solution_for(path, instance)
        published, routes = bks[instance.name]
        solution = read_solution(sol_path, instance)
        score = check(instance, solution, str(sol_path))
        # the .sol must survive its own round trip too
        write_back = scratch / "rt.sol"
        write_solution(solution, write_back)
        same_sol = read_solution(write_back, instance).payload == solution.payload
        cost_ok = (
            abs(score.objective - published) <= TOLERANCE and abs((solution.objective or 0) - published) <= TOLERANCE
        )
        ok = not diffs and score.feasible and cost_ok and score.details["routes"] == routes and same_sol
        notes = diffs[:2] + list(score.violations[:2])
        if score.details["routes"] != routes:
            notes.append(f"{score.details['routes']} routes, published {routes}")
        if not same_sol:
            notes.append(".sol round trip changed the routes")
        rows.append(
            Row(
                group,
                instance.name,
                instance.num_nodes,
                "ok" if not diffs else "DIFF",
                fmt(published),
                fmt(score.objective),
                "yes" if score.feasible else "NO",
                ok,
                "; ".join(notes) or f"{routes} routes, {instance.rounding}",
            )
        )
    return rows


def read_bks(path: Path, cost_column: str) -> dict[str, tuple[float, int]]:
    with path.open() as handle:
        return {r["instance"]: (float(r[cost_column]), int(r["routes"])) for r in csv.DictReader(handle)}


def check_x(root: Path, scratch: Path) -> list[Row]:
    folder = root / "cvrp" / "x"
    bks = read_bks(folder / "bks.csv", "bks")
    paths = sorted(folder.glob("*.vrp"))
    rows = check_with_solutions("cvrp/x", paths, lambda p, _: p.with_suffix(".sol"), bks, scratch)
    missing = sorted(set(bks) - {p.stem for p in paths})
    return rows + [Row("cvrp/x", name, 0, "-", ok=False, note="listed in bks.csv, no .vrp") for name in missing]


def check_solomon(root: Path, scratch: Path) -> list[Row]:
    folder = root / "cvrptw" / "solomon"
    bks = read_bks(folder / "bks.csv", "bks_distance_dimacs_trunc1dp")
    paths = sorted(folder.glob("*.txt"))
    rows = check_with_solutions(
        "cvrptw/solomon", paths, lambda _, inst: folder / "solutions" / f"{inst.name}.sol", bks, scratch
    )
    missing = sorted(set(bks) - {p.stem for p in paths})
    return rows + [Row("cvrptw/solomon", name, 0, "-", ok=False, note="listed in bks.csv, no .txt") for name in missing]


def check_testsets(root: Path, scratch: Path, lines: int) -> list[Row]:
    rows = []
    for path in sorted((root / "tsp").glob("tsp*_test_*.txt")):
        pairs = read_tsp_testset_with_tours(path, lines)
        instances = [inst for inst, _ in pairs]
        target = scratch / path.name
        write_instances(instances, target)
        back = read_tsp_testset_with_tours(target)
        diffs = [d for a, (b, _) in zip(instances, back, strict=True) for d in instance_differences(a, b)]
        diffs += round_trip(instances[0], "line.json", scratch)  # json/npz for one line is enough
        feasible = all(sol is not None and check(inst, sol).feasible for inst, sol in pairs)
        identity = sum(1 for _, sol in pairs if sol is not None and sol.stats.get("identity_tour"))
        mean = sum(check(inst, sol).objective for inst, sol in pairs if sol is not None) / len(pairs)
        note = f"first {len(pairs)} lines, mean stored-tour length {mean:.4f}"
        if identity:
            note += f"; {identity} placeholder 1..N tours"
        rows.append(
            Row(
                "tsp/testset",
                path.stem,
                instances[0].num_nodes,
                "ok" if not diffs else "DIFF",
                "-",
                f"{mean:.4f}",
                "yes" if feasible else "NO",
                not diffs and feasible and len(pairs) == lines,
                "; ".join(diffs[:2]) or note,
            )
        )
    return rows


def print_table(rows: list[Row]) -> None:
    headers = ("set", "instance", "n", "round trip", "published", "recomputed", "feasible", "status", "note")
    cells = [
        (
            r.group,
            r.instance,
            str(r.n),
            r.round_trip,
            r.published,
            r.recomputed,
            r.feasible,
            "ok" if r.ok else "FAIL",
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers[:-1])]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)) + "  note")
    for c in cells:
        print("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=False)) + "  " + c[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", type=Path, default=DEFAULT_ROOT, help="benchmark root folder")
    parser.add_argument("--lines", type=int, default=4, help="lines of each TSP test-set file to read")
    args = parser.parse_args(argv)
    root: Path = args.root
    if not root.is_dir():
        print(f"{root}: not a folder (pass the benchmark root)", file=sys.stderr)
        return 2
    start = time.perf_counter()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        rows += check_tsplib(root, scratch)
        rows += check_x(root, scratch)
        rows += check_solomon(root, scratch)
        rows += check_testsets(root, scratch, args.lines)
    print_table(rows)
    failed = [r for r in rows if not r.ok]
    groups = sorted({r.group for r in rows})
    summary = ", ".join(
        f"{g} {sum(r.ok for r in rows if r.group == g)}/{sum(r.group == g for r in rows)}" for g in groups
    )
    print(f"\n{len(rows) - len(failed)}/{len(rows)} ok ({summary}) in {time.perf_counter() - start:.1f}s")
    if failed:
        print(f"FAILED: {', '.join(r.instance for r in failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
