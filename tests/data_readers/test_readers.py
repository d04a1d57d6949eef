"""The dispatch point the CLI uses: format by extension and content, conversions, shared-format bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from routelab.data import (
    convert,
    convert_solution,
    generate,
    instance_differences,
    read_instance,
    read_instances,
    read_solution,
    write_instance,
    write_instances,
    write_solution,
)
from routelab.problems import FormatError, check


@pytest.mark.parametrize(
    ("name", "kind", "count"),
    [
        ("tiny_cvrp.json", "cvrp", 1),
        ("tiny_euc2d.tsp", "tsp", 1),
        ("tiny.atsp", "tsp", 1),
        ("tiny_cvrp.vrp", "cvrp", 1),
        ("tiny_vrptw.vrp", "cvrptw", 1),
        ("tiny_solomon.txt", "cvrptw", 1),  # sniffed as Solomon
        ("tiny_testset.txt", "tsp", 2),  # anything else .txt is the test-set format
    ],
)
def test_dispatch(fixtures: Path, name: str, kind: str, count: int) -> None:
    instances = read_instances(fixtures / name)
    assert len(instances) == count
    assert {i.kind for i in instances} == {kind}


def test_read_instance_wants_exactly_one(fixtures: Path) -> None:
    assert read_instance(fixtures / "tiny_cvrp.vrp").name == "tiny-cvrp"
    with pytest.raises(FormatError, match="exactly one instance"):
        read_instance(fixtures / "tiny_testset.txt")
    assert len(read_instances(fixtures / "tiny_testset.txt", limit=1)) == 1


def test_npz_single_and_dataset(tmp_path: Path) -> None:
    instances = generate("tsp", 8, 3, seed=0)
    write_instance(instances[0], tmp_path / "one.npz")
    write_instances(instances, tmp_path / "many.npz")
    assert instance_differences(read_instance(tmp_path / "one.npz"), instances[0]) == []
    back = read_instances(tmp_path / "many.npz")
    assert [instance_differences(a, b) for a, b in zip(instances, back, strict=True)] == [[]] * 3


def test_folder_write_and_read(tmp_path: Path) -> None:
    instances = generate("cvrp", 5, 3, seed=2)
    write_instances(instances, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i.name}.json" for i in instances]
    back = read_instances(tmp_path / "out")
    assert [instance_differences(a, b) for a, b in zip(instances, back, strict=True)] == [[]] * 3


def test_many_instances_need_a_container(tmp_path: Path) -> None:
    instances = generate("tsp", 8, 2, seed=0)
    for suffix in (".json", ".tsp", ".vrp"):
        with pytest.raises(FormatError, match="instances"):
            write_instances(instances, tmp_path / f"x{suffix}")
    mixed = [*instances, generate("cvrp", 7, 1, seed=0)[0]]
    with pytest.raises(FormatError, match="one kind and size"):
        write_instances(mixed, tmp_path / "mixed.npz")


def test_convert_both_ways(fixtures: Path, tmp_path: Path) -> None:
    for source, middle in [
        ("tiny_cvrp.vrp", "a.json"),
        ("tiny_vrptw.vrp", "b.npz"),
        ("tiny_solomon.txt", "c.json"),
        ("tiny_euc2d.tsp", "d.npz"),
        ("tiny_upper_row.tsp", "e.json"),
    ]:
        original = read_instance(fixtures / source)
        assert convert(fixtures / source, tmp_path / middle) == 1
        assert convert(tmp_path / middle, tmp_path / source) == 1
        assert instance_differences(original, read_instance(tmp_path / source)) == []
    assert convert(fixtures / "tiny_testset.txt", tmp_path / "set.npz") == 2
    assert convert(tmp_path / "set.npz", tmp_path / "set.txt") == 2
    assert [i.coords.tolist() for i in read_instances(tmp_path / "set.txt")] == [
        i.coords.tolist() for i in read_instances(fixtures / "tiny_testset.txt")
    ]


def test_solutions(fixtures: Path, tmp_path: Path) -> None:
    inst = read_instance(fixtures / "tiny_cvrp.vrp")
    sol = read_solution(fixtures / "tiny_cvrp.sol", inst)
    convert_solution(fixtures / "tiny_cvrp.sol", tmp_path / "s.json", inst)
    as_json = read_solution(tmp_path / "s.json", inst)
    assert as_json.payload == sol.payload and check(inst, as_json).objective == 34
    write_solution(as_json, tmp_path / "s.sol")
    assert read_solution(tmp_path / "s.sol", inst).payload == sol.payload
    tsp = read_instance(fixtures / "tiny_euc2d.tsp")
    tour = read_solution(fixtures / "tiny5.tour", tsp)
    write_solution(tour, tmp_path / "t.json")
    assert read_solution(tmp_path / "t.json", tsp).payload == tour.payload
    with pytest.raises(FormatError, match="extension"):
        read_solution(tmp_path / "t.csv", tsp)


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("truncated.npz", "file"),
        ("wrong_matrix_shape.json", "data.distance_matrix"),
        ("negative_demand.json", "data.demands"),
        ("unknown_kind.json", "kind"),
    ],
)
def test_bad_shared_files_name_file_and_field(fixtures: Path, name: str, field: str) -> None:
    with pytest.raises(FormatError) as info:
        read_instances(fixtures / name)
    assert name in str(info.value)
    assert info.value.field == field


def test_unknown_or_missing_files(fixtures: Path, tmp_path: Path) -> None:
    shutil.copy(fixtures / "tiny_cvrp.json", tmp_path / "x.yaml")
    with pytest.raises(FormatError, match="extension"):
        read_instances(tmp_path / "x.yaml")
    with pytest.raises(FormatError, match="no such file"):
        read_instances(tmp_path / "missing.vrp")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError, match="folder"):
        read_instances(tmp_path / "empty")


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    exact = generate("cvrptw", 4, 1, seed=0)[0]
    with pytest.raises(FormatError):
        write_instance(exact, tmp_path / "x.txt")  # Solomon needs trunc1
    assert list(tmp_path.iterdir()) == []
