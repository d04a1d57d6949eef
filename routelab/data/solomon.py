"""Solomon's VRPTW text format (C1/C2/R1/R2/RC1/RC2, and Gehring-Homberger's larger sets).

Layout: the instance name, a ``VEHICLE`` block (``NUMBER  CAPACITY`` header, then the two values), and a
``CUSTOMER`` table of ``CUST NO., XCOORD., YCOORD., DEMAND, READY TIME, DUE DATE, SERVICE TIME`` whose row 0
is the depot. Instances read as ``rounding="trunc1"`` (arc lengths truncated to one decimal, the DIMACS
convention of the published best-known distances), travel times equal to distances, and
``num_vehicles`` = the ``VEHICLE NUMBER``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from routelab.data._common import build, num, parse_float, parse_int, read_text, write_text
from routelab.problems import CVRPTWInstance, FormatError

COLUMNS: tuple[str, ...] = ("CUST NO.", "XCOORD.", "YCOORD.", "DEMAND", "READY TIME", "DUE DATE", "SERVICE TIME")


def looks_like_solomon(text: str) -> bool:
    """True when the first lines hold Solomon's ``VEHICLE`` and ``CUSTOMER`` headers (used to sniff .txt files)."""
    head = [line.strip().upper() for line in text.splitlines()[:12]]
    return "VEHICLE" in head and "CUSTOMER" in head


def _next_content(lines: list[str], start: int) -> int:
    """Index of the first non-blank line at or after ``start`` (``len(lines)`` when none)."""
    while start < len(lines) and not lines[start].strip():
        start += 1
    return start


def _find(lines: list[str], word: str, start: int, source: str) -> int:
    for i in range(start, len(lines)):
        if lines[i].strip().upper() == word:
            return i
    raise FormatError(source, word, f"a '{word}' block", "missing")


def read_solomon(path: str | Path) -> CVRPTWInstance:
    """Read one Solomon-format text file as a trunc1 cvrptw instance (node 0 is the depot)."""
    path = Path(path)
    source = str(path)
    lines = read_text(path).splitlines()
    first = _next_content(lines, 0)
    if first == len(lines):
        raise FormatError(source, "name", "the instance name on the first line", "an empty file")
    name = lines[first].strip()

    vehicle = _find(lines, "VEHICLE", first + 1, source)
    header = _next_content(lines, vehicle + 1)
    values = _next_content(lines, header + 1)
    if values == len(lines) or "NUMBER" not in lines[header].upper():
        raise FormatError(source, "VEHICLE", "a 'NUMBER CAPACITY' header, then the two values", "missing")
    tokens = lines[values].split()
    if len(tokens) != 2:
        raise FormatError(source, f"VEHICLE line {values + 1}", "two values: NUMBER CAPACITY", lines[values].strip())
    num_vehicles = parse_int(source, "VEHICLE NUMBER", tokens[0])
    capacity = parse_float(source, "VEHICLE CAPACITY", tokens[1])

    customer = _find(lines, "CUSTOMER", values + 1, source)
    table_header = _next_content(lines, customer + 1)
    if table_header == len(lines) or "CUST" not in lines[table_header].upper():
        raise FormatError(source, "CUSTOMER", "the column header 'CUST NO. XCOORD. ...'", "missing")
    rows = _table(source, lines, table_header + 1)
    table = np.asarray(rows, dtype=np.float64)
    service = table[:, 6]
    windows = table[:, 4:6]
    meta = {"source": "solomon", "file": path.name}
    return build(
        source,
        lambda: CVRPTWInstance(
            name=name,
            coords=table[:, 1:3],
            rounding="trunc1",
            meta=meta,
            demands=table[:, 3],
            capacity=capacity,
            depot=0,
            num_vehicles=num_vehicles,
            time_windows=windows,
            service_times=service,
        ),
    )


def _table(source: str, lines: list[str], start: int) -> list[list[float]]:
    """The customer rows, checked: 7 numbers each, numbered 0, 1, 2, ..., windows that open before they close."""
    rows: list[list[float]] = []
    numbered = [(i, line) for i, line in enumerate(lines[start:], start=start + 1) if line.strip()]
    for k, (lineno, line) in enumerate(numbered):
        tokens = line.split()
        if len(tokens) != len(COLUMNS):
            got = f"{len(tokens)} fields"
            if k == len(numbered) - 1 and len(tokens) < len(COLUMNS):
                got += " (the table is truncated)"
            raise FormatError(source, f"customer table line {lineno}", f"7 numbers: {', '.join(COLUMNS)}", got)
        row = [parse_float(source, f"{col} (line {lineno})", tok) for col, tok in zip(COLUMNS, tokens, strict=True)]
        if row[0] != len(rows):
            raise FormatError(
                source, f"CUST NO. (line {lineno})", f"{len(rows)} (customers numbered from 0)", tokens[0]
            )
        if row[5] < row[4]:
            raise FormatError(
                source, f"DUE DATE (line {lineno}, customer {len(rows)})", f">= READY TIME {tokens[4]}", tokens[5]
            )
        rows.append(row)
    if len(rows) < 2:
        raise FormatError(source, "CUSTOMER", "the depot (row 0) and at least one customer", f"{len(rows)} rows")
    return rows


def solomon_text(instance: CVRPTWInstance, source: str = "<solomon>") -> str:
    """Solomon text for a cvrptw instance that the format can hold exactly (trunc1 coordinates, depot 0).

    An instance without a fleet limit is written with one vehicle per customer (the most a solution can use).
    """
    if instance.kind != "cvrptw":
        raise FormatError(source, "kind", "cvrptw (Solomon files hold VRPTW instances)", instance.kind)
    if instance.rounding != "trunc1" or instance.coords is None or instance.distance_matrix is not None:
        raise FormatError(
            source,
            "rounding",
            "a 'trunc1' coordinate instance (Solomon's convention); use .json/.npz",
            instance.rounding,
        )
    if instance.duration_matrix is not None:
        raise FormatError(source, "duration_matrix", "none (Solomon travel times are distances)", "a matrix")
    if instance.depot != 0:
        raise FormatError(source, "depot", "node 0 (Solomon's row 0 is the depot)", instance.depot)
    vehicles = instance.num_vehicles if instance.num_vehicles is not None else instance.num_nodes - 1
    out = [
        instance.name,
        "",
        "VEHICLE",
        "NUMBER     CAPACITY",
        f"{vehicles:>5} {num(instance.capacity):>12}",
        "",
        "CUSTOMER",
        "CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME",
        "",
    ]
    for i in range(instance.num_nodes):
        x, y = instance.coords[i]
        fields = [
            num(x),
            num(y),
            num(instance.demands[i]),
            num(instance.time_windows[i, 0]),
            num(instance.time_windows[i, 1]),
            num(instance.service_times[i]),
        ]
        out.append(f"{i:>5}" + "".join(f" {f:>10}" for f in fields))
    return "\n".join(out) + "\n"


def write_solomon(instance: CVRPTWInstance, path: str | Path) -> None:
    """Write a cvrptw instance in Solomon's text format, atomically."""
    write_text(path, solomon_text(instance, str(path)))
