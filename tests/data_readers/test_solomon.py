"""Solomon text: trunc1 lengths, the fleet, the writer, and one fixture per kind of broken table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routelab.data import (
    generate,
    instance_differences,
    read_instance,
    read_solomon,
    read_vrplib_solution,
    write_instance,
    write_solomon,
)
from routelab.problems import FormatError, check


def test_reads_table(fixtures: Path) -> None:
    inst = read_solomon(fixtures / "tiny_solomon.txt")
    assert (inst.kind, inst.name, inst.rounding, inst.depot) == ("cvrptw", "TINY4", "trunc1", 0)
    assert inst.num_vehicles == 3 and inst.capacity == 10
    assert inst.demands.tolist() == [0, 4, 5, 3]
    assert inst.time_windows.tolist() == [[0, 100], [0, 20], [10, 30], [50, 60]]
    assert inst.service_times.tolist() == [0, 2, 2, 1]
    assert inst.duration_matrix is None  # travel times are the distances


def test_trunc1_lengths_and_reference_solution(fixtures: Path) -> None:
    inst = read_solomon(fixtures / "tiny_solomon.txt")
    d = inst.distances
    assert d[0, 1] == 1.4  # sqrt(2) = 1.414 truncated, not rounded
    assert d[1, 2] == 3.6  # sqrt(13) = 3.606
    assert d[0, 2] == 5.0  # an exact 5 must not truncate to 4.9
    sol = read_vrplib_solution(fixtures / "tiny_solomon.sol", inst)
    score = check(inst, sol)
    assert score.feasible
    assert score.objective == pytest.approx(20.0, abs=1e-9)  # (1.4 + 3.6 + 5) + (5 + 5)


def test_round_trips_are_lossless(fixtures: Path, tmp_path: Path) -> None:
    inst = read_solomon(fixtures / "tiny_solomon.txt")
    for target in ("rt.json", "rt.npz", "tiny_solomon.txt"):
        write_instance(inst, tmp_path / target)
        assert instance_differences(inst, read_instance(tmp_path / target)) == []


def test_writer_keeps_fractional_values(fixtures: Path, tmp_path: Path) -> None:
    inst = read_solomon(fixtures / "tiny_solomon.txt")
    data = inst.to_data()
    data["coords"] = data["coords"] + np.array([0.1, 1 / 3])
    moved = type(inst).from_data(inst.name, data, dict(inst.meta))
    write_solomon(moved, tmp_path / "m.txt")
    assert np.array_equal(read_solomon(tmp_path / "m.txt").coords, moved.coords)


def test_writer_refuses_what_solomon_cannot_hold(tmp_path: Path) -> None:
    exact = generate("cvrptw", 4, 1, seed=1)[0]
    with pytest.raises(FormatError, match="trunc1"):
        write_solomon(exact, tmp_path / "x.txt")


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("solomon_window_closes_before_open.txt", "DUE DATE (line 11, customer 1)"),
        ("solomon_truncated_table.txt", "customer table line 12"),
        ("solomon_non_numeric_field.txt", "DUE DATE (line 11)"),
        ("solomon_customers_out_of_order.txt", "CUST NO. (line 11)"),
        ("solomon_missing_vehicle_block.txt", "VEHICLE"),
        ("solomon_depot_with_demand.txt", "demands"),
    ],
)
def test_bad_files_name_file_and_field(fixtures: Path, name: str, field: str) -> None:
    with pytest.raises(FormatError) as info:
        read_solomon(fixtures / name)
    assert name in str(info.value)
    assert info.value.field == field


def test_truncated_table_says_so(fixtures: Path) -> None:
    with pytest.raises(FormatError, match="the table is truncated"):
        read_solomon(fixtures / "solomon_truncated_table.txt")
