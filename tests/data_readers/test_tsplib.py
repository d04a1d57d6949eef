"""TSPLIB reading: hand-checked lengths per edge weight type, matrix layouts, round trips, bad files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from routelab.data import (
    instance_differences,
    read_instance,
    read_tsplib,
    read_tsplib_tour,
    write_instance,
    write_tsplib,
    write_tsplib_tour,
)
from routelab.data.tsplib import MATRIX_FORMATS
from routelab.problems import FormatError, TSPInstance, check


def test_euc2d_is_nearest_integer(fixtures: Path) -> None:
    inst = read_tsplib(fixtures / "tiny_euc2d.tsp")
    assert (inst.name, inst.num_nodes, inst.rounding) == ("tiny5", 5, "nint")
    assert inst.distance_matrix is None  # coordinate instances never store a matrix
    assert inst.meta["comment"] == "five cities with hand-checked EUC_2D lengths"
    d = inst.distances
    # (0,0)-(3,4) = 5; (0,0)-(2.5,0) = 2.5 -> 3 (halves go up); (0,0)-(1,1) = 1.414 -> 1; (3,4)-(0,10) = 6.708 -> 7
    assert (d[0, 1], d[0, 2], d[0, 3], d[1, 4]) == (5, 3, 1, 7)


def test_ceil2d_rounds_up(fixtures: Path) -> None:
    inst = read_tsplib(fixtures / "tiny_ceil2d.tsp")
    assert inst.rounding == "ceil"
    d = inst.distances
    assert (d[0, 1], d[0, 2], d[0, 3], d[2, 3]) == (5, 3, 2, 2)  # 1.414 -> 2, (2.5,0)-(1,1) = 1.80 -> 2


def test_att_pseudo_euclidean(fixtures: Path) -> None:
    # TSPLIB: r = sqrt((dx^2 + dy^2) / 10); t = nint(r); d = t + 1 if t < r else t
    inst = read_tsplib(fixtures / "tiny_att.tsp")
    assert inst.rounding == "att"
    d = inst.distances
    assert d[0, 1] == 4  # r = sqrt(10) = 3.162 -> t = 3 < r -> 4
    assert d[0, 2] == 16  # r = sqrt(250) = 15.81 -> t = 16 >= r -> 16
    assert d[1, 2] == 15  # r = sqrt(200) = 14.14 -> t = 14 < r -> 15


def _geo_by_hand(a: tuple[float, float], b: tuple[float, float]) -> int:
    """TSPLIB's GEO formula written out (degrees truncated, as every published GEO optimum assumes)."""

    def rad(x: float) -> float:
        deg = int(x)
        return 3.141592 * (deg + 5.0 * (x - deg) / 3.0) / 180.0

    q1 = math.cos(rad(a[1]) - rad(b[1]))
    q2 = math.cos(rad(a[0]) - rad(b[0]))
    q3 = math.cos(rad(a[0]) + rad(b[0]))
    return int(6378.388 * math.acos(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3)) + 1.0)


def test_geo_great_circle(fixtures: Path) -> None:
    inst = read_tsplib(fixtures / "tiny_geo.tsp")
    assert inst.rounding == "geo"
    d = inst.distances
    assert (d[0, 1], d[0, 2], d[1, 2]) == (153, 510, 422)  # burma14's first cities
    pts = [tuple(p) for p in inst.coords]
    assert d[0, 2] == _geo_by_hand(pts[0], pts[2])
    assert np.all(np.diag(d) == 0)


def test_explicit_upper_row_keeps_display_coords(fixtures: Path) -> None:
    inst = read_tsplib(fixtures / "tiny_upper_row.tsp")
    assert inst.rounding == "matrix"
    expected = np.array([[0, 10, 20, 30], [10, 0, 40, 50], [20, 40, 0, 60], [30, 50, 60, 0]], dtype=float)
    assert np.array_equal(inst.distance_matrix, expected)
    assert np.array_equal(inst.coords, [[0, 0], [1, 0], [1, 1], [0, 1]])


def _layout(matrix: np.ndarray, fmt: str) -> list[float]:
    """Serialise a symmetric matrix the way TSPLIB defines each EDGE_WEIGHT_FORMAT (independent of the reader)."""
    n = len(matrix)
    cells = {
        "FULL_MATRIX": [(i, j) for i in range(n) for j in range(n)],
        "UPPER_ROW": [(i, j) for i in range(n) for j in range(i + 1, n)],
        "LOWER_ROW": [(i, j) for i in range(n) for j in range(i)],
        "UPPER_DIAG_ROW": [(i, j) for i in range(n) for j in range(i, n)],
        "LOWER_DIAG_ROW": [(i, j) for i in range(n) for j in range(i + 1)],
        "UPPER_COL": [(i, j) for j in range(n) for i in range(j)],
        "LOWER_COL": [(i, j) for j in range(n) for i in range(j + 1, n)],
        "UPPER_DIAG_COL": [(i, j) for j in range(n) for i in range(j + 1)],
        "LOWER_DIAG_COL": [(i, j) for j in range(n) for i in range(j, n)],
    }[fmt]
    return [matrix[i, j] for i, j in cells]


