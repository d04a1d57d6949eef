import numpy as np
import pytest

from routelab.problems import FormatError
from routelab.solvers.heatmaps import PUBLISHED_TAU, load_heatmap, nearest_neighbours, softdist, softdist_tau, zero


def cities(n: int = 50, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 2))


def test_nearest_neighbours_match_brute_force():
    coords = cities(40)
    neighbours, dist = nearest_neighbours(coords, 5)
    full = np.linalg.norm(coords[:, None] - coords[None], axis=2)
    np.fill_diagonal(full, np.inf)
    assert np.array_equal(neighbours, np.argsort(full, axis=1)[:, :5])
    assert np.allclose(dist, np.sort(full, axis=1)[:, :5])


def test_softdist_is_a_row_softmax_of_negative_distance():
    coords = cities(60)
    heat = softdist(coords, k=8, tau=0.05)
    _, dist = nearest_neighbours(coords, 8)
    expected = np.exp(-dist / 0.05)
    expected /= expected.sum(axis=1, keepdims=True)
    assert np.allclose(heat.weights, expected)
    assert np.allclose(heat.weights.sum(axis=1), 1.0)
    assert np.all(np.diff(heat.weights, axis=1) <= 1e-12)  # nearer neighbours are hotter


def test_tau_rule_reproduces_the_published_values_and_is_scale_free():
    for n, tau in PUBLISHED_TAU.items():
        assert softdist_tau(n, 0.5 / np.sqrt(n)) == pytest.approx(tau)
    assert softdist_tau(1000, 100 * 0.5 / np.sqrt(1000)) == pytest.approx(100 * PUBLISHED_TAU[1000])
    assert PUBLISHED_TAU[1000] < softdist_tau(700, 0.5 / np.sqrt(700)) < PUBLISHED_TAU[500]


def test_zero_heatmap():
    assert not zero(cities(), k=4).weights.any()


def test_dense_and_sparse_files(tmp_path):
    n = 12
    dense = np.random.default_rng(1).random((n, n))
    np.save(tmp_path / "h.npy", dense)
    heat = load_heatmap(tmp_path / "h.npy", n, k=3)
    masked = dense.copy()
    np.fill_diagonal(masked, -np.inf)
    assert np.array_equal(heat.neighbours, np.argsort(-masked, axis=1)[:, :3])
    np.savez(tmp_path / "h.npz", neighbours=heat.neighbours, weights=heat.weights)
    sparse = load_heatmap(tmp_path / "h.npz", n)
    assert np.array_equal(sparse.weights, heat.weights)


def test_heatmap_of_the_wrong_size_is_refused(tmp_path):
    np.save(tmp_path / "h.npy", np.zeros((5, 5)))
    with pytest.raises(FormatError, match=r"h\.npy: heatmap: expected a \(6, 6\) matrix"):
        load_heatmap(tmp_path / "h.npy", 6)
    np.savez(tmp_path / "bad.npz", neighbours=np.full((6, 2), 9), weights=np.zeros((6, 2)))
    with pytest.raises(FormatError, match="out of range"):
        load_heatmap(tmp_path / "bad.npz", 6)
    (tmp_path / "trunc.npz").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(FormatError, match=r"trunc\.npz: file"):
        load_heatmap(tmp_path / "trunc.npz", 6)
