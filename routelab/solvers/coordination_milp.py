"""The exact baseline of the ``coordination`` kind (solver ``milp``): a disjunctive scheduling model on CP-SAT.

The model is the MILP of switchable action dependency graphs (Berndt et al., T-RO 2024) written for OR-Tools CP-SAT,
whose interval constraints replace big-M rows:

- one integer start time ``s_i`` per robot interval (times are scaled to integers, see below), with
  ``s_first(r) >= release_r`` and the precedence ``s_{i+1} >= s_i + d_i`` along every robot;
- every node conflict between intervals of positive duration is part of one ``NoOverlap`` constraint per roadmap
  node over the fixed-size intervals ``[s_i, s_i + d_i)`` of all the robots that use the node (a ``NoOverlap``
  holds exactly the pairwise disjunctions ``s_b >= s_a + d_a or s_a >= s_b + d_b``, one order per pair);
- every other conflict (the same edge in opposite directions, nodes within the safety distance, a goal interval of
  duration 0, or a conflict that may be driven in following mode) gets one Boolean ``x_c`` with the two
  half-reified constraints ``x_c => s_b >= s_a + w_ab`` and ``not x_c => s_a >= s_b + w_ba``;
- objective: minimise the sum of the robots' completion times ``s_last(r)`` (the mean times the robot count).

The orders are read off the solution's times (``a`` first when ``s_a + w_ab <= s_b``), which are consistent with
every chosen edge, so they are acyclic; the scorer then recomputes the earliest-start schedule of those orders,
which can only be as good or better. The search is warm-started (CP-SAT hints) with the dynamic FCFS schedule
improved by a short local search, so a timeout still returns at least that.

Honesty of the proof: ``status`` is ``optimal`` only when CP-SAT proved optimality, ``feasible`` otherwise.
``lower_bound`` is CP-SAT's best objective bound divided by the scale and the robot count, and ``gap`` is
``(objective - lower_bound) / objective``. Times are scaled by the smallest power of ten (up to 10^4) that makes
every travel and release time an integer; if none does, they are rounded down at scale 1000, the model is then a
relaxation (its bound stays valid) but its optimum need not be the instance's, so the status is never
``optimal`` in that case (``stats["exact_times"]`` is False).

Following mode is used when the instance enables it (``follow_gap`` not null): a followable conflict then has two
Booleans more (mode per orientation) and the solution reports ``modes``.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from routelab.problems import Solution
from routelab.problems.coordination import CoordinationInstance
from routelab.solvers.base import Stopwatch, ensure_supported, kind_reason
from routelab.solvers.coordination_heuristics import fcfs_dynamic, local_search
from routelab.solvers.results import scored_solution

DEFAULT_TIME_LIMIT = 60.0
MAX_SCALE_EXPONENT = 4


def time_scale(values: np.ndarray) -> tuple[int, bool]:
    """The smallest ``10^k`` (k <= 4) making every value an integer, and whether one exists (else 1000, False)."""
    for k in range(MAX_SCALE_EXPONENT + 1):
        scale = 10**k
        scaled = values * scale
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return scale, True
    return 1000, False


def pair_delay_cuts(
    inst: CoordinationInstance, earliest: np.ndarray, dur: np.ndarray, follow_gap: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Robot pairs ``(r, q)`` and a delay ``m > 0`` that ``r`` and ``q`` must share: ``D_r + D_q >= m``.

    ``D_r = C_r - F_r`` is robot ``r``'s delay over its free-flow completion, and an interval's start is delayed by
    at most its robot's delay (delays only grow along a path). A conflict between intervals ``a`` and ``b`` whose
    free-flow times overlap needs ``b`` delayed by ``e_a + d_a - e_b`` (``a`` first) or ``a`` by ``e_b + d_b -
    e_a``; either way the two robots' delays add up to at least the smaller. Per robot pair the largest such need
    is kept. (With following, the separation may be the gap instead of the duration; the smaller is used.)
    """
    cf = inst.conflicts
    a, b = cf["a"], cf["b"]
    sep_a, sep_b = dur[a].astype(np.int64), dur[b].astype(np.int64)
    if follow_gap is not None:
        follow = cf["followable"]
        sep_a = np.where(follow, np.minimum(sep_a, follow_gap), sep_a)
        sep_b = np.where(follow, np.minimum(sep_b, follow_gap), sep_b)
    need = np.minimum(earliest[a] + sep_a - earliest[b], earliest[b] + sep_b - earliest[a])
    keep = need > 0
    if not keep.any():
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64)
    robots = cf["robots"][keep]
    key = robots[:, 0] * inst.num_robots + robots[:, 1]
    order = np.lexsort((-need[keep], key))
    key_sorted = key[order]
    first = np.concatenate([[True], key_sorted[1:] != key_sorted[:-1]])
    pick = order[first]
    return robots[pick], need[keep][pick]


