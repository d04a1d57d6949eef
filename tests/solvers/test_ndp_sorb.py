"""SORB (``milp`` on network_design): valid lower bounds, proven optima on tiny instances, honest timeouts."""

from __future__ import annotations

import pytest
from ndp_helpers import braess_design, tiny_network

from routelab.data.ndp import design_from_tntp, design_instance
from routelab.data.root import resolve_root
from routelab.problems import check
from routelab.solvers.registry import get_solver

SIOUX = "network_design/tntp/SiouxFalls/SiouxFalls_net.tntp"


@pytest.mark.parametrize(("variant", "budget"), [("lane-swap", 0.5), ("lane-add", 0.25)])
def test_sorb_bounds_bracket_the_enumerated_optimum(variant: str, budget: float) -> None:
    inst = design_instance(tiny_network(), variant=variant, budget=budget)
    optimum = get_solver("ndp-enum").solve(inst).objective
    greedy = get_solver("greedy").solve(inst).objective
    sol = get_solver("milp").solve(inst, time_limit=30)
    assert sol.stats["lower_bound"] <= optimum * (1 + 1e-9) <= greedy * (1 + 1e-9)
    assert sol.stats["status"] == "optimal" and sol.stats["gap"] <= 1e-4
    assert sol.objective == pytest.approx(optimum, rel=1e-4)
    assert check(inst, sol).feasible


def test_sorb_new_link_braess() -> None:
    sol = get_solver("milp").solve(braess_design(), time_limit=30)
    assert sol.payload["projects"] == [] and sol.stats["status"] == "optimal"
    assert sol.stats["lower_bound"] <= 504.0 + 1e-6


def test_sorb_first_bound_is_below_every_plan() -> None:
    """Stopped after the warm start and one MILP the bound still holds (it is an SO relaxation)."""
    inst = design_instance(tiny_network(), variant="lane-add", budget=0.5)
    optimum = get_solver("ndp-enum").solve(inst).objective
    sol = get_solver("milp").solve(inst, time_limit=0.5)
    assert check(inst, sol).feasible
    if sol.stats["lower_bound"] is not None:
        assert sol.stats["lower_bound"] <= optimum * (1 + 1e-9)
    assert sol.stats["status"] in ("optimal", "feasible")


def test_milp_declines_budget_below_every_project() -> None:
    from dataclasses import replace

    inst = replace(design_instance(tiny_network(), budget=0.5), budget=0.5)
    assert "budget" in get_solver("milp").supports(inst)


@pytest.mark.slow
@pytest.mark.skipif(resolve_root() is None or not (resolve_root() / SIOUX).exists(), reason="benchmark files absent")
def test_sorb_sioux_falls_reports_an_open_gap_honestly() -> None:
    inst = design_from_tntp(SIOUX, variant="lane-add", lanes=2, budget=0.5)
    sol = get_solver("milp").solve(inst, time_limit=40)
    score = check(inst, sol)
    assert score.feasible and sol.stats["status"] == "feasible"
    assert 0 < sol.stats["lower_bound"] < score.objective
    assert sol.stats["gap"] == pytest.approx((sol.objective - sol.stats["lower_bound"]) / sol.objective)
    assert sol.runtime_s < 60
