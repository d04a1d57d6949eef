"""Windowed exact baseline: one joint CP-SAT model per replan, optimal for all agents inside the window.

RHCR (:mod:`routelab.mapf.rhcr`) resolves the collisions of a window by prioritised planning, which is fast but
neither complete nor optimal. This module replaces the prioritised step by one *joint* optimisation over a
time-expanded graph, under the same rolling-horizon scheme: every ``period`` steps it solves for the next
``window`` steps, executes the first ``period`` of them, and replans earlier if the executed positions leave the
plan. What it measures is where exact windowed planning stops scaling.

Model (per replan, ``w`` = window, ``p_a`` / ``g_a`` the agent's cell and goal, ``N+(u)`` = ``u`` and its free
4-neighbours):

- only move variables: boolean ``y[a, u, v, t]`` ("agent ``a`` goes ``u -> v`` during step ``t -> t + 1``",
  ``v`` in ``N+(u)``, ``t = 0..w-1``); occupancy is the linear expression ``x[a, v, t + 1] = sum_u y[a, u, v, t]``,
  so no separate ``x`` variables are needed;
- radius pruning: ``y[a, u, ., t]`` exists only when ``dist(p_a, u) <= t`` (the model is built by expanding the
  reachable cells forward one step at a time, which is a BFS from ``p_a``). Without it every
  agent would get ``5 * cells * w`` variables (about 46k per agent on a 32 x 32 map at ``w = 10``); with it an
  agent gets about ``5 * sum_t (2 t^2 + 2 t + 1)`` on an open map (under 3.4k at ``w = 10``);
- flow: ``sum_v y[a, p_a, v, 0] = 1`` and for ``t >= 1``, ``in(a, v, t) = out(a, v, t)`` at every reachable cell,
  so every agent is on exactly one cell at every ``t`` and moves only to a 4-neighbour or stays;
- vertex capacity: ``sum_a x[a, v, t] <= 1`` (written only where two agents can meet);
- no swaps, edge form: ``sum_a y[a, u, v, t] + y[a, v, u, t] <= 1`` for each undirected edge ``{u, v}`` (again
  only where two agents can both use it). Following into a cell vacated in the same step and rotations of three
  or more agents stay allowed, exactly as in the simulator's soft-collision rule, so a plan executes as planned;
- objective: ``sum_a [ (w - #steps in which a waits on g_a) + dist(x_a(w), g_a) ]``. The tail term, the true BFS
  distance from the cell reached at ``w`` to the goal ignoring everybody, is what makes a windowed plan make
  progress: without it the best window plan is to stand still whenever the goal is farther than ``w``. The
  first term charges every step except waiting on the goal, so arriving earlier is strictly better (the
  simulator counts a goal the step the agent stands on it and then hands out the next one) and an agent parks on
  its goal once there. Together this is exactly the cost RHCR's space-time A* gives each path (``g + dist``), so
  the joint optimum is a lower bound on what prioritised planning can achieve for the same window, and the
  prioritised plan (computed anyway as the warm start, see below) gives its gap for free.

Cost pruning (exact): the agent alone needs ``lb_a = dist(p_a, g_a)`` and a path through cell ``u`` costs at
least ``dist(p_a, u) + dist(u, g_a)``. With ``UB`` the cost of the warm start and ``slack = UB - sum_a lb_a``, any
solution at least as good as the warm start keeps every agent within ``lb_a + slack``, so cells with
``dist(p_a, u) + dist(u, g_a) > lb_a + slack`` get no variables (the MDD pruning of ICTS / SAT-based MAPF). At low
density the slack is a few steps and the model shrinks several-fold; ``sum_a lb_a`` is also added as a (redundant)
objective bound, and when the warm start meets it (``slack == 0``) it is optimal and CP-SAT is not called.

Solving: CP-SAT with ``num_workers = 1`` (comparable timings, deterministic up to the time limit),
``linearization_level = 2`` (the LP relaxation of these flow models is nearly tight; at level 1 the
single-worker search does not close a 2-step gap in 10 s at 16 agents, at level 2 it proves optimality in
under 1 s) and a time limit per window. A complete, feasible hint is always given: RHCR's prioritised plan when it
finds a path for everybody, else "everybody waits", which is always feasible (starts are distinct and nobody
moves). If CP-SAT has no solution at the time limit (it can stop inside presolve on big windows), the hint is
executed instead and the window is recorded as a fallback; that is the "everybody waits" plan unless prioritised
planning succeeded, in which case waiting would be a strictly worse conflict-free plan. Each window records its
status (OPTIMAL / FEASIBLE / fallback), objective, bound, gap, model size and build/solve times in
:class:`WindowMILPStats`.

Goals that change mid-window (an agent reaching its goal gets the next one from the simulator) are not
replanned by default: the agent parks on the reached goal until the next period, which keeps the number of joint
solves at one per period. ``replan_on_goal=True`` re-solves the whole window whenever any goal changed (one
joint solve per step at higher agent counts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from ortools.sat.python import cp_model

from routelab.mapf.rhcr import WindowPlanner

if TYPE_CHECKING:
    from routelab.mapf.sim import Simulator


@dataclass
class WindowSolve:
    """Result of one joint window solve (:func:`solve_window`)."""

    paths: np.ndarray
    """(A, w + 1) flat cells ``r * W + c``; row ``a`` is agent ``a`` over the window (``t = 0..w``)."""
    status: str
    """``"OPTIMAL"``, ``"FEASIBLE"`` or ``"fallback"`` (no solution at the time limit: the hint is executed)."""
    objective: float
    """Model objective of :attr:`paths` (see the module docstring); the hint's cost for a fallback."""
    bound: float
    """Best lower bound: CP-SAT's, or ``sum_a dist(p_a, g_a)`` when larger or when CP-SAT found nothing."""
    num_vars: int
    num_constraints: int
    build_s: float
    solve_s: float
    hint: str
    """Where the warm start came from: ``"pp"`` (prioritised planning found all paths) or ``"wait"``."""
    hint_objective: float
    """Objective of the hint (the prioritised plan's cost when ``hint == "pp"``)."""
    solved_by: str = "cp-sat"
    """``"bound"`` when the hint met the lower bound ``sum_a dist(p_a, g_a)`` and CP-SAT was not called."""

    @property
    def gap(self) -> float:
        """Relative gap ``(objective - bound) / max(1, objective)``; 0 when proven optimal."""
        return max(0.0, self.objective - self.bound) / max(1.0, abs(self.objective))


