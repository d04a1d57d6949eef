"""City files (RRNCO's {City}_data.npz) and the ATSP / ACVRP / ACVRPTW instances sampled from them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import floyd_warshall

from routelab.data.roads import RoadMatrices
from routelab.data.roads.city import City, city_name, load_city, save_city
from routelab.data.roads.instances import sample_instances
from routelab.problems import FormatError, Solution, check


def toy_roads(m: int = 40, seed: int = 0, island: bool = True) -> RoadMatrices:
    """Points around Helsinki with asymmetric road-like costs (closed under shortest paths); the last point is
    an island that nothing reaches when ``island``."""
    rng = np.random.default_rng(seed)
    points = np.array([60.17, 24.94]) + rng.uniform(-0.01, 0.01, size=(m, 2))
    km = np.hypot(*(((points[:, None, :] - points[None, :, :]) * [110.6, 55.6]).transpose(2, 0, 1)))
    distance = floyd_warshall(km * 1000 * (1 + 0.5 * rng.random((m, m))))
    duration = floyd_warshall(distance / (8 + 6 * rng.random((m, m))))
    if island:
        distance[-1, :-1] = distance[:-1, -1] = np.inf
        duration[-1, :-1] = duration[:-1, -1] = np.inf
    return RoadMatrices(points=points, distance_m=distance, duration_s=duration, source="toy")


def test_city_round_trips_through_rrnco_npz(tmp_path: Path):
    city = City.from_roads("Toy", toy_roads())
    path = tmp_path / "Toy_data.npz"
    save_city(city, path)
    with np.load(path) as raw:
        assert sorted(raw.files) == ["distance", "duration", "points"]
        assert np.isfinite(raw["distance"]).all()  # unreachable written as a huge value, as RRNCO does
    back = load_city(path)
    assert back.name == "Toy" and city_name("x/Paris_data.npz") == "Paris"
    np.testing.assert_array_equal(back.distance_km, city.distance_km)
    np.testing.assert_array_equal(back.duration_min, city.duration_min)
    assert np.isinf(back.distance_km[-1, 0])
    assert list(back.connected_points()) == list(range(39))  # the island is left out


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda a: a.pop("duration"), "duration"),
        (lambda a: a.__setitem__("distance", a["distance"][:5]), "distance"),
        (lambda a: a["distance"].__setitem__((1, 2), np.nan), "distance"),
        (lambda a: a["duration"].__setitem__((2, 1), -3.0), "duration"),
        (lambda a: a["points"].__setitem__((0, 0), 123.0), "points"),
        (lambda a: a["distance"].__setitem__((4, 4), 1.0), "distance"),
    ],
)
def test_bad_city_files_name_the_field(tmp_path: Path, mutate, field: str):
    city = City.from_roads("Toy", toy_roads(island=False))
    arrays = {"points": city.points.copy(), "distance": city.distance_km.copy(), "duration": city.duration_min.copy()}
    mutate(arrays)
    path = tmp_path / "Bad_data.npz"
    np.savez(path, **arrays)
    with pytest.raises(FormatError) as info:
        load_city(path)
    assert info.value.field == field
    assert str(path) in str(info.value)


def test_missing_and_broken_files(tmp_path: Path):
    with pytest.raises(FormatError, match="no such file"):
        load_city(tmp_path / "nope.npz")
    (tmp_path / "x.npz").write_bytes(b"not a zip")
    with pytest.raises(FormatError, match="npz"):
        load_city(tmp_path / "x.npz")


@pytest.mark.parametrize("kind", ["atsp", "acvrp", "acvrptw"])
def test_sampled_instances_follow_rrnco_and_are_feasible(kind: str):
    city = City.from_roads("Toy", toy_roads())
    instances = sample_instances(city, kind, 12, 3, seed=5)
    assert [i.name for i in instances] == [f"{kind}12-Toy-s5-{k}" for k in range(3)]
    again = sample_instances(city, kind, 12, 5, seed=5)
    assert [i.meta["points"] for i in again[:3]] == [i.meta["points"] for i in instances]  # prefix-stable
    for inst in instances:
        chosen = inst.meta["points"]
        assert 39 not in chosen and len(set(chosen)) == len(chosen)
        assert inst.rounding == "matrix" and not inst.is_symmetric
        np.testing.assert_array_equal(inst.distance_matrix, city.distance_km[np.ix_(chosen, chosen)])
        if kind == "atsp":
            assert inst.num_nodes == 12
            sol = Solution(kind="tsp", instance=inst.name, solver="t", payload={"tour": list(range(12))})
        else:
            assert inst.num_nodes == 13 and 1 <= inst.demands[1:].min() and inst.demands.max() <= 9
            # one out-and-back route per customer is always feasible (capacity and, for TW, the windows)
            routes = [[c] for c in range(1, 13)]
            sol = Solution(kind=inst.kind, instance=inst.name, solver="t", payload={"routes": routes})
        assert check(inst, sol).feasible, check(inst, sol).violations


def test_time_windows_are_in_minutes_and_follow_the_normalised_rule():
    city = City.from_roads("Toy", toy_roads())
    (inst,) = sample_instances(city, "acvrptw", 20, 1, seed=1)
    unit = inst.meta["duration_unit_min"]
    assert unit == pytest.approx(inst.duration_matrix.max())
    assert inst.time_windows[0, 1] == pytest.approx(4.6 * unit)
    service = inst.service_times[1:] / unit
    length = (inst.time_windows[1:, 1] - inst.time_windows[1:, 0]) / unit
    assert service.min() >= 0.15 and service.max() <= 0.18
    assert length.min() >= 0.18 and length.max() <= 0.20
    assert inst.capacity == 30  # 30 + n / 5 only above 20 customers


def test_too_few_reachable_points_is_a_clear_error():
    city = City.from_roads("Toy", toy_roads(m=10))
    with pytest.raises(FormatError, match="mutually reachable"):
        sample_instances(city, "acvrp", 9, 1, seed=0)  # 10 points needed, 9 reachable
    with pytest.raises(FormatError, match="kind"):
        sample_instances(city, "pdptw", 5, 1, seed=0)


def test_build_city_from_the_builtin_extract_and_a_synthetic_city():
    from routelab.data.roads.build import build_city, parse_bbox

    helsinki = build_city(points=40, seed=1, builtin="helsinki")
    assert helsinki.name == "Helsinki" and helsinki.size == 40
    assert np.isfinite(helsinki.distance_km).all() and not np.allclose(helsinki.distance_km, helsinki.distance_km.T)
    assert 59.5 < helsinki.points[:, 0].mean() < 60.5
    synth = build_city(points=30, seed=0, synthetic=4)
    assert synth.name == "synthetic-4" and len(synth.connected_points()) == 30
    with pytest.raises(FormatError, match="at most"):
        build_city(points=10**6, synthetic=4)
    with pytest.raises(FormatError, match="bbox"):
        build_city(points=5, osrm="http://localhost:1")
    with pytest.raises(FormatError, match="south"):
        parse_bbox("60.2,24.9,60.1,25.0")


def test_open_city_accepts_files_builtins_and_synthetic_seeds(tmp_path: Path):
    from routelab.data.roads.build import open_city

    synth = open_city("synthetic:7", points=25, seed=1)
    assert synth.name == "synthetic-7" and synth.size == 25
    path = tmp_path / "S_data.npz"
    save_city(synth, path)
    assert open_city(str(path)).size == 25
    assert open_city("helsinki", points=30).name == "Helsinki"
    with pytest.raises(FormatError, match="SEED"):
        open_city("synthetic:x")
