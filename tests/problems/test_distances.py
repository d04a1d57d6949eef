import numpy as np
import pytest

from routelab.problems.distances import edge_lengths, pairwise


def length(a, b, rounding):
    coords = np.array([a, b], dtype=float)
    return float(edge_lengths(coords, rounding, np.array(0), np.array(1)))


def test_tsplib_nint_and_ceil():
    assert length([0, 0], [1, 1], "nint") == 1  # sqrt(2) = 1.41
    assert length([0, 0], [1, 2], "nint") == 2  # sqrt(5) = 2.24
    assert length([0, 0], [0, 2.5], "nint") == 3  # ties round up, as nint(x) = (int)(x + 0.5)
    assert length([0, 0], [1, 1], "ceil") == 2


def test_solomon_truncates_to_one_decimal():
    assert length([0, 0], [1, 1], "trunc1") == pytest.approx(1.4)
    assert length([0, 0], [3, 4], "trunc1") == pytest.approx(5.0)  # exact values must not drop to 4.9


def test_att_pseudo_euclidean():
    # TSPLIB: r = sqrt((dx^2 + dy^2) / 10); t = nint(r); d = t + 1 if t < r else t
    assert length([0, 0], [10, 0], "att") == 4  # r = 3.162, t = 3 < r
    assert length([0, 0], [30, 10], "att") == 10  # r = 10 exactly


def test_geo_matches_tsplib_formula():
    # ulysses-style DDD.MM coordinates; value computed by the TSPLIB C reference formula by hand
    coords = np.array([[38.24, 20.42], [39.57, 26.15]])
    d = pairwise(coords, "geo")
    assert d[0, 0] == 0
    assert d[0, 1] == d[1, 0] == 509


def test_pairwise_matches_edge_lengths():
    rng = np.random.default_rng(1)
    coords = rng.random((6, 2)) * 100
    full = pairwise(coords, "nint")
    i, j = rng.integers(0, 6, 10), rng.integers(0, 6, 10)
    assert np.array_equal(full[i, j], edge_lengths(coords, "nint", i, j))
