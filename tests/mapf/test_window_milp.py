"""Windowed joint CP-SAT baseline (:mod:`routelab.mapf.window_milp`) and its ``mapf-milp`` solver wrapper."""

from __future__ import annotations

import numpy as np

from routelab.data.mapf_io import make_instance, parse_pogema_grid
from routelab.mapf import SequenceGoalSource, Simulator
from routelab.mapf.rhcr import WindowPlanner
from routelab.mapf.window_milp import WindowMILP, solve_window
from routelab.problems import check
from routelab.solvers.mapf_window_milp import WindowMILPSolver


def _conflicts(paths: np.ndarray, nbr: np.ndarray) -> list[str]:
    """Every illegal move, vertex conflict and swap in (A, T) flat paths (empty = a valid joint plan)."""
    out = []
    a, steps = paths.shape
    for i in range(a):
        for t in range(steps - 1):
            if paths[i, t + 1] not in nbr[paths[i, t]].tolist():
                out.append(f"agent {i} jumps at {t}")
    for t in range(steps):
        if len(set(paths[:, t].tolist())) != a:
            out.append(f"vertex conflict at {t}")
    for t in range(steps - 1):
        moves = {(int(paths[i, t]), int(paths[i, t + 1])) for i in range(a) if paths[i, t] != paths[i, t + 1]}
        out += [f"swap at {t}" for u, v in moves if (v, u) in moves]
    return out


def test_open_grid_plan_is_conflict_free_optimal_and_makes_progress() -> None:
    p = WindowPlanner(np.zeros((5, 5), dtype=np.uint8), window=6)
    starts = p.flat(np.array([(0, 0), (0, 4), (4, 2)]))
    goals = p.flat(np.array([(4, 4), (4, 0), (0, 2)]))  # all three cross the centre
    res = solve_window(p, starts, goals, time_limit=5.0)
    assert res.status == "OPTIMAL" and res.gap == 0.0
    assert _conflicts(res.paths, p.nbr) == []
    assert (res.paths[:, 0] == starts).all()
    for a in range(3):
        d = p.distances(int(goals[a]))
        assert d[res.paths[a, -1]] < d[starts[a]]  # everybody is closer to its goal at the end of the window
    assert res.objective == 8 + 8 + 4  # the distances: nobody is delayed (parking on a reached goal is free)
    # The cost pruning is exact: the everybody-waits hint (no pruning) and a prioritised hint agree.
    pp = p.plan_all(starts, goals, np.arange(3))
    assert not pp.failed.any()
    warm = solve_window(p, starts, goals, time_limit=5.0, hint_paths=pp.paths)
    assert warm.objective == res.objective and warm.hint_objective == pp.cost
    assert warm.num_vars <= res.num_vars


def test_corridor_with_one_bay_is_passed_without_swapping() -> None:
    # Two agents face each other in a corridor; the only way past is for one of them to duck into the bay.
    grid = parse_pogema_grid(
        """
        ##.##
        .....
        """
    ).grid
    p = WindowPlanner(grid, window=8)
    starts = p.flat(np.array([(1, 0), (1, 4)]))
    goals = p.flat(np.array([(1, 4), (1, 0)]))
    res = solve_window(p, starts, goals, time_limit=5.0)
    assert res.status == "OPTIMAL"
    assert _conflicts(res.paths, p.nbr) == []
    assert (res.paths[:, -1] == goals).all()
    assert p.flat(np.array((0, 2))) in res.paths.ravel().tolist()  # somebody used the bay
    # Executed in the POGEMA simulator, the plan runs as planned: both reach their goals, nobody diverges.
    seq = SequenceGoalSource([[(1, 4), (1, 0)], [(1, 0), (1, 4)]])
    sim = Simulator(grid, np.array([(1, 0), (1, 4)]), seq, horizon=8, goals=seq.initial_goals())
    policy = WindowMILP(window=8, period=4, time_limit=5.0)
    ep = sim.run(policy)
    assert (ep.goals_reached >= 1).all()
    assert policy.stats.divergences == 0 and policy.stats.fallbacks == 0
    assert _conflicts(p.flat(ep.trajectory).T, p.nbr) == []


def test_tiny_time_limit_still_gives_a_conflict_free_plan() -> None:
    rng = np.random.default_rng(3)
    grid = (rng.random((7, 7)) < 0.15).astype(np.uint8)
    free = np.argwhere(grid == 0)
    cells = free[rng.choice(len(free), 8, replace=False)]
    p = WindowPlanner(grid, window=6)
    res = solve_window(p, p.flat(cells[:4]), p.flat(cells[4:]), time_limit=1e-3)
    assert res.status in ("OPTIMAL", "FEASIBLE", "fallback")
    assert _conflicts(res.paths, p.nbr) == []


def test_solver_output_passes_the_scorer() -> None:
    grid_map = parse_pogema_grid(
        """
        ......
        .#..#.
        ......
        ..#...
        """,
        name="tiny",
    )
    inst = make_instance(grid_map, agents=4, horizon=12, seed=1)
    solver = WindowMILPSolver(window=5, period=3, solve_time_limit=2.0)
    assert solver.supports(inst) is None
    sol = solver.solve(inst, seed=0)
    score = check(inst, sol)
    assert score.feasible, score.violations
    assert score.objective == sol.stats["simulated_throughput"] > 0
    stats = sol.stats["mapf_milp"]
    assert stats["replans"] >= 4 and stats["divergences"] == 0
    assert all(w["status"] in ("OPTIMAL", "FEASIBLE", "fallback") for w in stats["windows"])
