"""``ndp-enum``: the proven optimum of small instances, split over parts."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from ndp_helpers import braess_design, tiny_network

from routelab.data.ndp import design_instance
from routelab.problems import check
from routelab.solvers.ndp_enum import mask_plan, subset_costs
from routelab.solvers.registry import get_solver


def test_subset_costs_by_bitmask() -> None:
    costs = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(subset_costs(costs), np.arange(8.0))
    assert mask_plan(0b101) == [0, 2]


def test_enumeration_matches_brute_force_and_proves_it() -> None:
    inst = design_instance(tiny_network(), variant="lane-swap", budget=0.5)
    sol = get_solver("ndp-enum").solve(inst)
    best = min(
        inst.solve_ue(list(plan)).tstt
        for r in range(inst.num_projects + 1)
        for plan in itertools.combinations(range(inst.num_projects), r)
        if inst.plan_cost(list(plan)) <= inst.budget
    )
    assert sol.stats["status"] == "optimal" and sol.stats["gap"] == 0.0
    assert sol.objective == pytest.approx(best, rel=1e-12)
    assert check(inst, sol).feasible


def test_parts_cover_the_enumeration() -> None:
    inst = design_instance(tiny_network(), variant="lane-add", budget=0.25)
    whole = get_solver("ndp-enum").solve(inst)
    parts = [get_solver("ndp-enum", part=k, parts=3).solve(inst) for k in range(3)]
    assert all(p.stats["status"] == "part_complete" and "lower_bound" not in p.stats for p in parts)
    assert sum(p.stats["evaluated"] for p in parts) == whole.stats["evaluated"] == whole.stats["budget_feasible_plans"]
    assert min(p.objective for p in parts) == pytest.approx(whole.objective, rel=1e-12)


def test_braess_optimum_builds_nothing() -> None:
    sol = get_solver("ndp-enum").solve(braess_design())
    assert sol.payload["projects"] == [] and sol.stats["status"] == "optimal"


def test_limits_and_bad_options() -> None:
    inst = design_instance(tiny_network(), budget=0.5)
    assert "more than 4 projects" in get_solver("ndp-enum", max_projects=4).supports(inst)
    timed = get_solver("ndp-enum").solve(inst, time_limit=0.0)
    assert timed.stats["status"] == "time_limit" and check(inst, timed).feasible
    with pytest.raises(ValueError, match="part"):
        get_solver("ndp-enum", part=3, parts=3)
