"""VRPLIB ``.vrp`` instances (CVRP, VRPTW) and ``.sol`` solutions, through the ``vrplib`` package.

Conventions:

- Coordinate instances keep their coordinates and a rounding name (``EUC_2D`` -> ``nint``, as the X set's BKS
  use); ``vrplib``'s unrounded matrix is never stored, so a 1,000-node instance stays small.
- ``EXPLICIT`` weights are decoded by the TSPLIB decoder (every triangular layout, entry count checked), because
  ``vrplib`` reads only two layouts and does not notice a short section.
- The depot is the node ``DEPOT_SECTION`` names (node 0 when there is none); nodes keep their file order.
- ``.sol`` files number nodes by their 0-based index here: with the depot at node 0 (every X and Solomon file),
  customer ``i`` of the ``.sol`` is node ``i`` of our arrays, i.e. VRPLIB node ``i + 1``.
- VRPLIB has no name for the ``trunc1`` and ``exact`` conventions. The writer then adds a ``ROUNDING``
  specification (a routelab extension) that this reader honours; ``read_vrplib(path, rounding=...)`` sets the
  convention of files that carry none, as PyVRP's ``round_func`` does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import vrplib
from vrplib.parse import parse_vrplib

from routelab.data._common import build, num, read_text, write_text
from routelab.data.tsplib import EDGE_WEIGHT_ROUNDING, ROUNDING_EDGE_WEIGHT, decode_matrix, split_tsplib
from routelab.problems import CVRPInstance, CVRPTWInstance, FormatError, Solution, score_payload
from routelab.problems.distances import ROUNDINGS

_KNOWN_SECTIONS = {"node_coord", "demand", "depot", "time_window", "service_time", "display_data"}


def _strip_section(text: str, first: int, last: int) -> str:
    lines = text.splitlines()
    return "\n".join(lines[: first - 1] + lines[last:])


def _numeric(source: str, field: str, value: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """A vrplib section as a float array of ``shape``; a short or non-numeric section is a FormatError."""
    if isinstance(value, list):  # vrplib keeps ragged sections as lists of rows
        lengths = sorted({len(row) for row in value})
        raise FormatError(source, field, f"{what}, the same number of values on every line", f"lengths {lengths}")
    arr = np.asarray(value)
    if arr.shape != shape:
        got = f"{arr.shape[0]} lines" if arr.ndim and arr.shape[0] != shape[0] else f"shape {arr.shape}"
        if arr.ndim and arr.shape[0] < shape[0]:
            got += " (the section ends early)"
        raise FormatError(source, field, what, got)
    try:
        return arr.astype(np.float64)
    except ValueError:
        bad = next(str(x) for x in arr.ravel() if not _is_number(x))
        raise FormatError(source, field, f"{what} (numbers)", bad) from None


def _is_number(token: object) -> bool:
    try:
        float(str(token))
    except ValueError:
        return False
    return True


def _parse(path: Path) -> tuple[dict[str, Any], np.ndarray | None]:
    """vrplib's parse of everything but the edge weights, and the explicit matrix decoded here (or None)."""
    source = str(path)
    text = read_text(path)
    split = split_tsplib(text, source)
    matrix_values: np.ndarray | None = None
    if "EDGE_WEIGHT_SECTION" in split.sections:
        rows = split.sections["EDGE_WEIGHT_SECTION"]
        first = split.section_lines["EDGE_WEIGHT_SECTION"]
        last = rows[-1][0] if rows else first
        tokens = [t for _, row in rows for t in row]
        try:
            matrix_values = np.asarray(tokens, dtype=np.float64)
        except ValueError:
            bad = next(t for t in tokens if not _is_number(t))
            raise FormatError(source, "EDGE_WEIGHT_SECTION", "numbers", bad) from None
        text = _strip_section(text, first, last)
    try:
        data = parse_vrplib(text, compute_edge_weights=False)
    except (ValueError, RuntimeError, IndexError) as exc:
        raise FormatError(source, "file", "a VRPLIB instance", str(exc)) from None
    return data, matrix_values


