"""Grid maps and scenarios for lifelong MAPF: MovingAI ``.map`` / ``.scen``, RHCR's kiva maps, POGEMA strings.

A map alone is not an instance (it needs an agent count, a horizon and a goal stream), so these readers return
a :class:`GridMap` (or a :class:`Scenario`) and :func:`make_instance` builds the
:class:`routelab.problems.LifelongMAPFInstance`::

    grid_map = read_grid_map("maps/kiva-rhcr.map")          # any of the three map formats
    inst = make_instance(grid_map, agents=64, horizon=256, seed=0, starts="homes")

Cell conventions (grid value 1 = blocked):

- MovingAI ``.map``: ``.`` and ``G`` free; ``S`` (swamp) free as well (MovingAI's octile maps treat swamp as
  passable terrain); ``@``, ``O``, ``T`` and ``W`` blocked (``W`` water is impassable to ground agents).
- RHCR kiva: ``.`` free, ``@`` blocked, ``e`` an endpoint (free, a task location), ``r`` a robot home (free).
- POGEMA strings: ``.`` free, ``#`` blocked; rows separated by newlines, surrounding blank lines and
  indentation ignored.
- MovingAI ``.scen``: x is the column and y the row; cells are returned as ``(row, col)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from routelab.data._common import build, parse_float, parse_int, read_text
from routelab.problems import FormatError
from routelab.problems.mapf import LifelongMAPFInstance

MOVINGAI_FREE = frozenset(".GS")
MOVINGAI_BLOCKED = frozenset("@OTW")
KIVA_CELLS = {".": 0, "@": 1, "e": 0, "r": 0}
POGEMA_CELLS = {".": 0, "#": 1}
START_MODES: tuple[str, ...] = ("random", "scen", "homes")


@dataclass(frozen=True, eq=False)
class GridMap:
    """A grid read from a file: ``grid`` ``(H, W)`` uint8 (1 = blocked), optional kiva endpoints and homes."""

    name: str
    grid: np.ndarray
    endpoints: np.ndarray | None = None
    homes: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.grid.shape[0])

    @property
    def width(self) -> int:
        return int(self.grid.shape[1])


@dataclass(frozen=True, eq=False)
class Scenario:
    """A MovingAI scenario: ``starts`` and ``goals`` ``(N, 2)`` as ``(row, col)``, in file order."""

    name: str
    map_name: str
    width: int
    height: int
    starts: np.ndarray
    goals: np.ndarray
    buckets: np.ndarray
    optimal: np.ndarray


def _lines(text: str) -> list[tuple[int, str]]:
    """``(1-based line number, line without the line end)`` for every line."""
    return [(k + 1, line.rstrip("\r")) for k, line in enumerate(text.split("\n"))]


def _rows(source: str, numbered: list[tuple[int, str]], height: int, width: int) -> list[tuple[int, str]]:
    """Exactly ``height`` rows of ``width`` characters; blank lines after them are allowed, nothing else."""
    while numbered and not numbered[-1][1].strip():
        numbered = numbered[:-1]
    rows = numbered[:height]
    if len(rows) < height:
        raise FormatError(source, "map", f"{height} rows", f"{len(rows)} rows")
    for lineno, row in rows:
        if len(row) != width:
            raise FormatError(source, f"line {lineno}", f"a map row of {width} cells", f"{len(row)} cells")
    for lineno, extra in numbered[height:]:
        if extra.strip():
            raise FormatError(source, f"line {lineno}", f"the end of the map after {height} rows", extra)
    return rows


# -- MovingAI -------------------------------------------------------------------------------------
def parse_movingai_map(text: str, source: str = "<map>", name: str | None = None) -> GridMap:
    """A MovingAI ``.map`` text (``type octile``, ``height H``, ``width W``, ``map``, then H rows)."""
    lines = _lines(text)
    header: dict[str, str] = {}
    k = 0
    while k < len(lines):
        lineno, line = lines[k]
        k += 1
        words = line.split()
        if not words:
            continue
        if words[0].lower() == "map" and len(words) == 1:
            break
        if len(words) != 2 or words[0].lower() not in ("type", "height", "width"):
            raise FormatError(source, f"line {lineno}", "a header line 'type', 'height', 'width' or 'map'", line)
        header[words[0].lower()] = words[1]
    else:
        raise FormatError(source, "map", "a 'map' line before the rows", "missing")
    for key in ("type", "height", "width"):
        if key not in header:
            raise FormatError(source, key, f"a '{key}' header line", "missing")
    if header["type"] != "octile":
        raise FormatError(source, "type", "'octile'", header["type"])
    height = parse_int(source, "height", header["height"])
    width = parse_int(source, "width", header["width"])
    if height < 1 or width < 1:
        raise FormatError(source, "height/width", "positive sizes", f"{height} x {width}")
    grid = np.zeros((height, width), dtype=np.uint8)
    for r, (lineno, row) in enumerate(_rows(source, lines[k:], height, width)):
        for c, ch in enumerate(row):
            if ch in MOVINGAI_BLOCKED:
                grid[r, c] = 1
            elif ch not in MOVINGAI_FREE:
                raise FormatError(source, f"line {lineno}", "map cells from '.GS@OTW'", f"{ch!r} at column {c}")
    return GridMap(name=name or Path(source).stem, grid=grid, meta={"source": "movingai", "file": Path(source).name})


def read_movingai_map(path: str | Path) -> GridMap:
    return parse_movingai_map(read_text(path), str(path))


def read_movingai_scen(path: str | Path, grid_map: GridMap | None = None) -> Scenario:
    """A MovingAI ``.scen`` (``version 1``); with ``grid_map``, every line must fit its size and free cells."""
    source = str(path)
    lines = [(n, line) for n, line in _lines(read_text(path)) if line.strip()]
    if not lines or lines[0][1].split()[:1] != ["version"]:
        raise FormatError(source, "line 1", "'version 1'", lines[0][1] if lines else "an empty file")
    version = lines[0][1].split()[1:]
    if not version or parse_float(source, "version", version[0]) != 1:
        raise FormatError(source, "version", "1", " ".join(version) or "none")
    starts, goals, buckets, optimal = [], [], [], []
    map_name, width, height = "", 0, 0
    for lineno, line in lines[1:]:
        where = f"line {lineno}"
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) != 9:
            raise FormatError(source, where, "9 fields: bucket map width height sx sy gx gy optimal", line)
        bucket = parse_int(source, where, parts[0])
        w, h, sx, sy, gx, gy = (parse_int(source, where, p) for p in parts[2:8])
        if map_name == "":
            map_name, width, height = parts[1], w, h
        if grid_map is not None and (w, h) != (grid_map.width, grid_map.height):
            raise FormatError(
                source, where, f"the map size {grid_map.width} x {grid_map.height} (width x height)", f"{w} x {h}"
            )
        for what, x, y in (("start", sx, sy), ("goal", gx, gy)):
            if not (0 <= x < w and 0 <= y < h):
                raise FormatError(source, where, f"a {what} on the {w} x {h} map", f"x={x}, y={y}")
            if grid_map is not None and grid_map.grid[y, x]:
                raise FormatError(source, where, f"a {what} on a free cell", f"obstacle at x={x}, y={y}")
        starts.append((sy, sx))
        goals.append((gy, gx))
        buckets.append(bucket)
        optimal.append(parse_float(source, where, parts[8]))
    if not starts:
        raise FormatError(source, "scenario", "at least one agent line", "none")
    return Scenario(
        name=Path(source).stem,
        map_name=map_name,
        width=width,
        height=height,
        starts=np.array(starts, dtype=np.int64),
        goals=np.array(goals, dtype=np.int64),
        buckets=np.array(buckets, dtype=np.int64),
        optimal=np.array(optimal, dtype=np.float64),
    )


# -- RHCR kiva ------------------------------------------------------------------------------------
def parse_kiva_map(text: str, source: str = "<kiva>", name: str | None = None) -> GridMap:
    """RHCR's kiva map: ``rows,cols``, endpoint count, robot count, max time, then rows of ``.@er``."""
    lines = _lines(text)
    if len(lines) < 4:
        raise FormatError(source, "header", "rows,cols then three count lines", f"{len(lines)} lines")
    size = lines[0][1].split(",")
    if len(size) != 2:
        raise FormatError(source, "line 1", "'rows,cols'", lines[0][1])
    height = parse_int(source, "line 1", size[0].strip())
    width = parse_int(source, "line 1", size[1].strip())
    if height < 1 or width < 1:
        raise FormatError(source, "line 1", "positive sizes", f"{height},{width}")
    num_endpoints = parse_int(source, "line 2 (endpoints)", lines[1][1].strip())
    num_robots = parse_int(source, "line 3 (robots)", lines[2][1].strip())
    max_time = parse_int(source, "line 4 (max time)", lines[3][1].strip())
    grid = np.zeros((height, width), dtype=np.uint8)
    endpoints, homes = [], []
    for r, (lineno, row) in enumerate(_rows(source, lines[4:], height, width)):
        for c, ch in enumerate(row):
            if ch not in KIVA_CELLS:
                raise FormatError(source, f"line {lineno}", "kiva cells from '.@er'", f"{ch!r} at column {c}")
            grid[r, c] = KIVA_CELLS[ch]
            if ch == "e":
                endpoints.append((r, c))
            elif ch == "r":
                homes.append((r, c))
    if len(endpoints) != num_endpoints:
        raise FormatError(source, "line 2 (endpoints)", f"{len(endpoints)} (the 'e' cells)", num_endpoints)
    if len(homes) != num_robots:
        raise FormatError(source, "line 3 (robots)", f"{len(homes)} (the 'r' cells)", num_robots)
    return GridMap(
        name=name or Path(source).stem,
        grid=grid,
        endpoints=np.array(endpoints, dtype=np.int64).reshape(-1, 2),
        homes=np.array(homes, dtype=np.int64).reshape(-1, 2),
        meta={"source": "rhcr-kiva", "file": Path(source).name, "max_time": max_time},
    )