def _path_cost(path: np.ndarray, goal: int, dgoal: np.ndarray) -> int:
    """The model's cost of one (w + 1,) flat path: every step except waiting on ``goal``, plus the tail distance."""
    w = len(path) - 1
    parked = int(np.count_nonzero((path[:-1] == goal) & (path[1:] == goal)))
    return w - parked + int(dgoal[path[-1]])


def solve_window(
    planner: WindowPlanner,
    starts: np.ndarray,
    goals: np.ndarray,
    time_limit: float = 2.0,
    hint_paths: np.ndarray | None = None,
    seed: int = 0,
    linearization: int = 2,
) -> WindowSolve:
    """Solve the joint window problem for flat ``starts``/``goals`` on ``planner``'s grid and window.

    ``planner`` supplies the neighbour table, the window length and the cached goal distance maps.
    ``hint_paths`` ((A, w + 1) flat, conflict-free) is the warm start; ``None`` hints "everybody waits".
    """
    t_build = time.perf_counter()
    nbr = planner.nbr
    w = planner.window
    starts = np.asarray(starts, dtype=np.int64)
    goals = np.asarray(goals, dtype=np.int64)
    n_agents = len(starts)
    hint = "pp"
    if hint_paths is None:
        hint = "wait"
        hint_paths = np.repeat(starts[:, None], w + 1, axis=1)

    # Upper bound from the hint and a per-agent lower bound (the agent alone needs dist(start, goal): it either
    # arrives within the window and parks for free, or pays every step plus the remaining distance).
    dgoals = [planner.distances(int(g)) for g in goals]
    lbs = [int(dgoals[a][starts[a]]) for a in range(n_agents)]
    hint_costs = [_path_cost(hint_paths[a], int(goals[a]), dgoals[a]) for a in range(n_agents)]
    hint_obj = sum(hint_costs)
    lower = sum(lbs)
    slack = hint_obj - lower

    model = cp_model.CpModel()
    # Per (t + 1, v): occupancy literals of every agent; per (t, edge): move literals in both directions.
    vertex: dict[tuple[int, int], list[tuple[int, Any]]] = {}
    edges: dict[tuple[int, int, int], list[tuple[int, Any]]] = {}
    obj_vars: list[Any] = []
    obj_coefs: list[int] = []
    hint_vars: list[Any] = []
    hint_vals: list[int] = []
    num_vars = 0
    num_cons = 0
    y_by_agent: list[dict[tuple[int, int, int], Any]] = []
    for a in range(n_agents):
        s, g = int(starts[a]), int(goals[a])
        dgoal = dgoals[a]
        dstart = planner.distances(s)
        # A path through cell u costs at least dist(s, u) + dist(u, g); a solution no worse than the hint leaves
        # each agent at most `slack` above its lower bound, so cells outside that ellipse cannot be optimal.
        ok = (dstart + dgoal) <= lbs[a] + slack
        hp = hint_paths[a]
        y: dict[tuple[int, int, int], Any] = {}
        inflow: dict[int, list[Any]] = {s: []}  # cells occupied at t (as the in-flow of step t - 1)
        for t in range(w):
            outflow: dict[int, list[Any]] = {}
            nxt: dict[int, list[Any]] = {}
            for u in inflow:
                outs = []
                for v in nbr[u].tolist():
                    if v < 0 or not ok[v]:
                        continue
                    var = model.new_bool_var("")
                    y[t, u, v] = var
                    outs.append(var)
                    nxt.setdefault(v, []).append(var)
                    hint_vars.append(var)
                    hint_vals.append(int(hp[t] == u and hp[t + 1] == v))
                    if u != v:
                        key = (t, u, v) if u < v else (t, v, u)
                        edges.setdefault(key, []).append((a, var))
                    elif u == g:
                        obj_vars.append(var)
                        obj_coefs.append(-1)
                    if t == w - 1 and dgoal[v] > 0:
                        obj_vars.append(var)
                        obj_coefs.append(int(dgoal[v]))
                outflow[u] = outs
            num_vars += sum(len(o) for o in outflow.values())
            if t == 0:
                model.add_exactly_one(outflow[s])
                num_cons += 1
            else:
                for u, outs in outflow.items():
                    model.add(cp_model.LinearExpr.sum(inflow[u]) == cp_model.LinearExpr.sum(outs))
                    num_cons += 1
            for v, ins in nxt.items():
                vertex.setdefault((t + 1, v), []).append((a, ins))
            inflow = nxt  # the cells within t + 1 steps of the start: the forward expansion is the BFS pruning
        y_by_agent.append(y)

    for entries in vertex.values():
        if len(entries) > 1:
            model.add(cp_model.LinearExpr.sum([var for _, ins in entries for var in ins]) <= 1)
            num_cons += 1
    for entries in edges.values():
        if len({a for a, _ in entries}) > 1:
            model.add_at_most_one(var for _, var in entries)
            num_cons += 1
    objective_expr = cp_model.LinearExpr.weighted_sum(obj_vars, obj_coefs) + w * n_agents
    model.add(objective_expr >= lower)  # redundant, but gives the single-worker search the bound at once
    num_cons += 1
    model.minimize(objective_expr)
    for var, val in zip(hint_vars, hint_vals, strict=True):
        model.add_hint(var, val)
    build_s = time.perf_counter() - t_build

    paths = np.array(hint_paths, dtype=np.int64, copy=True)
    if slack == 0:  # the hint meets the lower bound: it is optimal, nothing left to search
        return WindowSolve(
            paths,
            "OPTIMAL",
            float(hint_obj),
            float(lower),
            num_vars,
            num_cons,
            build_s,
            0.0,
            hint,
            float(hint_obj),
            "bound",
        )
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.random_seed = int(seed)
    solver.parameters.linearization_level = linearization
    t_solve = time.perf_counter()
    code = solver.solve(model)
    solve_s = time.perf_counter() - t_solve

    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        status = "OPTIMAL" if code == cp_model.OPTIMAL else "FEASIBLE"
        paths[:, 1:] = starts[:, None]
        for a in range(n_agents):
            for (t, u, v), var in y_by_agent[a].items():
                if u == paths[a, t] and solver.boolean_value(var):
                    paths[a, t + 1] = v
        objective, bound = float(solver.objective_value), max(float(solver.best_objective_bound), float(lower))
    else:  # no solution at the time limit (it can stop inside presolve): execute the conflict-free hint
        status = "fallback"
        objective, bound = float(hint_obj), float(lower)
    return WindowSolve(
        paths, status, objective, bound, num_vars, num_cons, build_s, solve_s, hint, float(hint_obj), "cp-sat"
    )


