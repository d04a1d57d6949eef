"""``milp``: exact mixed-integer programming with the open HiGHS solver, the ground-truth baseline of the boards.

Every answer carries an honest proof state in ``stats``: ``status`` is ``"optimal"`` only when the bound meets the
returned solution, ``"feasible"`` when time ran out with a valid but unproven answer, ``"timeout_no_solution"``
when nothing valid was found, ``"infeasible"`` when HiGHS proved that no solution exists. ``lower_bound`` is the
best bound proven (rounded up for integral instances), ``gap`` is ``(objective - lower_bound) / objective``.

TSP and ATSP (any size the dense model fits, see ``max_tsp_nodes``) -- Dantzig-Fulkerson-Johnson, lazily:

- symmetric: ``x_e`` in {0, 1} for every edge ``i < j``, ``min sum c_e x_e``, ``x(delta(v)) = 2`` for every city;
  asymmetric: ``x_ij`` in {0, 1} for every arc, out-degree 1 and in-degree 1 at every city;
- subtour elimination ``x(E(S)) <= |S| - 1`` (``x(A(S))`` for arcs, ``S`` the smaller side of the cut), added only
  when violated, in two phases:

  1. root cutting planes: the LP relaxation is solved and violated cuts are separated exactly -- connected
     components of the support graph, else every phase cut of a Stoer-Wagner minimum cut on ``x_ij + x_ji`` whose
     value is below 2 -- until none is violated (the subtour-LP, i.e. Held-Karp, bound);
  2. row generation around HiGHS MIP solves (HiGHS 1.16 has no working lazy-constraint callback): each cycle of the
     integer solution, and of every incumbent HiGHS met on the way (a solution callback), becomes a cut, and the
     MIP is solved again until its optimum is a single tour.

  Any relaxation with fewer cuts is still a relaxation of the TSP, so each MIP's dual bound is a valid lower bound
  and the best of them is reported even when time runs out mid-loop. The incumbent (a nearest-neighbour tour
  improved by 2-opt and Or-opt, and each MIP's subtours patched into a tour and improved the same way) is given
  to HiGHS as a start, so HiGHS prunes with it and a timeout still returns the best tour seen.

CVRP and CVRPTW (small: at most ``max_nodes`` customers; ``k`` integer is the number of routes, between
``ceil(sum d / Q)`` and ``num_vehicles``, or the number of customers when the fleet is unlimited):

- symmetric CVRP, the two-index (undirected) model: ``x_e`` in {0, 1} for customer pairs whose demands fit one
  vehicle together, ``x_0j`` in {0, 1, 2} (2 is a one-customer route); ``x(delta(i)) = 2`` at every customer,
  ``x(delta(0)) = 2k``; objective total distance; capacity and connectivity come only from the rounded capacity
  inequalities ``x(delta(S)) >= 2 r(S)``, ``r(S) = max(1, ceil(d(S) / Q))`` (written as
  ``x(E(S)) <= |S| - r(S)`` when that is sparser), which are separated lazily;
- asymmetric CVRP and every CVRPTW, a compact directed arc-flow model: ``x_ij`` in {0, 1} for arcs that can be
  used at all (arcs between customers whose demands together exceed the capacity, or that cannot be driven inside
  the time windows, are left out); in- and out-degree 1 at every customer and ``k`` at the depot; loads
  ``d_i <= u_i <= Q`` with the lifted Miller-Tucker-Zemlin constraints of Desrochers and Laporte,
  ``u_i - u_j + Q x_ij + (Q - d_i - d_j) x_ji <= Q - d_j``, and Kara's bounds ``u_i >= d_i + sum_j d_j x_ji``,
  ``u_i <= Q - sum_j d_j x_ij``, ``u_i <= Q - (Q - d_i) x_0i``; CVRPTW adds service starts
  ``max(a_i, a_0) <= t_i <= b_i`` with big-M precedences ``t_j >= t_i + s_i + tau_ij - M_ij (1 - x_ij)``,
  ``M_ij = b_i + s_i + tau_ij - a_j`` (the tightest M the windows allow), ``t_j >= a_0 + tau_0j x_0j`` and
  ``t_i + s_i + tau_i0 <= b_0 + M_i0 (1 - x_i0)`` -- vehicles leave the depot at its opening time and may wait,
  as the scorer assumes; durations need not obey the triangle inequality, so windows are not tightened further.
  The same capacity inequalities (``x(delta^-(S)) >= r(S)``) strengthen it and remove the customer-only cycles
  that MTZ cannot forbid when demands are zero.

Both are solved like the TSP: root LP rounds separating capacity inequalities heuristically (connected components
of the support graph, and sets grown greedily from every customer along their strongest LP connections), then
HiGHS MIP solves, each violated set of an integer solution (a customer-only cycle, an overloaded route and the
shortest overloaded stretch of it from every position) becoming a cut for the next solve. Exactness rests on the
integer check, not on the heuristic separation. Incumbents come from Clarke-Wright savings and nearest neighbour,
improved by relocate and swap moves, and from repairing each MIP's solution (its valid routes kept, the rest
reinserted cheapest-first).

Reduced-cost fixing: after each root LP, a 0/1 column whose LP reduced cost lifts the bound above the incumbent
is fixed, since no better solution uses (or omits) it. A solution that uses a fixed column then costs more than
that incumbent, so from then on a relaxation bound is reported only up to the incumbent's length.

Costs are not scaled (HiGHS works in floats). When every length is an integer the objective is too, so HiGHS stops
at an absolute gap below 1 (``mip_abs_gap = 1 - 1e-6``) with ``mip_rel_gap = 0``; otherwise both gaps are tiny.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from itertools import permutations
from typing import Any

import highspy
import numpy as np

from routelab.problems import Solution, score_payload
from routelab.solvers.base import Stopwatch, ensure_supported, kind_reason

DEFAULT_MAX_NODES = 50
"""Largest cvrp/cvrptw (customers) accepted by default. In ~30 s on 2 cores it proves random uniform CVRPs of 20
customers (half of those with 25-30), Solomon's 25- and 50-customer C1/R1/RC1/C201/R201/RC201 instances (tight
windows), but not wide-window ones such as R103/R104/RC202 at 25 customers; larger instances get an honest
"feasible" with a bound."""

DEFAULT_MAX_TSP_NODES = 1500
"""Largest TSP accepted by default: the dense model has n(n-1)/2 columns (about 1.1 M at 1,500 cities)."""

_EPS = 1e-6
_INF = highspy.kHighsInf
_BANNER_SILENCED = False


def _new_highs() -> highspy.Highs:
    """A Highs object with its output off; the one-off banner of the first construction goes to /dev/null.

    HiGHS prints its copyright banner from the C++ constructor, before any option can be set, so the first
    construction in a process runs with file descriptor 1 pointed at /dev/null.
    """
    global _BANNER_SILENCED
    if _BANNER_SILENCED:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_SILENCED = True
    h.setOptionValue("output_flag", False)
    return h


# -- a thin layer over highspy ------------------------------------------------------------------------------------


@dataclass
class _Result:
    """One HiGHS run: ``status`` is ``optimal``, ``infeasible`` or ``limit``; ``bound`` is a valid lower bound."""

    status: str
    x: np.ndarray | None
    objective: float
    bound: float
    incumbents: list[np.ndarray] = field(default_factory=list)
    reduced_costs: np.ndarray | None = None


class _Model:
    """A HiGHS model grown column- and row-wise, solved as an LP or a MIP with a shared deadline."""

    def __init__(
        self,
        *,
        threads: int | None,
        seed: int,
        integral: bool,
        mip_rel_gap: float,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.h = _new_highs()
        self.threads = threads
        self.integral = integral
        self.num_cols = 0
        self.integer_cols: np.ndarray = np.zeros(0, dtype=np.int32)
        self.costs = np.zeros(0)
        self.inconsistent_runs = 0
        self.cold_lp_time = 0.0
        self._incumbents: list[np.ndarray] = []
        self._collect = False
        h = self.h
        h.setOptionValue("random_seed", int(seed) % 2_147_483_647)
        h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
        # Integral costs: any solution within < 1 of the bound is optimal. Float costs: HiGHS's default abs gap.
        h.setOptionValue("mip_abs_gap", 1.0 - 1e-6 if integral else 1e-6)
        if threads is not None:
            h.setOptionValue("threads", int(threads))
        for key, value in (options or {}).items():
            if h.setOptionValue(key, value) != highspy.HighsStatus.kOk:
                raise ValueError(f"HiGHS rejects option {key}={value!r}")
        self.presolve = str(h.getOptionValue("presolve")[1])
        self.mip_rel_gap = float(mip_rel_gap)
        h.cbMipSolution.subscribe(self._on_solution)

    def _on_solution(self, event: Any) -> None:
        """Keep every incumbent of a MIP run: each one that breaks a lazy constraint yields cuts.

        (Stopping the run at the first such incumbent and re-solving was tried: it needs many more rounds and
        proves less in the same time on kroA200 and 25-40 customer CVRPs.)
        """
        if self._collect:
            self._incumbents.append(np.array(event.data_out.mip_solution, dtype=np.float64)[: self.num_cols])

    def add_cols(self, cost: np.ndarray, lower: np.ndarray, upper: np.ndarray, *, integer: bool) -> np.ndarray:
        """Add columns; returns their indices."""
        m = len(cost)
        empty = np.zeros(0, dtype=np.int32)
        self.h.addCols(
            m,
            np.asarray(cost, dtype=np.float64),
            np.asarray(lower, dtype=np.float64),
            np.asarray(upper, dtype=np.float64),
            0,
            empty,
            empty,
            np.zeros(0),
        )
        idx = np.arange(self.num_cols, self.num_cols + m, dtype=np.int32)
        self.num_cols += m
        self.costs = np.r_[self.costs, np.asarray(cost, dtype=np.float64)]
        if integer:
            self.integer_cols = np.concatenate([self.integer_cols, idx])
        return idx

    def add_rows(self, rows: list[tuple[np.ndarray, np.ndarray, float, float]]) -> None:
        """Add rows given as ``(columns, coefficients, lower, upper)``."""
        if not rows:
            return
        starts = np.zeros(len(rows), dtype=np.int32)
        pos = 0
        for r, (cols, _, _, _) in enumerate(rows):
            starts[r] = pos
            pos += len(cols)
        index = np.concatenate([np.asarray(c, dtype=np.int32) for c, _, _, _ in rows])
        value = np.concatenate([np.asarray(v, dtype=np.float64) for _, v, _, _ in rows])
        lower = np.array([lo for _, _, lo, _ in rows], dtype=np.float64)
        upper = np.array([hi for _, _, _, hi in rows], dtype=np.float64)
        self.h.addRows(len(rows), lower, upper, len(index), starts, index, value)

    def set_integrality(self, integer: bool) -> None:
        cols = self.integer_cols
        if len(cols) == 0:
            return
        kind = highspy.HighsVarType.kInteger if integer else highspy.HighsVarType.kContinuous
        self.h.changeColsIntegrality(len(cols), cols, np.full(len(cols), kind))

    def set_bounds(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        cols = np.asarray(cols, dtype=np.int32)
        self.h.changeColsBounds(len(cols), cols, np.asarray(lower, np.float64), np.asarray(upper, np.float64))

    def set_start(self, values: np.ndarray) -> None:
        """A complete MIP start (HiGHS checks it and keeps it as the incumbent when feasible)."""
        self.h.setSolution(self.num_cols, np.arange(self.num_cols, dtype=np.int32), np.asarray(values, float))

    def solve(self, time_left: float | None, *, mip: bool) -> _Result:
        """One LP or MIP run within ``time_left`` seconds (None: no limit), checked before it is believed.

        HiGHS 1.16 has two MIP failure modes seen here, both with presolve and a MIP start: it can end "optimal"
        at a bound below the solution it returns, after accepting an incumbent that fails its postsolve check
        (logged as "untransformed violations"); and it can lose the objective offset of the presolved model,
        reporting the start's objective minus that offset as both solution value and (wrong) bound. A run whose
        reported objective is not the cost of its solution, or that claims optimality with an open gap, is
        repeated once without presolve; if that is still inconsistent, its bound is dropped.
        """
        started = time.perf_counter()
        res = self._run(time_left, mip=mip)
        if not mip or self._consistent(res):
            return res
        self.h.setOptionValue("presolve", "off")
        left = None if time_left is None else max(0.0, time_left - (time.perf_counter() - started))
        retry = self._run(left, mip=True)
        self.h.setOptionValue("presolve", self.presolve)
        retry.incumbents = res.incumbents + retry.incumbents
        if not self._consistent(retry):
            retry.status, retry.bound = "limit", -math.inf
        self.inconsistent_runs += 1
        return retry

    def _consistent(self, res: _Result) -> bool:
        if res.x is None:
            return True
        true_cost = float(self.costs @ res.x)
        tol = 1e-6 * max(1.0, abs(true_cost))
        if abs(true_cost - res.objective) > tol:
            return False
        res.objective = true_cost
        return not (res.status == "optimal" and res.objective - res.bound > self._gap_tolerance(res.objective))

    def _gap_tolerance(self, objective: float) -> float:
        if not math.isfinite(objective):
            return math.inf
        absolute = 1.0 - 1e-6 if self.integral else 1e-6
        return max(absolute, self.mip_rel_gap * abs(objective)) + 1e-6 * max(1.0, abs(objective))

    def _run(self, time_left: float | None, *, mip: bool) -> _Result:
        h = self.h
        # HiGHS 1.16 measures an LP's time_limit against the run time summed over every run of this object but a
        # MIP's against the current run only, so an LP limit is offset by that sum. A MIP also overruns its limit
        # by about its presolve and first LP from scratch (3 s on pcb1173's 690k columns), so its budget keeps a
        # margin of 1.5 times the first (cold) LP of this model; a run that cannot fit is not started.
        if time_left is None:
            limit = _INF
        else:
            margin = 2.5e-6 * self.num_cols + (1.5 * self.cold_lp_time if mip else 0.0)
            budget = 0.97 * float(time_left) - margin
            if budget <= 0.0:
                return _Result("limit", None, math.inf, -math.inf)
            limit = budget + (0.0 if mip else h.getRunTime())
        h.setOptionValue("time_limit", limit)
        if self.threads is not None:
            # The thread pool is global to the process and fixed at its first use; a run asking for a different
            # size fails unless the pool is rebuilt, so rebuild it to ours.
            highspy.Highs.resetGlobalScheduler(True)
        self._incumbents = []
        self._collect = mip
        started = time.perf_counter()
        h.run()
        if not mip and self.cold_lp_time == 0.0:
            self.cold_lp_time = time.perf_counter() - started
        self._collect = False
        model_status = h.getModelStatus()
        info = h.getInfo()
        S = highspy.HighsModelStatus
        if model_status == S.kOptimal:
            status = "optimal"
        elif model_status in (S.kInfeasible, S.kUnboundedOrInfeasible):
            status = "infeasible"
        else:
            status = "limit"
        has_x = info.primal_solution_status == 2  # kSolutionStatusFeasible
        x = np.array(h.getSolution().col_value, dtype=np.float64) if has_x else None
        objective = float(info.objective_function_value) if has_x else math.inf
        if mip:
            bound = float(info.mip_dual_bound)
            if status == "infeasible":
                bound = math.inf
        else:
            # An LP optimum bounds the relaxation; a stopped LP proves nothing.
            bound = objective if status == "optimal" else -math.inf
        if not math.isfinite(bound) and status != "infeasible":
            bound = -math.inf
        reduced = None
        if not mip and status == "optimal" and info.dual_solution_status == 2:
            reduced = np.array(h.getSolution().col_dual, dtype=np.float64)
        return _Result(status, x, objective, bound, list(self._incumbents), reduced)


# -- graph helpers ----------------------------------------------------------------------------------------------


def _components(weights: np.ndarray, eps: float = _EPS) -> list[np.ndarray]:
    """Connected components of the graph with an edge wherever ``weights[i, j] > eps`` (either direction)."""
    n = len(weights)
    adj = (weights > eps) | (weights.T > eps)
    label = np.full(n, -1, dtype=np.int64)
    comps: list[np.ndarray] = []
    for s in range(n):
        if label[s] >= 0:
            continue
        frontier = np.zeros(n, dtype=bool)
        frontier[s] = True
        seen = frontier.copy()
        while frontier.any():
            nxt = adj[frontier].any(axis=0) & ~seen
            seen |= nxt
            frontier = nxt
        label[seen] = len(comps)
        comps.append(np.flatnonzero(seen))
    return comps


def _phase_cuts(weights: np.ndarray, deadline: float) -> list[tuple[np.ndarray, float]]:
    """Every cut of the phase of Stoer-Wagner on a symmetric weight matrix: ``(one side, cut value)``.

    The global minimum cut is among them, and each is a minimum s-t cut, so taking all below the threshold gives
    many violated subtour cuts per LP instead of one.
    """
    n = len(weights)
    w = weights.astype(np.float64, copy=True)
    np.fill_diagonal(w, 0.0)
    members: list[list[int]] = [[i] for i in range(n)]
    alive = np.ones(n, dtype=bool)
    out: list[tuple[np.ndarray, float]] = []
    for _ in range(n - 1):
        if time.perf_counter() > deadline:
            break
        nodes = np.flatnonzero(alive)
        in_a = ~alive
        start = int(nodes[0])
        in_a[start] = True
        conn = w[start].copy()
        prev = last = start
        value = 0.0
        for _k in range(len(nodes) - 1):
            v = int(np.argmax(np.where(in_a, -1.0, conn)))
            value = float(conn[v])
            in_a[v] = True
            conn += w[v]
            prev, last = last, v
        out.append((np.array(members[last], dtype=np.int64), value))
        w[prev] += w[last]
        w[:, prev] += w[:, last]
        w[prev, prev] = 0.0
        w[last] = 0.0
        w[:, last] = 0.0
        alive[last] = False
        members[prev].extend(members[last])
    return out


def _edge_cycles(tails: np.ndarray, heads: np.ndarray, n: int) -> list[list[int]]:
    """Cycles of a 2-regular graph given by its chosen edges (a symmetric integer solution), in walking order."""
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for i, j in zip(tails.tolist(), heads.tolist(), strict=True):
        nbrs[i].append(j)
        nbrs[j].append(i)
    seen = np.zeros(n, dtype=bool)
    cycles: list[list[int]] = []
    for s in range(n):
        if seen[s]:
            continue
        cycle = [s]
        seen[s] = True
        cur = s
        while True:
            nxt = next((v for v in nbrs[cur] if not seen[v]), None)
            if nxt is None:
                break
            cycle.append(nxt)
            seen[nxt] = True
            cur = nxt
        cycles.append(cycle)
    return cycles


def _arc_cycles(tails: np.ndarray, heads: np.ndarray, n: int) -> list[list[int]]:
    """Cycles of a successor function given by its chosen arcs (an asymmetric integer solution), in arc order."""
    succ = np.full(n, -1, dtype=np.int64)
    succ[tails] = heads
    seen = np.zeros(n, dtype=bool)
    cycles: list[list[int]] = []
    for s in range(n):
        if seen[s]:
            continue
        cycle = []
        v = s
        while v >= 0 and not seen[v]:
            seen[v] = True
            cycle.append(int(v))
            v = int(succ[v])
        cycles.append(cycle)
    return cycles


# -- tour heuristics (the incumbent HiGHS is started from) -----------------------------------------------------------


def _tour_len(dist: np.ndarray, tour: np.ndarray) -> float:
    return float(dist[tour, np.roll(tour, -1)].sum())


def _nearest_tour(dist: np.ndarray) -> np.ndarray:
    n = len(dist)
    free = np.ones(n, dtype=bool)
    tour = [0]
    free[0] = False
    for _ in range(n - 1):
        nxt = int(np.argmin(np.where(free, dist[tour[-1]], np.inf)))
        tour.append(nxt)
        free[nxt] = False
    return np.array(tour, dtype=np.int64)


def _two_opt(dist: np.ndarray, tour: np.ndarray, deadline: float) -> np.ndarray:
    """Best-improvement 2-opt per position, vectorised over the second edge (symmetric lengths only)."""
    t = tour.copy()
    n = len(t)
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        for i in range(n - 2):
            a, b = t[i], t[i + 1]
            js = np.arange(i + 2, n if i > 0 else n - 1)
            if len(js) == 0:
                continue
            c, d = t[js], t[(js + 1) % n]
            delta = dist[a, c] + dist[b, d] - dist[a, b] - dist[c, d]
            k = int(np.argmin(delta))
            if delta[k] < -1e-9:
                j = int(js[k])
                t[i + 1 : j + 1] = t[i + 1 : j + 1][::-1]
                improved = True
    return t


def _or_opt(dist: np.ndarray, tour: np.ndarray, deadline: float) -> np.ndarray:
    """Move segments of 1-3 cities elsewhere without reversing them (valid for asymmetric lengths too)."""
    t = tour.copy()
    n = len(t)
    if n < 5:
        return t
    improved = True
    while improved and time.perf_counter() < deadline:
        improved = False
        nxt = np.roll(t, -1)
        edge = dist[t, nxt]
        positions = np.arange(n)
        for length in (1, 2, 3):
            for i in range(n):
                seg_end = (i + length - 1) % n
                s0, s1 = t[i], t[seg_end]
                p, q = t[(i - 1) % n], t[(seg_end + 1) % n]
                gain = dist[p, s0] + dist[s1, q] - dist[p, q]
                # insert between t[k] and t[k+1] for every edge k that does not touch the segment
                cost = dist[t, s0] + dist[s1, nxt] - edge
                cost[(positions - (i - 1)) % n <= length] = np.inf
                k = int(np.argmin(cost))
                if cost[k] < gain - 1e-9:
                    seg = t[[(i + m) % n for m in range(length)]]
                    rest = np.concatenate([t[seg_end + 1 :], t[:i]]) if seg_end >= i else t[seg_end + 1 : i]
                    pos = int(np.flatnonzero(rest == t[k])[0])
                    t = np.concatenate([rest[: pos + 1], seg, rest[pos + 1 :]])
                    improved = True
                    break
            if improved:
                break
    return t


def _improve(dist: np.ndarray, tour: np.ndarray, symmetric: bool, deadline: float) -> np.ndarray:
    best, best_len = tour, _tour_len(dist, tour)
    while time.perf_counter() < deadline:
        cand = _two_opt(dist, best, deadline) if symmetric else best
        cand = _or_opt(dist, cand, deadline)
        cand_len = _tour_len(dist, cand)
        if cand_len >= best_len - 1e-9:
            break
        best, best_len = cand, cand_len
    return best


def _patch(dist: np.ndarray, cycles: list[list[int]]) -> np.ndarray:
    """Karp's patching: merge the cycles two at a time by the cheapest exchange of one arc from each."""
    cycles = [list(c) for c in cycles]
    while len(cycles) > 1:
        cycles.sort(key=len, reverse=True)
        a = np.array(cycles[0], dtype=np.int64)
        a_next = np.roll(a, -1)
        best = (math.inf, 1, 0, 0)
        for ci in range(1, len(cycles)):
            b = np.array(cycles[ci], dtype=np.int64)
            b_next = np.roll(b, -1)
            # replace a_i -> a_{i+1} and b_j -> b_{j+1} by a_i -> b_{j+1} and b_j -> a_{i+1}
            delta = (
                dist[a[:, None], b_next[None, :]]
                + dist[b[None, :], a_next[:, None]]
                - dist[a, a_next][:, None]
                - dist[b, b_next][None, :]
            )
            i, j = np.unravel_index(int(np.argmin(delta)), delta.shape)
            if delta[i, j] < best[0]:
                best = (float(delta[i, j]), ci, int(i), int(j))
        _, ci, i, j = best
        b = cycles[ci]
        merged = cycles[0][: i + 1] + b[j + 1 :] + b[: j + 1] + cycles[0][i + 1 :]
        cycles = [merged] + [c for k, c in enumerate(cycles) if k not in (0, ci)]
    return np.array(cycles[0], dtype=np.int64)