def delay_lp_bound(robots: int, pairs: np.ndarray, need: np.ndarray) -> float:
    """``min sum_r D_r`` subject to ``D_r + D_q >= m_rq`` and ``D >= 0`` (an LP, so a valid lower bound on the
    total delay; HiGHS through scipy)."""
    if len(need) == 0:
        return 0.0
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    rows = np.repeat(np.arange(len(need)), 2)
    a_ub = coo_matrix((-np.ones(2 * len(need)), (rows, pairs.ravel())), shape=(len(need), robots)).tocsr()
    res = linprog(np.ones(robots), A_ub=a_ub, b_ub=-need.astype(np.float64), bounds=(0, None), method="highs")
    if res.status != 0:
        return 0.0
    # The LP's dual bound is exact up to HiGHS's tolerance; shave it so that rounding never overstates the bound.
    return max(0.0, float(res.fun) - 1e-6 * max(1.0, abs(float(res.fun))))


class CoordinationMILP:
    """CP-SAT passing-order model (see the module doc); used by :class:`routelab.solvers.milp.MILPSolver`.

    Args:
        workers: CP-SAT search workers (1: deterministic and fair to one-core-per-job benches).
        warm_start_share: share of the time limit given to the FCFS + local-search warm start (at most 5 s).
        relative_gap: stop when ``(objective - bound) / objective`` is below this (0: prove optimality).
    """

    name = "milp"
    kinds = frozenset({"coordination"})
    needs = "a coordination instance (proves up to ~25-50 robots in a minute; larger ones report a bound and gap)"

    def __init__(self, workers: int = 1, warm_start_share: float = 0.1, relative_gap: float = 0.0) -> None:
        if int(workers) != workers or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        if not 0.0 <= float(warm_start_share) < 1.0:
            raise ValueError(f"warm_start_share must be in [0, 1), got {warm_start_share!r}")
        if not float(relative_gap) >= 0.0:
            raise ValueError(f"relative_gap must be >= 0, got {relative_gap!r}")
        self.workers = int(workers)
        self.warm_start_share = float(warm_start_share)
        self.relative_gap = float(relative_gap)

    def supports(self, instance: Any) -> str | None:
        return kind_reason(self, instance)

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        clock = Stopwatch()
        limit = DEFAULT_TIME_LIMIT if time_limit is None else max(0.0, float(time_limit))
        payload, stats = self._solve(instance, clock, limit, seed)
        solution = scored_solution(self.name, instance, payload, clock, stats)
        if solution.feasible and solution.objective is not None:
            lb = stats.get("lower_bound")
            if lb is not None and math.isfinite(lb):
                if stats["status"] == "optimal":
                    lb = min(lb, solution.objective)
                    stats["lower_bound"] = lb
                solution.stats["gap"] = (solution.objective - lb) / solution.objective if solution.objective else 0.0
        return solution

    # -- the model ------------------------------------------------------------------------------------
    def _solve(
        self, inst: CoordinationInstance, clock: Stopwatch, limit: float, seed: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        from ortools.sat.python import cp_model

        ev = inst.evaluator
        iv = inst.intervals
        cf = inst.conflicts
        robots = inst.num_robots
        stats: dict[str, Any] = {"robots": robots, "intervals": inst.num_intervals, "conflicts": inst.num_conflicts}

        # Warm start: dynamic FCFS, improved by local search for a slice of the budget.
        warm_deadline = clock.start + min(5.0, self.warm_start_share * limit)
        orders = fcfs_dynamic(inst)
        orders, warm_value, ls_stats = local_search(inst, orders, warm_deadline, np.random.default_rng(seed))
        warm_start, _ = ev.schedule(orders)
        stats["warm_start"] = {"objective": warm_value, "evaluations": ls_stats["evaluations"]}

        follow = inst.follow_gap is not None and bool(cf["followable"].any())
        values = np.concatenate([ev.duration, inst.release_times, [inst.follow_gap or 0.0]])
        scale, exact = time_scale(values)
        stats["time_scale"] = scale
        stats["exact_times"] = exact

        def scaled(x: np.ndarray) -> np.ndarray:
            y = np.asarray(x, dtype=np.float64) * scale
            return np.round(y).astype(np.int64) if exact else np.floor(y + 1e-9).astype(np.int64)

        dur = scaled(ev.duration)
        release = scaled(inst.release_times)
        gap = int(scaled(np.array([inst.follow_gap or 0.0]))[0])
        # Earliest starts (free flow) and a horizon every start of some optimal schedule fits: a robot completes
        # no later than the warm start's total minus every other robot's free-flow completion.
        csum = np.concatenate([[0], np.cumsum(dur)])
        offsets = inst.path_offsets
        earliest = release[iv["robot"]] + csum[:-1] - csum[offsets[:-1]][iv["robot"]]
        free_completion = earliest[iv["last"]]
        warm_total = math.ceil(float(warm_start[iv["last"]].sum()) * scale + 1e-6)
        horizon = warm_total - int(free_completion.sum()) + int(free_completion.max()) + int(dur.max()) + 1

        model = cp_model.CpModel()
        n = inst.num_intervals
        s = [model.NewIntVar(int(earliest[i]), horizon, f"s{i}") for i in range(n)]
        for i in np.flatnonzero(~iv["is_last"]).tolist():
            model.Add(s[i + 1] >= s[i] + int(dur[i]))

        a_arr, b_arr = cf["a"], cf["b"]
        node = iv["node"]
        positive = dur > 0
        same_node = node[a_arr] == node[b_arr]
        followable = cf["followable"] if follow else np.zeros(len(a_arr), dtype=bool)
        in_no_overlap = same_node & positive[a_arr] & positive[b_arr] & ~followable
        # NoOverlap per node over the intervals of that node's node-conflicts.
        members: dict[int, set[int]] = {}
        for a, b in zip(a_arr[in_no_overlap].tolist(), b_arr[in_no_overlap].tolist(), strict=True):
            v = int(node[a])
            members.setdefault(v, set()).update((a, b))
        intervals: dict[int, Any] = {}
        for ids in members.values():
            for i in ids:
                if i not in intervals:
                    intervals[i] = model.NewFixedSizeIntervalVar(s[i], int(dur[i]), f"I{i}")
            model.AddNoOverlap([intervals[i] for i in sorted(ids)])
        stats["no_overlap_nodes"] = len(members)

        explicit = np.flatnonzero(~in_no_overlap)
        bools: dict[int, Any] = {}
        modes: dict[int, Any] = {}
        for c in explicit.tolist():
            a, b = int(a_arr[c]), int(b_arr[c])
            x = model.NewBoolVar(f"x{c}")
            bools[c] = x
            if followable[c]:
                m = model.NewBoolVar(f"m{c}")
                modes[c] = m
                model.Add(s[b] >= s[a] + int(dur[a])).OnlyEnforceIf([x, m.Not()])
                model.Add(s[b] >= s[a] + gap).OnlyEnforceIf([x, m])
                model.Add(s[a] >= s[b] + int(dur[b])).OnlyEnforceIf([x.Not(), m.Not()])
                model.Add(s[a] >= s[b] + gap).OnlyEnforceIf([x.Not(), m])
            else:
                model.Add(s[b] >= s[a] + int(dur[a])).OnlyEnforceIf(x)
                model.Add(s[a] >= s[b] + int(dur[b])).OnlyEnforceIf(x.Not())
        stats["explicit_conflicts"] = len(bools)
        last = iv["last"].tolist()
        # Pair cuts (valid for every order, see pair_delay_cuts): they put the delay bound into CP-SAT's LP.
        robot_pairs, need = pair_delay_cuts(inst, earliest, dur, gap if follow else None)
        for (r, q), m in zip(robot_pairs.tolist(), need.tolist(), strict=True):
            model.Add(s[last[r]] + s[last[q]] >= int(free_completion[r] + free_completion[q]) + int(m))
        pair_bound = (float(free_completion.sum()) + delay_lp_bound(robots, robot_pairs, need)) / scale / robots
        stats["pair_cuts"] = len(need)
        stats["pair_bound"] = pair_bound
        model.Minimize(sum(s[i] for i in last))

        # Hints: the warm start's schedule (scaled; rounded up so the hinted times stay consistent).
        hint = np.ceil(warm_start * scale - 1e-6).astype(np.int64) if exact else scaled(warm_start)
        for i in range(n):
            model.AddHint(s[i], int(hint[i]))
        for c, x in bools.items():
            model.AddHint(x, bool(orders[c] == 0))
        for m in modes.values():
            model.AddHint(m, False)

        solver = cp_model.CpSolver()
        left = max(0.01, limit - clock.elapsed())
        solver.parameters.max_time_in_seconds = left
        solver.parameters.num_search_workers = self.workers
        solver.parameters.random_seed = int(seed)
        solver.parameters.relative_gap_limit = self.relative_gap
        build_s = clock.elapsed()
        t0 = time.perf_counter()
        status = solver.Solve(model)
        stats["build_s"] = round(build_s, 3)
        stats["solve_s"] = round(time.perf_counter() - t0, 3)
        stats["cpsat_status"] = solver.StatusName(status)
        bound = float(solver.BestObjectiveBound()) if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            times = np.array([solver.Value(v) for v in s], dtype=np.int64)
            mode_bits = np.zeros(len(a_arr), dtype=np.int8)
            for c, m in modes.items():
                mode_bits[c] = int(solver.Value(m))
            w_ab = np.where(mode_bits == 1, gap, dur[a_arr])
            new_orders = np.where(times[a_arr] + w_ab <= times[b_arr], 0, 1).astype(np.int8)
            stats["cpsat_objective"] = float(solver.ObjectiveValue()) / scale / robots
            proven = status == cp_model.OPTIMAL and exact and self.relative_gap == 0.0
            stats["status"] = "optimal" if proven else "feasible"
            payload: dict[str, Any] = {"orders": new_orders.astype(np.int64).tolist()}
            if modes:
                payload["modes"] = mode_bits.astype(np.int64).tolist()
        else:
            # No CP-SAT solution in time: the warm start is still a valid, honest answer (never called optimal).
            stats["status"] = "feasible"
            stats["incumbent"] = "warm_start"
            payload = {"orders": orders.astype(np.int64).tolist()}
            if status == cp_model.INFEASIBLE:  # impossible for a well-formed instance: the warm start is feasible
                stats["cpsat_note"] = "CP-SAT reported INFEASIBLE although the warm start is feasible"
        # Every robot completes no earlier than its free-flow time, a bound CP-SAT's normally beats; rounding down
        # (inexact times) keeps CP-SAT's bound a relaxation's, hence valid.
        # The pair-delay LP bound is valid whatever CP-SAT proves; report the better of the two.
        if bound is not None and bound / scale / robots >= pair_bound:
            stats["lower_bound"] = bound / scale / robots
        else:
            stats["lower_bound"] = pair_bound
            stats["bound_source"] = "pair_delay_lp"
        return payload, stats