@dataclass
class WindowMILPStats:
    """Counters of one episode (reset when the simulator restarts at ``t = 0``)."""

    replans: int = 0
    optimal: int = 0
    feasible: int = 0
    fallbacks: int = 0
    """Windows where CP-SAT had no solution at the time limit; the (conflict-free) hint was executed instead."""
    bound_proofs: int = 0
    """Optimal windows proven without CP-SAT: the prioritised plan met the lower bound ``sum_a dist(p_a, g_a)``."""
    divergences: int = 0
    """Replans triggered early because executed positions left the plan (should stay 0: plans are conflict-free)."""
    goal_replans: int = 0
    """Early replans because a goal changed (``replan_on_goal`` only)."""
    plan_time: float = 0.0
    max_plan_time: float = 0.0
    windows: list[dict[str, Any]] = field(default_factory=list)
    """Per window: ``t``, ``status``, ``objective``, ``bound``, ``gap``, ``vars``, ``constraints``, ``build_s``,
    ``solve_s``, ``hint``, ``hint_objective``, ``solved_by``."""

    @property
    def optimal_fraction(self) -> float:
        return self.optimal / self.replans if self.replans else 0.0


class WindowMILP:
    """Windowed joint-optimisation policy for :meth:`routelab.mapf.Simulator.run`: ``policy(sim) -> (A,) actions``.

    ``window`` (w, default 8): steps optimised jointly. ``period`` (h, default 4, ``h <= w``): steps executed
    between replans. ``time_limit``: CP-SAT seconds per window (default 2.0; the model build comes on top).
    ``pp_hint`` (default True): warm-start from a prioritised plan (cheap, and makes the reported gap of PP
    meaningful). ``replan_on_goal`` (default False): re-solve as soon as any goal changes. ``seed``: CP-SAT's seed.
    """

    def __init__(
        self,
        window: int = 8,
        period: int = 4,
        time_limit: float = 2.0,
        pp_hint: bool = True,
        replan_on_goal: bool = False,
        seed: int = 0,
    ) -> None:
        if period < 1 or window < period:
            raise ValueError("need 1 <= period <= window")
        if time_limit <= 0:
            raise ValueError("time_limit must be > 0")
        self.window = int(window)
        self.period = int(period)
        self.time_limit = float(time_limit)
        self.pp_hint = bool(pp_hint)
        self.replan_on_goal = bool(replan_on_goal)
        self.seed = int(seed)
        self.planner: WindowPlanner | None = None
        self.stats = WindowMILPStats()
        self._plan: np.ndarray | None = None
        self._plan_t0 = 0
        self._plan_goals = np.empty(0, dtype=np.int64)

    def _bind(self, grid: np.ndarray) -> None:
        """(Re)build the planner only when the grid changes, keeping the goal distance cache across episodes."""
        p = self.planner
        if p is None or p.grid.shape != grid.shape or not np.array_equal(p.grid, grid != 0):
            self.planner = WindowPlanner(grid, self.window)

    def replan(self, starts: np.ndarray, goals: np.ndarray, t: int = 0) -> WindowSolve:
        """One joint window solve from flat ``starts`` to flat ``goals``; records it in :attr:`stats`."""
        p = self.planner
        assert p is not None
        t0 = time.perf_counter()
        hint = None
        if self.pp_hint:
            d = np.array([p.distances(int(g))[int(s)] for s, g in zip(starts, goals, strict=True)])
            pp = p.plan_all(starts, goals, np.lexsort((np.arange(len(starts)), -d)))
            hint = None if pp.failed.any() else pp.paths
        res = solve_window(p, starts, goals, self.time_limit, hint, self.seed)
        dt = time.perf_counter() - t0
        s = self.stats
        s.replans += 1
        s.optimal += res.status == "OPTIMAL"
        s.feasible += res.status == "FEASIBLE"
        s.fallbacks += res.status == "fallback"
        s.bound_proofs += res.solved_by == "bound"
        s.plan_time += dt
        s.max_plan_time = max(s.max_plan_time, dt)
        s.windows.append(
            {
                "t": t,
                "status": res.status,
                "objective": res.objective,
                "bound": res.bound,
                "gap": res.gap,
                "vars": res.num_vars,
                "constraints": res.num_constraints,
                "build_s": res.build_s,
                "solve_s": res.solve_s,
                "hint": res.hint,
                "hint_objective": res.hint_objective,
                "solved_by": res.solved_by,
            }
        )
        return res

    def __call__(self, sim: Simulator) -> np.ndarray:
        """Next joint action; replans every ``period`` steps, at ``t = 0`` and when execution left the plan."""
        if sim.t == 0 or self.planner is None:
            self._bind(sim.grid)
            self.stats = WindowMILPStats()
            self._plan = None
        p = self.planner
        assert p is not None
        pos = p.flat(sim.positions)
        goals = p.flat(sim.goals)
        k = sim.t - self._plan_t0
        plan = self._plan
        need = plan is None or k >= self.period or sim.t == 0
        if not need and not np.array_equal(plan[:, k], pos):
            need = True
            self.stats.divergences += 1
        if not need and self.replan_on_goal and not np.array_equal(goals, self._plan_goals):
            need = True
            self.stats.goal_replans += 1
        if need:
            plan = self._plan = self.replan(pos, goals, sim.t).paths
            self._plan_goals = goals
            self._plan_t0 = sim.t
            k = 0
        assert plan is not None
        u, v = plan[:, k], plan[:, k + 1]
        hit = p.nbr[u, 1:] == v[:, None]
        return np.where(u == v, 0, np.argmax(hit, axis=1) + 1).astype(np.int64)
