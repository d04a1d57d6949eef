"""The lifelong_mapf kind: validation, goal streams and the replaying scorer on hand-checked 4x4 / 5x5 grids."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from routelab.data import instance_differences
from routelab.problems import (
    FormatError,
    LifelongMAPFInstance,
    Solution,
    check,
    get_kind,
    load_instance,
    load_solution,
    save_instance,
    save_solution,
    score_payload,
)
from routelab.problems.score import MAX_REPORTED_VIOLATIONS

# 4x4 with one obstacle at (1, 1)
OPEN = [
    [0, 0, 0, 0],
    [0, 1, 0, 0],
    [0, 0, 0, 0],
    [0, 0, 0, 0],
]
# 5x5: the top-left 2x2 room is closed off by the wall of 1s
ROOMS = [
    [0, 0, 1, 0, 0],
    [0, 0, 1, 0, 0],
    [1, 1, 1, 0, 0],
    [0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0],
]


def explicit(starts, goals, horizon=6, grid=OPEN, name="hand") -> LifelongMAPFInstance:
    return LifelongMAPFInstance(name=name, grid=grid, starts=starts, horizon=horizon, goals=goals)


def stay(cell, horizon):
    return [list(cell)] * (horizon + 1)


def score(inst, paths):
    return score_payload(inst, {"paths": paths})


# -- feasible replays and goal counting -------------------------------------------------------------
def test_goals_are_counted_in_stream_order():
    inst = explicit([[0, 0], [3, 3]], [[[0, 2], [0, 0]], [[3, 1]]])
    a0 = [[0, 0], [0, 1], [0, 2], [0, 1], [0, 0], [0, 0], [0, 0]]  # goal 1 at t=2, goal 2 at t=4
    a1 = [[3, 3], [3, 2], [3, 1], [3, 1], [3, 1], [3, 1], [3, 1]]  # its one goal at t=2, then none
    s = score(inst, [a0, a1])
    assert s.feasible, s.violations
    assert s.details["goals_per_agent"] == [2, 1]
    assert s.details["goals"] == 3
    assert s.objective == pytest.approx(3 / 6)
    assert s.sense == "max"
    assert s.cost == pytest.approx(-0.5)  # lower-is-better ranking value


def test_staying_on_a_reached_goal_counts_once():
    inst = explicit([[0, 0]], [[[0, 1], [0, 2]]], horizon=4)
    s = score(inst, [[[0, 0], [0, 1], [0, 1], [0, 1], [0, 2]]])
    assert s.details["goals_per_agent"] == [2]  # (0,1) at t=1 only; (0,2) at t=4
    s = score(inst, [[[0, 0], [0, 1], [0, 1], [0, 1], [0, 1]]])
    assert s.details["goals_per_agent"] == [1]


def test_a_goal_counts_only_once_active():
    # (0,1) is the second goal: passing it at t=1, before (0,2) is reached, does not count.
    inst = explicit([[0, 0]], [[[0, 2], [0, 1]]], horizon=3)
    assert score(inst, [[[0, 0], [0, 1], [0, 2], [0, 2]]]).details["goals"] == 1
    assert score(inst, [[[0, 0], [0, 1], [0, 2], [0, 1]]]).details["goals"] == 2  # next goal active from t+1


def test_start_cell_never_counts_at_t0():
    inst = explicit([[0, 0]], [[[0, 1], [0, 0]]], horizon=2)
    assert score(inst, [[[0, 0], [0, 1], [0, 0]]]).details["goals"] == 2
    assert score(inst, [stay([0, 0], 2)]).details["goals"] == 0


def test_following_and_rotation_are_allowed():
    inst = explicit([[0, 0], [0, 1]], [[[3, 3]], [[3, 3]]], horizon=1)
    assert score(inst, [[[0, 0], [0, 1]], [[0, 1], [0, 2]]]).feasible  # agent 0 follows agent 1
    ring = explicit([[2, 2], [2, 3], [3, 3], [3, 2]], [[[0, 0]]] * 4, horizon=1)
    cycle = [[[2, 2], [2, 3]], [[2, 3], [3, 3]], [[3, 3], [3, 2]], [[3, 2], [2, 2]]]
    assert score(ring, cycle).feasible


# -- violations ----------------------------------------------------------------------------------
def test_vertex_conflict_names_step_agents_and_cell():
    inst = explicit([[0, 0], [0, 2]], [[[3, 3]], [[3, 0]]], horizon=2)
    s = score(inst, [[[0, 0], [0, 1], [0, 0]], [[0, 2], [0, 1], [0, 2]]])
    assert not s.feasible
    assert s.violations == ("step 1: agents 0 and 1 both at (0, 1)",)
    assert s.cost == float("inf")


def test_three_agents_on_one_cell_is_one_violation():
    inst = explicit([[0, 1], [1, 2], [2, 1]], [[[3, 3]]] * 3, horizon=1, grid=np.zeros((4, 4)))
    s = score(inst, [[[0, 1], [1, 1]], [[1, 2], [1, 1]], [[2, 1], [1, 1]]])
    assert s.violations == ("step 1: agents 0, 1, 2 all at (1, 1)",)


def test_swap_conflict():
    inst = explicit([[0, 0], [0, 1]], [[[3, 3]], [[3, 0]]], horizon=2)
    s = score(inst, [[[0, 0], [0, 1], [0, 1]], [[0, 1], [0, 0], [0, 0]]])
    assert s.violations == ("step 1: agents 0 and 1 swap (0, 0) <-> (0, 1)",)
    assert s.violation_count == 1


def test_move_into_obstacle():
    inst = explicit([[0, 1]], [[[3, 3]]], horizon=2)
    s = score(inst, [[[0, 1], [1, 1], [2, 1]]])
    assert s.violations == ("agent 0 step 1: cell (1, 1) is blocked",)


def test_jump_over_an_obstacle_and_diagonal_moves():
    inst = explicit([[1, 0]], [[[3, 3]]], horizon=2)
    s = score(inst, [[[1, 0], [1, 2], [2, 3]]])
    assert s.violations == (
        "agent 0 step 1: moves from (1, 0) to (1, 2), not a wait or a 4-neighbour step",
        "agent 0 step 2: moves from (1, 2) to (2, 3), not a wait or a 4-neighbour step",
    )


def test_off_the_map():
    inst = explicit([[0, 0]], [[[3, 3]]], horizon=2)
    s = score(inst, [[[0, 0], [-1, 0], [0, 0]]])
    assert "agent 0 step 1: cell (-1, 0) is off the 4 x 4 map" in s.violations


def test_wrong_path_length_and_agent_count():
    inst = explicit([[0, 0], [3, 3]], [[[0, 1]], [[3, 2]]], horizon=3)
    s = score(inst, [[[0, 0], [0, 1], [0, 1]], stay([3, 3], 3)])
    assert s.violations == ("agent 0: path has 3 positions, expected 4 (t = 0..3)",)
    assert s.details["goals_per_agent"] == [1, 0]  # still counted along the short path
    s = score(inst, [stay([0, 0], 3)])
    assert s.violations == ("1 paths for 2 agents",)


def test_path_must_start_at_start():
    inst = explicit([[0, 0]], [[[0, 2]]], horizon=1)
    s = score(inst, [[[0, 1], [0, 2]]])
    assert s.violations == ("agent 0: path starts at (0, 1), not at its start (0, 0)",)


def test_violations_are_capped_but_all_counted():
    inst = explicit([[0, 0]], [[[3, 3]]], horizon=30, grid=np.zeros((4, 4)))
    hop = [[0, 0] if t % 2 == 0 else [0, 3] for t in range(31)]
    s = score(inst, [hop])
    assert s.violation_count == 30
    assert len(s.violations) == MAX_REPORTED_VIOLATIONS + 1
    assert s.violations[-1] == "... and 10 more violations"


def test_payload_shapes():
    inst = explicit([[0, 0], [3, 3]], [[[0, 1]], [[3, 2]]], horizon=2)
    arr = np.array([stay([0, 0], 2), stay([3, 3], 2)])
    assert score_payload(inst, {"paths": arr}).feasible
    with pytest.raises(FormatError, match="paths"):
        score_payload(inst, {})
    with pytest.raises(FormatError, match=r"paths\[1\]"):
        score_payload(inst, {"paths": [stay([0, 0], 2), [[3, 3, 0]] * 3]})
    with pytest.raises(FormatError, match="paths"):
        score_payload(inst, {"paths": np.zeros((2, 3))})


# -- generated goal streams ------------------------------------------------------------------------
def generated(seed=7, mode="component", endpoints=None, starts=((0, 0), (4, 4))) -> LifelongMAPFInstance:
    return LifelongMAPFInstance(
        name="gen", grid=ROOMS, starts=starts, horizon=8, goal_seed=seed, goal_mode=mode, endpoints=endpoints
    )


def test_generated_goals_are_deterministic_per_seed_and_agent():
    a, b = generated(), generated()
    assert np.array_equal(a.goal_sequence(1, 50), b.goal_sequence(1, 50))
    assert np.array_equal(a.goal_sequence(1, 5), a.goal_sequence(1, 50)[:5])  # a prefix, whatever the count
    assert not np.array_equal(generated(seed=8).goal_sequence(1, 50), a.goal_sequence(1, 50))


def test_generated_goals_follow_the_documented_rule():
    inst = generated(seed=3)
    cand = np.flatnonzero(inst.components.ravel() == inst.components[4, 4])
    rng = np.random.default_rng([3, 1])
    cur, expected = 4 * 5 + 4, []
    for _ in range(20):
        p = int(np.searchsorted(cand, cur))
        j = int(rng.integers(len(cand) - 1))
        cur = int(cand[j + 1 if j >= p else j])
        expected.append(divmod(cur, 5))
    assert inst.goal_sequence(1, 20).tolist() == [list(g) for g in expected]


def test_generated_goals_never_the_current_cell_and_stay_in_the_component():
    inst = generated()
    room = {(0, 0), (0, 1), (1, 0), (1, 1)}
    g0 = [tuple(g) for g in inst.goal_sequence(0, 200).tolist()]
    g1 = [tuple(g) for g in inst.goal_sequence(1, 200).tolist()]
    assert set(g0) == room  # every cell of the room is drawn, nothing outside it
    assert not set(g1) & room and all(ROOMS[r][c] == 0 for r, c in g1)
    for start, goals in (((0, 0), g0), ((4, 4), g1)):
        previous = [start, *goals[:-1]]
        assert all(g != p for g, p in zip(goals, previous, strict=True))


def test_endpoint_goals_in_the_agents_component():
    inst = generated(mode="endpoints", endpoints=[[0, 1], [3, 3], [4, 0]])
    assert inst.goal_sequence(0, 10).tolist() == [[0, 1]]  # the room's only endpoint, then nothing else to draw
    g1 = inst.goal_sequence(1, 10).tolist()
    assert len(g1) == 10 and {tuple(g) for g in g1} == {(3, 3), (4, 0)}
    assert all(a != b for a, b in itertools.pairwise(g1))  # alternates: never the current cell


def shortest(grid, a, b):
    """Cells from ``a`` to ``b`` (both included) by breadth-first search on the free cells."""
    grid = np.asarray(grid)
    prev, queue = {tuple(a): None}, [tuple(a)]
    for cur in queue:
        if cur == tuple(b):
            break
        r, c = cur
        for nxt in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if 0 <= nxt[0] < grid.shape[0] and 0 <= nxt[1] < grid.shape[1] and not grid[nxt] and nxt not in prev:
                prev[nxt] = cur
                queue.append(nxt)
    out, cur = [], tuple(b)
    while cur is not None:
        out.append(list(cur))
        cur = prev[cur]
    return out[::-1]


def test_generated_goals_are_scored():
    inst = LifelongMAPFInstance(name="g", grid=OPEN, starts=[[0, 0]], horizon=40, goal_seed=1)
    path = [[0, 0]]
    for goal in inst.goal_sequence(0, 4).tolist():
        path += shortest(OPEN, path[-1], goal)[1:]
    assert len(path) <= 41  # at most 6 steps per goal on a 4x4 grid
    path += [path[-1]] * (41 - len(path))
    s = score(inst, [path])
    assert s.feasible, s.violations
    assert s.details["goals"] >= 4
    assert s.objective == pytest.approx(s.details["goals"] / 40)


def test_unreachable_explicit_goal_is_allowed_and_never_reached():
    inst = explicit([[4, 4]], [[[0, 0]]], horizon=3, grid=ROOMS)
    s = score(inst, [stay([4, 4], 3)])
    assert s.feasible and s.objective == 0.0


# -- validation ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"grid": np.ones((3, 3))}, "grid"),
        ({"grid": [[0, 2], [0, 0]]}, "grid"),
        ({"starts": [[0, 0], [0, 1], [1, 0], [1, 1]], "grid": [[0, 0], [0, 1]]}, "starts"),
        ({"starts": [[1, 1]]}, r"starts\[0\]"),
        ({"starts": [[4, 0]]}, r"starts\[0\]"),
        ({"starts": [[0, 0], [2, 2], [0, 0]]}, "starts"),
        ({"horizon": 0}, "horizon"),
        ({"goals": [[[1, 1]]]}, r"goals\[0\]\[0\]"),
        ({"goals": [[[0, 0]]]}, r"goals\[0\]\[0\]"),  # the agent's own start
        ({"goals": [[[0, 1], [0, 1]]]}, r"goals\[0\]\[1\]"),  # the same goal twice in a row
        ({"goals": [[[0, 1]], [[0, 2]]]}, "goals"),  # two lists for one agent
        ({"goals": None}, "goal_seed"),
        ({"goals": None, "goal_seed": 1, "goal_mode": "endpoints"}, "endpoints"),
        ({"goals": None, "goal_seed": -1}, "goal_seed"),
        ({"goal_mode": "spiral"}, "goal_mode"),
    ],
)
def test_invalid_instances_name_the_field(kwargs, field):
    base = {"name": "bad", "grid": OPEN, "starts": [[0, 0]], "horizon": 4, "goals": [[[0, 1]]]}
    with pytest.raises(FormatError, match=rf"bad: {field}: expected"):
        LifelongMAPFInstance(**{**base, **kwargs})


def test_messages_for_common_mistakes():
    with pytest.raises(FormatError, match="at least one free cell"):
        LifelongMAPFInstance(name="x", grid=np.ones((2, 2)), starts=[[0, 0]], horizon=1, goal_seed=0)
    with pytest.raises(FormatError, match=r"at most 3 agents"):
        LifelongMAPFInstance(name="x", grid=[[0, 0], [0, 1]], starts=[[0, 0]] * 4, horizon=1, goal_seed=0)
    with pytest.raises(FormatError, match=r"agents \[0, 2\] all start at \(0, 0\)"):
        LifelongMAPFInstance(name="x", grid=OPEN, starts=[[0, 0], [0, 1], [0, 0]], horizon=1, goal_seed=0)


def test_flat_goals_with_offsets_equal_per_agent_lists():
    lists = explicit([[0, 0], [3, 3]], [[[0, 2], [0, 0]], []])
    flat = LifelongMAPFInstance(
        name="hand", grid=OPEN, starts=[[0, 0], [3, 3]], horizon=6, goals=[[0, 2], [0, 0]], goal_offsets=[0, 2, 2]
    )
    assert instance_differences(lists, flat) == []
    assert flat.goal_sequence(1, 5).shape == (0, 2)
    with pytest.raises(FormatError, match="goal_offsets"):
        LifelongMAPFInstance(
            name="x", grid=OPEN, starts=[[0, 0], [3, 3]], horizon=6, goals=[[0, 2]], goal_offsets=[0, 2, 2]
        )


# -- the shared format ---------------------------------------------------------------------------
def test_kind_is_registered_as_maximisation():
    kind = get_kind("lifelong_mapf")
    assert kind.sense == "max" and kind.payload_keys == ("paths",)
    assert get_kind("tsp").sense == "min"


@pytest.mark.parametrize("suffix", [".json", ".npz"])
@pytest.mark.parametrize("mode", ["explicit", "component", "endpoints"])
def test_round_trip_and_check(tmp_path: Path, suffix: str, mode: str):
    if mode == "explicit":
        inst = explicit([[0, 0], [3, 3]], [[[0, 2], [0, 0]], [[3, 1]]])
    else:
        inst = LifelongMAPFInstance(
            name="hand",
            grid=OPEN,
            starts=[[0, 0], [3, 3]],
            horizon=6,
            goal_seed=5,
            goal_mode=mode,
            endpoints=[[0, 2], [3, 0]] if mode == "endpoints" else None,
            meta={"source": "test"},
        )
    save_instance(inst, tmp_path / f"i{suffix}")
    back = load_instance(tmp_path / f"i{suffix}")
    assert isinstance(back, LifelongMAPFInstance)
    assert instance_differences(inst, back) == []
    assert np.array_equal(back.goal_sequence(0, 10), inst.goal_sequence(0, 10))

    paths = np.array([stay([0, 0], 6), stay([3, 3], 6)])
    sol = Solution(kind="lifelong_mapf", instance="hand", solver="wait", payload={"paths": paths}, objective=0.0)
    save_solution(sol, tmp_path / "s.json")
    loaded = load_solution(tmp_path / "s.json")
    s = check(back, loaded)
    assert s.feasible and s.objective == 0.0 and s.details["goals"] == 0


def test_bad_document_field_names_the_file(tmp_path: Path):
    doc = {
        "routelab": "instance/1",
        "kind": "lifelong_mapf",
        "name": "x",
        "meta": {},
        "data": {"grid": OPEN, "starts": [[1, 1]], "horizon": 3, "goal_seed": 0},
    }
    (tmp_path / "x.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=r"x\.json: data\.starts\[0\]: expected a start on a free cell"):
        load_instance(tmp_path / "x.json")
