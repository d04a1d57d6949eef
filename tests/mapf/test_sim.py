"""Step rule of :mod:`routelab.mapf.sim` (POGEMA soft collisions, restart on target).

The expected outcomes of the hand-made cases were also run through POGEMA 1.4.0 (``collision_system="soft"``) and
agree with it; ``benchmarks/pogema_check.py`` does the randomised comparison.
"""

from __future__ import annotations

import numpy as np
import pytest

from routelab.mapf import (
    DOWN,
    LEFT,
    RIGHT,
    UP,
    WAIT,
    ComponentGoalSource,
    SequenceGoalSource,
    Simulator,
    random_policy,
)

FAR = (0, 0)  # a goal nobody reaches in these cases


def one_step(grid: np.ndarray | list, starts: list, actions: list, goals: list | None = None) -> np.ndarray:
    grid = np.asarray(grid, dtype=np.uint8)
    goals = goals if goals is not None else [FAR] * len(starts)
    src = SequenceGoalSource([[g, g] for g in goals])
    sim = Simulator(grid, np.array(starts), src, horizon=4, goals=np.array(goals))
    sim.step(np.array(actions))
    return np.array(sim.positions)


def empty(n: int) -> np.ndarray:
    return np.zeros((n, n), dtype=np.uint8)


# ------------------------------------------------------------------ vertex contention
def test_two_into_one_cell_lowest_index_moves() -> None:
    pos = one_step(empty(3), [(1, 0), (1, 2)], [RIGHT, LEFT], goals=[(2, 2), (2, 2)])
    assert pos.tolist() == [[1, 1], [1, 2]]
    pos = one_step(empty(3), [(1, 2), (1, 0)], [LEFT, RIGHT], goals=[(2, 2), (2, 2)])
    assert pos.tolist() == [[1, 1], [1, 0]]


def test_three_into_one_cell() -> None:
    pos = one_step(empty(3), [(1, 2), (0, 1), (1, 0)], [LEFT, DOWN, RIGHT], goals=[(2, 2)] * 3)
    assert pos.tolist() == [[1, 1], [0, 1], [1, 0]]


def test_cannot_enter_cell_of_waiting_agent() -> None:
    pos = one_step(empty(3), [(1, 0), (1, 1)], [RIGHT, WAIT], goals=[(2, 2), (2, 2)])
    assert pos.tolist() == [[1, 0], [1, 1]]
    pos = one_step(empty(3), [(1, 1), (1, 0)], [WAIT, RIGHT], goals=[(2, 2), (2, 2)])
    assert pos.tolist() == [[1, 1], [1, 0]]


# ------------------------------------------------------------------ swaps
@pytest.mark.parametrize("order", [0, 1])
def test_swap_is_cancelled(order: int) -> None:
    starts, acts = [(1, 0), (1, 1)], [RIGHT, LEFT]
    if order:
        starts, acts = starts[::-1], acts[::-1]
    pos = one_step(empty(3), starts, acts, goals=[(2, 2), (2, 2)])
    assert pos.tolist() == [list(s) for s in starts]


def test_swap_blocks_followers() -> None:
    # 0 and 1 try to swap; 2 follows 1 into (1, 2) -> everybody stays
    starts = [(1, 1), (1, 2), (1, 3)]
    pos = one_step(empty(4), starts, [RIGHT, LEFT, LEFT], goals=[(3, 3)] * 3)
    assert pos.tolist() == [list(s) for s in starts]


# ------------------------------------------------------------------ chains and rotations
@pytest.mark.parametrize("order", [0, 1])
def test_chain_follows_into_vacated_cell(order: int) -> None:
    starts = [(1, 0), (1, 1), (1, 2)]
    acts = [RIGHT, RIGHT, RIGHT]
    expected = [[1, 1], [1, 2], [1, 3]]
    if order:
        starts, acts, expected = starts[::-1], acts[::-1], expected[::-1]
    pos = one_step(empty(4), starts, acts, goals=[(3, 3)] * 3)
    assert pos.tolist() == expected


def test_blocked_leader_stops_the_chain() -> None:
    grid = empty(4)
    grid[1, 3] = 1
    starts = [(1, 0), (1, 1), (1, 2)]
    pos = one_step(grid, starts, [RIGHT, RIGHT, RIGHT], goals=[(3, 3)] * 3)
    assert pos.tolist() == [list(s) for s in starts]


def test_lost_contention_stops_the_chain() -> None:
    # agent 2 (behind which agent 1 queues) loses cell (1, 2) to the lower index 0, so 1 backs off as well
    starts = [(0, 2), (1, 0), (1, 1)]
    pos = one_step(empty(3), starts, [DOWN, RIGHT, RIGHT], goals=[(2, 0)] * 3)
    assert pos.tolist() == [[1, 2], [1, 0], [1, 1]]


def test_rotation_of_four_moves() -> None:
    starts = [(0, 0), (0, 1), (1, 1), (1, 0)]
    pos = one_step(empty(3), starts, [RIGHT, DOWN, LEFT, UP], goals=[(2, 2)] * 4)
    assert pos.tolist() == [[0, 1], [1, 1], [1, 0], [0, 0]]


# ------------------------------------------------------------------ obstacles and borders
def test_obstacle_and_border_moves_are_cancelled() -> None:
    grid = empty(3)
    grid[1, 1] = 1
    starts = [(0, 0), (0, 1), (2, 2), (1, 0)]
    pos = one_step(grid, starts, [UP, DOWN, RIGHT, LEFT], goals=[(2, 0)] * 4)
    assert pos.tolist() == [list(s) for s in starts]
    pos = one_step(grid, [(0, 0)], [RIGHT], goals=[(2, 0)])
    assert pos.tolist() == [[0, 1]]