def read_vrplib(path: str | Path, *, rounding: str | None = None) -> CVRPInstance | CVRPTWInstance:
    """Read a VRPLIB CVRP or VRPTW instance; ``rounding`` overrides the convention of coordinate files."""
    path = Path(path)
    source = str(path)
    data, matrix_values = _parse(path)
    problem_type = str(data.get("type", "CVRP")).upper()
    if "VRP" not in problem_type:
        raise FormatError(source, "TYPE", "CVRP or VRPTW (read TSP files with the TSPLIB reader)", problem_type)
    if "dimension" not in data:
        raise FormatError(source, "DIMENSION", "the number of nodes", "missing")
    n = data["dimension"]
    if not isinstance(n, int) or n < 2:
        raise FormatError(source, "DIMENSION", "an integer >= 2", n)
    for key, value in data.items():
        if isinstance(value, (np.ndarray, list)) and key not in _KNOWN_SECTIONS:
            raise FormatError(source, f"{key.upper()}_SECTION", "a section routelab reads (CVRP/VRPTW)", "present")

    weight_type = str(data.get("edge_weight_type", "")).upper()
    if weight_type not in EDGE_WEIGHT_ROUNDING:
        raise FormatError(
            source, "EDGE_WEIGHT_TYPE", f"one of {', '.join(EDGE_WEIGHT_ROUNDING)}", weight_type or "missing"
        )
    convention = EDGE_WEIGHT_ROUNDING[weight_type]
    coords = None
    matrix = None
    if convention == "matrix":
        if matrix_values is None:
            raise FormatError(source, "EDGE_WEIGHT_SECTION", "the explicit weights", "missing")
        fmt = str(data.get("edge_weight_format", "")).upper() or "missing"
        matrix = decode_matrix(source, fmt, matrix_values, n)
        for key in ("node_coord", "display_data"):
            if key in data:
                coords = _numeric(source, f"{key.upper()}_SECTION", data[key], (n, 2), f"{n} lines 'id x y'")
                break
    else:
        if "node_coord" not in data:
            raise FormatError(
                source, "NODE_COORD_SECTION", f"coordinates for EDGE_WEIGHT_TYPE {weight_type}", "missing"
            )
        coords = _numeric(source, "NODE_COORD_SECTION", data["node_coord"], (n, 2), f"{n} lines 'id x y'")
        declared = data.get("rounding")
        if declared is not None:
            if declared not in ROUNDINGS or declared == "matrix":
                raise FormatError(source, "ROUNDING", "a coordinate convention (routelab extension)", declared)
            convention = str(declared)
        if rounding is not None:
            convention = rounding

    if "demand" not in data:
        raise FormatError(source, "DEMAND_SECTION", f"{n} lines 'id demand'", "missing")
    demands = _numeric(source, "DEMAND_SECTION", data["demand"], (n,), f"{n} lines 'id demand'")
    if "capacity" not in data:
        raise FormatError(source, "CAPACITY", "the vehicle capacity", "missing")
    depot = _depot(source, data.get("depot"), n)
    vehicles = data.get("vehicles")
    meta: dict[str, Any] = {"source": "vrplib", "file": path.name, "type": problem_type}
    if "comment" in data:
        meta["comment"] = str(data["comment"])
    common: dict[str, Any] = {
        "name": str(data.get("name", path.stem)),
        "coords": coords,
        "distance_matrix": matrix,
        "rounding": convention,
        "meta": meta,
        "demands": demands,
        "capacity": data["capacity"],
        "depot": depot,
        "num_vehicles": vehicles,
    }
    if "time_window" not in data:
        if "service_time" in data:
            raise FormatError(source, "TIME_WINDOW_SECTION", "time windows when SERVICE_TIME is given", "missing")
        return build(source, lambda: CVRPInstance(**common))
    windows = _numeric(source, "TIME_WINDOW_SECTION", data["time_window"], (n, 2), f"{n} lines 'id open close'")
    service = _service_times(source, data.get("service_time", 0), n, depot)
    return build(source, lambda: CVRPTWInstance(**common, time_windows=windows, service_times=service))


def _depot(source: str, value: Any, n: int) -> int:
    if value is None:
        return 0
    depots = np.asarray(value).ravel()
    if depots.size != 1:
        raise FormatError(source, "DEPOT_SECTION", "exactly one depot, then -1", f"{depots.size} depots")
    depot = int(depots[0])
    if not 0 <= depot < n:
        raise FormatError(source, "DEPOT_SECTION", f"a node id in 1..{n}", depot + 1)
    return depot


def _service_times(source: str, value: Any, n: int, depot: int) -> np.ndarray:
    if isinstance(value, (int, float)):  # a SERVICE_TIME specification: the same for every customer
        service = np.full(n, float(value))
        service[depot] = 0.0
        return service
    return _numeric(source, "SERVICE_TIME_SECTION", value, (n,), f"{n} lines 'id service_time'")