def read_kiva_map(path: str | Path) -> GridMap:
    return parse_kiva_map(read_text(path), str(path))


# -- POGEMA ---------------------------------------------------------------------------------------
def parse_pogema_grid(text: str, name: str = "pogema", source: str = "<pogema>") -> GridMap:
    """A POGEMA grid string: rows of ``.`` (free) and ``#`` (blocked), one per line."""
    rows = [(n, line.strip()) for n, line in _lines(text) if line.strip()]
    if not rows:
        raise FormatError(source, "grid", "at least one row of '.' and '#'", "no rows")
    width = len(rows[0][1])
    grid = np.zeros((len(rows), width), dtype=np.uint8)
    for r, (lineno, row) in enumerate(rows):
        if len(row) != width:
            raise FormatError(source, f"line {lineno}", f"a row of {width} cells (as the first)", f"{len(row)} cells")
        for c, ch in enumerate(row):
            if ch not in POGEMA_CELLS:
                raise FormatError(source, f"line {lineno}", "cells '.' or '#'", f"{ch!r} at column {c}")
            grid[r, c] = POGEMA_CELLS[ch]
    return GridMap(name=name, grid=grid, meta={"source": "pogema"})


def read_grid_map(path: str | Path) -> GridMap:
    """Any of the three map formats, chosen by content: ``type ...`` (MovingAI), ``rows,cols`` (kiva), else POGEMA."""
    text = read_text(path)
    first = next((line.strip() for line in text.split("\n") if line.strip()), "")
    if first.lower().startswith("type"):
        return parse_movingai_map(text, str(path))
    if "," in first:
        return parse_kiva_map(text, str(path))
    return parse_pogema_grid(text, name=Path(path).stem, source=str(path))


