import json

import numpy as np
import pytest

from routelab.problems import (
    CVRPTWInstance,
    FormatError,
    Solution,
    TSPInstance,
    load_dataset,
    load_instance,
    load_solution,
    save_dataset,
    save_instance,
    save_solution,
)


def random_cvrptw(seed: int, n: int = 6) -> CVRPTWInstance:
    rng = np.random.default_rng(seed)
    demands = rng.integers(1, 5, n)
    demands[0] = 0
    return CVRPTWInstance(
        name=f"r{seed}",
        coords=rng.random((n, 2)) * 100,
        demands=demands,
        capacity=20,
        time_windows=np.c_[np.zeros(n), np.full(n, 500.0)],
        service_times=rng.random(n),
        duration_matrix=rng.random((n, n)),
        num_vehicles=3,
        meta={"source": "test", "seed": seed},
    )


def assert_same(a, b):
    assert type(a) is type(b) and a.name == b.name and a.meta == b.meta
    for key, value in a.to_data().items():
        other = b.to_data()[key]
        if isinstance(value, np.ndarray):
            assert value.dtype == other.dtype and np.array_equal(value, other), key
        else:
            assert value == other, key


@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_instances_round_trip_losslessly(tmp_path, suffix):
    inst = random_cvrptw(3)
    path = tmp_path / f"inst{suffix}"
    save_instance(inst, path)
    assert_same(inst, load_instance(path))


def test_json_is_versioned_and_readable(tmp_path):
    save_instance(random_cvrptw(1), tmp_path / "a.json")
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["routelab"] == "instance/1" and doc["kind"] == "cvrptw"
    assert doc["data"]["capacity"] == 20 and doc["data"]["num_vehicles"] == 3


def test_dataset_round_trip(tmp_path):
    instances = [random_cvrptw(s) for s in range(4)]
    save_dataset(instances, tmp_path / "d.npz")
    loaded = load_dataset(tmp_path / "d.npz")
    assert len(loaded) == 4
    for a, b in zip(instances, loaded, strict=True):
        assert_same(a, b)
    with pytest.raises(FormatError, match="a single instance"):
        load_instance(tmp_path / "d.npz")


def test_dataset_refuses_mixed_sizes(tmp_path):
    with pytest.raises(ValueError, match="shape"):
        save_dataset([random_cvrptw(0, 5), random_cvrptw(1, 6)], tmp_path / "d.npz")


def test_truncated_npz_is_a_clear_error(tmp_path):
    path = tmp_path / "big.npz"
    save_instance(TSPInstance(name="t", coords=np.random.default_rng(0).random((500, 2))), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match=r"big\.npz: file: expected a complete \.npz archive"):
        load_instance(path)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"kind": "knapsack"}, "kind"),
        ({"routelab": "instance/9"}, "routelab"),
        ({"name": ""}, "name"),
        ({"data": [1, 2]}, "data"),
    ],
)
def test_bad_header_fields(tmp_path, patch, field):
    doc = {"routelab": "instance/1", "kind": "tsp", "name": "x", "data": {"coords": [[0, 0], [1, 1]]}}
    doc.update(patch)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=rf"bad\.json: {field}"):
        load_instance(path)


def test_data_errors_name_the_file_and_the_field(tmp_path):
    doc = {
        "routelab": "instance/1",
        "kind": "cvrp",
        "name": "x",
        "data": {"coords": [[0, 0], [1, 1], [2, 2]], "demands": [0, -4, 1], "capacity": 5},
    }
    path = tmp_path / "neg.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=r"neg\.json: data\.demands: expected non-negative values"):
        load_instance(path)


def test_invalid_json_is_reported_with_the_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"routelab": "instance/1",\n "kind": }')
    with pytest.raises(FormatError, match="line 2"):
        load_instance(path)


def test_solution_round_trip_and_payload_check(tmp_path):
    sol = Solution(kind="tsp", instance="t", solver="s", payload={"tour": [0, 2, 1]}, objective=3.5, feasible=True)
    save_solution(sol, tmp_path / "s.json")
    back = load_solution(tmp_path / "s.json")
    assert back == sol
    doc = json.loads((tmp_path / "s.json").read_text())
    doc["tour"] = [0, "a"]
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=r"tour\[1\]"):
        load_solution(tmp_path / "s.json")


def test_failed_write_leaves_no_file(tmp_path):
    class Boom(RuntimeError):
        pass

    from routelab.problems import atomic_write

    def write(handle):
        handle.write(b"half")
        raise Boom

    with pytest.raises(Boom):
        atomic_write(tmp_path / "out.json", write)
    assert list(tmp_path.iterdir()) == []
