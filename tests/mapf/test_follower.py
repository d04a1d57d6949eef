"""Follower planner with rule-based avoidance (:mod:`routelab.mapf.follower`): A*, static penalty, episodes."""

from __future__ import annotations

import numpy as np
import pytest

from routelab.mapf import MOVES, ComponentGoalSource, SequenceGoalSource, Simulator
from routelab.mapf.follower import FollowerConfig, FollowerPolicy, astar_path, static_penalty


def test_astar_shortest_on_empty_grid() -> None:
    cost = np.ones((6, 7))
    path = astar_path(cost, (0, 0), (5, 6))
    assert path is not None
    assert len(path) - 1 == 5 + 6  # Manhattan distance
    assert path[0].tolist() == [0, 0] and path[-1].tolist() == [5, 6]
    assert (np.abs(np.diff(path, axis=0)).sum(axis=1) == 1).all()  # unit 4-connected steps
    assert astar_path(cost, (2, 3), (2, 3)).tolist() == [[2, 3]]


def test_astar_detours_around_expensive_cells_and_respects_walls() -> None:
    cost = np.ones((3, 5))
    cost[1, 1:4] = 10.0  # straight route along row 1 costs 31, the detour via row 0 costs 6
    path = astar_path(cost, (1, 0), (1, 4))
    assert path is not None
    assert not any(r == 1 and 1 <= c <= 3 for r, c in path.tolist())
    assert len(path) - 1 == 6
    cost[1, 1:4] = 1.5  # now the straight route (4 * 1 + 3 * 0.5 = 5.5 < 6) is cheaper
    assert len(astar_path(cost, (1, 0), (1, 4))) - 1 == 4
    walled = np.ones((3, 3))
    walled[:, 1] = np.inf
    assert astar_path(walled, (0, 0), (0, 2)) is None


def test_static_penalty_is_highest_in_the_centre() -> None:
    pen = static_penalty(np.zeros((9, 9), dtype=np.uint8))
    assert pen[4, 4] == pen.max() == 1.0
    assert pen[0, 0] == pen.min() == 0.0
    assert pen[4, 4] > pen[2, 2] > pen[0, 0]
    # the sampled estimate (forced by a tiny exact limit) keeps the ordering
    est = static_penalty(np.zeros((9, 9), dtype=np.uint8), exact_cells=10, n_sources=40, seed=1)
    assert est[4, 4] > est[0, 0]
    assert static_penalty(np.ones((3, 3), dtype=np.uint8)).sum() == 0.0


def _small_map() -> np.ndarray:
    grid = np.zeros((10, 10), dtype=np.uint8)
    grid[3, 2:8] = 1
    grid[6, 1:5] = 1
    grid[6, 6:9] = 1
    return grid


def _episode(seed: int, agents: int = 6, horizon: int = 40):
    grid = _small_map()
    free = np.argwhere(grid == 0)
    starts = free[np.random.default_rng(seed).choice(len(free), agents, replace=False)]
    sim = Simulator(grid, starts, ComponentGoalSource(grid, agents, seed=seed), horizon=horizon)
    return sim.run(FollowerPolicy(FollowerConfig(seed=seed)))


def test_episode_reaches_goals_and_is_deterministic() -> None:
    ep = _episode(0)
    assert ep.throughput > 0
    again = _episode(0)
    assert np.array_equal(ep.trajectory, again.trajectory)
    assert np.array_equal(ep.goals_reached, again.goals_reached)
    # one policy object reused for a second run of the same simulator resets its state
    grid = _small_map()
    free = np.argwhere(grid == 0)
    starts = free[np.random.default_rng(0).choice(len(free), 6, replace=False)]
    sim = Simulator(grid, starts, ComponentGoalSource(grid, 6, seed=0), horizon=40)
    policy = FollowerPolicy(seed=0)
    first = sim.run(policy)
    assert np.array_equal(sim.run(policy).trajectory, first.trajectory)


