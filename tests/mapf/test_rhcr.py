"""RHCR baseline (:mod:`routelab.mapf.rhcr`): windowed space-time A*, reservations, prioritised planning, episodes."""

from __future__ import annotations

import numpy as np
import pytest

from routelab.mapf import ComponentGoalSource, Simulator
from routelab.mapf.rhcr import RHCR, WindowPlanner


def _moves_ok(path: np.ndarray) -> bool:
    """Each step is a wait or a unit move."""
    return bool((np.abs(np.diff(path, axis=0)).sum(axis=1) <= 1).all())


def test_astar_shortest_path_on_empty_grid() -> None:
    p = WindowPlanner(np.zeros((5, 5), dtype=np.uint8), window=10)
    path, cost = p.plan((0, 0), (2, 3))
    assert cost == 5
    assert path.shape == (11, 2)
    assert _moves_ok(path)
    assert path[0].tolist() == [0, 0] and path[5].tolist() == [2, 3]
    assert (path[5:] == [2, 3]).all()  # parks on the goal for the rest of the window


def test_astar_cost_beyond_window_is_true_distance() -> None:
    grid = np.zeros((1, 12), dtype=np.uint8)
    p = WindowPlanner(grid, window=4)
    path, cost = p.plan((0, 0), (0, 11))
    assert cost == 11 and path[-1].tolist() == [0, 4]


def test_astar_respects_vertex_reservation() -> None:
    grid = np.zeros((1, 5), dtype=np.uint8)  # a corridor: no detour, so the agent must wait
    p = WindowPlanner(grid, window=8)
    p.res_v[2, 2] = 7  # another agent holds (0, 2) at t = 2 only
    path, cost = p.plan((0, 0), (0, 3))
    assert cost == 4
    assert _moves_ok(path)
    assert path[2].tolist() != [0, 2]
    assert path[4].tolist() == [0, 3]


def test_astar_respects_edge_reservation() -> None:
    # B swaps into A's cell: (0,1)@0 -> (0,0)@1 -> (1,0)@2 and stays. A at (0,0) wants (0,2); the direct move to
    # (0,1) at t=0 would swap with B and staying collides with B at t=1, so A must step down first.
    p = WindowPlanner(np.zeros((2, 3), dtype=np.uint8), window=6)
    p.reserve(np.array([(0, 1), (0, 0)] + [(1, 0)] * 5), agent=1)
    path, cost = p.plan((0, 0), (0, 2))
    assert path[1].tolist() == [1, 0]
    assert cost == 4
    free = WindowPlanner(np.zeros((2, 3), dtype=np.uint8), window=6)
    assert free.plan((0, 0), (0, 2))[1] == 2


def test_astar_blocked_returns_none() -> None:
    p = WindowPlanner(np.zeros((1, 3), dtype=np.uint8), window=3)
    p.res_v[1, :] = 0  # every cell taken at t = 1
    assert p.plan((0, 0), (0, 2)) == (None, -1)


def _conflict_free(paths: np.ndarray) -> bool:
    """No two agents on one cell at any t, no swaps, every step a wait or a unit move."""
    a, w1, _ = paths.shape
    flat = paths[..., 0] * 1000 + paths[..., 1]
    for t in range(w1):
        if len(set(flat[:, t].tolist())) != a:
            return False
    for t in range(w1 - 1):
        edges = {(int(flat[i, t]), int(flat[i, t + 1])) for i in range(a) if flat[i, t] != flat[i, t + 1]}
        if any((v, u) in edges for u, v in edges):
            return False
    return all(_moves_ok(paths[i]) for i in range(a))


@pytest.mark.parametrize("seed", [0, 1])
def test_prioritised_plan_is_conflict_free(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = (rng.random((8, 8)) < 0.15).astype(np.uint8)
    free = np.argwhere(grid == 0)
    cells = free[rng.choice(len(free), 16, replace=False)]
    starts, goals = cells[:8], cells[8:]
    p = WindowPlanner(grid, window=6)
    res = p.plan_all(p.flat(starts), p.flat(goals), rng.permutation(8))
    assert not res.failed.any()
    assert _conflict_free(res.coords())
    assert (res.coords()[:, 0] == starts).all()


def _episode(seed: int, **kw: object) -> tuple[float, np.ndarray, RHCR]:
    rng = np.random.default_rng(seed)
    grid = np.zeros((8, 8), dtype=np.uint8)
    grid[2:6, 3] = 1
    grid[5, 5:7] = 1
    free = np.argwhere(grid == 0)
    starts = free[rng.choice(len(free), 6, replace=False)]
    sim = Simulator(grid, starts, ComponentGoalSource(grid, 6, seed=seed), horizon=24)
    pol = RHCR(window=6, period=3, seed=seed, **kw)
    ep = sim.run(pol)
    return ep.throughput, ep.trajectory, pol


@pytest.mark.parametrize("replan_on_goal", [True, False])
def test_episode_deterministic_and_reaches_goals(replan_on_goal: bool) -> None:
    thr, traj, pol = _episode(3, replan_on_goal=replan_on_goal)
    thr2, traj2, _ = _episode(3, replan_on_goal=replan_on_goal)
    assert thr > 0
    assert thr == thr2 and np.array_equal(traj, traj2)
    assert pol.stats.replans >= 24 // 3
    assert pol.stats.divergences == 0  # conflict-free plans execute as planned under soft collisions


def test_time_limit_makes_agents_wait_instead_of_hanging() -> None:
    thr, traj, pol = _episode(3, time_limit=0.0, restarts=0)
    assert pol.stats.timeouts == pol.stats.replans > 0
    assert thr == 0 and (traj == traj[0]).all()


def test_rhcr_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError):
        RHCR(window=3, period=5)
    with pytest.raises(ValueError):
        RHCR(order="bogus")  # type: ignore[arg-type]


def test_restart_puts_failed_agents_first_and_that_resolves_a_dead_end() -> None:
    # a dead-end corridor along row 0 with one passing bay at (1, 3); B sits at the dead end (0, 0) and must leave
    # for (0, 5) while A heads for (0, 0): planned first, A walks in and leaves B no cell to wait on or flee to
    grid = np.ones((2, 6), dtype=np.uint8)
    grid[0, :] = 0
    grid[1, 3] = 0
    p = WindowPlanner(grid, window=10)
    starts, goals = p.flat(np.array([[0, 2], [0, 0]])), p.flat(np.array([[0, 0], [0, 5]]))
    first = p.plan_all(starts, goals, np.array([0, 1]))
    assert first.failed.tolist() == [False, True]
    pol = RHCR(window=10, period=5)
    order = pol._failed_first(first)
    assert order.tolist() == [1, 0]  # the failed agent first, then the rest in their previous order
    again = p.plan_all(starts, goals, order)
    assert not again.failed.any() and _conflict_free(again.coords())