# -- instances ------------------------------------------------------------------------------------
def make_instance(
    grid_map: GridMap | str | Path,
    *,
    agents: int,
    horizon: int,
    seed: int = 0,
    starts: str = "random",
    goal_mode: str | None = None,
    scen: Scenario | str | Path | None = None,
    name: str | None = None,
) -> LifelongMAPFInstance:
    """A lifelong MAPF instance on ``grid_map`` (a :class:`GridMap` or a map file for :func:`read_grid_map`).

    ``starts``: ``"random"``: ``agents`` distinct free cells drawn by ``numpy.random.default_rng(seed)`` (in
    draw order); ``"scen"``: the first ``agents`` starts of ``scen``; ``"homes"``: the kiva robot homes (all
    of them in row-major order when ``agents`` equals their number, else a seeded sample kept in row-major
    order). Goals are generated with ``goal_seed = seed`` and ``goal_mode`` ``"endpoints"`` when the map has
    endpoints, else ``"component"`` (unless given).
    """
    source = str(grid_map) if not isinstance(grid_map, GridMap) else grid_map.name
    if not isinstance(grid_map, GridMap):
        from routelab.data.root import benchmark_file

        grid_map = read_grid_map(benchmark_file(grid_map))  # as given, else under the benchmark root
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 1:
        raise FormatError(source, "agents", "a positive integer", agents)
    if starts not in START_MODES:
        raise FormatError(source, "starts", f"one of {', '.join(START_MODES)}", starts)
    rng = np.random.default_rng(seed)
    if starts == "random":
        free = np.argwhere(grid_map.grid == 0)
        if agents > len(free):
            raise FormatError(source, "agents", f"at most {len(free)} (the free cells)", agents)
        cells = free[rng.choice(len(free), size=agents, replace=False)]
    elif starts == "scen":
        if scen is None:
            raise FormatError(source, "scen", "a scenario for starts='scen'", "none")
        if not isinstance(scen, Scenario):
            scen = read_movingai_scen(scen, grid_map)
        if agents > len(scen.starts):
            raise FormatError(scen.name, "agents", f"at most {len(scen.starts)} (the scenario's lines)", agents)
        cells = scen.starts[:agents]
    else:
        if grid_map.homes is None or len(grid_map.homes) == 0:
            raise FormatError(source, "starts", "robot home cells ('r', kiva maps) for starts='homes'", "none")
        homes = grid_map.homes
        if agents > len(homes):
            raise FormatError(source, "agents", f"at most {len(homes)} (the robot homes)", agents)
        cells = homes if agents == len(homes) else homes[np.sort(rng.choice(len(homes), size=agents, replace=False))]
    if goal_mode is None:
        goal_mode = "endpoints" if grid_map.endpoints is not None and len(grid_map.endpoints) else "component"
    meta = {
        **grid_map.meta,
        "map": grid_map.name,
        "agents": agents,
        "starts": starts,
        "seed": seed,
    }
    if starts == "scen" and isinstance(scen, Scenario):
        meta["scen"] = scen.name
    return build(
        source,
        lambda: LifelongMAPFInstance(
            name=name or f"{grid_map.name}-a{agents}-h{horizon}-s{seed}",
            grid=grid_map.grid,
            starts=np.asarray(cells, dtype=np.int64),
            horizon=horizon,
            goal_seed=seed,
            goal_mode=goal_mode,
            endpoints=grid_map.endpoints if goal_mode == "endpoints" else None,
            meta=meta,
        ),
    )
