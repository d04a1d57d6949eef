"""VRPLIB reading and writing: coordinates kept (no stored matrix), depots, VRPTW sections, .sol numbering."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routelab.data import (
    generate,
    instance_differences,
    read_instance,
    read_solomon,
    read_vrplib,
    read_vrplib_solution,
    write_instance,
    write_vrplib,
    write_vrplib_solution,
)
from routelab.problems import CVRPTWInstance, FormatError, Solution, check


def test_coordinate_instance(fixtures: Path) -> None:
    inst = read_vrplib(fixtures / "tiny_cvrp.vrp")
    assert inst.kind == "cvrp"
    assert (inst.name, inst.num_nodes, inst.rounding, inst.depot) == ("tiny-cvrp", 5, "nint", 0)
    assert inst.distance_matrix is None  # vrplib's unrounded matrix is not kept
    assert inst.capacity == 10 and inst.num_vehicles == 2
    assert inst.demands.dtype == np.int64 and inst.demands.tolist() == [0, 4, 5, 3, 6]
    assert inst.coords[4].tolist() == [2.5, 0.0]
    assert inst.distances[0, 4] == 3  # 2.5 -> 3 under nint


def test_sol_numbers_are_array_indices(fixtures: Path) -> None:
    inst = read_vrplib(fixtures / "tiny_cvrp.vrp")
    sol = read_vrplib_solution(fixtures / "tiny_cvrp.sol", inst)
    assert sol.payload["routes"] == [[1, 2], [3, 4]]
    assert sol.objective == 34
    score = check(inst, sol)
    assert score.feasible
    # route 1: 5 + 5 + 10; route 2: 5 + nint(5.59) = 6 + nint(2.5) = 3
    assert score.objective == 34


def test_depot_keeps_its_index(fixtures: Path) -> None:
    inst = read_vrplib(fixtures / "tiny_depot_third.vrp")
    assert inst.depot == 2
    assert inst.demands.tolist() == [4, 5, 0, 3]
    assert inst.customers.tolist() == [0, 1, 3]


def test_explicit_lower_row(fixtures: Path) -> None:
    inst = read_vrplib(fixtures / "tiny_explicit.vrp")
    assert inst.rounding == "matrix" and inst.coords is None
    expected = [[0, 3, 4, 6], [3, 0, 5, 7], [4, 5, 0, 8], [6, 7, 8, 0]]
    assert inst.distance_matrix.tolist() == expected
    score = check(inst, Solution("cvrp", inst.name, "hand", {"routes": [[1, 2], [3]]}))
    assert score.feasible and score.objective == 3 + 5 + 4 + 6 + 6


def test_vrptw_sections(fixtures: Path) -> None:
    inst = read_vrplib(fixtures / "tiny_vrptw.vrp")
    assert isinstance(inst, CVRPTWInstance)
    assert inst.time_windows.tolist() == [[0, 100], [0, 20], [10, 30], [50, 60]]
    assert inst.service_times.tolist() == [0, 2, 2, 1]
    assert inst.num_vehicles == 3 and inst.duration_matrix is None
    assert check(inst, Solution("cvrptw", inst.name, "hand", {"routes": [[1, 2], [3]]})).feasible


def test_rounding_override(fixtures: Path) -> None:
    inst = read_vrplib(fixtures / "tiny_cvrp.vrp", rounding="exact")
    assert inst.rounding == "exact"
    assert inst.distances[0, 4] == 2.5


def test_sol_without_cost_is_recomputed(fixtures: Path, tmp_path: Path) -> None:
    inst = read_vrplib(fixtures / "tiny_cvrp.vrp")
    path = tmp_path / "nocost.sol"
    path.write_text("Route #1: 1 2\nRoute #2: 3 4\n")
    sol = read_vrplib_solution(path, inst)
    assert sol.objective == 34 and sol.stats["objective_from"] == "recomputed"


@pytest.mark.parametrize("name", ["tiny_cvrp.vrp", "tiny_depot_third.vrp", "tiny_explicit.vrp", "tiny_vrptw.vrp"])
def test_round_trips_are_lossless(fixtures: Path, tmp_path: Path, name: str) -> None:
    inst = read_vrplib(fixtures / name)
    for target in ("rt.json", "rt.npz", name):
        write_instance(inst, tmp_path / target)
        assert instance_differences(inst, read_instance(tmp_path / target)) == []


def test_writer_carries_conventions_vrplib_cannot_name(fixtures: Path, tmp_path: Path) -> None:
    solomon = read_solomon(fixtures / "tiny_solomon.txt")
    write_vrplib(solomon, tmp_path / "s.vrp")
    assert "ROUNDING: trunc1" in (tmp_path / "s.vrp").read_text()
    back = read_vrplib(tmp_path / "s.vrp")
    assert back.rounding == "trunc1"
    assert np.array_equal(back.time_windows, solomon.time_windows)
    for kind in ("cvrp", "cvrptw"):
        for asymmetric in (False, True):
            inst = generate(kind, 6, 1, seed=5, asymmetric=asymmetric)[0]
            write_vrplib(inst, tmp_path / "g.vrp")
            again = read_vrplib(tmp_path / "g.vrp")
            assert again.rounding == inst.rounding
            assert np.array_equal(again.coords, inst.coords)  # floats survive the text bit for bit
            assert np.array_equal(again.distances, inst.distances)


def test_writer_refuses_duration_matrix(tmp_path: Path) -> None:
    inst = generate("cvrptw", 3, 1, seed=0)[0]
    data = inst.to_data()
    data["duration_matrix"] = inst.distances * 2
    timed = CVRPTWInstance.from_data(inst.name, data, {})
    with pytest.raises(FormatError, match="duration_matrix"):
        write_vrplib(timed, tmp_path / "t.vrp")


def test_sol_round_trip(fixtures: Path, tmp_path: Path) -> None:
    inst = read_vrplib(fixtures / "tiny_cvrp.vrp")
    sol = Solution("cvrp", inst.name, "hand", {"routes": [[2, 1], [], [4, 3]]}, objective=34.0, feasible=True)
    write_vrplib_solution(sol, tmp_path / "out.sol")
    back = read_vrplib_solution(tmp_path / "out.sol", inst)
    assert back.payload["routes"] == [[2, 1], [4, 3]]  # empty routes are not written
    assert back.objective == 34


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("vrplib_section_ends_early.vrp", "NODE_COORD_SECTION"),
        ("vrplib_two_depots.vrp", "DEPOT_SECTION"),
        ("vrplib_missing_capacity.vrp", "CAPACITY"),
        ("vrplib_non_numeric_demand.vrp", "DEMAND_SECTION"),
    ],
)
def test_bad_instances_name_file_and_field(fixtures: Path, name: str, field: str) -> None:
    with pytest.raises(FormatError) as info:
        read_vrplib(fixtures / name)
    assert name in str(info.value)
    assert info.value.field == field


def test_section_ending_early_says_so(fixtures: Path) -> None:
    with pytest.raises(FormatError, match="the section ends early"):
        read_vrplib(fixtures / "vrplib_section_ends_early.vrp")


def test_bad_solution_file(fixtures: Path) -> None:
    inst = read_vrplib(fixtures / "tiny_cvrp.vrp")
    with pytest.raises(FormatError) as info:
        read_vrplib_solution(fixtures / "vrplib_non_numeric_route.sol", inst)
    assert "vrplib_non_numeric_route.sol" in str(info.value) and info.value.field == "Route"
    with pytest.raises(FormatError, match="no such file"):
        read_vrplib_solution(fixtures / "missing.sol", inst)
