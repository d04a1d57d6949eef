"""Seeded ``coordination`` instances: warehouse roadmaps (or MovingAI grids), random tasks, shortest reference paths.

The roadmap is the 4-connected graph of a grid's free cells, one node per cell at ``(x, y) = (col, row)`` with unit
travel times (``edge_time``). A generated warehouse is rows of shelf blocks (``shelf_depth`` x ``shelf_length``
blocked cells) separated by one-cell aisles and cross-aisles, with a corridor all round; its size follows the robot
count so that each robot has about ``cells_per_robot`` free cells: paths of a 250-robot floor then cross thousands
of times (a hard but solvable MILP), and small floors are as crowded as large ones, which is what lets a model
trained on 5-25 robots be tested on 250. ``map=FILE`` uses a MovingAI/kiva/POGEMA map instead (its largest
4-connected component), resolved against the benchmark root like the lifelong_mapf generator's.

Robots get distinct start cells and distinct goal cells (never their own start) drawn from the task cells: the
free cells next to a shelf (pick faces) in a warehouse, any free cell of the component on a map. Reference paths
are shortest paths with ties broken at random (a tiny seeded perturbation of the edge times that cannot change a
path's length class), so traffic spreads over equivalent aisles instead of following one lexicographic order.
Release times are 0 unless ``release_spread`` > 0 (then uniform in ``[0, release_spread]``).

Instance ``k`` of a run depends only on (size, options, seed, k): it draws from ``numpy.random.default_rng([seed,
k])``, so asking for more instances never changes the first ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from routelab.problems.coordination import CoordinationInstance
from routelab.problems.errors import FormatError

DEFAULT_CELLS_PER_ROBOT = 6.0
MAX_ROBOTS = 1000
"""The most robots the generator makes: conflicts grow like robots^2 (118 K at 250), so a floor of 1,000 robots
already holds millions, and the path search keeps a robots x nodes table."""
"""Free cells per robot of a generated warehouse (see the module doc; measured in docs/solvers/coordination.md)."""


@dataclass(frozen=True)
class Roadmap:
    """A grid roadmap: node ``i`` is free cell ``cells[i]`` (row, col); ``task_nodes`` are where tasks start/end."""

    name: str
    grid: np.ndarray
    cells: np.ndarray
    edges: np.ndarray
    task_nodes: np.ndarray

    @property
    def coords(self) -> np.ndarray:
        return np.stack([self.cells[:, 1], self.cells[:, 0]], axis=1).astype(np.float64)


def warehouse_grid(
    block_rows: int, block_cols: int, *, shelf_length: int = 6, shelf_depth: int = 2, margin: int = 1
) -> np.ndarray:
    """``(H, W)`` uint8 grid (1 = shelf): ``block_rows x block_cols`` shelf blocks, one-cell aisles between them and
    a ``margin``-cell corridor round the floor."""
    if min(block_rows, block_cols, shelf_length, shelf_depth) < 1 or margin < 0:
        raise ValueError("warehouse blocks, shelf_length and shelf_depth must be >= 1, margin >= 0")
    height = 2 * margin + block_rows * (shelf_depth + 1) + 1
    width = 2 * margin + block_cols * (shelf_length + 1) + 1
    grid = np.zeros((height, width), dtype=np.uint8)
    for i in range(block_rows):
        r0 = margin + 1 + i * (shelf_depth + 1)
        for j in range(block_cols):
            c0 = margin + 1 + j * (shelf_length + 1)
            grid[r0 : r0 + shelf_depth, c0 : c0 + shelf_length] = 1
    return grid


def warehouse_blocks(
    robots: int, cells_per_robot: float = DEFAULT_CELLS_PER_ROBOT, shelf_length: int = 6, shelf_depth: int = 2
) -> tuple[int, int]:
    """Block rows and columns giving about ``cells_per_robot`` free cells per robot on a floor about 1.5 times as
    wide as it is tall (at least 2 x 2 blocks)."""
    free_per_block = (shelf_length + 1) * (shelf_depth + 1) - shelf_length * shelf_depth
    blocks = max(4.0, robots * cells_per_robot / free_per_block)
    # width / height = (cols * (L + 1)) / (rows * (D + 1)) = 1.5
    ratio = 1.5 * (shelf_depth + 1) / (shelf_length + 1)
    rows = max(2, round(math.sqrt(blocks / ratio)))
    cols = max(2, math.ceil(blocks / rows))
    return rows, cols


def grid_roadmap(grid: np.ndarray, name: str, task_cells: str = "shelf") -> Roadmap:
    """The largest 4-connected component of ``grid``'s free cells as a roadmap; ``task_cells`` ``"shelf"`` makes
    free cells beside a blocked cell the task nodes, ``"all"`` every node."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    h, w = grid.shape
    free = grid == 0
    index = np.full((h, w), -1, dtype=np.int64)
    cells = np.argwhere(free)
    index[cells[:, 0], cells[:, 1]] = np.arange(len(cells))
    pairs = []
    right = free[:, :-1] & free[:, 1:]
    down = free[:-1, :] & free[1:, :]
    r, c = np.nonzero(right)
    pairs.append(np.stack([index[r, c], index[r, c + 1]], axis=1))
    r, c = np.nonzero(down)
    pairs.append(np.stack([index[r, c], index[r + 1, c]], axis=1))
    edges = np.concatenate(pairs)
    n = len(cells)
    adj = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    _, labels = connected_components(adj, directed=False)
    biggest = np.argmax(np.bincount(labels))
    keep = labels == biggest
    renumber = np.full(n, -1, dtype=np.int64)
    renumber[keep] = np.arange(int(keep.sum()))
    edges = renumber[edges]
    edges = edges[(edges >= 0).all(axis=1)]
    cells = cells[keep]
    if task_cells == "shelf":
        blocked = np.pad(grid == 1, 1, constant_values=False)
        rr, cc = cells[:, 0] + 1, cells[:, 1] + 1
        beside = blocked[rr - 1, cc] | blocked[rr + 1, cc] | blocked[rr, cc - 1] | blocked[rr, cc + 1]
        tasks = np.flatnonzero(beside)
    else:
        tasks = np.arange(len(cells))
    return Roadmap(name=name, grid=grid, cells=cells, edges=edges, task_nodes=tasks)


