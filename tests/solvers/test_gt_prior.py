import numpy as np
import pytest

from routelab.solvers.gt_prior import gt_prior, load_table, rank_counts
from routelab.solvers.heatmaps import nearest_neighbours


def test_rank_counts_by_hand():
    # Four cities on a line: 0 - 1 - 2 - 3 (x = 0, 1, 2, 10).
    coords = np.array([[0.0, 0], [1, 0], [2, 0], [10, 0]])
    counts = rank_counts(coords, [0, 1, 2, 3], k=2)
    # Each edge is seen from both ends; 2->3, 3->0 and 0->3 go beyond the 2 nearest neighbours.
    neighbours, _ = nearest_neighbours(coords, 2)
    expected = np.zeros(3, dtype=int)
    tour = [0, 1, 2, 3]
    for a, b in zip(tour, tour[1:] + tour[:1], strict=True):
        for u, v in ((a, b), (b, a)):
            hit = np.flatnonzero(neighbours[u] == v)
            expected[hit[0] if hit.size else 2] += 1
    assert np.array_equal(counts, expected)
    assert counts.sum() == 8 and counts[2] == 3 and counts[0] >= 3


def test_shipped_table_is_a_distribution_led_by_the_nearest():
    table = load_table()
    for probs in table["tables"].values():
        assert sum(probs) == pytest.approx(1.0)
        assert probs[0] > probs[1] > probs[2] > probs[-1]
    assert table["fitted"]["how"].startswith("LKH-3")


def test_gt_prior_heatmap_uses_the_nearest_size():
    coords = np.random.default_rng(0).random((300, 2))
    table = {"k": 3, "tables": {"100": [0.5, 0.3, 0.1, 0.1], "1000": [0.7, 0.2, 0.05, 0.05]}, "fitted": {}}
    heat = gt_prior(coords, k=3, table=table)
    assert np.allclose(heat.weights, [0.5, 0.3, 0.1])  # log 300 is nearer log 100 than log 1000