def test_single_agent_follows_shortest_path() -> None:
    grid = np.zeros((5, 5), dtype=np.uint8)
    src = ComponentGoalSource(grid, 1, seed=3)
    sim = Simulator(grid, np.array([[0, 0]]), src, horizon=30, goals=np.array([[4, 4]]))
    policy = FollowerPolicy()
    for _ in range(8):
        sim.step(policy(sim))
    assert sim.goals_reached[0] == 1  # 8 moves = Manhattan distance, no detour on an empty map


def test_corridor_never_requests_moves_into_walls() -> None:
    grid = np.ones((5, 12), dtype=np.uint8)
    grid[2, :] = 0  # a 1-wide corridor ...
    grid[1:4, 5] = 0  # ... with one passing bay
    agents = 4
    starts = np.array([[2, 0], [2, 11], [2, 3], [2, 8]])
    sim = Simulator(grid, starts, ComponentGoalSource(grid, agents, seed=2), horizon=60)
    inner = FollowerPolicy(seed=2)
    bad: list[tuple[int, int]] = []

    def checked(s: Simulator) -> np.ndarray:
        acts = inner(s)
        tgt = np.asarray(s.positions) + MOVES[acts]
        ok = (tgt[:, 0] >= 0) & (tgt[:, 0] < grid.shape[0]) & (tgt[:, 1] >= 0) & (tgt[:, 1] < grid.shape[1])
        ok[ok] &= grid[tgt[ok, 0], tgt[ok, 1]] == 0
        bad.extend((s.t, int(i)) for i in np.flatnonzero(~ok))
        return acts

    ep = sim.run(checked)
    assert bad == []
    traj = ep.trajectory
    for t in range(len(traj)):  # the simulator's guarantee, re-checked: no two agents share a cell
        assert len({tuple(p) for p in traj[t].tolist()}) == agents


def test_pibt_lets_two_agents_cross_a_one_wide_gap() -> None:
    # head-on through a 1-wide passage, back and forth: one agent must step aside every time
    grid = np.zeros((3, 7), dtype=np.uint8)
    grid[0, 3] = grid[2, 3] = 1  # column 3 is passable only on row 1
    seqs = [[(1, 5), (1, 1)], [(1, 1), (1, 5)]]
    sim = Simulator(
        grid, np.array([[1, 2], [1, 4]]), SequenceGoalSource(seqs), horizon=24, goals=np.array([[1, 5], [1, 1]])
    )
    ep = sim.run(FollowerPolicy(seed=0))
    assert (ep.goals_reached >= 3).all()  # PIBT: 5 and 4 (the first greedy rule: 2 and 2)


def test_replanning_every_few_steps_and_bad_options() -> None:
    grid = _small_map()
    free = np.argwhere(grid == 0)
    starts = free[np.random.default_rng(1).choice(len(free), 6, replace=False)]
    sim = Simulator(grid, starts, ComponentGoalSource(grid, 6, seed=1), horizon=40)
    assert sim.run(FollowerPolicy(seed=1, replan_every=4)).throughput > 0
    with pytest.raises(ValueError, match="avoidance"):
        FollowerConfig(avoidance="magic")
    with pytest.raises(ValueError, match="replan_every"):
        FollowerConfig(replan_every=-1)


def test_note_move_keeps_net_counts_per_axis_at_both_cells() -> None:
    from routelab.mapf.follower import _note_move

    width2 = 7
    flow = np.zeros((7 * 7, 2), dtype=np.int16)
    _note_move(flow, 8, 8 + width2, width2)  # one step down
    _note_move(flow, 8 + width2, 8, width2)  # and back up: the vertical counts cancel
    _note_move(flow, 8, 9, width2)  # one step right
    assert flow[8].tolist() == [0, 1] and flow[9].tolist() == [0, 1] and flow[8 + width2].tolist() == [0, 0]
    _note_move(flow, 9, 9, width2)  # waiting is no move
    assert flow[9].tolist() == [0, 1]


