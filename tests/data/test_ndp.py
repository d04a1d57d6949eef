"""NDP instance generators (routelab.data.ndp): lane addition, lane swap, perturbed demand, bad options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from routelab.cli.app import app
from routelab.data.generate import generate
from routelab.data.ndp import design_instance, read_network, two_way_pairs
from routelab.data.readers import read_instances, write_instance
from routelab.data.root import resolve_root
from routelab.problems import FormatError
from routelab.problems.network_design import NetworkDesignInstance

SIOUX = "network_design/tntp/SiouxFalls/SiouxFalls_net.tntp"


def network() -> NetworkDesignInstance:
    """Four nodes, two zones; links 4/5 and 0/6 are two-way roads, link 7 is uncongestible (b = 0)."""
    tail = np.array([0, 0, 2, 3, 2, 3, 2, 1])
    head = np.array([2, 3, 1, 1, 3, 2, 0, 3])
    b = np.full(8, 0.15)
    b[7] = 0.0
    return NetworkDesignInstance(
        name="net",
        num_nodes=4,
        num_zones=2,
        tail=tail,
        head=head,
        capacity=np.array([4.0, 20, 20, 4, 6, 8, 4, 4]),
        length=np.ones(8),
        free_flow_time=np.array([1.0, 5, 5, 1, 0.5, 0.5, 1, 1]),
        b=b,
        power=np.full(8, 4.0),
        demand=np.array([[0.0, 12.0], [4.0, 0.0]]),
    )


def test_lane_addition_gains_costs_and_budget() -> None:
    inst = design_instance(network(), variant="lane-add", lanes=4, budget=0.25)
    assert inst.name == "net-lane-add4-b25"
    assert [p["link"] for p in inst.projects] == [0, 1, 2, 3, 4, 5, 6]  # link 7 cannot congest
    assert inst.projects[1] == {"type": "add_lane", "link": 1, "capacity": 5.0, "cost": 100.0}
    total = sum(p["cost"] for p in inst.projects)
    assert inst.budget == pytest.approx(0.25 * total)
    assert inst.meta["generator"]["lanes"] == 4 and inst.meta["base"] == "net"


def test_lane_swap_one_lane_each_way_of_every_two_way_road() -> None:
    base = network()
    assert two_way_pairs(base) == [(0, 6), (3, 7), (4, 5)]  # 3/7 has an uncongestible side: no swap
    inst = design_instance(base, variant="lane-swap", lanes=2, budget=0.5)
    moves = [(p["from_link"], p["to_link"], p["capacity"], p["cost"]) for p in inst.projects]
    assert moves == [(0, 6, 2.0, 2.0), (6, 0, 2.0, 2.0), (4, 5, 3.0, 1.5), (5, 4, 4.0, 2.0)]
    assert inst.budget == pytest.approx(0.5 * sum(m[3] for m in moves) / 2)
    inst.solve_ue(list(range(inst.num_projects)))  # every combination keeps capacities positive


def test_perturbed_demand_is_seeded_and_keeps_projects() -> None:
    base = network()
    a = design_instance(base, demand_noise=0.2, capacity_noise=0.1, seed=7, index=3)
    b = design_instance(base, demand_noise=0.2, capacity_noise=0.1, seed=7, index=3)
    c = design_instance(base, demand_noise=0.2, seed=7, index=4)
    assert a.name == "net-lane-add2-b50-s7-3"
    np.testing.assert_array_equal(a.demand, b.demand)
    assert not np.array_equal(a.demand, c.demand)
    ratio = a.demand[base.demand > 0] / base.demand[base.demand > 0]
    assert np.all((ratio >= 0.8) & (ratio <= 1.2))
    assert np.all(np.abs(a.capacity / base.capacity - 1) <= 0.1)
    assert a.projects == c.projects and a.budget == c.budget  # gains and budget from the unperturbed network


def test_round_trip_and_generate_from_an_instance_file(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    write_instance(network(), path)
    made = generate("network_design", 0, 3, 5, net=str(path), variant="lane-swap", demand_noise=0.1)
    assert [m.name for m in made] == [f"net-lane-swap2-b50-s5-{k}" for k in range(3)]
    write_instance(made[1], tmp_path / "d.json")
    back = read_instances(tmp_path / "d.json")[0]
    assert back.projects == made[1].projects and back.budget == made[1].budget
    np.testing.assert_array_equal(back.demand, made[1].demand)
    assert read_network(path).name == "net"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"variant": "lane-remove"}, "variant"),
        ({"lanes": 0}, "lanes"),
        ({"variant": "lane-swap", "lanes": 1}, "lanes"),
        ({"budget": 1.5}, "budget"),
        ({"budget": 0.01}, "budget"),  # below the cheapest project
        ({"demand_noise": 0.7}, "demand_noise"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_options_name_their_field(options: dict, field: str) -> None:
    with pytest.raises(FormatError, match=rf": {field}: expected"):
        design_instance(network(), **options)


def test_generate_rejects_unknown_options_and_missing_network(tmp_path: Path) -> None:
    path = tmp_path / "net.json"
    write_instance(network(), path)
    with pytest.raises(FormatError, match="lanez: expected one of the options"):
        generate("network_design", 0, 1, 0, net=str(path), lanez=2)
    with pytest.raises(FormatError, match="net: expected"):
        generate("network_design", 0, 1, 0)
    with pytest.raises(FormatError, match="size: expected 0 or the node count"):
        generate("network_design", 5, 1, 0, net=str(path))


needs_sioux = pytest.mark.skipif(
    resolve_root() is None or not (resolve_root() / SIOUX).exists(), reason="benchmark files absent"
)


@needs_sioux
def test_sioux_falls_lane_addition_from_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "sf.json"
    args = ["generate", "network_design", "--net", SIOUX, "--option", "variant=lane-add", "--option", "lanes=2"]
    result = CliRunner().invoke(app, [*args, "--option", "budget=0.5", "-o", str(out)])
    assert result.exit_code == 0, result.output
    inst = read_instances(out)[0]
    assert inst.name == "SiouxFalls-lane-add2-b50" and inst.num_projects == 76
    total = sum(inst.free_flow_time * inst.capacity)
    assert inst.budget == pytest.approx(0.5 * total)
    bad = CliRunner().invoke(
        app, ["generate", "network_design", "--net", SIOUX, "--option", "variant=x", "-o", str(out)]
    )
    assert bad.exit_code == 2 and "variant: expected one of lane-add, lane-swap" in bad.output
