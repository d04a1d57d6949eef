"""Classical baselines of the ``coordination`` kind: first-come-first-served, local search and random priorities.

All three produce an order for every conflict and let the shared scorer compute the schedule.

- ``fcfs``: first-come-first-served. ``mode="planned"`` (the default) orients every conflict by the planned (free
  flow) start times: the interval that would start first without interference passes first. Planned times grow
  strictly along every robot (travel times are positive), so ordering by ``(planned time, interval index)`` is one
  total order that every precedence and every oriented conflict respects: the planned FCFS order can never
  deadlock and needs no cycle breaking. ``mode="dynamic"`` dispatches instead: intervals are started in order of
  their earliest possible start given the orders fixed so far, and every open conflict of a started interval is
  won by it (FCFS by the *actual* arrival under the delays already incurred; acyclic because the orientation
  follows the dispatch order). ``mode="best"`` runs both and keeps the better.
- ``coord-ls``: local search from the best FCFS solution. Only a conflict edge that is tight in the current schedule
  (its destination starts exactly when the constraint allows) can shorten the schedule when flipped, so each round
  evaluates flips of tight conflicts in batches with the numba evaluator (a flip that creates a cycle scores
  ``inf``) and applies the best improving one; rounds repeat until no flip improves or time runs out.
- ``coord-random``: a random priority order of the robots (always deadlock-free); ``samples`` > 1 keeps the best.
"""

from __future__ import annotations

import heapq
import time
from typing import Any

import numpy as np

from routelab.problems import Solution
from routelab.problems.coordination import CoordinationInstance, orders_from_priority, orders_from_ranks
from routelab.solvers.base import Stopwatch, ensure_supported, kind_reason
from routelab.solvers.results import scored_solution

FCFS_MODES: tuple[str, ...] = ("planned", "dynamic", "best")


def planned_starts(instance: CoordinationInstance) -> np.ndarray:
    """Each interval's start with nobody in the way: release time plus the travel time before it."""
    iv = instance.intervals
    dur = iv["duration"]
    csum = np.concatenate([[0.0], np.cumsum(dur)])
    before = csum[:-1] - csum[instance.path_offsets[:-1]][iv["robot"]]
    return instance.release_times[iv["robot"]] + before


def fcfs_planned(instance: CoordinationInstance) -> np.ndarray:
    """Orders by planned arrival (see the module doc for why this never deadlocks)."""
    return orders_from_ranks(instance, planned_starts(instance))


def fcfs_dynamic(instance: CoordinationInstance) -> np.ndarray:
    """Orders by dispatch: start the interval that can start earliest; it wins all its open conflicts."""
    ev = instance.evaluator
    iv = instance.intervals
    duration = ev.duration
    earliest = ev.release.copy()
    orders = np.full(ev.num_conflicts, -1, dtype=np.int8)
    ptr, conf, direction, dst = ev.cand_ptr, ev.cand_conf, ev.cand_dir, ev.cand_dst
    is_last = ev.is_last
    heap = [(float(earliest[i]), int(i)) for i in iv["first"].tolist()]
    heapq.heapify(heap)
    while heap:
        t, u = heapq.heappop(heap)
        if t < earliest[u]:
            heapq.heappush(heap, (float(earliest[u]), u))
            continue
        finish = t + duration[u]
        lo, hi = int(ptr[u]), int(ptr[u + 1])
        if hi > lo:
            cs = conf[lo:hi]
            open_ = orders[cs] < 0
            if open_.any():
                orders[cs[open_]] = direction[lo:hi][open_]
                targets = dst[lo:hi][open_]
                np.maximum.at(earliest, targets, finish)
        if not is_last[u]:
            nxt = u + 1
            if finish > earliest[nxt]:
                earliest[nxt] = finish
            heapq.heappush(heap, (float(earliest[nxt]), nxt))
    orders[orders < 0] = 0  # unreachable: every interval is dispatched
    return orders


def fcfs_orders(instance: CoordinationInstance, mode: str = "planned") -> tuple[np.ndarray, str]:
    """The FCFS orders of ``mode`` and which mode produced them (``"best"`` picks the better of the two)."""
    if mode == "planned":
        return fcfs_planned(instance), "planned"
    if mode == "dynamic":
        return fcfs_dynamic(instance), "dynamic"
    planned, dynamic = fcfs_planned(instance), fcfs_dynamic(instance)
    values = instance.evaluator.evaluate(np.stack([planned, dynamic]))
    return (planned, "planned") if values[0] <= values[1] else (dynamic, "dynamic")