# -- the solver -----------------------------------------------------------------------------------------------------


MAX_MAPF_AGENTS = 16
"""Agents beyond which ``milp`` declines a lifelong MAPF episode (``mapf-milp`` itself has no such limit)."""


class MILPSolver:
    """Exact MILP baseline on HiGHS: lazy DFJ for (A)TSP, compact lifted-MTZ arc flow for small (A)CVRP(TW).

    Args:
        max_nodes: the most customers (nodes other than the depot) of a cvrp/cvrptw instance ``supports`` accepts.
        max_tsp_nodes: the most cities of a tsp instance ``supports`` accepts (the model is dense).
        threads: HiGHS threads (its MIP search is mostly serial; the bench runs one job per core).
            None leaves HiGHS's own default.
        mip_rel_gap: relative gap at which HiGHS stops; 0 (the default) asks for a proof of optimality.
        root_cuts: separate cuts on the root LP before branching (off only to compare).
        highs_options: extra HiGHS options (name -> value), e.g. ``{"presolve": "off"}``; a bad one raises.
    """

    name = "milp"
    kinds = frozenset({"tsp", "cvrp", "cvrptw", "lifelong_mapf", "network_design", "coordination"})
    needs = (
        f"tsp/atsp up to {DEFAULT_MAX_TSP_NODES} cities (time-limited; proves ~100-250 in a minute); "
        f"cvrp/cvrptw up to {DEFAULT_MAX_NODES} customers (proves ~20-50); lifelong_mapf: windowed CP-SAT "
        "(mapf-milp); network_design: SORB bounds (ndp_sorb); coordination: CP-SAT passing orders (any size, gap)"
    )

    def __init__(
        self,
        max_nodes: int = DEFAULT_MAX_NODES,
        max_tsp_nodes: int = DEFAULT_MAX_TSP_NODES,
        threads: int | None = 1,
        mip_rel_gap: float = 0.0,
        root_cuts: bool = True,
        highs_options: dict[str, Any] | None = None,
    ) -> None:
        self.max_nodes = int(max_nodes)
        self.max_tsp_nodes = int(max_tsp_nodes)
        self.threads = threads
        self.mip_rel_gap = float(mip_rel_gap)
        self.root_cuts = bool(root_cuts)
        self.highs_options = dict(highs_options or {})
        self.needs = (
            f"tsp/atsp up to {self.max_tsp_nodes} cities (time-limited; proves ~100-250 in a minute); "
            f"cvrp/cvrptw up to {self.max_nodes} customers (proves ~20-50); lifelong_mapf: windowed CP-SAT "
            "(mapf-milp); network_design: SORB bounds (ndp_sorb); coordination: CP-SAT passing orders (any size, gap)"
        )

    def supports(self, instance: Any) -> str | None:
        reason = kind_reason(self, instance)
        if reason is not None:
            return reason
        if instance.kind == "network_design":  # SORB (routelab.solvers.ndp_sorb)
            from routelab.solvers.ndp_sorb import SORBSolver

            return SORBSolver().supports(instance)
        if instance.kind == "coordination":  # CP-SAT disjunctive model (coordination_milp), any size, honest gap
            return None
        if instance.kind == "lifelong_mapf":
            if instance.num_agents > MAX_MAPF_AGENTS:
                return (
                    f"more than {MAX_MAPF_AGENTS} agents: the windowed CP-SAT model rarely proves a window then; "
                    "run mapf-milp directly to try"
                )
            return None
        if instance.kind == "tsp":
            if instance.num_nodes > self.max_tsp_nodes:
                return f"more than {self.max_tsp_nodes} cities"
            return None
        customers = instance.num_nodes - 1
        if customers > self.max_nodes:
            return f"more than {self.max_nodes} customers"
        return None

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        if instance.kind == "lifelong_mapf":  # one name for "the exact baseline" on every board
            from routelab.solvers.mapf_window_milp import WindowMILPSolver

            return WindowMILPSolver().solve(instance, time_limit=time_limit, seed=seed)
        if instance.kind == "coordination":
            from routelab.solvers.coordination_milp import CoordinationMILP

            return CoordinationMILP(workers=self.threads or 1).solve(instance, time_limit=time_limit, seed=seed)
        if instance.kind == "network_design":  # SORB: SO-relaxation MILP bounds, UE upper bounds, no-good cuts
            from routelab.solvers.ndp_sorb import SORBSolver

            sorb = SORBSolver(threads=self.threads, highs_options=self.highs_options)
            return sorb.solve(instance, time_limit=time_limit, seed=seed)
        clock = Stopwatch()
        deadline = math.inf if time_limit is None else time.perf_counter() + max(0.0, float(time_limit))
        if instance.kind == "tsp":
            payload, stats = self._solve_tsp(instance, deadline, seed)
        else:
            payload, stats = self._solve_vrp(instance, deadline, seed)
        objective: float | None = None
        feasible = False
        if payload is not None:
            score = score_payload(instance, payload)
            objective = float(score.objective)
            feasible = score.feasible
            if not feasible:  # should not happen; never claim what the scorer rejects
                stats["status"] = "timeout_no_solution"
                stats["violations"] = list(score.violations)
        else:
            payload = {"tour": []} if instance.kind == "tsp" else {"routes": []}
        lb = stats.get("lower_bound")
        if feasible and objective is not None and lb is not None and math.isfinite(lb):
            stats["lower_bound"] = min(float(lb), objective) if stats["status"] == "optimal" else float(lb)
            stats["gap"] = (objective - stats["lower_bound"]) / objective if objective > 0 else 0.0
        return Solution(
            kind=instance.kind,
            instance=instance.name,
            solver=self.name,
            payload=payload,
            objective=objective if feasible else None,
            feasible=feasible,
            runtime_s=clock.elapsed(),
            stats=stats,
        )

    # -- shared pieces --------------------------------------------------------------------------------------------

    @staticmethod
    def _left(deadline: float) -> float | None:
        return None if math.isinf(deadline) else max(0.0, deadline - time.perf_counter())

    @staticmethod
    def _round_bound(bound: float, integral: bool) -> float:
        """Integral instances have integral optima, so a bound can be rounded up (with a float tolerance)."""
        if integral and math.isfinite(bound):
            return float(math.ceil(bound - 1e-6 - 1e-9 * abs(bound)))
        return bound

    def _closed(self, bound: float, upper: float, integral: bool) -> bool:
        """Does ``bound`` prove ``upper`` optimal (to the gap HiGHS was asked for)?"""
        if integral:
            return self._round_bound(bound, True) >= upper - 1e-6
        return bound >= upper - max(1e-6, self.mip_rel_gap * abs(upper)) - 1e-9 * abs(upper)

    # -- TSP / ATSP -------------------------------------------------------------------------------------------------

    def _solve_tsp(self, instance: Any, deadline: float, seed: int) -> tuple[dict[str, Any], dict[str, Any]]:
        dist = np.asarray(instance.distances, dtype=np.float64)
        n = len(dist)
        symmetric = bool(instance.is_symmetric)
        integral = bool(np.all(dist == np.round(dist)))
        stats: dict[str, Any] = {"symmetric": symmetric, "mip_solves": 0, "cuts": 0}
        if n <= 3:  # every tour is one of at most two directions; no model needed
            tours = [np.array((0, *p), dtype=np.int64) for p in permutations(range(1, n))]
            tour = min(tours, key=lambda t: _tour_len(dist, t))
            stats.update(status="optimal", lower_bound=_tour_len(dist, tour))
            return {"tour": tour.tolist()}, stats

        # Bound without any LP: every city is left and entered once (half its two shortest edges if symmetric).
        d_off = dist + np.diag(np.full(n, np.inf))
        if symmetric:
            two = np.sort(d_off, axis=1)[:, :2]
            lower = float(two.sum() / 2.0)
        else:
            lower = float(max(d_off.min(axis=1).sum(), d_off.min(axis=0).sum()))
        lower = self._round_bound(lower - 1e-9 * abs(lower), integral)

        # Incumbent: nearest neighbour + local search, capped to a slice of the budget.
        now = time.perf_counter()
        heur_deadline = now + min(2.0 + n / 100.0, 0.1 * (deadline - now)) if math.isfinite(deadline) else now + 5.0
        best = _improve(dist, _nearest_tour(dist), symmetric, heur_deadline)
        best_len = _tour_len(dist, best)
        stats["heuristic"] = best_len

        def done(status: str) -> tuple[dict[str, Any], dict[str, Any]]:
            stats.update(status=status, lower_bound=float(lower))
            return {"tour": best.tolist()}, stats

        if self._closed(lower, best_len, integral):
            return done("optimal")
        if self._left(deadline) == 0.0:
            return done("feasible")

        # Columns: edges i < j, or arcs i != j.
        if symmetric:
            ii, jj = np.triu_indices(n, 1)
        else:
            ii, jj = np.nonzero(~np.eye(n, dtype=bool))
        col_of = np.full((n, n), -1, dtype=np.int64)
        model = self._new_model(seed, integral)
        cols = model.add_cols(dist[ii, jj], np.zeros(len(ii)), np.ones(len(ii)), integer=True)
        col_of[ii, jj] = cols
        if symmetric:
            col_of[jj, ii] = cols
            rows = [(col_of[v][np.arange(n) != v], np.ones(n - 1), 2.0, 2.0) for v in range(n)]
        else:
            rows = [(col_of[v][np.arange(n) != v], np.ones(n - 1), 1.0, 1.0) for v in range(n)]
            rows += [(col_of[:, v][np.arange(n) != v], np.ones(n - 1), 1.0, 1.0) for v in range(n)]
        model.add_rows(rows)
        seen_cuts: set[frozenset[int]] = set()

        def cut_rows(sets: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, float, float]]:
            out = []
            for s in sets:
                s = np.asarray(s, dtype=np.int64)
                if len(s) > n // 2:
                    s = np.setdiff1d(np.arange(n), s)
                key = frozenset(s.tolist())
                if len(s) < 2 or key in seen_cuts:
                    continue
                seen_cuts.add(key)
                block = col_of[np.ix_(s, s)]
                c = block[np.triu_indices(len(s), 1)] if symmetric else block[~np.eye(len(s), dtype=bool)]
                out.append((c, np.ones(len(c)), -_INF, float(len(s) - 1)))
            stats["cuts"] += len(out)
            return out

        def weights(x: np.ndarray) -> np.ndarray:
            w = np.zeros((n, n))
            w[ii, jj] = x[:n_cols]
            return w + w.T

        n_cols = len(ii)

        # Reduced-cost fixing: an edge whose LP reduced cost lifts the bound above the incumbent is in no better
        # tour, so it is fixed; from then on a relaxation bound only counts up to that incumbent's length.
        fixed_at = math.inf
        col_lo, col_up = np.zeros(n_cols), np.ones(n_cols)

        def fix_by_reduced_cost(z: float, rc: np.ndarray) -> None:
            nonlocal fixed_at
            limit = best_len + 1e-6 * max(1.0, abs(best_len))
            free = (col_lo == 0.0) & (col_up == 1.0)
            to_zero = np.flatnonzero(free & (z + rc > limit))
            to_one = np.flatnonzero(free & (z - rc > limit))
            if len(to_zero) == 0 and len(to_one) == 0:
                return
            col_up[to_zero] = 0.0
            col_lo[to_one] = 1.0
            changed = np.r_[to_zero, to_one]
            model.set_bounds(changed, col_lo[changed], col_up[changed])
            fixed_at = min(fixed_at, best_len)
            stats["fixed"] = int((col_up == 0.0).sum() + (col_lo == 1.0).sum())

        def root_phase(lp_deadline: float) -> bool:
            """LP cutting planes then fixing; True when the incumbent was proven optimal."""
            nonlocal lower, best, best_len
            model.set_integrality(False)
            res = None
            while time.perf_counter() < lp_deadline:
                res = model.solve(self._left(lp_deadline), mip=False)
                if res.status != "optimal" or res.x is None:
                    res = None
                    break
                lower = max(lower, self._round_bound(min(res.bound, fixed_at), integral))
                stats["root_bound"] = max(stats.get("root_bound", -math.inf), float(res.bound))
                if np.all(np.abs(res.x - np.round(res.x)) < _EPS):  # an integral LP optimum may be a tour
                    chosen = np.flatnonzero(res.x[:n_cols] > 0.5)
                    cycles = (_edge_cycles if symmetric else _arc_cycles)(ii[chosen], jj[chosen], n)
                    if len(cycles) == 1 and _tour_len(dist, np.array(cycles[0])) < best_len - 1e-9:
                        best = np.array(cycles[0], dtype=np.int64)
                        best_len = _tour_len(dist, best)
                if self._closed(lower, best_len, integral):
                    return True
                w = weights(res.x)
                comps = _components(w)
                if len(comps) > 1:
                    sets = comps
                else:
                    sets = [s for s, v in _phase_cuts(w, lp_deadline) if v < 2.0 - _EPS]
                new = cut_rows(sets)
                if not new:
                    break
                model.add_rows(new)
                res = None
            if res is not None and res.reduced_costs is not None:
                fix_by_reduced_cost(res.bound, res.reduced_costs)
            model.set_integrality(True)
            return False

        # Phase 1: root cutting planes on the LP relaxation.
        if self.root_cuts and root_phase(time.perf_counter() + 0.5 * (deadline - time.perf_counter())):
            return done("optimal")

        # Phase 2: MIP solves with lazily added subtour cuts.
        while True:
            left = self._left(deadline)
            if left is not None and left <= 0.0:
                break
            start = np.zeros(n_cols)
            start[col_of[best, np.roll(best, -1)]] = 1.0
            model.set_start(start)
            res = model.solve(left, mip=True)
            stats["mip_solves"] += 1
            stats["highs_retries"] = model.inconsistent_runs
            if res.status == "infeasible":  # impossible with a valid tour in hand; report what we have
                break
            lower = max(lower, self._round_bound(min(res.bound, fixed_at), integral))
            # Every incumbent HiGHS met gives cuts; the last few (the best) are also patched into tours.
            sols = [*res.incumbents, *([res.x] if res.x is not None else [])]
            sets: list[np.ndarray] = []
            previous = best_len
            for rank, x in enumerate(reversed(sols)):
                chosen = np.flatnonzero(x[:n_cols] > 0.5)
                cycles = (_edge_cycles if symmetric else _arc_cycles)(ii[chosen], jj[chosen], n)
                if len(cycles) == 1:
                    cand = np.array(cycles[0], dtype=np.int64)
                else:
                    sets.extend(np.array(c, dtype=np.int64) for c in cycles)
                    if rank >= 3:
                        continue
                    cand = _patch(dist, cycles)
                    now = time.perf_counter()
                    cand = _improve(dist, cand, symmetric, min(deadline, now + 0.05 + n / 2000.0))
                cand_len = _tour_len(dist, cand)
                if cand_len < best_len - 1e-9:
                    best, best_len = cand, cand_len
            if self._closed(lower, best_len, integral):
                return done("optimal")
            new = cut_rows(sets)
            if not new:
                break  # HiGHS stopped (time) without a new subtour to cut
            model.add_rows(new)
            if (
                self.root_cuts
                and best_len < previous
                and root_phase(time.perf_counter() + 0.2 * (deadline - time.perf_counter()))
            ):
                return done("optimal")
        return done("optimal" if self._closed(lower, best_len, integral) else "feasible")

    # -- CVRP / CVRPTW ------------------------------------------------------------------------------------------------

    def _solve_vrp(self, instance: Any, deadline: float, seed: int) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        dist = np.asarray(instance.distances, dtype=np.float64)
        n = len(dist)
        depot = int(instance.depot)
        dem = np.asarray(instance.demands, dtype=np.float64)
        cap = float(instance.capacity)
        timed = instance.kind == "cvrptw"
        integral = bool(np.all(dist == np.round(dist)))
        undirected = bool(instance.is_symmetric) and not timed
        stats: dict[str, Any] = {
            "formulation": "two-index" if undirected else "arc-flow-mtz",
            "mip_solves": 0,
            "cuts": 0,
        }
        if n == 1:
            stats.update(status="optimal", lower_bound=0.0)
            return {"routes": []}, stats

        def give_up(status: str, lower: float | None = None) -> tuple[None, dict[str, Any]]:
            """No routes: ``lower_bound`` is None when infeasibility was proven (no finite bound applies)."""
            stats.update(status=status, lower_bound=lower)
            return None, stats

        k_min = max(1, math.ceil(dem.sum() / cap - 1e-9))
        k_max = int(instance.num_vehicles) if instance.num_vehicles is not None else n - 1
        if k_min > k_max:
            stats["reason"] = f"demand needs at least {k_min} routes, {k_max} vehicles available"
            return give_up("infeasible")

        customers = [v for v in range(n) if v != depot]
        vrp = _VRPModel(instance, undirected, self._new_model(seed, integral))
        tools = _RouteTools(instance, k_max)
        lower = 0.0
        best_routes: list[list[int]] | None = None
        best_len = math.inf

        def offer(routes: list[list[int]] | None, polish: bool) -> None:
            """Keep ``routes`` (after local search when ``polish``) if they are valid and the best so far."""
            nonlocal best_routes, best_len
            if routes is None or len(routes) > k_max or not all(tools.feasible(r) for r in routes):
                return
            if sorted(v for r in routes for v in r) != customers:
                return
            if polish:
                now = time.perf_counter()
                routes = tools.improve(routes, min(deadline, now + 0.2 + n / 50.0))
            length = tools.total(routes)
            if length < best_len - 1e-9 and vrp.representable(routes):
                best_routes, best_len = [r for r in routes if r], length

        offer(tools.savings(), polish=True)
        offer(vrp.nearest_start(k_max), polish=True)
        if best_routes is not None:
            stats["heuristic"] = best_len
        fixed_at = math.inf

        def root_phase(lp_deadline: float) -> str | None:
            """LP rounds with capacity-cut separation, then reduced-cost fixing against the incumbent."""
            nonlocal lower, fixed_at
            vrp.model.set_integrality(False)
            res = None
            while time.perf_counter() < lp_deadline:
                res = vrp.model.solve(self._left(lp_deadline), mip=False)
                if res.status == "infeasible":
                    return "infeasible"
                if res.status != "optimal" or res.x is None:
                    res = None
                    break
                lower = max(lower, self._round_bound(min(res.bound, fixed_at), integral))
                stats["root_bound"] = max(stats.get("root_bound", -math.inf), float(res.bound))
                if np.all(np.abs(res.x[: vrp.num_x] - np.round(res.x[: vrp.num_x])) < _EPS):
                    routes, violated = vrp.read(res.x)  # an integral LP optimum may be valid routes
                    if not violated:
                        offer(routes, polish=False)
                if best_routes is not None and self._closed(lower, best_len, integral):
                    return "optimal"
                new = vrp.cut_rows(vrp.separate(res.x))
                stats["cuts"] += len(new)
                if not new:
                    break
                vrp.model.add_rows(new)
                res = None
            if res is not None and res.reduced_costs is not None and best_routes is not None:
                if vrp.fix_by_reduced_cost(res.bound, res.reduced_costs, best_len):
                    fixed_at = min(fixed_at, best_len)
                    stats["fixed"] = vrp.num_fixed
            vrp.model.set_integrality(True)
            return None

        if self.root_cuts:
            verdict = root_phase(time.perf_counter() + 0.3 * (deadline - time.perf_counter()))
            if verdict == "infeasible":
                return give_up("infeasible")
            if verdict == "optimal":
                stats.update(status="optimal", lower_bound=float(lower))
                return {"routes": best_routes}, stats

        while True:
            left = self._left(deadline)
            if left is not None and left <= 0.0:
                break
            if best_routes is not None:
                vrp.model.set_start(vrp.start_vector(best_routes))
            res = vrp.model.solve(left, mip=True)
            stats["mip_solves"] += 1
            stats["highs_retries"] = vrp.model.inconsistent_runs
            if res.status == "infeasible":
                if best_routes is None and math.isinf(fixed_at):
                    return give_up("infeasible")
                lower = max(lower, self._round_bound(fixed_at, integral))
                break
            lower = max(lower, self._round_bound(min(res.bound, fixed_at), integral))
            sets: list[np.ndarray] = []
            # Every incumbent HiGHS met gives cuts; the last few (the best) are repaired into valid routes.
            sols = [*res.incumbents, *([res.x] if res.x is not None else [])]
            for rank, x in enumerate(reversed(sols)):
                routes, violated = vrp.read(x)
                sets.extend(violated)
                if rank < 3:
                    valid = [r for r in routes if tools.feasible(r)]
                    loose = sorted(set(customers) - {v for r in valid for v in r})
                    offer(tools.insert(valid, loose) if loose else valid, polish=bool(violated) or rank == 0)
            if best_routes is not None and self._closed(lower, best_len, integral):
                break
            new = vrp.cut_rows(sets)
            stats["cuts"] += len(new)
            if not new:
                break
            vrp.model.add_rows(new)
            if self.root_cuts:
                verdict = root_phase(time.perf_counter() + 0.2 * (deadline - time.perf_counter()))
                if verdict == "optimal":
                    break
        if best_routes is None:
            return give_up("timeout_no_solution", float(lower))
        status = "optimal" if self._closed(lower, best_len, integral) else "feasible"
        stats.update(status=status, lower_bound=float(lower))
        return {"routes": best_routes}, stats

    def _new_model(self, seed: int, integral: bool) -> _Model:
        return _Model(
            threads=self.threads, seed=seed, integral=integral, mip_rel_gap=self.mip_rel_gap, options=self.highs_options
        )


