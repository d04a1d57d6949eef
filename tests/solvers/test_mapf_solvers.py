"""The lifelong MAPF solvers run whole episodes the scorer accepts, reproducibly, on tiny maps."""

from __future__ import annotations

import pytest

from routelab.data.mapf_io import make_instance, parse_pogema_grid
from routelab.problems import LifelongMAPFInstance, check
from routelab.solvers import get_solver

ROOMS = "\n".join(
    [
        "........",
        ".##..##.",
        ".#....#.",
        "........",
        ".#....#.",
        ".##..##.",
        "........",
    ]
)


@pytest.fixture(scope="module")
def instance() -> LifelongMAPFInstance:
    return make_instance(parse_pogema_grid(ROOMS, "rooms"), agents=8, horizon=40, seed=3)


@pytest.mark.parametrize("name", ["rhcr", "follower"])
def test_episode_is_feasible_reaches_goals_and_repeats(name: str, instance: LifelongMAPFInstance):
    solver = get_solver(name)
    first = solver.solve(instance, seed=1)
    score = check(instance, first)
    assert score.feasible, score.violations
    assert score.objective > 0  # some goals reached
    assert first.objective == pytest.approx(score.objective)
    assert first.stats["simulated_throughput"] == pytest.approx(score.objective)
    again = solver.solve(instance, seed=1)
    assert again.payload == first.payload


def test_an_agent_whose_goal_list_ends_waits():
    grid = parse_pogema_grid("....\n....", "strip")
    inst = LifelongMAPFInstance(
        name="ends", grid=grid.grid, starts=[[0, 0], [1, 3]], horizon=12, goals=[[[0, 3]], [[1, 0], [0, 0]]]
    )
    for name in ("rhcr", "follower"):
        sol = get_solver(name).solve(inst)
        score = check(inst, sol)
        assert score.feasible, score.violations
        assert score.details["goals_per_agent"] == [1, 2]
        assert sol.payload["paths"][0][-1] == [0, 3]  # agent 0 stays on its last goal


def test_bad_options_are_refused():
    with pytest.raises(TypeError, match="unknown options"):
        get_solver("follower", radius=3)
    with pytest.raises(ValueError, match="period"):
        get_solver("rhcr", window=3, period=5)


def test_milp_runs_the_windowed_exact_baseline_on_mapf(instance: LifelongMAPFInstance):
    small = make_instance(parse_pogema_grid(ROOMS, "rooms"), agents=3, horizon=12, seed=1)
    sol = get_solver("milp").solve(small)
    score = check(small, sol)
    assert score.feasible, score.violations
    assert sol.solver == "mapf-milp" and "mapf_milp" in sol.stats


def test_follower_runs_the_learned_policy_and_refuses_bad_policies(instance: LifelongMAPFInstance):
    sol = get_solver("follower", policy="learned").solve(instance, seed=0)
    score = check(instance, sol)
    assert score.feasible, score.violations
    assert sol.stats["policy"] == "learned"
    with pytest.raises(ValueError, match="'rules' or 'learned'"):
        get_solver("follower", policy="neural")
    with pytest.raises(TypeError, match="unknown options"):
        get_solver("follower", policy="learned", w_static=1.0)
