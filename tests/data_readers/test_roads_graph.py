"""RoadGraph on hand-built graphs whose shortest paths are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from routelab.data.roads.graph import RoadGraph
from routelab.data.roads.matrices import haversine_m
from routelab.problems import FormatError


def loop_graph() -> RoadGraph:
    """A one-way loop 0 -> 1 -> 2 -> 3 -> 0 of 100 m edges at 36 km/h (10 s each), plus node 4 with only 4 -> 0."""
    lat = np.array([60.0, 60.0, 60.001, 60.001, 60.002])
    lon = np.array([25.0, 25.001, 25.001, 25.0, 25.0])
    tail = np.array([0, 1, 2, 3, 4])
    head = np.array([1, 2, 3, 0, 0])
    return RoadGraph(lat, lon, tail, head, np.full(5, 100.0), np.full(5, 36.0), source="loop")


def detour_graph() -> RoadGraph:
    """0 -> 2 direct: 1000 m at 10 km/h; 0 -> 1 -> 2: 2 x 800 m at 100 km/h; and a slow short 0 -> 1 of 700 m."""
    lat = np.array([60.0, 60.005, 60.0])
    lon = np.array([25.0, 25.01, 25.02])
    tail = np.array([0, 0, 1, 0, 2, 1])
    head = np.array([2, 1, 2, 1, 0, 0])
    length = np.array([1000.0, 800.0, 800.0, 700.0, 1000.0, 800.0])
    speed = np.array([10.0, 100.0, 100.0, 10.0, 10.0, 100.0])
    return RoadGraph(lat, lon, tail, head, length, speed, source="detour")


def test_loop_matrices_known_by_hand() -> None:
    graph = loop_graph()
    m = graph.matrices(graph.positions[:4])
    expected = np.array([[0, 1, 2, 3], [3, 0, 1, 2], [2, 3, 0, 1], [1, 2, 3, 0]], dtype=float)
    np.testing.assert_allclose(m.distance_m, 100 * expected)
    np.testing.assert_allclose(m.duration_s, 10 * expected)
    assert not np.allclose(m.distance_m, m.distance_m.T)  # one-way: asymmetric
    np.testing.assert_allclose(m.points, graph.positions[:4])
    m.require_connected()


def test_unreachable_is_inf() -> None:
    graph = loop_graph()
    m = graph.matrices(graph.positions)
    assert np.isinf(m.distance_m[:4, 4]).all() and np.isinf(m.duration_s[:4, 4]).all()
    np.testing.assert_allclose(m.distance_m[4, :4], [100, 200, 300, 400])
    assert m.distance_m[4, 4] == 0
    with pytest.raises(FormatError, match="unreachable"):
        m.require_connected()


def test_largest_strongly_connected_and_sampling() -> None:
    graph = loop_graph()
    scc = graph.largest_strongly_connected()
    assert (scc.n_nodes, scc.n_edges) == (4, 4)
    points = graph.sample_points(4, np.random.default_rng(0))
    assert len({tuple(p) for p in points}) == 4
    assert not any(np.allclose(p, graph.positions[4]) for p in points)
    np.testing.assert_array_equal(graph.sample_points(3, 7), graph.sample_points(3, 7))
    with pytest.raises(ValueError):
        graph.sample_points(5)


def test_snap_nearest_node_and_distance() -> None:
    graph = loop_graph()
    query = np.array([[60.00001, 25.00101], [60.0021, 24.9999]])
    nodes, snap_m = graph.snap(query)
    np.testing.assert_array_equal(nodes, [1, 4])
    np.testing.assert_allclose(snap_m, haversine_m(query, graph.positions[[1, 4]]))
    m = graph.matrices(query)
    np.testing.assert_allclose(m.points, graph.positions[[1, 4]])
    np.testing.assert_allclose(m.meta["snap_m"], snap_m)


def test_points_sharing_a_node_are_zero_apart() -> None:
    graph = loop_graph()
    m = graph.matrices(np.array([graph.positions[0], graph.positions[2], graph.positions[0]]))
    assert m.distance_m[0, 2] == 0 and m.duration_s[2, 0] == 0
    assert m.distance_m[0, 1] == 200 and m.distance_m[2, 1] == 200


def test_far_point_is_named() -> None:
    graph = loop_graph()
    with pytest.raises(FormatError, match=r"loop: points: expected points within 500 m of a road, got point 1 "):
        graph.matrices(np.array([[60.0, 25.0], [60.1, 25.0]]))
    graph.matrices(np.array([[60.0, 25.0], [60.1, 25.0]]), max_snap_m=20_000)


def test_fastest_versus_shortest_distance() -> None:
    graph = detour_graph()
    fastest = graph.matrices(graph.positions)
    shortest = graph.matrices(graph.positions, distance_of="shortest")
    # 0 -> 2: fastest route is the 1600 m detour at 100 km/h (57.6 s), shortest is the 1000 m direct road
    assert fastest.duration_s[0, 2] == pytest.approx(57.6)
    assert shortest.duration_s[0, 2] == pytest.approx(57.6)
    assert fastest.distance_m[0, 2] == pytest.approx(1600)
    assert shortest.distance_m[0, 2] == pytest.approx(1000)
    # 0 -> 1 has two parallel edges: the fast 800 m one is the fastest route, the slow 700 m one the shortest
    assert fastest.distance_m[0, 1] == pytest.approx(800) and fastest.duration_s[0, 1] == pytest.approx(28.8)
    assert shortest.distance_m[0, 1] == pytest.approx(700)
    assert (fastest.distance_m >= shortest.distance_m - 1e-9).all()
    np.testing.assert_allclose(fastest.duration_s, shortest.duration_s)
    with pytest.raises(ValueError):
        graph.matrices(graph.positions, distance_of="longest")  # type: ignore[arg-type]


def test_fastest_distance_matches_walking_the_tree() -> None:
    """On a random grid, the vectorised fastest-route length equals a walk along the Dijkstra predecessors."""
    from scipy.sparse.csgraph import dijkstra

    rng = np.random.default_rng(3)
    side = 12
    ii, jj = np.divmod(np.arange(side * side), side)
    lat, lon = 60 + ii * 0.001, 25 + jj * 0.002
    right = np.flatnonzero(jj < side - 1)
    up = np.flatnonzero(ii < side - 1)
    tail = np.concatenate([right, right + 1, up, up + side])
    head = np.concatenate([right + 1, right, up + side, up])
    keep = rng.random(len(tail)) > 0.2
    tail, head = tail[keep], head[keep]
    pos = np.column_stack([lat, lon])
    graph = RoadGraph(lat, lon, tail, head, haversine_m(pos[tail], pos[head]), rng.choice([30.0, 50.0], len(tail)))
    nodes = np.arange(0, side * side, 7)
    m = graph.matrices(pos[nodes])
    length = {(int(t), int(h)): float(x) for t, h, x in zip(tail, head, graph.length_m, strict=True)}
    time, pred = dijkstra(graph._time_csr, indices=nodes, return_predecessors=True)
    for a, s in enumerate(nodes):
        for b, t in enumerate(nodes):
            if not np.isfinite(time[a, t]):
                assert np.isinf(m.distance_m[a, b])
                continue
            total, v = 0.0, t
            while v != s:
                total, v = total + length[(int(pred[a, v]), int(v))], int(pred[a, v])
            assert m.distance_m[a, b] == pytest.approx(total)
            assert m.duration_s[a, b] == pytest.approx(time[a, t])


def test_bad_graph_is_format_error() -> None:
    with pytest.raises(FormatError, match="node ids"):
        RoadGraph([60.0, 60.1], [25.0, 25.0], [0], [2], [1.0], [30.0])
    with pytest.raises(FormatError, match="speed_kmh"):
        RoadGraph([60.0, 60.1], [25.0, 25.0], [0], [1], [1.0], [0.0])
    with pytest.raises(FormatError, match="points"):
        loop_graph().matrices(np.zeros((3, 3)))
