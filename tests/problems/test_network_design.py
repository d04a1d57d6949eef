"""The network_design kind: validation, projects built by hand, scoring (Braess paradox), round trips, the ue solver."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from routelab.data import instance_differences, read_instance
from routelab.problems import (
    FormatError,
    NetworkDesignInstance,
    Solution,
    check,
    get_kind,
    load_instance,
    load_solution,
    objective_sense,
    save_instance,
    save_solution,
    score_payload,
)
from routelab.solvers import registry
from routelab.solvers.ue import UESolver

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "tntp"
TNTP = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks" / "network_design" / "tntp"
needs_shared = pytest.mark.skipif(not TNTP.is_dir(), reason="../shared/benchmarks/network_design is not present")

BRAESS_LINK = {
    "type": "new_link",
    "tail": 2,
    "head": 3,
    "capacity": 1.0,
    "length": 1.0,
    "free_flow_time": 10.0,
    "b": 0.1,
    "power": 1.0,
    "cost": 5.0,
}


def braess_design(**overrides: Any) -> NetworkDesignInstance:
    """Braess without its middle link: 1->3 and 4->2 cost 10x, 1->4 and 3->2 cost 50 + x; 6 trips 1 -> 2.

    Projects: 0 builds the middle link 3->4 (10 + x), 1 adds a lane to 1->4, 2 moves half a lane 1->3 -> 3->1.
    """
    fields: dict[str, Any] = {
        "name": "braess-design",
        "num_nodes": 4,
        "num_zones": 2,
        "tail": [0, 0, 2, 3, 2],
        "head": [2, 3, 1, 1, 0],
        "capacity": [1.0, 1.0, 1.0, 1.0, 1.0],
        "length": [1.0] * 5,
        "free_flow_time": [1e-8, 50.0, 50.0, 1e-8, 1.0],
        "b": [1e9, 0.02, 0.02, 1e9, 0.15],
        "power": [1.0, 1.0, 1.0, 1.0, 4.0],
        "demand": [[0.0, 6.0], [0.0, 0.0]],
        "projects": [
            dict(BRAESS_LINK),
            {"type": "add_lane", "link": 1, "capacity": 1.0, "cost": 4.0},
            {"type": "swap_lane", "from_link": 0, "to_link": 4, "capacity": 0.5, "cost": 1.0, "name": "swap"},
        ],
        "budget": 5.0,
        "ue_gap": 1e-9,
    }
    fields.update(overrides)
    return NetworkDesignInstance(**fields)


def test_kind_is_registered_and_minimised() -> None:
    assert get_kind("network_design").instance_cls is NetworkDesignInstance
    assert objective_sense("network_design") == "min"


def test_braess_paradox_scores() -> None:
    inst = braess_design()
    base = score_payload(inst, {"projects": []})
    # without the middle link: 3 trips per path, each 10 * 3 + 50 + 3 = 83
    assert base.feasible and base.objective == pytest.approx(6 * 83, rel=1e-7)
    assert base.details["cost"] == 0.0 and base.details["ue_converged"]
    built = score_payload(inst, {"projects": [0]})
    # building it makes everyone worse off: every path costs 92
    assert built.feasible and built.objective == pytest.approx(6 * 92, rel=1e-7)
    assert built.details["links"] == 6 and built.details["cost"] == 5.0


def test_add_lane_closed_form() -> None:
    # 1->4 gets capacity 2: t = 50 + 0.5 x; 50 + 11 xa = 50 + 10.5 (6 - xa) -> xa = 63 / 21.5
    xa = 63 / 21.5
    got = score_payload(braess_design(), {"projects": [1]})
    assert got.feasible and got.objective == pytest.approx(6 * (50 + 11 * xa), rel=1e-7)


def test_link_arrays_build_every_project_type() -> None:
    inst = braess_design()
    arrays = inst.link_arrays([2, 1, 0])
    assert arrays["capacity"].tolist() == [0.5, 2.0, 1.0, 1.0, 1.5, 1.0]
    assert arrays["tail"].tolist()[-1] == 2 and arrays["head"].tolist()[-1] == 3
    assert arrays["toll"].tolist() == [0.0] * 6 and arrays["link_type"].dtype == np.int64
    assert inst.link_arrays([]) ["capacity"].tolist() == inst.capacity.tolist()  # fmt: skip
    assert inst.projects[2]["name"] == "swap"


def test_violations_budget_indices_repeats_and_capacity() -> None:
    inst = braess_design()
    over = score_payload(inst, {"projects": [0, 1]})
    assert not over.feasible and over.violations == ("plan costs 9.0 > budget 5.0",)
    assert over.objective > 0 and math.isfinite(over.objective) and over.cost == math.inf
    bad = score_payload(inst, {"projects": [7, 1, 1]})
    assert bad.violations == (
        "projects position 0: project 7 does not exist (projects are 0..2)",
        "project 1 selected more than once",
    )
    none = score_payload(braess_design(projects=[]), {"projects": [0]})
    assert "the instance has no projects" in none.violations[0]
    two_swaps = braess_design(
        projects=[{"type": "swap_lane", "from_link": 0, "to_link": 4, "capacity": 0.6, "cost": 0.0}] * 2
    )
    drained = score_payload(two_swaps, {"projects": [0, 1]})
    assert not drained.feasible and drained.objective == math.inf
    assert "link 0 (0 -> 2): capacity -0.19999999999999996 <= 0" in drained.violations


def test_claimed_flows_are_reported_not_trusted() -> None:
    inst = braess_design()
    got = score_payload(inst, {"projects": [], "flows": [3, 3, 3, 3, 0]})
    assert got.details["claimed_flows_max_abs_diff"] == pytest.approx(0.0, abs=1e-6)
    assert got.details["claimed_flows_tstt"] == pytest.approx(6 * 83, rel=1e-7)
    short = score_payload(inst, {"projects": [], "flows": [1.0]})
    assert "ignored" in short.details["claimed_flows_note"] and short.objective == pytest.approx(6 * 83, rel=1e-7)
    with pytest.raises(FormatError, match="projects: expected a list of project indices"):
        score_payload(inst, {"flows": [1.0]})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"demand": [[0.0, 6.0]]}, r"demand: expected shape \(2, 2\)"),
        ({"head": [2, 3, 1, 9, 0]}, r"head\[3\]: expected a node in 0..3, got 9"),
        ({"capacity": [0.0, 1.0, 1.0, 1.0, 1.0]}, r"capacity\[0\]: expected a positive capacity"),
        ({"cost_weights": [1.0, 0.02]}, r"cost_weights: expected three numbers"),
        ({"ue_gap": 0.0}, r"ue_gap: expected a positive number"),
        ({"budget": -1.0}, r"budget: expected a number >= 0.0"),
        ({"projects": [{"type": "remove_link", "cost": 1.0}]}, r"projects\[0\].type: expected one of add_lane"),
        ({"projects": [{"type": "add_lane", "link": 5, "capacity": 1.0, "cost": 1.0}]}, r"projects\[0\].link"),
        (
            {"projects": [{"type": "swap_lane", "from_link": 0, "to_link": 1, "capacity": 0.5, "cost": 1.0}]},
            r"projects\[0\].to_link: expected the opposite direction of link 0",
        ),
        (
            {"projects": [{"type": "swap_lane", "from_link": 0, "to_link": 4, "capacity": 1.0, "cost": 1.0}]},
            r"projects\[0\].capacity: expected less than link 0's capacity",
        ),
        ({"projects": [{**BRAESS_LINK, "power": None}]}, r"projects\[0\].power: expected a number"),
        ({"projects": [{**BRAESS_LINK, "lanes": 2}]}, r"projects\[0\].lanes: expected only the new_link fields"),
        ({"projects": [{"type": "add_lane", "link": 0, "capacity": 1.0}]}, r"projects\[0\].cost: expected a number"),
    ],
)
def test_validation(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(FormatError, match=message):
        braess_design(**overrides)


def test_round_trips_and_solution_documents(tmp_path: Path) -> None:
    inst = braess_design()
    for suffix in (".json", ".npz"):
        save_instance(inst, tmp_path / f"nd{suffix}")
        assert instance_differences(inst, load_instance(tmp_path / f"nd{suffix}")) == []
    solution = UESolver(projects=[1]).solve(inst)
    save_solution(solution, tmp_path / "sol.json")
    again = load_solution(tmp_path / "sol.json")
    assert again.payload["projects"] == [1] and len(again.payload["flows"]) == 5
    assert check(inst, again).objective == pytest.approx(solution.objective, rel=1e-6)


def test_ue_solver() -> None:
    inst = braess_design()
    solution = UESolver().solve(inst)
    assert isinstance(solution, Solution) and solution.feasible and solution.payload["projects"] == []
    assert solution.objective == pytest.approx(6 * 83, rel=1e-7)
    assert solution.stats["status"] == "converged"
    assert UESolver(projects="0").solve(inst).objective == pytest.approx(6 * 92, rel=1e-7)
    assert not UESolver(projects=[0, 1]).solve(inst).feasible  # over budget
    assert UESolver(projects=[5]).supports(inst) == "project 5 does not exist (3 projects)"
    with pytest.raises(ValueError, match="algorithm"):
        UESolver(algorithm="msa")
    with pytest.raises(ValueError, match="distinct"):
        UESolver(projects=[1, 1])


def test_cli_solves_a_tntp_network(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from routelab.cli.app import app

    monkeypatch.setitem(registry._REGISTRY, "ue", "routelab.solvers.ue:UESolver")
    out = tmp_path / "tiny.ue.json"
    result = CliRunner().invoke(app, ["solve", str(FIXTURES / "tiny_net.tntp"), "--solver", "ue", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "network_design tiny" in result.output and "converged" in result.output
    assert check(read_instance(FIXTURES / "tiny_net.tntp"), load_solution(out)).objective == pytest.approx(552, 1e-6)


@needs_shared
def test_sioux_falls_base_plan() -> None:
    inst = read_instance(TNTP / "SiouxFalls" / "SiouxFalls_net.tntp")
    got = score_payload(NetworkDesignInstance(**{**_fields(inst), "ue_gap": 1e-5}), {"projects": []})
    assert got.feasible and got.objective == pytest.approx(7_480_225.34, rel=1e-3)
    assert got.details["beckmann"] == pytest.approx(4_231_335.29, rel=1e-3)


def _fields(inst: NetworkDesignInstance) -> dict[str, Any]:
    return {"name": inst.name, "meta": inst.meta, **inst.to_data()}
