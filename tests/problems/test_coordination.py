"""The coordination kind: derived intervals and conflicts, the schedule scorer, deadlock naming and bad input.

The hand-made instances are small enough to check by hand:

- CROSS: a plus-shaped roadmap (0-1-2 across, 3-1-4 down, unit times); robot 0 drives 0 -> 1 -> 2 and robot 1
  drives 3 -> 1 -> 4, so they share node 1 once: one conflict.
- LINE: a 3-node line; robot 0 drives 0 -> 1 -> 2 and robot 1 drives 2 -> 1 -> 0 (head-on), five conflicts.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from routelab.problems import (
    CoordinationInstance,
    FormatError,
    Solution,
    check,
    get_kind,
    load_dataset,
    load_instance,
    load_solution,
    save_dataset,
    save_instance,
    save_solution,
    score_payload,
)
from routelab.problems.coordination import orders_from_priority, orders_from_ranks

CROSS = {
    "coords": [[0, 1], [1, 1], [2, 1], [1, 0], [1, 2]],
    "edges": [[0, 1], [1, 2], [3, 1], [1, 4]],
    "paths": [[0, 1, 2], [3, 1, 4]],
}
LINE = {"coords": [[0, 0], [1, 0], [2, 0]], "edges": [[0, 1], [1, 2]], "paths": [[0, 1, 2], [2, 1, 0]]}


def make(spec: dict, **extra: object) -> CoordinationInstance:
    return CoordinationInstance(name="hand", **spec, **extra)


def test_intervals_and_conflicts_of_the_cross() -> None:
    inst = make(CROSS)
    iv = inst.intervals
    assert iv["robot"].tolist() == [0, 0, 0, 1, 1, 1]
    assert iv["duration"].tolist() == [1, 1, 0, 1, 1, 0]  # the goal interval lasts 0: the robot leaves the roadmap
    assert inst.conflicts["a"].tolist() == [1] and inst.conflicts["b"].tolist() == [4]
    assert inst.num_conflicts == 1 and inst.num_robots == 2


def test_known_schedules_with_release_times() -> None:
    inst = make(CROSS)
    first = score_payload(inst, {"orders": [0]})  # robot 0 passes node 1 first: robot 1 enters it at t = 2
    assert first.feasible and first.details["completion_times"] == [2.0, 3.0] and first.objective == 2.5
    assert score_payload(inst, {"orders": [1]}).details["completion_times"] == [3.0, 2.0]
    late = make(CROSS, release_times=[1.5, 0.0])
    assert score_payload(late, {"orders": [0]}).objective == pytest.approx((3.5 + 4.5) / 2)
    assert score_payload(late, {"orders": [1]}).objective == pytest.approx((3.5 + 2.0) / 2)
    assert late.free_flow_completion.tolist() == [3.5, 2.0]


def test_head_on_conflicts_include_the_edge_and_the_serial_schedule() -> None:
    inst = make(LINE)
    cf = inst.conflicts
    assert list(zip(cf["a"].tolist(), cf["b"].tolist(), strict=True)) == [(0, 4), (0, 5), (1, 3), (1, 4), (2, 3)]
    assert cf["kind"].tolist() == [1, 0, 1, 0, 0]  # (0, 4) and (1, 3): the same edge in opposite directions
    s = score_payload(inst, {"orders": [0] * 5})
    assert s.feasible and s.details["completion_times"] == [2.0, 4.0]  # robot 1 appears once robot 0 has left


def test_a_deadlock_is_rejected_naming_the_cycle() -> None:
    inst = make(LINE)
    # (0, 4): interval 4 first; (1, 4): interval 1 first -> 1 -> 4 -> 0 -> 1 is a cycle
    s = score_payload(inst, {"orders": [1, 0, 0, 0, 0]})
    assert not s.feasible and math.isinf(s.objective) and math.isinf(s.cost)
    message = s.violations[0]
    assert message.startswith("deadlock")
    assert "robot 0 at node 1 (position 1)" in message and "robot 1 at node 1 (position 1)" in message
    assert s.details["cycle_robots"] == [0, 1]
    assert {(0, 0), (0, 1)} <= {(c["robot"], c["node"]) for c in s.details["cycle"]}
    assert math.isinf(inst.evaluator.evaluate([1, 0, 0, 0, 0]))


def test_batch_evaluation_matches_the_scorer() -> None:
    inst = make(LINE, release_times=[0.0, 0.5])
    batch = np.array([[int(b) for b in f"{k:05b}"] for k in range(32)], dtype=np.int8)
    values = inst.evaluator.evaluate(batch)
    for row, value in zip(batch, values, strict=True):
        s = score_payload(inst, {"orders": row.tolist()})
        assert (s.objective == value) if s.feasible else (math.isinf(value) and not s.feasible)
    assert np.isfinite(values).sum() >= 2


def test_ranks_and_priorities_are_deadlock_free() -> None:
    inst = make(LINE)
    for pri in ([0, 1], [1, 0]):
        assert score_payload(inst, {"orders": orders_from_priority(inst, pri).tolist()}).feasible
    rng = np.random.default_rng(0)
    for _ in range(20):  # any rank increasing along every robot orients the conflicts acyclically
        steps = rng.random(inst.num_intervals) + 0.01
        ranks = np.concatenate([np.cumsum(steps[lo:hi]) for lo, hi in ((0, 3), (3, 6))])
        assert score_payload(inst, {"orders": orders_from_ranks(inst, ranks).tolist()}).feasible


def test_following_mode() -> None:
    # both robots drive 1 -> 2; robot 0 stops at 2, robot 1 (coming from 4) goes on to 3
    spec = {
        "coords": [[0, 0], [1, 0], [2, 0], [3, 0], [1, 1]],
        "edges": [[0, 1], [1, 2], [2, 3], [4, 1]],
        "paths": [[0, 1, 2], [4, 1, 2, 3]],
    }
    inst = make(spec, follow_gap=0.25)
    followable = inst.conflicts["followable"]
    assert followable.tolist() == [True, False]  # node 1 (same edge 1 -> 2); node 2 is robot 0's goal
    wait = score_payload(inst, {"orders": [0] * inst.num_conflicts})
    follow = score_payload(inst, {"orders": [0] * inst.num_conflicts, "modes": followable.astype(int).tolist()})
    assert wait.details["completion_times"] == [2.0, 4.0]
    assert follow.details["completion_times"] == [2.0, 3.25]  # robot 1 trails 0.25 behind instead of 1
    bad = score_payload(inst, {"orders": [0] * inst.num_conflicts, "modes": [1] * inst.num_conflicts})
    assert not bad.feasible and "not allowed" in bad.violations[0]
    off = make(spec)
    assert "disabled" in score_payload(off, {"orders": [0, 0], "modes": [1, 0]}).violations[0]


def test_safety_distance_adds_conflicts_between_near_nodes() -> None:
    spec = {"coords": [[0, 0], [1, 0], [0, 0.5], [1, 0.5]], "edges": [[0, 1], [2, 3]], "paths": [[0, 1], [3, 2]]}
    assert make(spec).num_conflicts == 0
    near = make(spec, safety_distance=0.6)
    assert near.near_nodes.tolist() == [[0, 2], [1, 3]]
    assert list(zip(near.conflicts["a"].tolist(), near.conflicts["b"].tolist(), strict=True)) == [(0, 3), (1, 2)]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"paths": [[0, 2], [3, 1, 4]]}, "paths[0][1]", "step off the roadmap"),
        ({"paths": [[0, 1, 1, 2], [3, 1, 4]]}, "paths[0][2]", "a wait"),
        ({"paths": [[0, 1, 9], [3, 1, 4]]}, "paths[0][2]", "a roadmap node in 0..4"),
        ({"paths": [[0, 1, 2], [0, 1, 4]]}, "paths", "robots 0 and 1 both start at node 0"),
        ({"paths": [[0, 1, 2], [3, 1, 2]]}, "paths", "both goal at node 2"),
        ({"paths": [[0], [3, 1, 4]]}, "paths[0]", "at least 2 nodes"),
        ({"edges": [[0, 1], [1, 1]]}, "edges[1]", "two different nodes"),
        ({"edges": [[0, 1], [1, 0], [1, 2], [3, 1], [1, 4]]}, "edges", "repeated"),
        ({"edge_times": [1, 0, 1, 1]}, "edge_times[1]", "> 0"),
        ({"release_times": [0, -1]}, "release_times[1]", ">= 0"),
        ({"release_times": [0]}, "release_times", "one per robot"),
    ],
)
def test_bad_instances_name_the_field(change: dict, field: str, words: str) -> None:
    with pytest.raises(FormatError) as info:
        make({**CROSS, **change})
    assert info.value.field == field and words in str(info.value)


def test_directed_roadmaps_forbid_driving_against_an_arc() -> None:
    make(CROSS, directed=True)
    with pytest.raises(FormatError, match="paths\\[0\\]\\[1\\]: expected a roadmap arc from node 2, got node 1"):
        make({**CROSS, "paths": [[2, 1, 0], [3, 1, 4]]}, directed=True)


def test_bad_payloads() -> None:
    inst = make(LINE)
    short = score_payload(inst, {"orders": [0, 0]})
    assert not short.feasible and "2 entries, the instance has 5 conflicts" in short.violations[0]
    with pytest.raises(FormatError, match="orders\\[1\\]: expected 0 or 1, got 2"):
        get_kind("coordination").parse_payload("sol.json", {"orders": [0, 2]})
    with pytest.raises(FormatError, match="orders: expected one 0/1 per conflict"):
        get_kind("coordination").parse_payload("sol.json", {})


def test_documents_round_trip(tmp_path: Path) -> None:
    inst = make(CROSS, release_times=[0.5, 0.0], follow_gap=0.3, safety_distance=0.1)
    for suffix in (".json", ".npz"):
        save_instance(inst, tmp_path / f"i{suffix}")
        back = load_instance(tmp_path / f"i{suffix}")
        assert back.follow_gap == 0.3 and back.safety_distance == 0.1
        assert np.array_equal(back.paths, inst.paths) and np.array_equal(back.release_times, inst.release_times)
    sol = Solution("coordination", "hand", "test", {"orders": [1]}, objective=3.0, feasible=True)
    save_solution(sol, tmp_path / "s.json")
    assert check(inst, load_solution(tmp_path / "s.json")).feasible
    # datasets hold instances of different roadmap and path sizes (ragged fields)
    other = make(LINE)
    save_dataset([inst, other], tmp_path / "d.npz")
    a, b = load_dataset(tmp_path / "d.npz")
    assert np.array_equal(a.paths, inst.paths) and np.array_equal(b.coords, other.coords)
    assert a.follow_gap == 0.3 and b.follow_gap is None and b.num_conflicts == 5
