"""Generators: deterministic per seed, rl4co capacities, cvrptw feasible by construction, metric asymmetry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routelab.data import cvrp_capacity, generate, instance_differences, read_instances, write_instances
from routelab.problems import Solution, check


@pytest.mark.parametrize("kind", ["tsp", "cvrp", "cvrptw"])
@pytest.mark.parametrize("asymmetric", [False, True])
def test_deterministic_per_seed(kind: str, asymmetric: bool) -> None:
    a = generate(kind, 12, 3, seed=7, asymmetric=asymmetric)
    b = generate(kind, 12, 3, seed=7, asymmetric=asymmetric)
    assert all(instance_differences(x, y) == [] for x, y in zip(a, b, strict=True))
    c = generate(kind, 12, 3, seed=8, asymmetric=asymmetric)
    assert not np.array_equal(a[0].coords, c[0].coords)
    # asking for fewer instances gives the same first ones
    assert instance_differences(generate(kind, 12, 1, seed=7, asymmetric=asymmetric)[0], a[0]) == []
    assert not np.array_equal(a[0].coords, a[1].coords)


def test_meta_and_names() -> None:
    inst = generate("cvrp", 20, 2, seed=3)[1]
    assert inst.meta["source"] == "generator"
    assert (inst.meta["seed"], inst.meta["index"]) == (3, 1)
    assert inst.meta["generator"]["kind"] == "cvrp" and inst.meta["generator"]["capacity"] is None
    assert inst.name == "cvrp20-s3-1"
    assert generate("tsp", 5, 1, seed=3, asymmetric=True)[0].name == "tsp5-asym-s3-0"


def test_uniform_unit_square_exact() -> None:
    inst = generate("tsp", 500, 1, seed=0)[0]
    assert inst.rounding == "exact" and inst.num_nodes == 500
    assert inst.coords.min() >= 0 and inst.coords.max() < 1


def test_cvrp_demands_and_capacity() -> None:
    inst = generate("cvrp", 100, 1, seed=2)[0]
    assert inst.num_nodes == 101 and inst.depot == 0  # size counts customers
    assert inst.demands[0] == 0
    assert inst.demands[1:].min() >= 1 and inst.demands[1:].max() <= 9
    assert inst.demands.dtype == np.int64
    assert inst.capacity == 50
    assert generate("cvrp", 10, 1, seed=2, capacity=99)[0].capacity == 99


def test_capacity_table() -> None:
    assert [cvrp_capacity(n) for n in (10, 20, 50, 100, 200, 500, 1000)] == [20, 30, 40, 50, 70, 100, 150]
    assert cvrp_capacity(5) == 20  # below the table
    assert cvrp_capacity(55) == 42  # halfway between 40 and 43, halves rounded up
    assert cvrp_capacity(2000) == 250  # 150 + (2000 - 1000) / 10


@pytest.mark.parametrize("asymmetric", [False, True])
def test_cvrptw_one_route_per_customer_is_feasible(asymmetric: bool) -> None:
    for inst in generate("cvrptw", 50, 20, seed=4, asymmetric=asymmetric):
        routes = [[c] for c in inst.customers.tolist()]
        score = check(inst, Solution("cvrptw", inst.name, "one-per-customer", {"routes": routes}))
        assert score.feasible, score.violations
        tw = inst.time_windows
        assert np.all(tw[:, 0] <= tw[:, 1])
        assert np.all(tw[:, 1] <= tw[0, 1]) and tw[0, 0] == 0
        assert np.all(inst.service_times[1:] == 0.2) and inst.service_times[0] == 0


def test_tight_horizon_is_extended_to_stay_feasible() -> None:
    inst = generate("cvrptw", 30, 1, seed=0, horizon=0.5, service_time=0.3)[0]
    assert inst.time_windows[0, 1] > 0.5
    routes = [[c] for c in inst.customers.tolist()]
    assert check(inst, Solution("cvrptw", inst.name, "x", {"routes": routes})).feasible


def test_asymmetric_matrix_is_metric_and_asymmetric() -> None:
    inst = generate("tsp", 40, 1, seed=9, asymmetric=True, asymmetry=0.5)[0]
    d = inst.distance_matrix
    assert inst.rounding == "matrix" and inst.coords is not None
    assert not inst.is_symmetric
    assert np.all(np.diag(d) == 0)
    # triangle inequality: d[i, k] <= d[i, j] + d[j, k] for all i, j, k
    assert np.all(d[:, None, :] <= d[:, :, None] + d[None, :, :] + 1e-12)
    euclid = generate("tsp", 40, 1, seed=9)[0].distances
    assert np.all(d >= euclid - 1e-12) and np.all(d <= 1.5 * euclid + 1e-12)


def test_dataset_round_trip(tmp_path: Path) -> None:
    instances = generate("cvrptw", 10, 4, seed=1, asymmetric=True)
    write_instances(instances, tmp_path / "set.npz")
    back = read_instances(tmp_path / "set.npz")
    assert [instance_differences(a, b) for a, b in zip(instances, back, strict=True)] == [[]] * 4


@pytest.mark.parametrize(
    ("args", "options", "match"),
    [
        (("vrp", 5, 1, 0), {}, "unknown kind"),
        (("tsp", 1, 1, 0), {}, "size"),
        (("tsp", 5, 0, 0), {}, "count"),
        (("tsp", 5, 1, -1), {}, "seed"),
        (("tsp", 5, 1, 0), {"capacity": 10}, "unknown option"),
        (("cvrp", 5, 1, 0), {"capacity": 3}, "below max_demand"),
        (("cvrp", 5, 1, 0), {"capacity": "big"}, "must be a number"),
        (("tsp", 5, 1, 0), {"asymmetric": "yes"}, "true/false"),
    ],
)
def test_bad_arguments(args: tuple, options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        generate(*args, **options)