class _VRPModel:
    """The cvrp/cvrptw model: columns, fixed rows, capacity-cut separation and reading integer solutions.

    ``undirected`` (symmetric cvrp): ``x_e`` for customer pairs (binary) and depot edges (0, 1 or 2, two for a
    one-customer route), customer degree 2, depot degree ``2k``, capacity feasibility only through the lazy rounded
    capacity cuts. Otherwise (asymmetric cvrp, every cvrptw) the directed arc flow with lifted MTZ loads and
    big-M times of the module docstring.
    """

    def __init__(self, instance: Any, undirected: bool, model: _Model) -> None:
        self.instance = instance
        self.undirected = undirected
        self.model = model
        n = instance.num_nodes
        self.n = n
        self.depot = depot = int(instance.depot)
        self.dem = dem = np.asarray(instance.demands, dtype=np.float64)
        self.cap = cap = float(instance.capacity)
        self.timed = timed = instance.kind == "cvrptw"
        dist = np.asarray(instance.distances, dtype=np.float64)
        is_cust = np.ones(n, dtype=bool)
        is_cust[depot] = False
        self.is_cust = is_cust
        self.cust = cust = np.flatnonzero(is_cust)
        both = is_cust[:, None] & is_cust[None, :]
        ok = ~np.eye(n, dtype=bool) & ~(both & (dem[:, None] + dem[None, :] > cap + 1e-9))
        if timed:
            tw = np.asarray(instance.time_windows, dtype=np.float64)
            self.service = service = np.asarray(instance.service_times, dtype=np.float64)
            self.tau = tau = np.asarray(instance.durations, dtype=np.float64)
            # Nothing starts before the depot opens. (Windows are not tightened further: durations need not obey
            # the triangle inequality, so a detour can arrive earlier than the direct arc.)
            self.a = a = np.maximum(tw[:, 0], tw[depot, 0])
            self.b = b = tw[:, 1].copy()
            ok &= ~(both & (a[:, None] + service[:, None] + tau > b[None, :] + 1e-9))
        if undirected:
            ok = np.triu(ok, 1)
        self.ok = ok
        ii, jj = np.nonzero(ok)
        self.ii, self.jj = ii, jj
        upper = np.ones(len(ii))
        if undirected:
            upper[(ii == depot) | (jj == depot)] = 2.0
        self.xcol = xcol = np.full((n, n), -1, dtype=np.int64)
        xcol[ii, jj] = model.add_cols(dist[ii, jj], np.zeros(len(ii)), upper, integer=True)
        if undirected:
            xcol[jj, ii] = xcol[ii, jj]
        self.num_x = len(ii)
        self.binary = upper == 1.0
        self.col_lo, self.col_up = np.zeros(len(ii)), upper.copy()
        self.num_fixed = 0
        self.cut_sets: set[frozenset[int]] = set()
        k_min = max(1, math.ceil(dem.sum() / cap - 1e-9))
        k_max = int(instance.num_vehicles) if instance.num_vehicles is not None else n - 1
        self.kcol = kcol = int(model.add_cols(np.zeros(1), np.array([k_min]), np.array([k_max]), integer=True)[0])
        rows: list[tuple[np.ndarray, np.ndarray, float, float]] = []
        if undirected:
            for v in cust:
                c = xcol[v][xcol[v] >= 0]
                rows.append((c, np.ones(len(c)), 2.0, 2.0))
            c = xcol[depot][xcol[depot] >= 0]
            rows.append((np.r_[c, kcol], np.r_[np.ones(len(c)), -2.0], 0.0, 0.0))
            model.add_rows(rows)
            return
        self.ucol = ucol = np.full(n, -1, dtype=np.int64)
        ucol[cust] = model.add_cols(np.zeros(len(cust)), dem[cust], np.full(len(cust), cap), integer=False)
        self.tcol = tcol = np.full(n, -1, dtype=np.int64)
        if timed:
            tcol[cust] = model.add_cols(np.zeros(len(cust)), a[cust], b[cust], integer=False)
        for v in cust:
            out_c, in_c = xcol[v][ok[v]], xcol[:, v][ok[:, v]]
            rows.append((out_c, np.ones(len(out_c)), 1.0, 1.0))
            rows.append((in_c, np.ones(len(in_c)), 1.0, 1.0))
        for arcs in (xcol[depot][ok[depot]], xcol[:, depot][ok[:, depot]]):
            rows.append((np.r_[arcs, kcol], np.r_[np.ones(len(arcs)), -1.0], 0.0, 0.0))
        for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
            if i == depot or j == depot:
                continue
            # lifted MTZ (Desrochers-Laporte): u_i - u_j + Q x_ij + (Q - d_i - d_j) x_ji <= Q - d_j
            c, v = [ucol[i], ucol[j], xcol[i, j]], [1.0, -1.0, cap]
            if ok[j, i] and cap - dem[i] - dem[j] > 0:
                c.append(xcol[j, i])
                v.append(cap - dem[i] - dem[j])
            rows.append((np.array(c), np.array(v), -_INF, cap - dem[j]))
            if timed:
                big_m = b[i] + service[i] + tau[i, j] - a[j]
                if big_m > 0:  # t_i - t_j + M x_ij <= M - s_i - tau_ij
                    c3 = np.array([tcol[i], tcol[j], xcol[i, j]])
                    rows.append((c3, np.array([1.0, -1.0, big_m]), -_INF, big_m - service[i] - tau[i, j]))
        for i in cust.tolist():
            preds = [j for j in cust.tolist() if ok[j, i] and dem[j] > 0]
            succs = [j for j in cust.tolist() if ok[i, j] and dem[j] > 0]
            if preds:  # u_i - sum d_j x_ji >= d_i
                rows.append((np.r_[ucol[i], xcol[preds, i]], np.r_[1.0, -dem[preds]], dem[i], _INF))
            if succs:  # u_i + sum d_j x_ij <= Q
                rows.append((np.r_[ucol[i], xcol[i, succs]], np.r_[1.0, dem[succs]], -_INF, cap))
            if ok[depot, i] and cap - dem[i] > 0:  # u_i + (Q - d_i) x_0i <= Q
                rows.append((np.array([ucol[i], xcol[depot, i]]), np.array([1.0, cap - dem[i]]), -_INF, cap))
            if timed:
                if ok[depot, i] and a[depot] + tau[depot, i] > a[i]:  # t_i - tau_0i x_0i >= a_0
                    rows.append((np.array([tcol[i], xcol[depot, i]]), np.array([1.0, -tau[depot, i]]), a[depot], _INF))
                big_m = b[i] + service[i] + tau[i, depot] - b[depot]
                if ok[i, depot] and big_m > 0:  # t_i + M x_i0 <= b_0 - s_i - tau_i0 + M
                    rhs = b[depot] - service[i] - tau[i, depot] + big_m
                    rows.append((np.array([tcol[i], xcol[i, depot]]), np.array([1.0, big_m]), -_INF, rhs))
        model.add_rows(rows)

    # -- capacity cuts --------------------------------------------------------------------------------------------

    def weights(self, x: np.ndarray) -> np.ndarray:
        """``w[i, j] = x_ij + x_ji`` (the edge value when undirected), symmetric."""
        w = np.zeros((self.n, self.n))
        w[self.ii, self.jj] = x[: self.num_x]
        return w + w.T

    def need(self, s: np.ndarray) -> int:
        """Routes that must enter customer set ``s``: at least one, and enough to carry its demand."""
        return max(1, math.ceil(self.dem[s].sum() / self.cap - 1e-9))

    def separate(self, x: np.ndarray) -> list[np.ndarray]:
        """Customer sets whose rounded capacity cut ``w(delta(S)) >= 2 r(S)`` the LP point violates.

        Candidates: connected components of the customer support graph, and the sets met while growing each
        customer greedily by its strongest connection (a standard heuristic; exactness comes from the lazy
        cuts on integer solutions, not from here).
        """
        w = self.weights(x)
        wc = w[np.ix_(self.cust, self.cust)]
        m = len(self.cust)
        found: dict[frozenset[int], np.ndarray] = {}

        def consider(members: np.ndarray, inner: float) -> None:
            s = self.cust[members]
            if 2.0 * len(s) - 2.0 * inner < 2.0 * self.need(s) - _EPS:
                found.setdefault(frozenset(s.tolist()), s)

        for comp in _components(wc):
            consider(comp, float(wc[np.ix_(comp, comp)].sum()) / 2.0)
        for seed in range(m):
            inside = np.zeros(m, dtype=bool)
            inside[seed] = True
            conn = wc[seed].copy()
            inner = 0.0
            for _ in range(m - 1):
                cand = np.where(inside, -1.0, conn)
                j = int(np.argmax(cand))
                if cand[j] <= _EPS:
                    break
                inner += float(conn[j])
                inside[j] = True
                conn += wc[j]
                consider(np.flatnonzero(inside), inner)
        return list(found.values())

    def cut_rows(self, sets: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, float, float]]:
        """Rounded capacity cuts ``x(E(S)) <= |S| - r(S)`` or, when sparser, ``x(delta(S)) >= 2 r(S)``.

        Directed: ``x(A(S)) <= |S| - r(S)`` or ``x(delta^-(S)) >= r(S)``. Each set is added once.
        """
        seen = self.cut_sets
        out = []
        for s in sets:
            s = np.asarray(s, dtype=np.int64)
            key = frozenset(s.tolist())
            if not len(s) or key in seen:
                continue
            seen.add(key)
            r = self.need(s)
            inside = np.zeros(self.n, dtype=bool)
            inside[s] = True
            within = self.ok & inside[:, None] & inside[None, :]
            crossing = self.ok & ~inside[:, None] & inside[None, :]
            if self.undirected:
                crossing = self.ok & (inside[:, None] ^ inside[None, :])
            if within.sum() <= crossing.sum():
                c = self.xcol[within]
                out.append((c, np.ones(len(c)), -_INF, float(len(s) - r)))
            else:
                c = self.xcol[crossing]
                out.append((c, np.ones(len(c)), float(2 * r if self.undirected else r), _INF))
        return out

    # -- reduced-cost fixing ----------------------------------------------------------------------------------------

    def fix_by_reduced_cost(self, z: float, rc: np.ndarray, upper: float) -> bool:
        """Fix binary arcs whose reduced cost proves them absent from (or present in) every better solution."""
        limit = upper + 1e-6 * max(1.0, abs(upper))
        rc = rc[: self.num_x]
        free = self.binary & (self.col_lo == 0.0) & (self.col_up == 1.0)
        to_zero = np.flatnonzero(free & (z + rc > limit))
        to_one = np.flatnonzero(free & (z - rc > limit))
        if not len(to_zero) and not len(to_one):
            return False
        self.col_up[to_zero] = 0.0
        self.col_lo[to_one] = 1.0
        changed = np.r_[to_zero, to_one]
        self.model.set_bounds(changed, self.col_lo[changed], self.col_up[changed])
        self.num_fixed = int(len(to_zero) + len(to_one)) + self.num_fixed
        return True

    # -- integer solutions --------------------------------------------------------------------------------------------

    def read(self, x: np.ndarray) -> tuple[list[list[int]], list[np.ndarray]]:
        """Routes of an integer solution, and the customer sets whose capacity cut it violates (empty if valid).

        Violations: customer-only cycles, and routes whose load exceeds the capacity (possible only in the
        undirected model, which has no load variables).
        """
        n, depot = self.n, self.depot
        val = np.rint(x[: self.num_x]).astype(np.int64)
        mult = np.zeros((n, n), dtype=np.int64)
        mult[self.ii, self.jj] = val
        if self.undirected:
            mult = mult + mult.T
        seen = np.zeros(n, dtype=bool)
        seen[depot] = True
        routes: list[list[int]] = []
        violated: list[np.ndarray] = []
        if self.undirected:
            for first in np.flatnonzero(mult[depot] > 0).tolist():
                if seen[first]:
                    continue
                route, prev, v = [first], depot, first
                seen[first] = True
                if mult[depot, first] == 2:
                    routes.append(route)
                    continue
                while True:
                    nbrs = [u for u in np.flatnonzero(mult[v] > 0).tolist() if u != prev or mult[v, u] > 1]
                    nxt = next((u for u in nbrs if u != prev), nbrs[0] if nbrs else depot)
                    if nxt == depot or seen[nxt]:
                        break
                    route.append(nxt)
                    seen[nxt] = True
                    prev, v = v, nxt
                routes.append(route)
        else:
            succ = np.full(n, -1, dtype=np.int64)
            tails, heads = np.nonzero(mult > 0)
            succ[tails[tails != depot]] = heads[tails != depot]
            for first in heads[tails == depot].tolist():
                route, v = [], first
                while v != depot and v >= 0 and not seen[v]:
                    seen[v] = True
                    route.append(v)
                    v = int(succ[v])
                routes.append(route)
        rest = np.flatnonzero(~seen)
        if len(rest):
            violated.extend(self.cust_components(mult, rest))
        for route in routes:
            if self.dem[route].sum() > self.cap + 1e-9:
                violated.append(np.array(route, dtype=np.int64))
                violated.extend(self.overloaded_segments(route))
        return routes, violated

    def overloaded_segments(self, route: list[int]) -> list[np.ndarray]:
        """The shortest overloaded stretch of ``route`` from each position.

        Its cut ``x(E(T)) <= |T| - 2`` forbids those customers as one stretch of any route, not just this exact
        route, so far fewer MIP rounds are needed than when only the whole route is cut.
        """
        loads = np.cumsum(np.r_[0.0, self.dem[route]])
        out = []
        for p in range(len(route)):
            over = np.flatnonzero(loads[p + 1 :] - loads[p] > self.cap + 1e-9)
            if len(over):
                out.append(np.array(route[p : p + int(over[0]) + 1], dtype=np.int64))
        return out

    @staticmethod
    def cust_components(mult: np.ndarray, nodes: np.ndarray) -> list[np.ndarray]:
        sub = mult[np.ix_(nodes, nodes)].astype(np.float64)
        return [nodes[c] for c in _components(sub + sub.T, eps=0.5)]

    def start_vector(self, routes: list[list[int]]) -> np.ndarray:
        """The full column vector (edges or arcs, route count, loads, times) of a feasible set of routes."""
        from routelab.problems.cvrptw import route_schedule

        depot = self.depot
        vec = np.zeros(self.model.num_cols)
        vec[self.kcol] = len(routes)
        for r in routes:
            path = [depot, *r, depot]
            np.add.at(vec, self.xcol[path[:-1], path[1:]], 1.0)
            if not self.undirected:
                vec[self.ucol[r]] = np.cumsum(self.dem[r])
                if self.timed:
                    starts, _ = route_schedule(self.instance, r)
                    vec[self.tcol[r]] = starts
        return vec

    def representable(self, routes: list[list[int]]) -> bool:
        """Do the routes use only arcs the model kept (always true of valid routes; a guard for the start)?"""
        for r in routes:
            path = [self.depot, *r, self.depot]
            if np.any(self.xcol[path[:-1], path[1:]] < 0):
                return False
        return True

    def nearest_start(self, k_max: int) -> list[list[int]] | None:
        """Nearest-neighbour routes as the first incumbent, when they fit the fleet and the usable arcs."""
        from routelab.solvers.nearest import NearestNeighbourSolver

        try:
            sol = NearestNeighbourSolver().solve(self.instance)
        except ValueError:
            return None
        routes = [list(map(int, r)) for r in sol.payload["routes"] if r]
        return routes if len(routes) <= k_max else None