def vrplib_data(instance: CVRPInstance, source: str = "<vrplib>") -> dict[str, Any]:
    """The keyword/section dictionary ``vrplib.write_instance`` takes, with numbers written losslessly."""
    if instance.kind not in ("cvrp", "cvrptw"):
        raise FormatError(source, "kind", "cvrp or cvrptw (a .vrp file holds a VRP)", instance.kind)
    n = instance.num_nodes
    out: dict[str, Any] = {"NAME": instance.name, "TYPE": "VRPTW" if instance.kind == "cvrptw" else "CVRP"}
    comment = instance.meta.get("comment") if isinstance(instance.meta, dict) else None
    if isinstance(comment, str) and "\n" not in comment:
        out["COMMENT"] = comment
    out["DIMENSION"] = n
    if instance.rounding in ROUNDING_EDGE_WEIGHT:
        out["EDGE_WEIGHT_TYPE"] = ROUNDING_EDGE_WEIGHT[instance.rounding]
    else:
        out["EDGE_WEIGHT_TYPE"] = "EUC_2D"
        out["ROUNDING"] = instance.rounding
    if instance.distance_matrix is not None:
        out["EDGE_WEIGHT_FORMAT"] = "FULL_MATRIX"
    out["CAPACITY"] = num(instance.capacity)
    if instance.num_vehicles is not None:
        out["VEHICLES"] = int(instance.num_vehicles)
    coords = None if instance.coords is None else [[num(x), num(y)] for x, y in instance.coords]
    if instance.distance_matrix is not None:
        out["EDGE_WEIGHT_SECTION"] = [[num(x) for x in row] for row in instance.distance_matrix]
        if coords is not None:
            out["DISPLAY_DATA_SECTION"] = coords
    else:
        out["NODE_COORD_SECTION"] = coords
    out["DEMAND_SECTION"] = [num(d) for d in instance.demands]
    if isinstance(instance, CVRPTWInstance):
        if instance.duration_matrix is not None:
            raise FormatError(
                source, "duration_matrix", "none (VRPLIB has no duration matrix); use .json/.npz", "a matrix"
            )
        out["TIME_WINDOW_SECTION"] = [[num(a), num(b)] for a, b in instance.time_windows]
        out["SERVICE_TIME_SECTION"] = [num(s) for s in instance.service_times]
    out["DEPOT_SECTION"] = [instance.depot + 1, -1]
    return out


def _write_via_tempfile(path: str | Path, write: Any) -> None:
    """Let a vrplib writer write into a scratch folder, then move the text into place atomically."""
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch) / "out"
        write(tmp)
        write_text(path, tmp.read_text())


def write_vrplib(instance: CVRPInstance, path: str | Path) -> None:
    """Write a cvrp/cvrptw instance as a VRPLIB ``.vrp`` file, atomically."""
    data = vrplib_data(instance, str(path))
    _write_via_tempfile(path, lambda tmp: vrplib.write_instance(tmp, data))


def read_vrplib_solution(path: str | Path, instance: CVRPInstance) -> Solution:
    """Read a VRPLIB ``.sol`` (``Route #k: ...`` lines, optional ``Cost``) as a Solution for ``instance``.

    ``objective`` is the file's ``Cost`` claim (recomputed when it has none); :func:`routelab.problems.check`
    is what decides.
    """
    path = Path(path)
    source = str(path)
    if instance.kind not in ("cvrp", "cvrptw"):
        raise FormatError(source, "kind", "a cvrp/cvrptw instance for a .sol file (tsp tours are .tour)", instance.kind)
    read_text(path)  # a missing file is a FormatError, not an OSError
    try:
        raw = vrplib.read_solution(path)
    except (ValueError, IndexError) as exc:
        raise FormatError(source, "Route", "lines 'Route #k: node node ...' of integers", str(exc)) from None
    routes = [list(map(int, r)) for r in raw.pop("routes")]
    if not routes:
        raise FormatError(source, "Route", "at least one 'Route #k:' line", "none")
    payload = {"routes": routes}
    cost = raw.pop("cost", None)
    stats: dict[str, Any] = {"file": path.name, **{k: v for k, v in raw.items() if isinstance(v, (int, float, str))}}
    if isinstance(cost, (int, float)):
        objective = float(cost)
    else:
        objective = score_payload(instance, payload).objective
        stats["objective_from"] = "recomputed"
    return Solution(
        kind=instance.kind,
        instance=instance.name,
        solver="reference",
        payload=payload,
        objective=objective,
        feasible=True,
        stats=stats,
    )


def write_vrplib_solution(solution: Solution, path: str | Path) -> None:
    """Write a cvrp/cvrptw Solution as a VRPLIB ``.sol`` (empty routes dropped, ``Cost`` when known)."""
    if solution.kind not in ("cvrp", "cvrptw"):
        raise FormatError(str(path), "kind", "a cvrp/cvrptw solution for a .sol file", solution.kind)
    routes = [[int(c) for c in r] for r in solution.payload["routes"] if len(r)]
    extra = None if solution.objective is None else {"Cost": num(solution.objective)}
    _write_via_tempfile(path, lambda tmp: vrplib.write_solution(tmp, routes, extra))
