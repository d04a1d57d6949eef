"""``greedy`` on tiny networks: feasible, never worse than building nothing, honours time and bad budgets."""

from __future__ import annotations

from dataclasses import replace

import pytest
from ndp_helpers import braess_design, tiny_network

from routelab.data.ndp import design_instance
from routelab.problems import check
from routelab.solvers.base import UnsupportedInstance
from routelab.solvers.registry import get_solver


@pytest.mark.parametrize("variant", ["lane-add", "lane-swap"])
@pytest.mark.parametrize("reevaluate", [True, False])
def test_greedy_plan_is_feasible_and_improves(variant: str, reevaluate: bool) -> None:
    inst = design_instance(tiny_network(), variant=variant, budget=0.5)
    sol = get_solver("greedy", reevaluate=reevaluate).solve(inst, time_limit=10)
    score = check(inst, sol)
    assert score.feasible and sol.stats["status"] == "complete"
    assert score.objective == pytest.approx(sol.objective, rel=1e-9)
    assert score.objective < inst.solve_ue().tstt
    assert inst.plan_cost(sol.payload["projects"]) <= inst.budget


def test_greedy_does_not_build_braess_link() -> None:
    sol = get_solver("greedy").solve(braess_design())
    assert sol.payload["projects"] == [] and sol.objective == pytest.approx(504.0)


def test_greedy_honours_a_zero_time_limit() -> None:
    inst = design_instance(tiny_network(), budget=0.5)
    sol = get_solver("greedy").solve(inst, time_limit=0.0)
    assert sol.stats["status"] == "time_limit" and sol.payload["projects"] == []
    assert check(inst, sol).feasible


def test_budget_below_every_project_is_refused_by_name() -> None:
    inst = design_instance(tiny_network(), budget=0.5)
    poor = replace(inst, budget=1.0)
    solver = get_solver("greedy")
    assert "budget" in solver.supports(poor)
    with pytest.raises(UnsupportedInstance, match=r"budget: 1\.0 is smaller than every project's cost"):
        solver.solve(poor)
    assert "no candidate projects" in solver.supports(tiny_network())


def test_bad_options() -> None:
    with pytest.raises(ValueError, match="shortlist"):
        get_solver("greedy", shortlist=-1)
    with pytest.raises(ValueError, match="screen_gap"):
        get_solver("greedy", screen_gap=2.0)