def tight_conflicts(instance: CoordinationInstance, orders: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Conflicts whose chosen edge is binding in the schedule ``start`` (the only ones worth flipping)."""
    ev = instance.evaluator
    first = np.where(orders == 0, ev.conf_a, ev.conf_b)
    second = np.where(orders == 0, ev.conf_b, ev.conf_a)
    weight = np.where(orders == 0, ev.w_ab, ev.w_ba)
    slack = start[second] - (start[first] + weight)
    return np.flatnonzero(np.abs(slack) <= 1e-9 * np.maximum(1.0, np.abs(start[second])))


def local_search(
    instance: CoordinationInstance,
    orders: np.ndarray,
    deadline: float,
    rng: np.random.Generator,
    batch: int = 64,
) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Improve ``orders`` by flipping tight conflicts (best of each evaluated batch) until none improves."""
    ev = instance.evaluator
    orders = orders.astype(np.int8).copy()
    value = float(ev.evaluate(orders))
    evaluations = 1
    moves = 0
    rounds = 0
    converged = False
    while time.perf_counter() < deadline:
        rounds += 1
        start, cycle = ev.schedule(orders)
        assert cycle is None
        cand = tight_conflicts(instance, orders, start)
        rng.shuffle(cand)
        improved = False
        for lo in range(0, len(cand), batch):
            if time.perf_counter() >= deadline:
                break
            chunk = cand[lo : lo + batch]
            trial = np.repeat(orders[None, :], len(chunk), axis=0)
            trial[np.arange(len(chunk)), chunk] ^= 1
            values = ev.evaluate(trial)
            evaluations += len(chunk)
            best = int(np.argmin(values))
            if values[best] < value - 1e-9:
                orders = trial[best]
                value = float(values[best])
                moves += 1
                improved = True
                break
        if not improved and time.perf_counter() < deadline:
            converged = True
            break
    stats = {"evaluations": evaluations, "moves": moves, "rounds": rounds, "local_optimum": converged}
    return orders, value, stats


class _CoordinationSolver:
    kinds = frozenset({"coordination"})
    name = "coordination"

    def supports(self, instance: Any) -> str | None:
        return kind_reason(self, instance)

    def _solution(self, instance: Any, orders: np.ndarray, clock: Stopwatch, stats: dict[str, Any]) -> Solution:
        payload = {"orders": np.asarray(orders, dtype=np.int64).tolist()}
        return scored_solution(self.name, instance, payload, clock, stats)


class FCFSSolver(_CoordinationSolver):
    """First-come-first-served passing orders (``mode``: planned, dynamic or best; see the module doc)."""

    name = "fcfs"
    needs = "a coordination instance (any size; O(N + C) for planned, O((N + C) log N) for dynamic)"

    def __init__(self, mode: str = "planned") -> None:
        if mode not in FCFS_MODES:
            raise ValueError(f"mode must be one of {', '.join(FCFS_MODES)}, got {mode!r}")
        self.mode = mode

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        clock = Stopwatch()
        orders, used = fcfs_orders(instance, self.mode)
        return self._solution(instance, orders, clock, {"mode": used, "status": "heuristic"})


class LocalSearchSolver(_CoordinationSolver):
    """Flip tight conflicts while the schedule improves, from the best FCFS solution (``time_limit`` default 10 s).

    Args:
        start: the FCFS mode to start from (``best`` by default).
        batch: flips evaluated per batch (the numba evaluator scores a batch in one call).
    """

    name = "coord-ls"
    needs = "a coordination instance (time-limited; about 300 evaluations/s at 250 robots)"

    def __init__(self, start: str = "best", batch: int = 64) -> None:
        if start not in FCFS_MODES:
            raise ValueError(f"start must be one of {', '.join(FCFS_MODES)}, got {start!r}")
        if int(batch) != batch or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        self.start = start
        self.batch = int(batch)

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        clock = Stopwatch()
        limit = 10.0 if time_limit is None else float(time_limit)
        orders, used = fcfs_orders(instance, self.start)
        initial = float(instance.evaluator.evaluate(orders))
        deadline = clock.start + limit
        orders, _, stats = local_search(instance, orders, deadline, np.random.default_rng(seed), self.batch)
        stats.update(start=used, start_objective=initial, status="heuristic")
        return self._solution(instance, orders, clock, stats)


class RandomPrioritySolver(_CoordinationSolver):
    """A seeded random priority order of the robots; the best of ``samples`` (each always deadlock-free)."""

    name = "coord-random"
    needs = "a coordination instance (any size)"

    def __init__(self, samples: int = 1) -> None:
        if int(samples) != samples or samples < 1:
            raise ValueError(f"samples must be a positive integer, got {samples!r}")
        self.samples = int(samples)

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        clock = Stopwatch()
        rng = np.random.default_rng(seed)
        batch = np.stack(
            [orders_from_priority(instance, rng.permutation(instance.num_robots)) for _ in range(self.samples)]
        )
        values = instance.evaluator.evaluate(batch)
        best = int(np.argmin(values))
        return self._solution(instance, batch[best], clock, {"samples": self.samples, "status": "heuristic"})
