"""The one-instance-per-line TSP test-set format: names, 1-based closed tours, limits, exact floats."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routelab.data import generate, read_tsp_testset, read_tsp_testset_with_tours, write_tsp_testset
from routelab.problems import FormatError, check


def test_reads_instances_and_tours(fixtures: Path) -> None:
    pairs = read_tsp_testset_with_tours(fixtures / "tiny_testset.txt")
    assert [inst.name for inst, _ in pairs] == ["tiny_testset-0", "tiny_testset-1"]
    inst, sol = pairs[1]
    assert inst.rounding == "exact" and inst.num_nodes == 4
    assert inst.coords.tolist() == [[0, 0], [1, 0], [1, 1], [0, 1]]
    assert sol is not None and sol.solver == "reference"
    assert sol.payload["tour"] == [0, 2, 1, 3]  # "1 3 2 4 1": 1-based, closed
    score = check(inst, sol)
    assert score.feasible
    assert score.objective == pytest.approx(2 + 2 * np.sqrt(2))
    assert sol.objective == pytest.approx(score.objective)
    assert pairs[0][1].stats["identity_tour"] is True


def test_limit_reads_only_the_first_lines(fixtures: Path) -> None:
    assert [i.name for i in read_tsp_testset(fixtures / "tiny_testset.txt", limit=1)] == ["tiny_testset-0"]
    assert read_tsp_testset(fixtures / "tiny_testset.txt", limit=0) == []


def test_writer_round_trip_is_bit_exact(tmp_path: Path) -> None:
    instances = generate("tsp", 50, 3, seed=11)
    tours = [list(np.random.default_rng(k).permutation(50)) for k in range(3)]
    path = tmp_path / "tsp50_test.txt"
    write_tsp_testset(instances, path, tours)
    back = read_tsp_testset_with_tours(path)
    for inst, tour, (again, sol) in zip(instances, tours, back, strict=True):
        assert np.array_equal(inst.coords, again.coords)
        assert sol is not None and sol.payload["tour"] == [int(c) for c in tour]


def test_writer_refuses_matrix_instances(tmp_path: Path) -> None:
    inst = generate("tsp", 5, 1, seed=0, asymmetric=True)[0]
    with pytest.raises(FormatError):
        write_tsp_testset([inst], tmp_path / "a.txt")


@pytest.mark.parametrize(
    ("name", "field"),
    [("testset_odd_coordinates.txt", "coordinates"), ("testset_open_tour.txt", "tour")],
)
def test_bad_lines_name_file_line_and_field(fixtures: Path, name: str, field: str) -> None:
    with pytest.raises(FormatError) as info:
        read_tsp_testset(fixtures / name)
    assert f"{name}:1" in str(info.value)
    assert info.value.field == field
