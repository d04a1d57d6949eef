"""SORB, the exact method of road network design (``milp`` on ``network_design``): system-optimum relaxation
bounds, UE upper bounds and no-good cuts, iterated until the bounds meet or time runs out.

Why it is exact: for any plan ``y`` the UE flows are feasible flows of the built network, so the system optimum
``SO(y) = min_x sum_a x_a t_a(x_a; y)`` is at most the UE TSTT ``UE(y)`` (the quantity being minimised). Hence
``min_y SO(y)`` over the plans not yet evaluated bounds every such plan from below, and with the best UE TSTT seen
(``UB``) ``LB = min(UB, that bound)`` is a lower bound on the optimum. Each round:

1. solve the MILP ``min_y SO(y)`` (HiGHS) over the plans not yet excluded; its dual bound gives LB (it holds even
   when HiGHS stops at its time limit, since a dual bound is a bound);
2. solve the UE (to the instance's ``ue_gap``) of its plan and of every incumbent HiGHS met on the way: UB;
3. exclude those plans with no-good cuts ``sum_{p in Y} (1 - y_p) + sum_{p not in Y} y_p >= 1``;
4. sharpen the piecewise-linear objective where the MILP's flows sit (below);

until ``(UB - LB) / UB <= gap`` (status ``optimal``), HiGHS proves that no plan is left (``optimal``), or time runs
out (``feasible``, with the remaining gap). The best plan by UE TSTT is returned; ``lower_bound``, ``gap`` and
``iterations`` are reported as proven. A warm start (the benefit/cost greedy of ``greedy``) gives UB
before the first MILP (at most :data:`WARM_SHARE` of the time limit).

The MILP. Flows are aggregated by origin (one commodity per origin zone with demand): ``x_oa >= 0`` with flow
conservation at every node, links leaving a zone below FIRST THRU NODE other than the origin left out. A link's
cost ``f(x) = x t(x) = t0 x (1 + b (x / c)^p)`` is convex, and is *under*-estimated by tangent lines,
``z >= f(x_k) + f'(x_k) (x - x_k)``, so the relaxation stays a relaxation and LB stays valid. Projects change a
link's capacity; each link with projects gets one state per subset of its projects (two states for a lane
addition: ``c`` and ``c + gain``; a swapped road's links have one more project each), the state weights ``w_s``
tied to the binaries ``y`` (``w_1 = y``, ``w_0 = 1 - y`` for one project; the product linearisation for more). The
link's flow splits ``x = sum_s x_s`` with ``x_s <= M w_s`` (``M``: the demand of all origins that can use it), and
each state's tangents are written in perspective form, ``z_s >= f_s'(x_k) x_s + (f_s(x_k) - f_s'(x_k) x_k) w_s``,
the convex hull of the disjunction, so no big-M weakens the objective. States that would leave a congestible link
with no capacity are forbidden (``w_s = 0``); a new link's "not built" state has no flow.

Tangents start at ``x / c`` in :data:`TANGENT_RATIOS` of each state's capacity and at the link's UE flow without
projects; after each round one more tangent per link goes where the MILP's flow sits whenever the PWL is more than
:data:`REFINE_RTOL` below the true cost there (Kelley's cutting planes), so the bound tightens towards ``SO`` as
the rounds go.

Honest limits: the SO-UE gap (about 4 % on Sioux Falls) is what the no-good cuts have to close one plan at a time,
so on 76 binaries a run ends ``feasible`` with a gap of a few percent, as the published 4-hour runs did. TSTTs come
from UEs solved to ``ue_gap``, so "optimal" is up to that accuracy.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from routelab.problems import Solution
from routelab.solvers.base import Stopwatch, ensure_supported, kind_reason
from routelab.solvers.ndp_common import PlanEvaluator, budget_limit, design_reason, plan_solution
from routelab.solvers.ndp_greedy import greedy_plan

TANGENT_RATIOS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)
"""Volume/capacity ratios of the first tangents of each capacity state (0: the free-flow line ``z >= t0 x``)."""
REFINE_RTOL = 1e-4
"""A new tangent goes at a MILP flow whose PWL cost is below the true cost by more than this (relative)."""
MAX_PROJECTS_PER_LINK = 4
"""A link with more projects than this would need 2^k states; such instances are declined."""
WARM_SHARE = 0.25
"""Share of the time limit the greedy warm start (re-evaluating, see ``greedy``) may use for the first UB."""
DEFAULT_GAP = 1e-4
"""Relative UB-LB gap at which SORB stops as optimal (about the accuracy of a UE TSTT at gap 1e-5)."""


@dataclass
class _State:
    """One capacity state of a link: the subset of its projects built, and the resulting capacity (None: absent)."""

    subset: tuple[int, ...]
    capacity: float | None
    allowed: bool = True
    x: int = -1  # column of the state's flow
    z: int = -1  # column of the state's cost
    w_cols: list[int] = field(default_factory=list)  # w_s = sum(coef * col) + const
    w_coef: list[float] = field(default_factory=list)
    w_const: float = 0.0
    tangents: list[float] = field(default_factory=list)


@dataclass
class _Link:
    t0: float
    b: float
    power: float
    x: int  # column of the aggregate flow
    bound: float  # M: the most flow the link can carry
    projects: tuple[int, ...]
    states: list[_State]
    linear_z: bool = False  # the cost is t0 x exactly (no congestion): no z column


def _f(t0: float, b: float, p: float, c: float, x: float) -> tuple[float, float]:
    """``f(x) = t0 x (1 + b (x/c)^p)`` and its slope ``t0 (1 + b (p + 1) (x/c)^p)``."""
    r = (x / c) ** p
    return t0 * x * (1.0 + b * r), t0 * (1.0 + b * (p + 1.0) * r)


class SORBSolver:
    """The SORB loop (see the module doc). Reached as ``milp`` for ``network_design``; options come from
    :class:`routelab.solvers.milp.MILPSolver` (``threads``, ``mip_rel_gap`` of each MILP, ``highs_options``) plus
    ``gap`` (stop when ``(UB - LB) / UB`` is at most this) and ``warm_start`` (greedy first)."""

    name = "milp"
    kinds = frozenset({"network_design"})

    def __init__(
        self,
        *,
        threads: int | None = 1,
        mip_rel_gap: float = 1e-4,
        gap: float = DEFAULT_GAP,
        warm_start: bool = True,
        highs_options: dict[str, Any] | None = None,
    ) -> None:
        if not 0 <= float(gap) < 1:
            raise ValueError(f"gap: expected a relative gap in [0, 1), got {gap!r}")
        self.threads = threads
        self.mip_rel_gap = float(mip_rel_gap)
        self.gap = float(gap)
        self.warm_start = bool(warm_start)
        self.highs_options = dict(highs_options or {})

    def supports(self, instance: Any) -> str | None:
        reason = kind_reason(self, instance) or design_reason(self, instance)
        if reason is None:
            per_link = _projects_per_link(instance)
            worst = max(per_link.values(), default=0)
            if worst > MAX_PROJECTS_PER_LINK:
                reason = f"a link with {worst} projects (at most {MAX_PROJECTS_PER_LINK}: 2^k capacity states)"
        return reason

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        clock = Stopwatch()
        deadline = math.inf if time_limit is None else time.perf_counter() + max(0.0, float(time_limit))
        run = _SORB(instance, self, seed, deadline)
        plan, stats = run.loop()
        return plan_solution(self, instance, plan, clock, stats)


def _projects_per_link(instance: Any) -> dict[int, int]:
    count: dict[int, int] = {}
    for p in instance.projects:
        if p["type"] == "add_lane":
            keys = [p["link"]]
        elif p["type"] == "swap_lane":
            keys = [p["from_link"], p["to_link"]]
        else:
            keys = []
        for a in keys:
            count[a] = count.get(a, 0) + 1
    return count


class _SORB:
    """One run: the MILP (built once, grown by cuts), the UE evaluator, the bounds."""

    def __init__(self, instance: Any, opts: SORBSolver, seed: int, deadline: float) -> None:
        from routelab.solvers.milp import _Model

        self.inst = instance
        self.opts = opts
        self.deadline = deadline
        self.evaluator = PlanEvaluator(instance)
        self.model = _Model(
            threads=opts.threads,
            seed=seed,
            integral=False,
            mip_rel_gap=opts.mip_rel_gap,
            options=opts.highs_options,
        )
        self.links: list[_Link] = []
        self.ub = math.inf
        self.best_plan: list[int] = []
        self.lb = -math.inf
        self.excluded: set[frozenset[int]] = set()
        self.tangent_rows = 0
        self._build()
        self.model.set_integrality(True)

    # -- the model ------------------------------------------------------------------------------------------------
    def _build(self) -> None:
        inst, model = self.inst, self.model
        P = inst.num_projects
        costs = np.array([p["cost"] for p in inst.projects])
        limit = budget_limit(inst)
        self.y = model.add_cols(np.zeros(P), np.zeros(P), np.where(costs <= limit, 1.0, 0.0), integer=True)
        model.add_rows([(self.y, costs, -math.inf, limit)])

        # every link of the model: the existing ones, then one per new_link project
        tail, head = inst.tail.tolist(), inst.head.tolist()
        cap, t0, b, pw = (inst.capacity.tolist(), inst.free_flow_time.tolist(), inst.b.tolist(), inst.power.tolist())
        effects: list[dict[int, float]] = [{} for _ in tail]
        new_of: dict[int, int] = {}
        for k, p in enumerate(inst.projects):
            if p["type"] == "add_lane":
                effects[p["link"]][k] = p["capacity"]
            elif p["type"] == "swap_lane":
                effects[p["from_link"]][k] = -p["capacity"]
                effects[p["to_link"]][k] = p["capacity"]
            else:
                new_of[len(tail)] = k
                tail.append(p["tail"])
                head.append(p["head"])
                cap.append(p["capacity"])
                t0.append(p["free_flow_time"])
                b.append(p["b"])
                pw.append(p["power"])
                effects.append({k: 0.0})
        m = len(tail)
        demand = inst.demand.copy()
        np.fill_diagonal(demand, 0.0)
        origins = np.flatnonzero(demand.sum(axis=1) > 0)
        total = float(demand.sum())
        no_thru = max(0, inst.first_thru_node - 1)

        # commodity flows x_oa, links leaving a no-through zone only for that zone's own commodity
        tail_arr = np.array(tail)
        self.flow_cols: list[tuple[int, np.ndarray, np.ndarray]] = []  # (origin, links, columns)
        link_terms: list[list[int]] = [[] for _ in range(m)]
        rows = []
        for o in origins.tolist():
            usable = np.flatnonzero((tail_arr >= no_thru) | (tail_arr == o))
            supply = float(demand[o].sum())
            cols = model.add_cols(
                np.zeros(len(usable)), np.zeros(len(usable)), np.full(len(usable), supply), integer=False
            )
            self.flow_cols.append((o, usable, cols))
            for a, col in zip(usable.tolist(), cols.tolist(), strict=True):
                link_terms[a].append(col)
            out_of: dict[int, list[int]] = {v: [] for v in range(inst.num_nodes)}
            into: dict[int, list[int]] = {v: [] for v in range(inst.num_nodes)}
            for a, col in zip(usable.tolist(), cols.tolist(), strict=True):
                out_of[tail[a]].append(col)
                into[head[a]].append(col)
            for v in range(inst.num_nodes):
                rhs = supply if v == o else (-float(demand[o, v]) if v < inst.num_zones else 0.0)
                idx = out_of[v] + into[v]
                if not idx:
                    continue
                coef = [1.0] * len(out_of[v]) + [-1.0] * len(into[v])
                rows.append((np.array(idx), np.array(coef), rhs, rhs))
        model.add_rows(rows)

        # aggregate flows and the link costs
        bound = np.full(m, total)  # M: no link carries more than all the trips
        cost_x = np.array([0.0 if b[a] > 0 else t0[a] for a in range(m)])
        xcols = model.add_cols(cost_x, np.zeros(m), bound, integer=False)
        rows = []
        for a in range(m):
            terms = link_terms[a]
            rows.append((np.array([xcols[a], *terms]), np.array([1.0] + [-1.0] * len(terms)), 0.0, 0.0))
        model.add_rows(rows)
        base_flows = self._base_flows()
        for a in range(m):
            link = _Link(t0[a], b[a], pw[a], int(xcols[a]), float(bound[a]), tuple(sorted(effects[a])), [])
            link.linear_z = b[a] <= 0
            if a in new_of or (effects[a] and b[a] > 0):
                self._states(link, cap[a], effects[a], new=a in new_of)
            elif b[a] > 0:
                link.states = [_State((), cap[a])]
                z = model.add_cols(np.ones(1), np.zeros(1), np.full(1, math.inf), integer=False)
                link.states[0].x, link.states[0].z = link.x, int(z[0])
                link.states[0].w_const = 1.0
            self.links.append(link)
            for s in link.states:
                if s.capacity is not None and s.allowed and not link.linear_z:
                    points = [r * s.capacity for r in TANGENT_RATIOS]
                    if a < len(base_flows):
                        points.append(float(base_flows[a]))
                    for x in points:
                        self._tangent(link, s, min(x, link.bound))

    def _base_flows(self) -> np.ndarray:
        """UE flows without projects: a tangent there makes the first bound reflect the usual operating point."""
        try:
            return self.inst.solve_ue((), gap=max(self.inst.ue_gap, 1e-4)).flows
        except ValueError:
            return np.zeros(0)

    def _states(self, link: _Link, base_cap: float, effects: dict[int, float], *, new: bool) -> None:
        """One state per subset of the link's projects, each with flow and cost columns and its weight in ``y``."""
        model = self.model
        projects = link.projects
        rows = []
        for r in range(len(projects) + 1):
            for subset in itertools.combinations(projects, r):
                if new:
                    capacity = base_cap if subset else None
                else:
                    capacity = base_cap + sum(effects[k] for k in subset)
                state = _State(subset, capacity)
                if capacity is not None and capacity <= 0 and link.b > 0:
                    state.allowed = False
                link.states.append(state)
        y = self.y
        if len(projects) == 1:
            (k,) = projects
            off, on = link.states
            off.w_cols, off.w_coef, off.w_const = [int(y[k])], [-1.0], 1.0
            on.w_cols, on.w_coef, on.w_const = [int(y[k])], [1.0], 0.0
            for s in link.states:
                if not s.allowed:  # this project alone would close the link
                    model.set_bounds(np.array([y[k]]), np.zeros(1), np.zeros(1))
        else:
            w = model.add_cols(
                np.zeros(len(link.states)), np.zeros(len(link.states)), np.ones(len(link.states)), integer=False
            )
            rows.append((w, np.ones(len(w)), 1.0, 1.0))
            for s, col in zip(link.states, w.tolist(), strict=True):
                s.w_cols, s.w_coef, s.w_const = [col], [1.0], 0.0
                if not s.allowed:
                    model.set_bounds(np.array([col]), np.zeros(1), np.zeros(1))
                # w <= y_k (k in subset), w <= 1 - y_k (k not in subset), w >= 1 - sum(1 - y_k) - sum(y_k)
                lower_idx, lower_coef = [col], [1.0]
                for k in projects:
                    if k in s.subset:
                        rows.append((np.array([col, y[k]]), np.array([1.0, -1.0]), -math.inf, 0.0))
                        lower_idx.append(int(y[k]))
                        lower_coef.append(-1.0)
                    else:
                        rows.append((np.array([col, y[k]]), np.array([1.0, 1.0]), -math.inf, 1.0))
                        lower_idx.append(int(y[k]))
                        lower_coef.append(1.0)
                rows.append((np.array(lower_idx), np.array(lower_coef), 1.0 - len(s.subset), math.inf))
        # x = sum_s x_s, x_s <= M w_s
        xs = model.add_cols(
            np.zeros(len(link.states)), np.zeros(len(link.states)), np.full(len(link.states), link.bound), integer=False
        )
        zs = model.add_cols(
            np.ones(len(link.states)), np.zeros(len(link.states)), np.full(len(link.states), math.inf), integer=False
        )
        rows.append((np.array([link.x, *xs.tolist()]), np.array([1.0] + [-1.0] * len(xs)), 0.0, 0.0))
        for s, xc, zc in zip(link.states, xs.tolist(), zs.tolist(), strict=True):
            s.x, s.z = xc, zc
            if s.capacity is None or not s.allowed:
                model.set_bounds(np.array([xc]), np.zeros(1), np.zeros(1))
                continue
            idx = [xc, *s.w_cols]
            coef = [1.0, *(-link.bound * c for c in s.w_coef)]
            rows.append((np.array(idx), np.array(coef), -math.inf, link.bound * s.w_const))
        model.add_rows(rows)

    def _tangent(self, link: _Link, state: _State, x: float) -> None:
        """``z_s >= f'(x_k) x_s + (f(x_k) - f'(x_k) x_k) w_s`` (perspective form; plain when the state is fixed)."""
        assert state.capacity is not None
        value, slope = _f(link.t0, link.b, link.power, state.capacity, x)
        icpt = value - slope * x
        idx = [state.z, state.x, *state.w_cols]
        coef = [1.0, -slope, *(-icpt * c for c in state.w_coef)]
        self.model.add_rows([(np.array(idx), np.array(coef), icpt * state.w_const, math.inf)])
        state.tangents.append(x)
        self.tangent_rows += 1

    # -- the loop -------------------------------------------------------------------------------------------------
    def loop(self) -> tuple[list[int], dict[str, Any]]:
        inst, model = self.inst, self.model
        self._consider([])
        if self.opts.warm_start:
            share = WARM_SHARE * (self.deadline - time.perf_counter()) if math.isfinite(self.deadline) else math.inf
            plan, _, _ = greedy_plan(
                inst, self.evaluator, gap=max(1e-4, inst.ue_gap), deadline=time.perf_counter() + share
            )
            self._consider(plan)
        status, iterations, milp_seconds, stop = "feasible", 0, 0.0, "time_limit"
        while time.perf_counter() < self.deadline:
            left = self.deadline - time.perf_counter()
            if math.isfinite(self.ub):
                model.h.setOptionValue("objective_bound", float(self.ub))  # prune plans that cannot beat UB
            started = time.perf_counter()
            res = model.solve(None if not math.isfinite(left) else 0.95 * left, mip=True)
            milp_seconds += time.perf_counter() - started
            iterations += 1
            ub_before = self.ub
            if res.status == "infeasible":  # every plan not yet evaluated has SO >= UB
                self.lb = self.ub
                status, stop = "optimal", "no plan left below UB"
                break
            if math.isfinite(res.bound):
                self.lb = max(self.lb, min(ub_before, res.bound))
            plans = [res.x, *res.incumbents] if res.x is not None else list(res.incumbents)
            for x in plans:
                if time.perf_counter() >= self.deadline:
                    break
                self._consider([k for k in range(inst.num_projects) if x[self.y[k]] > 0.5])
            if self._closed():
                status, stop = "optimal", "bounds met"
                break
            if res.x is None:  # HiGHS stopped before any solution: nothing to learn from this round
                break
            self._refine(res.x)
        if self._closed():
            status = "optimal"
        lb = min(self.lb, self.ub)
        stats = {
            "status": status,
            "stop": stop if status == "optimal" else "time_limit",
            "lower_bound": lb if math.isfinite(lb) else None,
            "upper_bound_screened": self.ub,
            "gap": (self.ub - lb) / self.ub if math.isfinite(lb) and self.ub > 0 else None,
            "iterations": iterations,
            "plans_evaluated": len(self.excluded),
            "tangent_cuts": self.tangent_rows,
            "milp_seconds": milp_seconds,
            "ue_solves": self.evaluator.solves,
            "ue_seconds": self.evaluator.seconds,
        }
        return sorted(self.best_plan), stats

    def _closed(self) -> bool:
        return math.isfinite(self.ub) and self.ub - self.lb <= self.opts.gap * abs(self.ub)

    def _consider(self, plan: list[int]) -> None:
        """Evaluate ``plan`` by UE (the instance's gap): a new UB candidate, then excluded by a no-good cut."""
        key = frozenset(plan)
        if key in self.excluded:
            return
        if self.inst.plan_cost(plan) > budget_limit(self.inst):
            return
        value = self.evaluator.tstt(plan)
        tie = math.isfinite(self.ub) and value >= self.ub - 1e-9 * abs(self.ub)
        if value < self.ub and not tie:  # a tie keeps the earlier plan (e.g. not two swaps that cancel out)
            self.ub, self.best_plan = value, list(plan)
        self.excluded.add(key)
        inside = np.array([self.y[k] for k in key], dtype=np.int64)
        outside = np.array([self.y[k] for k in range(self.inst.num_projects) if k not in key], dtype=np.int64)
        idx = np.concatenate([inside, outside])
        coef = np.concatenate([-np.ones(len(inside)), np.ones(len(outside))])
        self.model.add_rows([(idx, coef, 1.0 - len(inside), math.inf)])

    def _refine(self, x: np.ndarray) -> None:
        """Kelley: a tangent at each link's MILP flow where the PWL is below the true cost by > REFINE_RTOL."""
        for link in self.links:
            if link.linear_z:
                continue
            for s in link.states:
                if s.capacity is None or not s.allowed:
                    continue
                weight = s.w_const + sum(c * x[col] for c, col in zip(s.w_coef, s.w_cols, strict=True))
                if weight < 0.5:
                    continue
                flow = float(x[s.x])
                true, _ = _f(link.t0, link.b, link.power, s.capacity, flow)
                if true - float(x[s.z]) > REFINE_RTOL * max(true, 1e-9) and flow > 0:
                    if min(abs(flow - t) for t in s.tangents) > 1e-9 * max(1.0, flow):
                        self._tangent(link, s, flow)
