"""TNTP reading: the tiny Braess fixtures by hand, metadata checks, errors naming file/line/field, shared networks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routelab.data import instance_differences, read_instance, read_instances
from routelab.data.tntp import (
    read_tntp_flow,
    read_tntp_instance,
    read_tntp_net,
    read_tntp_trips,
    trips_path_for,
)
from routelab.problems import FormatError, NetworkDesignInstance, load_instance, save_instance

TNTP = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks" / "network_design" / "tntp"
needs_shared = pytest.mark.skipif(not TNTP.is_dir(), reason="../shared/benchmarks/network_design is not present")


@pytest.fixture
def tntp(fixtures: Path) -> Path:
    return fixtures / "tntp"


def test_net_columns_and_zero_based_nodes(tntp: Path) -> None:
    net = read_tntp_net(tntp / "tiny_net.tntp")
    assert (net.name, net.num_zones, net.num_nodes, net.first_thru_node, net.num_links) == ("tiny", 2, 4, 3, 5)
    assert net.tail.tolist() == [0, 0, 2, 2, 3]
    assert net.head.tolist() == [2, 3, 1, 3, 1]
    assert net.free_flow_time.tolist() == [1e-8, 50, 50, 10, 1e-8]
    assert net.b.tolist() == [1e9, 0.02, 0.02, 0.1, 1e9]
    # the space-separated row and the row whose ';' sticks to the last number parse like the tab-separated ones
    assert (net.toll[3], net.link_type[3]) == (5.0, 2.0)
    assert net.link_type[4] == 1.0 and net.capacity.tolist() == [1.0] * 5


def test_trips_dense_matrix_and_total(tntp: Path) -> None:
    demand = read_tntp_trips(tntp / "tiny_trips.tntp", num_zones=2)
    assert demand.tolist() == [[0.0, 6.0], [0.0, 0.0]]
    with pytest.raises(FormatError, match=r"tiny_trips.tntp: <NUMBER OF ZONES>: expected 3"):
        read_tntp_trips(tntp / "tiny_trips.tntp", num_zones=3)


def test_flow_file_tab_separated_and_aligned(tntp: Path) -> None:
    flows = read_tntp_flow(tntp / "tiny_flow.tntp")
    assert flows.tail.tolist() == [0, 0, 2, 2, 3] and flows.cost.tolist() == [40, 52, 52, 12, 40]
    net = read_tntp_net(tntp / "tiny_net.tntp")
    assert flows.aligned(net).tolist() == [4, 2, 2, 2, 4]


def test_instance_from_net_and_sibling_trips(tntp: Path) -> None:
    assert trips_path_for(tntp / "tiny_net.tntp") == tntp / "tiny_trips.tntp"
    inst = read_instance(tntp / "tiny_net.tntp")
    assert isinstance(inst, NetworkDesignInstance)
    assert (inst.name, inst.num_links, inst.first_thru_node, inst.projects, inst.cost_weights) == (
        "tiny",
        5,
        3,
        [],
        (1.0, 0.0, 0.0),
    )
    assert inst.demand[0, 1] == 6.0 and inst.link_type.dtype == np.int64
    weighted = read_tntp_instance(tntp / "tiny_net.tntp", cost_weights=(1.0, 0.02, 0.04))
    assert weighted.cost_weights == (1.0, 0.02, 0.04)


def test_round_trip_through_shared_format(tntp: Path, tmp_path: Path) -> None:
    inst = read_instance(tntp / "tiny_net.tntp")
    for suffix in (".json", ".npz"):
        save_instance(inst, tmp_path / f"tiny{suffix}")
        assert instance_differences(inst, load_instance(tmp_path / f"tiny{suffix}")) == []


def test_folder_reads_only_networks(tntp: Path, tmp_path: Path) -> None:
    for name in ("tiny_net.tntp", "tiny_trips.tntp", "tiny_flow.tntp"):
        (tmp_path / name).write_text((tntp / name).read_text())
    assert [inst.name for inst in read_instances(tmp_path)] == ["tiny"]
    with pytest.raises(FormatError, match=r"tiny_trips.tntp: file: expected a \*_net.tntp network"):
        read_instances(tmp_path / "tiny_trips.tntp")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_link_count_net.tntp", r"bad_link_count_net.tntp: <NUMBER OF LINKS>: expected 6 link rows .*got 5 rows"),
        ("bad_capacity_net.tntp", r"bad_capacity_net.tntp: line 11: capacity: expected a number, got abc"),
        ("bad_node_net.tntp", r"bad_node_net.tntp: line 12: term_node: expected a node in 1..4, got 9"),
        ("bad_columns_net.tntp", r"bad_columns_net.tntp: line 13: expected 10 columns .*got 9"),
        ("bad_no_end_net.tntp", r"bad_no_end_net.tntp: line 9: expected a <TAG> value metadata line"),
    ],
)
def test_bad_net_files(tntp: Path, name: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        read_tntp_net(tntp / name)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_total_trips.tntp", r"bad_total_trips.tntp: line 2: <TOTAL OD FLOW>: expected the sum .* 6.0, got 7.0"),
        ("bad_flow_value_trips.tntp", r"bad_flow_value_trips.tntp: line 7: flow to 2: expected a number, got six"),
        ("bad_destination_trips.tntp", r"bad_destination_trips.tntp: line 7: destination: expected a zone in 1..2"),
    ],
)
def test_bad_trips_files(tntp: Path, name: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        read_tntp_trips(tntp / name)


def test_bad_flow_file_and_missing_file(tntp: Path) -> None:
    with pytest.raises(FormatError, match=r"bad_columns_flow.tntp: line 2: expected 4 columns"):
        read_tntp_flow(tntp / "bad_columns_flow.tntp")
    with pytest.raises(FormatError, match=r"nowhere_net.tntp: file: expected an existing file"):
        read_tntp_net(tntp / "nowhere_net.tntp")
    with pytest.raises(FormatError, match=r"missing_trips.tntp: file: expected an existing file"):
        read_tntp_instance(tntp / "tiny_net.tntp", tntp / "missing_trips.tntp")


@needs_shared
@pytest.mark.parametrize(
    ("folder", "prefix", "zones", "nodes", "links", "total"),
    [
        ("SiouxFalls", "SiouxFalls", 24, 24, 76, 360600.0),
        ("Eastern-Massachusetts", "EMA", 74, 74, 258, 65576.37543099989),
        ("Braess-Example", "Braess", 2, 4, 5, 6.0),
    ],
)
def test_shared_networks(folder: str, prefix: str, zones: int, nodes: int, links: int, total: float) -> None:
    inst = read_instance(TNTP / folder / f"{prefix}_net.tntp")
    assert (inst.num_zones, inst.num_nodes, inst.num_links) == (zones, nodes, links)
    assert inst.demand.sum() == pytest.approx(total, rel=1e-9)


@needs_shared
def test_shared_flow_files_align() -> None:
    net = read_tntp_net(TNTP / "SiouxFalls" / "SiouxFalls_net.tntp")
    volumes = read_tntp_flow(TNTP / "SiouxFalls" / "SiouxFalls_flow.tntp").aligned(net)
    assert volumes[0] == pytest.approx(4494.6576464564205) and len(volumes) == 76


@needs_shared
@pytest.mark.slow
def test_shared_chicago_sketch() -> None:
    inst = read_tntp_instance(TNTP / "Chicago-Sketch" / "ChicagoSketch_net.tntp", cost_weights=(1.0, 0.02, 0.04))
    assert (inst.num_zones, inst.num_nodes, inst.num_links) == (387, 933, 2950)
    assert inst.demand.sum() == pytest.approx(1260907.4400005303, rel=1e-9)
