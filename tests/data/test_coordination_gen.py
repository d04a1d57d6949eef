"""The coordination generator: warehouse floors, map roadmaps, shortest reference paths, determinism and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routelab.data.coordination_gen import generate_coordination, grid_roadmap, warehouse_blocks, warehouse_grid
from routelab.data.generate import generate
from routelab.data.readers import read_instances, write_instances
from routelab.problems import FormatError


def test_warehouse_floor_layout() -> None:
    grid = warehouse_grid(2, 3, shelf_length=4, shelf_depth=2)
    assert grid.shape == (2 + 2 * 3 + 1, 2 + 3 * 5 + 1)
    assert grid.sum() == 2 * 3 * 4 * 2  # only shelves are blocked
    assert grid[0].sum() == 0 and grid[:, 0].sum() == 0  # a corridor all round
    roadmap = grid_roadmap(grid, "w")
    assert len(roadmap.cells) == grid.size - grid.sum()
    assert np.all(grid[roadmap.cells[:, 0], roadmap.cells[:, 1]] == 0)
    assert np.all(np.abs(roadmap.cells[roadmap.edges[:, 0]] - roadmap.cells[roadmap.edges[:, 1]]).sum(axis=1) == 1)
    rows, cols = warehouse_blocks(250)
    assert rows * cols * 9 >= 250 * 6 * 0.9  # about cells_per_robot free cells per robot


def test_instances_are_valid_shortest_and_deterministic() -> None:
    a = generate("coordination", 12, 3, 7)
    b = generate_coordination(12, 2, 7)
    assert [x.name for x in a[:2]] == [y.name for y in b]
    assert all(np.array_equal(x.paths, y.paths) for x, y in zip(a, b, strict=False))
    assert not np.array_equal(a[0].paths, a[1].paths)
    for inst in a:
        assert inst.num_robots == 12 and inst.num_conflicts > 0
        starts = inst.paths[inst.path_offsets[:-1]]
        goals = inst.paths[inst.path_offsets[1:] - 1]
        assert len(set(starts.tolist())) == 12 and len(set(goals.tolist())) == 12
        xy = inst.coords
        for r in range(inst.num_robots):  # unit grid steps: a shortest path is as long as the Manhattan distance
            p = inst.path(r)
            assert len(p) - 1 >= np.abs(xy[p[0]] - xy[p[-1]]).sum()
    # on an open floor most robots' shortest paths are Manhattan-optimal
    manhattan = [
        len(a[0].path(r)) - 1 == np.abs(a[0].coords[a[0].path(r)[0]] - a[0].coords[a[0].path(r)[-1]]).sum()
        for r in range(12)
    ]
    assert sum(manhattan) >= 6


def _map_file(tmp_path: Path) -> Path:
    """A 16 x 16 MovingAI map with a few walls (the tests use no shared benchmark data)."""
    rows = ["." * 16 for _ in range(16)]
    rows[5] = "..@@@@@@@@@@...."
    rows[10] = "....@@@@@@@@@@.."
    path = tmp_path / "rooms-16.map"
    path.write_text("type octile\nheight 16\nwidth 16\nmap\n" + "\n".join(rows) + "\n")
    return path


def test_options_and_map_roadmaps(tmp_path: Path) -> None:
    grid_map = str(_map_file(tmp_path))
    inst = generate_coordination(15, 1, 0, map=grid_map, release_spread=5.0, follow_gap=0.4)[0]
    assert inst.meta["generator"]["map"] == grid_map
    assert inst.follow_gap == 0.4 and 0 < inst.release_times.max() <= 5.0
    assert inst.conflicts["followable"].any()


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"colour": 1}, "options among"),
        ({"cells_per_robot": 0}, "cells_per_robot: expected a number > 0"),
        ({"release_spread": -1}, "release_spread: expected a number >= 0"),
        ({"map": "TMP_MAP", "size": 5000}, "size: expected at most"),
    ],
)
def test_bad_options_are_clear(kwargs: dict, words: str, tmp_path: Path) -> None:
    size = kwargs.pop("size", 5)
    if kwargs.get("map") == "TMP_MAP":
        kwargs["map"] = str(_map_file(tmp_path))
    with pytest.raises(FormatError, match=words):
        generate_coordination(size, 1, 0, **kwargs)


def test_batched_dataset_round_trip(tmp_path: Path) -> None:
    instances = generate("coordination", 6, 4, 1)
    write_instances(instances, tmp_path / "c.npz")
    back = read_instances(tmp_path / "c.npz")
    assert [x.name for x in back] == [x.name for x in instances]
    for x, y in zip(instances, back, strict=True):
        assert np.array_equal(x.paths, y.paths) and np.array_equal(x.path_offsets, y.path_offsets)
        assert x.num_conflicts == y.num_conflicts