# ------------------------------------------------------------------ goals (restart)
def test_goal_reached_counts_and_gets_next_goal() -> None:
    src = SequenceGoalSource([[(0, 2), (2, 2), (2, 0)]])
    sim = Simulator(empty(3), np.array([(0, 0)]), src, horizon=6, goals=src.initial_goals())
    assert sim.step(np.array([RIGHT])).num_reached == 0
    info = sim.step(np.array([RIGHT]))
    assert info.reached.tolist() == [0] and info.t == 2
    assert sim.goals.tolist() == [[2, 2]] and sim.goals_reached.tolist() == [1]
    ep = sim.run(lambda s: np.array([[RIGHT, RIGHT, DOWN, DOWN, LEFT, LEFT][s.t]]))
    assert ep.goals_reached.tolist() == [3]  # (0,2), (2,2), (2,0)
    assert ep.throughput == pytest.approx(3 / 6)
    assert ep.goal_sequences[0].tolist() == [[0, 2], [2, 2], [2, 0], [0, 2]]
    assert ep.trajectory.shape == (7, 1, 2) and ep.trajectory[-1].tolist() == [[2, 0]]
    with pytest.raises(RuntimeError):
        sim.step(np.array([WAIT]))


def test_start_on_goal_counts_after_first_step() -> None:
    src = SequenceGoalSource([[(1, 1), (0, 0)]])
    sim = Simulator(empty(3), np.array([(1, 1)]), src, horizon=2, goals=src.initial_goals())
    assert sim.step(np.array([WAIT])).reached.tolist() == [0]
    assert sim.goals.tolist() == [[0, 0]]


def test_component_goal_source_stays_in_component_and_leaves_cell() -> None:
    grid = empty(5)
    grid[:, 2] = 1  # two components: columns 0-1 and 3-4
    src = ComponentGoalSource(grid, num_agents=2, seed=3)
    for _ in range(50):
        r, c = src.next_goal(0, (4, 1))
        assert c < 2 and (r, c) != (4, 1)
        r, c = src.next_goal(1, (0, 3))
        assert c > 2 and (r, c) != (0, 3)


def test_deterministic_per_seed() -> None:
    rng = np.random.default_rng(0)
    grid = (rng.random((8, 8)) < 0.15).astype(np.uint8)
    free = np.argwhere(grid == 0)
    starts = free[rng.choice(len(free), 12, replace=False)]

    def episode(seed: int):
        sim = Simulator(grid, starts, ComponentGoalSource(grid, 12, seed=seed), horizon=200)
        return sim.run(random_policy(seed))

    a, b, c = episode(1), episode(1), episode(2)
    assert np.array_equal(a.trajectory, b.trajectory)
    assert all(np.array_equal(x, y) for x, y in zip(a.goal_sequences, b.goal_sequences, strict=True))
    assert not np.array_equal(a.trajectory, c.trajectory)
    # run() resets: a second run on the same simulator repeats the episode
    sim = Simulator(grid, starts, ComponentGoalSource(grid, 12, seed=1), horizon=200)
    sim.run(random_policy(1))
    assert np.array_equal(sim.run(random_policy(1)).trajectory, a.trajectory)


def test_invalid_inputs() -> None:
    grid = empty(3)
    grid[0, 0] = 1
    src = SequenceGoalSource([[(2, 2), (1, 1)]])
    with pytest.raises(ValueError):
        Simulator(grid, np.array([(0, 0)]), src, horizon=2, goals=np.array([(2, 2)]))
    with pytest.raises(ValueError):
        Simulator(grid, np.array([(1, 1), (1, 1)]), src, horizon=2, goals=np.array([(2, 2), (2, 2)]))
    sim = Simulator(grid, np.array([(1, 1)]), src, horizon=2, goals=np.array([(2, 2)]))
    with pytest.raises(ValueError):
        sim.step(np.array([5]))


# ------------------------------------------------------------------ property: no conflicts on dense maps
@pytest.mark.parametrize("seed", [0, 1])
def test_random_dense_map_has_no_vertex_conflicts_or_swaps(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = (rng.random((32, 32)) < 0.1).astype(np.uint8)
    free = np.argwhere(grid == 0)
    starts = free[rng.choice(len(free), 300, replace=False)]
    src = ComponentGoalSource(grid, 300, seed=seed)
    ep = Simulator(grid, starts, src, horizon=150).run(random_policy(seed))
    traj = ep.trajectory
    assert traj.shape == (151, 300, 2)
    flat = traj[..., 0] * 32 + traj[..., 1]
    for t in range(traj.shape[0]):
        assert len(np.unique(flat[t])) == 300  # no vertex conflicts
    assert not grid[traj[..., 0], traj[..., 1]].any()  # never on an obstacle
    step = np.abs(traj[1:] - traj[:-1]).sum(axis=2)
    assert step.max() <= 1  # unit moves only
    for t in range(traj.shape[0] - 1):  # no swaps: nobody moves onto a cell whose occupant moves onto theirs
        where = {int(c): a for a, c in enumerate(flat[t])}
        for a in np.nonzero(step[t])[0]:
            b = where.get(int(flat[t + 1, a]))
            assert b is None or flat[t + 1, b] != flat[t, a]
    moved = int(step.sum())
    assert moved > 300 * 150 * 0.2  # the map is dense but agents still move
    # goal bookkeeping is consistent with the trajectory
    assert ep.goals_reached.sum() == sum(len(s) - 1 for s in ep.goal_sequences)