class _RouteTools:
    """Feasibility, savings construction, repair and local search of cvrp/cvrptw routes (the incumbents).

    Exactness never depends on these: they only supply upper bounds, so that HiGHS can prune and a timeout still
    returns good routes. Feasibility is checked exactly as the scorer checks it (capacity, windows, depot close).
    """

    def __init__(self, instance: Any, k_max: int) -> None:
        self.instance = instance
        self.dist = np.asarray(instance.distances, dtype=np.float64)
        self.depot = int(instance.depot)
        self.dem = np.asarray(instance.demands, dtype=np.float64)
        self.cap = float(instance.capacity)
        self.k_max = k_max
        self.timed = instance.kind == "cvrptw"
        if self.timed:
            self.tw = np.asarray(instance.time_windows, dtype=np.float64).tolist()
            self.service = np.asarray(instance.service_times, dtype=np.float64).tolist()
            self.tau = np.asarray(instance.durations, dtype=np.float64).tolist()

    def cost(self, route: list[int]) -> float:
        path = [self.depot, *route, self.depot]
        return float(self.dist[path[:-1], path[1:]].sum())

    def total(self, routes: list[list[int]]) -> float:
        return sum(self.cost(r) for r in routes if r)

    def feasible(self, route: list[int]) -> bool:
        if self.dem[route].sum() > self.cap + 1e-9:
            return False
        if not self.timed:
            return True
        tw, service, tau, depot = self.tw, self.service, self.tau, self.depot
        t, prev = tw[depot][0], depot
        for v in route:
            t = max(t + tau[prev][v], tw[v][0])
            if t > tw[v][1] + 1e-6:
                return False
            t += service[v]
            prev = v
        return t + tau[prev][depot] <= tw[depot][1] + 1e-6

    def savings(self) -> list[list[int]] | None:
        """Clarke and Wright's parallel savings, merging route ends only when the result stays feasible."""
        d, depot = self.dist, self.depot
        custs = [v for v in range(len(d)) if v != depot]
        routes: dict[int, list[int]] = {}
        owner: dict[int, int] = {}
        for v in custs:
            if not self.feasible([v]):
                return None
            routes[v] = [v]
            owner[v] = v
        pairs = [(d[i, depot] + d[depot, j] - d[i, j], i, j) for i in custs for j in custs if i != j]
        pairs.sort(reverse=True)
        for saving, i, j in pairs:
            if saving <= 0:
                break
            ri, rj = owner[i], owner[j]
            if ri == rj or routes[ri][-1] != i or routes[rj][0] != j:
                continue
            merged = routes[ri] + routes[rj]
            if not self.feasible(merged):
                continue
            routes[ri] = merged
            del routes[rj]
            for v in merged:
                owner[v] = ri
        out = list(routes.values())
        return out if len(out) <= self.k_max else None

    def insert(self, routes: list[list[int]], loose: list[int]) -> list[list[int]] | None:
        """Cheapest feasible insertion of ``loose`` customers, opening routes while the fleet allows."""
        d, depot = self.dist, self.depot
        routes = [list(r) for r in routes if r]
        for v in sorted(loose, key=lambda c: -self.dem[c]):
            best: tuple[float, int, int] | None = None
            for r, route in enumerate(routes):
                path = [depot, *route, depot]
                for q in range(len(path) - 1):
                    delta = d[path[q], v] + d[v, path[q + 1]] - d[path[q], path[q + 1]]
                    if (best is None or delta < best[0]) and self.feasible([*route[:q], v, *route[q:]]):
                        best = (delta, r, q)
            if best is not None:
                _, r, q = best
                routes[r].insert(q, v)
            elif len(routes) < self.k_max and self.feasible([v]):
                routes.append([v])
            else:
                return None
        return routes

    def improve(self, routes: list[list[int]], deadline: float) -> list[list[int]]:
        """First-improvement relocate and swap moves between and within routes until none helps."""
        d, depot = self.dist, self.depot
        routes = [list(r) for r in routes if r]
        improved = True
        while improved and time.perf_counter() < deadline:
            improved = False
            for a in range(len(routes)):
                for p in range(len(routes[a])):
                    if time.perf_counter() > deadline:
                        return [r for r in routes if r]
                    ra = routes[a]
                    v = ra[p]
                    prev = ra[p - 1] if p > 0 else depot
                    nxt = ra[p + 1] if p + 1 < len(ra) else depot
                    removal = d[prev, v] + d[v, nxt] - d[prev, nxt]
                    without = ra[:p] + ra[p + 1 :]
                    if without and not self.feasible(without):
                        continue
                    for b in range(len(routes)):
                        rb = without if b == a else routes[b]
                        path = [depot, *rb, depot]
                        for q in range(len(path) - 1):
                            gain = removal - (d[path[q], v] + d[v, path[q + 1]] - d[path[q], path[q + 1]])
                            if gain > 1e-9:
                                cand = [*rb[:q], v, *rb[q:]]
                                if self.feasible(cand):
                                    if b == a:
                                        routes[a] = cand
                                    else:
                                        routes[a], routes[b] = without, cand
                                    improved = True
                                    break
                        if improved:
                            break
                    if improved:
                        break
                if improved:
                    break
            if improved:
                routes = [r for r in routes if r]
                continue
            improved = self._swap(routes)
        return [r for r in routes if r]

    def _swap(self, routes: list[list[int]]) -> bool:
        """One improving exchange of two customers of different routes, applied in place."""
        for a in range(len(routes)):
            for b in range(a + 1, len(routes)):
                base = self.cost(routes[a]) + self.cost(routes[b])
                for p in range(len(routes[a])):
                    for q in range(len(routes[b])):
                        ra, rb = list(routes[a]), list(routes[b])
                        ra[p], rb[q] = rb[q], ra[p]
                        if self.cost(ra) + self.cost(rb) < base - 1e-9 and self.feasible(ra) and self.feasible(rb):
                            routes[a], routes[b] = ra, rb
                            return True
        return False