@pytest.mark.parametrize("fmt", MATRIX_FORMATS)
def test_every_matrix_layout(tmp_path: Path, fmt: str) -> None:
    rng = np.random.default_rng(3)
    n = 5
    m = rng.integers(1, 100, size=(n, n)).astype(float)
    m = np.triu(m, 1) + np.triu(m, 1).T
    values = _layout(m, fmt)
    # wrap the stream at 3 numbers per line: TSPLIB does not tie lines to matrix rows
    body = "\n".join(" ".join(str(int(v)) for v in values[k : k + 3]) for k in range(0, len(values), 3))
    path = tmp_path / f"m_{fmt}.tsp"
    path.write_text(
        f"NAME : m\nTYPE : TSP\nDIMENSION : {n}\nEDGE_WEIGHT_TYPE : EXPLICIT\n"
        f"EDGE_WEIGHT_FORMAT : {fmt}\nEDGE_WEIGHT_SECTION\n{body}\nEOF\n"
    )
    inst = read_tsplib(path)
    assert np.array_equal(inst.distance_matrix, m)
    assert inst.coords is None


def test_atsp_full_matrix_zeroes_the_diagonal(fixtures: Path) -> None:
    inst = read_tsplib(fixtures / "tiny.atsp")
    assert inst.meta["type"] == "ATSP"
    assert not inst.is_symmetric
    assert np.array_equal(inst.distance_matrix, [[0, 1, 5], [2, 0, 1], [1, 7, 0]])


@pytest.mark.parametrize("name", ["tiny_euc2d.tsp", "tiny_att.tsp", "tiny_geo.tsp", "tiny_upper_row.tsp", "tiny.atsp"])
def test_round_trips_are_lossless(fixtures: Path, tmp_path: Path, name: str) -> None:
    inst = read_tsplib(fixtures / name)
    for target in ("rt.json", "rt.npz"):
        write_instance(inst, tmp_path / target)
        assert instance_differences(inst, read_instance(tmp_path / target)) == []
    write_tsplib(inst, tmp_path / name)  # same file name: the meta records it
    again = read_tsplib(tmp_path / name)
    assert instance_differences(inst, again) == []


def test_writer_refuses_conventions_tsplib_cannot_name(tmp_path: Path) -> None:
    inst = TSPInstance(name="x", coords=np.array([[0.0, 0.0], [0.5, 0.25]]), rounding="exact")
    with pytest.raises(FormatError, match="rounding"):
        write_tsplib(inst, tmp_path / "x.tsp")
    assert not (tmp_path / "x.tsp").exists()


def test_tour_read_and_write(fixtures: Path, tmp_path: Path) -> None:
    inst = read_tsplib(fixtures / "tiny_euc2d.tsp")
    sol = read_tsplib_tour(fixtures / "tiny5.tour", inst)
    assert sol.payload["tour"] == [0, 2, 1, 4, 3]
    score = check(inst, sol)
    assert score.feasible
    # 1-3: 2.5 -> 3, 3-2: 4.03 -> 4, 2-5: 6.71 -> 7, 5-4: 9.06 -> 9, 4-1: 1.41 -> 1
    assert score.objective == 3 + 4 + 7 + 9 + 1
    write_tsplib_tour(sol, tmp_path / "t.tour")
    assert read_tsplib_tour(tmp_path / "t.tour", inst).payload == sol.payload


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("tsplib_section_ends_early.tsp", "NODE_COORD_SECTION"),
        ("tsplib_unknown_edge_weight_type.tsp", "EDGE_WEIGHT_TYPE"),
        ("tsplib_non_numeric_coordinate.tsp", "NODE_COORD_SECTION line 7 coordinate"),
        ("tsplib_missing_dimension.tsp", "DIMENSION"),
        ("tsplib_too_few_matrix_entries.tsp", "EDGE_WEIGHT_SECTION"),
    ],
)
def test_bad_files_name_file_and_field(fixtures: Path, name: str, field: str) -> None:
    with pytest.raises(FormatError) as info:
        read_tsplib(fixtures / name)
    message = str(info.value)
    assert name in message
    assert info.value.field == field
    assert field in message


def test_section_ending_early_says_so(fixtures: Path) -> None:
    with pytest.raises(FormatError, match=r"expected 4 lines.*got 3 lines \(the section ends early\)"):
        read_tsplib(fixtures / "tsplib_section_ends_early.tsp")


def test_cvrp_type_is_sent_to_the_vrplib_reader(tmp_path: Path) -> None:
    path = tmp_path / "v.tsp"
    path.write_text(
        "NAME : v\nTYPE : CVRP\nDIMENSION : 2\nEDGE_WEIGHT_TYPE : EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n"
    )
    with pytest.raises(FormatError, match="VRPLIB"):
        read_tsplib(path)