def test_head_on_flow_sends_the_route_down_the_other_aisle() -> None:
    cost = np.ones((3, 6))
    cost[1, 1:5] = np.inf  # two aisles, rows 0 and 2, joined at both ends
    flow = np.zeros((3, 6, 2), dtype=np.int16)
    flow[0, 1:5, 1] = -5  # five agents seen walking leftwards along the top aisle
    top = astar_path(cost, (0, 0), (0, 5), flow=flow, w_flow=0.0)
    assert top is not None and len(top) - 1 == 5  # without the term: straight along the top
    path = astar_path(cost, (0, 0), (0, 5), flow=flow, w_flow=0.25)
    assert path is not None and len(path) - 1 == 9 and [2, 3] in path.tolist()  # 5 + 4 * 5 * 0.25 = 10 > 9: bottom
    # the same stream is no reason to avoid the aisle when walking with it
    assert len(astar_path(cost, (0, 5), (0, 0), flow=flow, w_flow=0.25)) - 1 == 5


def test_pushed_agent_steps_aside_rather_than_ahead_of_its_pusher() -> None:
    from routelab.mapf.follower import FollowerPlanner, _resolve_pibt

    grid = np.zeros((3, 5), dtype=np.uint8)

    def moved_to(push_aside: float) -> list[int]:
        cfg = FollowerConfig(w_static=0.0, push_aside=push_aside)
        p = FollowerPlanner(cfg)
        p.reset(grid, 2)
        cur = p.flat(np.array([[1, 0], [1, 1]]))  # A behind B; B is on its own goal
        p.plan(cur, p.flat(np.array([[1, 4], [1, 1]])))
        noise = np.zeros((2, 5))
        noise[1, :] = [0.003, 0.002, 0.004, 0.001, 0.005]  # ties broken towards "right" (= straight on) for B
        priority = np.array([1.0, 0.0])
        _resolve_pibt(p.blocked, p.base, p.width2, cur, p.desired, p.hmap, priority, p.occ, noise,
                      push_aside, p.claim, p.tgt)  # fmt: skip
        out = p.tgt.copy()
        p.finish(cur, np.zeros(2, dtype=np.int64))
        return [int(v) for v in out]

    w2 = 7
    straight, aside = moved_to(0.0), moved_to(1.0)
    assert straight == [2 * w2 + 2, 2 * w2 + 3]  # A takes B's cell, B is driven on to (1, 2)
    assert aside[0] == 2 * w2 + 2 and aside[1] in (w2 + 2, 3 * w2 + 2)  # B steps up or down instead


def test_oneway_costs_alternate_by_column_and_steer_routes() -> None:
    from routelab.mapf.follower import oneway_costs

    # two 1-wide vertical passages through a wall: column 2 (even: runs down) and column 5 (odd: runs up)
    cost = np.ones((5, 8))
    cost[2, :] = np.inf
    cost[2, 2] = cost[2, 5] = 1.0
    blocked = np.ones((7, 10), dtype=np.uint8)
    blocked[1:-1, 1:-1] = ~np.isfinite(cost)
    extra = oneway_costs(blocked.ravel(), 10, 5.0).reshape(7, 10, 4)
    assert extra[3, 3].tolist() == [5.0, 0.0, 0.0, 0.0]  # grid (2, 2): going up costs more
    assert extra[3, 6].tolist() == [0.0, 5.0, 0.0, 0.0]  # grid (2, 5): going down costs more
    assert extra.sum() == 10.0 and not oneway_costs(blocked.ravel(), 10, 0.0).any()
    # upwards from just below the even passage: without the rule straight through it, with it via column 5
    assert [2, 2] in astar_path(cost, (4, 2), (0, 2)).tolist()
    assert [2, 2] in astar_path(cost, (4, 2), (0, 2), w_oneway=5.0).tolist()  # 4 + 5 < 10 steps via column 5
    path = astar_path(cost, (4, 2), (0, 2), w_oneway=8.0)  # 4 + 8 > 10
    assert [2, 5] in path.tolist() and len(path) - 1 == 4 + 2 * 3
    # downwards the even passage is the right way: unchanged
    assert len(astar_path(cost, (0, 2), (4, 2), w_oneway=8.0)) - 1 == 4
