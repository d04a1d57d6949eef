"""TSPLIB ``.tsp`` / ``.atsp`` instances and ``.tour`` files, read and written by hand.

A hand-written parser (not ``vrplib``) because TSPLIB's explicit matrices come in several triangular layouts
and its ``ATT``/``GEO`` types need their own rounding, and because a truncated section must be reported as
such instead of silently shrinking the instance. Edge weight types map onto the shared rounding names:

    EUC_2D -> nint, CEIL_2D -> ceil, ATT -> att, GEO -> geo, EXPLICIT -> matrix

An explicit matrix keeps ``DISPLAY_DATA_SECTION`` (or ``NODE_COORD_SECTION``) coordinates for plotting, and its
diagonal is set to 0: a tour never uses a self-loop, and placeholders such as 9999 or 100000000 on the diagonal
would only distort solvers that scale costs by the largest entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from routelab.data._common import build, num, parse_float, parse_int, read_text, write_text
from routelab.problems import FormatError, Solution, TSPInstance, score_payload

EDGE_WEIGHT_ROUNDING: dict[str, str] = {
    "EUC_2D": "nint",
    "CEIL_2D": "ceil",
    "ATT": "att",
    "GEO": "geo",
    "EXPLICIT": "matrix",
}
ROUNDING_EDGE_WEIGHT: dict[str, str] = {v: k for k, v in EDGE_WEIGHT_ROUNDING.items()}

MATRIX_FORMATS: tuple[str, ...] = (
    "FULL_MATRIX",
    "UPPER_ROW",
    "LOWER_ROW",
    "UPPER_DIAG_ROW",
    "LOWER_DIAG_ROW",
    "UPPER_COL",
    "LOWER_COL",
    "UPPER_DIAG_COL",
    "LOWER_DIAG_COL",
)
# A symmetric matrix read column by column is the transposed triangle read row by row.
_COLUMN_AS_ROW = {
    "UPPER_COL": "LOWER_ROW",
    "LOWER_COL": "UPPER_ROW",
    "UPPER_DIAG_COL": "LOWER_DIAG_ROW",
    "LOWER_DIAG_COL": "UPPER_DIAG_ROW",
}
_TSP_SECTIONS = {"NODE_COORD_SECTION", "EDGE_WEIGHT_SECTION", "DISPLAY_DATA_SECTION"}
_KEYWORD = re.compile(r"^([A-Za-z][A-Za-z0-9_]*)\s*(?::\s*(.*))?$")


@dataclass
class TsplibText:
    """A TSPLIB-style file split into ``KEY : VALUE`` specifications and sections of token rows."""

    specs: dict[str, str] = field(default_factory=dict)
    sections: dict[str, list[tuple[int, list[str]]]] = field(default_factory=dict)
    section_lines: dict[str, int] = field(default_factory=dict)


def split_tsplib(text: str, source: str) -> TsplibText:
    """Tokenise TSPLIB text; sections run until the next keyword line or ``EOF`` (which is optional)."""
    out = TsplibText()
    current: str | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        match = _KEYWORD.match(line)
        if match:
            key, value = match.group(1).upper(), match.group(2)
            if key == "EOF":
                break
            if key.endswith("_SECTION"):
                if key in out.sections:
                    raise FormatError(source, key, "the section once", f"a second one at line {lineno}")
                out.sections[key] = [(lineno, value.split())] if value else []
                out.section_lines[key] = lineno
                current = key
                continue
            if value is None:
                raise FormatError(source, f"line {lineno}", "'KEY : VALUE' or a *_SECTION keyword", line)
            out.specs[key] = value.strip()
            current = None
            continue
        if current is None:
            raise FormatError(source, f"line {lineno}", "'KEY : VALUE' or a *_SECTION keyword", line)
        out.sections[current].append((lineno, line.split()))
    return out


def dimension(source: str, specs: dict[str, str]) -> int:
    if "DIMENSION" not in specs:
        raise FormatError(source, "DIMENSION", "the number of nodes", "missing")
    n = parse_int(source, "DIMENSION", specs["DIMENSION"])
    if n < 2:
        raise FormatError(source, "DIMENSION", "at least 2 nodes", n)
    return n


def node_section(source: str, parsed: TsplibText, name: str, n: int) -> np.ndarray:
    """``n`` rows ``id x y`` with ids 1..n, as an ``(n, 2)`` array indexed by ``id - 1``."""
    rows = parsed.sections[name]
    if len(rows) != n:
        where = f"{len(rows)} lines"
        if len(rows) < n:
            where += " (the section ends early)"
        raise FormatError(source, name, f"{n} lines, one per node (DIMENSION {n})", where)
    coords = np.full((n, 2), np.nan)
    for lineno, tokens in rows:
        if len(tokens) != 3:
            raise FormatError(source, f"{name} line {lineno}", "'id x y' (3 numbers)", " ".join(tokens))
        node = parse_int(source, f"{name} line {lineno} node id", tokens[0])
        if not 1 <= node <= n:
            raise FormatError(source, f"{name} line {lineno} node id", f"an id in 1..{n}", node)
        if not np.isnan(coords[node - 1, 0]):
            raise FormatError(source, f"{name} line {lineno} node id", "each id once", f"{node} again")
        coords[node - 1] = [parse_float(source, f"{name} line {lineno} coordinate", t) for t in tokens[1:]]
    return coords


def matrix_entry_count(fmt: str, n: int) -> int:
    """How many numbers an ``EDGE_WEIGHT_SECTION`` of format ``fmt`` holds for ``n`` nodes."""
    fmt = _COLUMN_AS_ROW.get(fmt, fmt)
    return {
        "FULL_MATRIX": n * n,
        "UPPER_ROW": n * (n - 1) // 2,
        "LOWER_ROW": n * (n - 1) // 2,
        "UPPER_DIAG_ROW": n * (n + 1) // 2,
        "LOWER_DIAG_ROW": n * (n + 1) // 2,
    }[fmt]


def decode_matrix(source: str, fmt: str, values: np.ndarray, n: int) -> np.ndarray:
    """The full ``(n, n)`` matrix from the flat stream of an ``EDGE_WEIGHT_SECTION``; diagonal set to 0."""
    if fmt not in MATRIX_FORMATS:
        raise FormatError(source, "EDGE_WEIGHT_FORMAT", f"one of {', '.join(MATRIX_FORMATS)}", fmt)
    expected = matrix_entry_count(fmt, n)
    if values.size != expected:
        got = f"{values.size} entries" + (" (too few)" if values.size < expected else " (too many)")
        raise FormatError(source, "EDGE_WEIGHT_SECTION", f"{expected} entries for {fmt} with DIMENSION {n}", got)
    row_fmt = _COLUMN_AS_ROW.get(fmt, fmt)
    if row_fmt == "FULL_MATRIX":
        matrix = values.reshape(n, n).copy()
    else:
        rows, cols = {
            "UPPER_ROW": np.triu_indices(n, 1),
            "LOWER_ROW": np.tril_indices(n, -1),
            "UPPER_DIAG_ROW": np.triu_indices(n, 0),
            "LOWER_DIAG_ROW": np.tril_indices(n, 0),
        }[row_fmt]
        matrix = np.zeros((n, n))
        matrix[rows, cols] = values
        matrix[cols, rows] = values
    np.fill_diagonal(matrix, 0.0)
    return matrix


def section_numbers(source: str, parsed: TsplibText, name: str) -> np.ndarray:
    """Every token of a section as one float stream (TSPLIB wraps matrix rows freely across lines)."""
    out: list[float] = []
    for lineno, tokens in parsed.sections[name]:
        out.extend(parse_float(source, f"{name} line {lineno}", t) for t in tokens)
    return np.asarray(out, dtype=np.float64)


def read_tsplib(path: str | Path) -> TSPInstance:
    """Read a TSPLIB ``.tsp``/``.atsp`` file (TYPE TSP or ATSP) as a shared-format TSP instance."""
    path = Path(path)
    source = str(path)
    parsed = split_tsplib(read_text(path), source)
    specs = parsed.specs
    problem_type = (specs.get("TYPE") or "TSP").split()[0].upper()
    if problem_type not in ("TSP", "ATSP"):
        raise FormatError(source, "TYPE", "TSP or ATSP (read CVRP files with the VRPLIB reader)", problem_type)
    n = dimension(source, specs)
    if "EDGE_WEIGHT_TYPE" not in specs:
        raise FormatError(source, "EDGE_WEIGHT_TYPE", f"one of {', '.join(EDGE_WEIGHT_ROUNDING)}", "missing")
    weight_type = specs["EDGE_WEIGHT_TYPE"].upper()
    if weight_type not in EDGE_WEIGHT_ROUNDING:
        raise FormatError(source, "EDGE_WEIGHT_TYPE", f"one of {', '.join(EDGE_WEIGHT_ROUNDING)}", weight_type)
    for name in parsed.sections:
        if name not in _TSP_SECTIONS:
            raise FormatError(source, name, f"only {', '.join(sorted(_TSP_SECTIONS))} in a TSP file", "present")
    rounding = EDGE_WEIGHT_ROUNDING[weight_type]
    coords: np.ndarray | None = None
    matrix: np.ndarray | None = None
    meta: dict[str, object] = {"source": "tsplib", "file": path.name, "type": problem_type}
    if rounding == "matrix":
        fmt = specs.get("EDGE_WEIGHT_FORMAT", "").upper()
        if not fmt:
            raise FormatError(source, "EDGE_WEIGHT_FORMAT", f"one of {', '.join(MATRIX_FORMATS)}", "missing")
        if "EDGE_WEIGHT_SECTION" not in parsed.sections:
            raise FormatError(source, "EDGE_WEIGHT_SECTION", "the explicit weights", "missing")
        matrix = decode_matrix(source, fmt, section_numbers(source, parsed, "EDGE_WEIGHT_SECTION"), n)
        for display in ("DISPLAY_DATA_SECTION", "NODE_COORD_SECTION"):
            if display in parsed.sections:
                coords = node_section(source, parsed, display, n)
                break
    else:
        if "NODE_COORD_SECTION" not in parsed.sections:
            raise FormatError(
                source, "NODE_COORD_SECTION", f"coordinates for EDGE_WEIGHT_TYPE {weight_type}", "missing"
            )
        coords = node_section(source, parsed, "NODE_COORD_SECTION", n)
    if "COMMENT" in specs:
        meta["comment"] = specs["COMMENT"]
    name = specs.get("NAME") or path.stem
    return build(
        source,
        lambda: TSPInstance(name=name, coords=coords, distance_matrix=matrix, rounding=rounding, meta=meta),
    )


def tsplib_text(instance: TSPInstance, source: str = "<tsplib>") -> str:
    """The TSPLIB text of a tsp instance; only conventions TSPLIB can name are accepted (lossless)."""
    if instance.kind != "tsp":
        raise FormatError(source, "kind", "tsp (a .tsp file holds a TSP/ATSP)", instance.kind)
    if instance.rounding not in ROUNDING_EDGE_WEIGHT:
        raise FormatError(
            source,
            "rounding",
            f"one of {', '.join(ROUNDING_EDGE_WEIGHT)} (TSPLIB edge weight types); use .json/.npz for others",
            instance.rounding,
        )
    n = instance.num_nodes
    asymmetric = not instance.is_symmetric
    lines = [
        f"NAME : {instance.name}",
        f"TYPE : {'ATSP' if asymmetric else 'TSP'}",
        f"DIMENSION : {n}",
        f"EDGE_WEIGHT_TYPE : {ROUNDING_EDGE_WEIGHT[instance.rounding]}",
    ]
    comment = instance.meta.get("comment") if isinstance(instance.meta, dict) else None
    if isinstance(comment, str) and "\n" not in comment:
        lines.insert(2, f"COMMENT : {comment}")
    if instance.distance_matrix is not None:
        lines.append("EDGE_WEIGHT_FORMAT : FULL_MATRIX")
        if instance.coords is not None:
            lines.append("DISPLAY_DATA_TYPE : TWOD_DISPLAY")
        lines.append("EDGE_WEIGHT_SECTION")
        lines.extend(" ".join(num(x) for x in row) for row in instance.distance_matrix)
        if instance.coords is not None:
            lines.append("DISPLAY_DATA_SECTION")
            lines.extend(f"{i} {num(x)} {num(y)}" for i, (x, y) in enumerate(instance.coords, start=1))
    else:
        assert instance.coords is not None
        lines.append("NODE_COORD_SECTION")
        lines.extend(f"{i} {num(x)} {num(y)}" for i, (x, y) in enumerate(instance.coords, start=1))
    lines.append("EOF")
    return "\n".join(lines) + "\n"


def write_tsplib(instance: TSPInstance, path: str | Path) -> None:
    """Write a tsp instance as TSPLIB (``TYPE ATSP`` when its matrix is asymmetric), atomically."""
    write_text(path, tsplib_text(instance, str(path)))


def read_tsplib_tour(path: str | Path, instance: TSPInstance) -> Solution:
    """Read a TSPLIB ``.tour`` (1-based ids ending with -1) as a tsp Solution for ``instance``.

    The file claims no length, so ``objective`` is the length recomputed the shared way.
    """
    path = Path(path)
    source = str(path)
    parsed = split_tsplib(read_text(path), source)
    if "TOUR_SECTION" not in parsed.sections:
        raise FormatError(source, "TOUR_SECTION", "the tour as 1-based node ids ending with -1", "missing")
    if "DIMENSION" in parsed.specs and dimension(source, parsed.specs) != instance.num_nodes:
        raise FormatError(source, "DIMENSION", f"{instance.num_nodes} (the instance's size)", parsed.specs["DIMENSION"])
    tour: list[int] = []
    for lineno, tokens in parsed.sections["TOUR_SECTION"]:
        for token in tokens:
            node = parse_int(source, f"TOUR_SECTION line {lineno}", token)
            if node == -1:
                break
            tour.append(node - 1)
        else:
            continue
        break
    payload = {"tour": tour}
    objective = score_payload(instance, payload).objective
    return Solution(
        kind="tsp",
        instance=instance.name,
        solver="reference",
        payload=payload,
        objective=objective,
        feasible=True,
        stats={"file": path.name, "objective_from": "recomputed"},
    )


def write_tsplib_tour(solution: Solution, path: str | Path) -> None:
    """Write a tsp Solution as a TSPLIB ``.tour`` file (1-based ids, -1, EOF), atomically."""
    if solution.kind != "tsp":
        raise FormatError(str(path), "kind", "a tsp solution for a .tour file", solution.kind)
    tour = solution.payload["tour"]
    lines = [f"NAME : {solution.instance}.tour", "TYPE : TOUR"]
    if solution.objective is not None:
        lines.append(f"COMMENT : Length = {num(solution.objective)}")
    lines += [f"DIMENSION : {len(tour)}", "TOUR_SECTION", *(str(int(c) + 1) for c in tour), "-1", "EOF"]
    write_text(path, "\n".join(lines) + "\n")
