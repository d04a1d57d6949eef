"""``ga`` (surrogate fitness) and ``ga-ue`` (exact UE fitness) on a tiny lane-addition instance."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from ndp_helpers import braess_design, tiny_network

from routelab.data.ndp import design_instance
from routelab.problems import check
from routelab.solvers.base import UnsupportedInstance
from routelab.solvers.ndp_ga import GeneticSearch
from routelab.solvers.registry import get_solver


def lane_add(budget: float = 0.5) -> object:
    return design_instance(tiny_network(), variant="lane-add", lanes=2, budget=budget)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained surrogate of the tiny network: the GA must still return a feasible, exactly scored plan."""
    from routelab.traffic.surrogate import FlowSurrogate, network_base

    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    FlowSurrogate.fresh(network_base(lane_add()), hidden=8, layers=1).save(path, {"note": "untrained"})
    return path


def assert_accepted(instance: object, solution: object) -> None:
    score = check(instance, solution)
    assert solution.feasible and score.feasible
    assert instance.plan_cost(solution.payload["projects"]) <= instance.budget * (1 + 1e-9)
    assert solution.objective == pytest.approx(score.objective, rel=1e-9)


def test_ga_ue_returns_a_feasible_plan_that_beats_building_nothing() -> None:
    instance = lane_add()
    solution = get_solver("ga-ue", population=8, generations=3, gap=1e-6).solve(instance, time_limit=60, seed=1)
    assert_accepted(instance, solution)
    assert solution.objective < instance.solve_ue(()).tstt
    assert solution.stats["generations"] == 3 and solution.stats["evaluations"] > 0


def test_ga_with_a_surrogate_checkpoint(tiny_checkpoint: Path) -> None:
    instance = lane_add(0.25)
    solver = get_solver("ga", checkpoint=str(tiny_checkpoint), population=8, generations=4, top_k=3)
    assert solver.supports(instance) is None
    solution = solver.solve(instance, time_limit=60, seed=0)
    assert_accepted(instance, solution)
    # one call for the single-project benefits, one per population not yet in the cache (few plans fit here)
    assert solution.stats["forward_calls"] >= 2 and solution.stats["generations"] == 4
    assert len(solution.stats["rescored"]) <= 3


def test_ga_refuses_other_networks_and_new_links(tiny_checkpoint: Path) -> None:
    solver = get_solver("ga", checkpoint=str(tiny_checkpoint))
    other = design_instance(tiny_network(capacity=np.full(8, 9.0)), variant="lane-add", lanes=2, budget=0.5)
    assert "fingerprint" in solver.supports(other)
    assert "no shipped UE surrogate" in get_solver("ga").supports(replace(lane_add(), name="unknown"))
    assert "new_link" in solver.supports(braess_design())
    with pytest.raises(UnsupportedInstance):
        solver.solve(other, time_limit=1)


def test_repair_drops_the_worst_ratio_first() -> None:
    search = GeneticSearch(np.array([3.0, 3.0, 3.0]), 6.0, lambda pop: np.zeros(len(pop)), np.random.default_rng(0))
    search.ratio = np.array([1.0, 0.1, 2.0])
    plan = search.repair(np.array([True, True, True]), fill=False)
    assert plan.tolist() == [True, False, True]
