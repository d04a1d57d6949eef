"""Drawing a network design at UE: the scorer's flows, positions from a TNTP node file or a layout, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routelab.bench.network_plots import plot_network_design
from routelab.data.tntp import read_tntp_nodes
from routelab.problems import FormatError, Solution
from routelab.problems.network_design import NetworkDesignInstance


def _network() -> NetworkDesignInstance:
    """Two zones joined by a short congestible road and a long free one, both ways, and one lane to add."""
    tail = np.array([0, 1, 0, 2, 2, 1])
    head = np.array([1, 0, 2, 0, 1, 2])
    return NetworkDesignInstance(
        name="two-roads",
        num_nodes=3,
        num_zones=2,
        tail=tail,
        head=head,
        capacity=np.array([5.0, 5.0, 50.0, 50.0, 50.0, 50.0]),
        length=np.ones(6),
        free_flow_time=np.array([1.0, 1.0, 2.0, 2.0, 2.0, 2.0]),
        b=np.full(6, 0.15),
        power=np.full(6, 4.0),
        demand=np.array([[0.0, 20.0], [3.0, 0.0]]),
        projects=[{"type": "add_lane", "link": 0, "capacity": 5.0, "cost": 1.0}],
        budget=1.0,
    )


def _solution(projects: list[int]) -> Solution:
    return Solution(kind="network_design", instance="two-roads", solver="test", payload={"projects": projects})


def test_plot_draws_the_scorers_flows_of_the_plan(tmp_path: Path) -> None:
    inst = _network()
    empty = plot_network_design(inst, None, tmp_path / "none.png")
    built = plot_network_design(inst, _solution([0]), tmp_path / "built.png")
    assert (tmp_path / "none.png").stat().st_size > 1000 and (tmp_path / "built.png").stat().st_size > 1000
    assert empty["tstt"] == pytest.approx(inst.solve_ue([]).tstt)
    assert built["tstt"] == pytest.approx(inst.solve_ue([0]).tstt) and built["tstt"] < empty["tstt"]
    assert not empty["geographic"]


def test_node_file_positions_and_errors(tmp_path: Path) -> None:
    nodes = tmp_path / "two_node.tntp"
    nodes.write_text("Node\tX\tY\t;\n1\t0.0\t0.0\t;\n2\t1.0\t0.0\t;\n3\t0.5\t1.0\t;\n")
    coords = read_tntp_nodes(nodes, 3)
    assert coords.shape == (3, 2) and coords[2, 1] == 1.0
    drawn = plot_network_design(_network(), None, tmp_path / "geo.png", coords=coords)
    assert drawn["geographic"]
    with pytest.raises(FormatError, match="none for node 4"):
        read_tntp_nodes(nodes, 4)
    with pytest.raises(FormatError, match="projects"):
        plot_network_design(_network(), _solution([3]), tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()
