"""Procedural cities: seeded, varied, strongly connected, asymmetric."""

from __future__ import annotations

import numpy as np
import pytest

from routelab.data.roads.synthetic import synthetic_city


def test_deterministic_per_seed() -> None:
    a, b = synthetic_city(5), synthetic_city(5)
    for name in ("lat", "lon", "tail", "head", "length_m", "speed_kmh"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_different_per_seed() -> None:
    a, b = synthetic_city(1), synthetic_city(2)
    assert a.n_edges != b.n_edges or not np.array_equal(a.lat, b.lat)


@pytest.mark.parametrize("seed", range(8))
def test_large_strongly_connected_component(seed: int) -> None:
    city = synthetic_city(seed)
    assert city.largest_strongly_connected().n_nodes > 0.9 * city.n_nodes
    assert set(np.unique(city.speed_kmh)) <= {30.0, 50.0, 70.0}
    pairs = set(zip(city.tail.tolist(), city.head.tolist(), strict=True))
    assert sum((h, t) not in pairs for t, h in pairs) > 20  # one-way streets exist


def test_size_and_knobs() -> None:
    small, big = synthetic_city(0, size_km=2.0), synthetic_city(0, size_km=6.0)
    assert 5 * small.n_nodes < big.n_nodes
    plain = synthetic_city(0, ring=False, river=False, diagonals=0, oneway_fraction=0.0, removed_fraction=0.0)
    pairs = set(zip(plain.tail.tolist(), plain.head.tolist(), strict=True))
    assert all((h, t) in pairs for t, h in pairs)  # no one-way streets left
    assert plain.largest_strongly_connected().n_nodes == plain.n_nodes
    assert set(np.unique(plain.speed_kmh)) == {30.0, 50.0}
    centre = synthetic_city(0, centre=(-33.9, 151.2))
    assert abs(centre.lat.mean() + 33.9) < 0.01 and abs(centre.lon.mean() - 151.2) < 0.01


def test_asymmetric_matrices_on_sampled_points() -> None:
    city = synthetic_city(11).largest_strongly_connected()
    points = city.sample_points(40, 0)
    m = city.matrices(points)
    m.require_connected()
    assert not np.allclose(m.duration_s, m.duration_s.T)
    assert not np.allclose(m.distance_m, m.distance_m.T)
    off = ~np.eye(40, dtype=bool)
    kmh = m.distance_m[off] / m.duration_s[off] * 3.6
    assert kmh.min() >= 30 - 1e-6 and kmh.max() <= 70 + 1e-6