def shortest_paths(
    num_nodes: int,
    edges: np.ndarray,
    times: np.ndarray,
    starts: np.ndarray,
    goals: np.ndarray,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """A shortest path from each start to its goal (undirected edges), ties broken at random.

    The perturbation multiplies each edge time by ``1 + U(0, eps)`` with ``eps * (sum of all times) < min time``,
    so a perturbed-shortest path is also a shortest path of the real times (up to float rounding).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    eps = 0.5 * float(times.min()) / max(float(times.sum()), 1e-12)
    w = times * (1.0 + eps * rng.random(len(times)))
    rows = np.concatenate([edges[:, 0], edges[:, 1]])
    cols = np.concatenate([edges[:, 1], edges[:, 0]])
    graph = coo_matrix((np.concatenate([w, w]), (rows, cols)), shape=(num_nodes, num_nodes)).tocsr()
    uniq, inverse = np.unique(starts, return_inverse=True)
    dist, pred = dijkstra(graph, directed=True, indices=uniq, return_predecessors=True)
    out = []
    for k, goal in enumerate(goals.tolist()):
        row = inverse[k]
        if not np.isfinite(dist[row, goal]):
            raise FormatError(_SOURCE, f"robot {k}", f"a goal reachable from start node {int(starts[k])}", goal)
        path = [goal]
        while path[-1] != uniq[row]:
            path.append(int(pred[row, path[-1]]))
        out.append(np.array(path[::-1], dtype=np.int64))
    return out


_SOURCE = "generate coordination"
_OPTIONS = {
    "map",
    "cells_per_robot",
    "shelf_length",
    "shelf_depth",
    "release_spread",
    "safety_distance",
    "follow_gap",
    "edge_time",
}


def generate_coordination(size: int, count: int, seed: int, **options: Any) -> list[CoordinationInstance]:
    """``count`` instances with ``size`` robots (see the module doc for every option)."""
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        accepted = ", ".join(sorted(_OPTIONS))
        raise FormatError(_SOURCE, "options", f"options among {accepted}", ", ".join(unknown))
    for key, value, ok in (
        ("size", size, isinstance(size, int) and not isinstance(size, bool) and size >= 1),
        ("count", count, isinstance(count, int) and not isinstance(count, bool) and count >= 1),
        ("seed", seed, isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0),
    ):
        if not ok:
            raise FormatError(_SOURCE, key, f"a {'non-negative' if key == 'seed' else 'positive'} integer", value)
    if size > MAX_ROBOTS:
        raise FormatError(_SOURCE, "size", f"at most {MAX_ROBOTS} robots (conflicts grow like robots^2)", size)
    cells_per_robot = _number(options, "cells_per_robot", DEFAULT_CELLS_PER_ROBOT, positive=True)
    shelf_length = int(_number(options, "shelf_length", 6, positive=True))
    shelf_depth = int(_number(options, "shelf_depth", 2, positive=True))
    release_spread = _number(options, "release_spread", 0.0)
    safety = _number(options, "safety_distance", 0.0)
    edge_time = _number(options, "edge_time", 1.0, positive=True)
    follow_gap = options.get("follow_gap")
    if follow_gap is not None:
        follow_gap = _number(options, "follow_gap", 0.0)

    map_file = options.get("map")
    if map_file is not None:
        from routelab.data.mapf_io import read_grid_map
        from routelab.data.root import benchmark_file

        grid_map = read_grid_map(benchmark_file(str(map_file)))
        roadmap = grid_roadmap(grid_map.grid, grid_map.name, task_cells="all")
        layout: dict[str, Any] = {"map": str(map_file)}
    else:
        rows, cols = warehouse_blocks(size, cells_per_robot, shelf_length, shelf_depth)
        grid = warehouse_grid(rows, cols, shelf_length=shelf_length, shelf_depth=shelf_depth)
        roadmap = grid_roadmap(grid, f"warehouse-{rows}x{cols}", task_cells="shelf")
        layout = {"block_rows": rows, "block_cols": cols, "shelf_length": shelf_length, "shelf_depth": shelf_depth}
    if len(roadmap.task_nodes) < size + 1:
        most = len(roadmap.task_nodes) - 1
        raise FormatError(_SOURCE, "size", f"at most {most} robots on {roadmap.name} (its task cells)", size)
    times = np.full(len(roadmap.edges), edge_time)
    out = []
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        tasks = roadmap.task_nodes
        starts = rng.choice(tasks, size=size, replace=False)
        goals = _goals(tasks, starts, rng)
        paths = shortest_paths(len(roadmap.cells), roadmap.edges, times, starts, goals, rng)
        release = rng.random(size) * release_spread if release_spread > 0 else np.zeros(size)
        meta = {
            "source": "generator",
            "seed": seed,
            "index": index,
            "generator": {
                "kind": "coordination",
                "size": size,
                "roadmap": roadmap.name,
                "grid_shape": list(roadmap.grid.shape),
                "cells_per_robot": cells_per_robot,
                **layout,
                "release_spread": release_spread,
            },
        }
        out.append(
            CoordinationInstance(
                name=f"coord{size}-{roadmap.name}-s{seed}-{index}",
                meta=meta,
                coords=roadmap.coords,
                edges=roadmap.edges,
                edge_times=times,
                paths=paths,
                release_times=release,
                safety_distance=safety,
                follow_gap=follow_gap,
            )
        )
    return out


def _goals(tasks: np.ndarray, starts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Distinct goals, none equal to its own robot's start (a random permutation, re-drawn where it hits)."""
    size = len(starts)
    for _ in range(100):
        goals = rng.choice(tasks, size=size, replace=False)
        if not np.any(goals == starts):
            return goals
        hit = np.flatnonzero(goals == starts)
        # swap each collision with another position; a derangement exists whenever there are >= 2 robots or a
        # spare task cell, so a few swaps settle it
        for k in hit.tolist():
            j = int(rng.integers(size)) if size > 1 else k
            if goals[j] != starts[k] and goals[k] != starts[j]:
                goals[k], goals[j] = goals[j], goals[k]
        if not np.any(goals == starts):
            return goals
    raise ValueError("could not draw goals distinct from the starts")


def _number(options: dict[str, Any], key: str, default: float, *, positive: bool = False) -> float:
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FormatError(_SOURCE, key, "a number", value)
    if value < 0 or (positive and value == 0):
        raise FormatError(_SOURCE, key, "a number > 0" if positive else "a number >= 0", value)
    return float(value)
