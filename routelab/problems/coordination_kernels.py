"""The numba kernels of the ``coordination`` schedule evaluator (the hot path of every coordination solver).

Kept apart from :mod:`routelab.problems.coordination` so that importing the shared format stays numpy-only: the
scorer imports this module lazily, the first time it evaluates a schedule.

The dependency graph has one node per robot interval (``N`` in all) and two kinds of edges:

- precedence ``i -> i + 1`` with weight ``duration[i]`` for every interval that is not its robot's last
  (``is_last[i]`` false);
- for conflict ``c`` (between intervals ``a[c]`` and ``b[c]``): ``a -> b`` with weight ``w_ab[c]`` when
  ``orders[c] == 0`` and ``b -> a`` with weight ``w_ba[c]`` when ``orders[c] == 1``; a conflict whose mode is 1
  (following) uses ``f_ab`` / ``f_ba`` instead.

Candidate conflict edges are stored once, grouped by source interval (a CSR over ``2 C`` entries), so one
evaluation is a Kahn topological sort plus a longest-path relaxation in ``O(N + C)`` with no allocation beyond
three work arrays. The static arrays travel together as one tuple, ``graph`` (see :data:`GRAPH_FIELDS`), so the
kernels share one signature.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

GRAPH_FIELDS = (
    "duration",
    "is_last",
    "release",
    "cand_ptr",
    "cand_conf",
    "cand_dir",
    "cand_dst",
    "conf_a",
    "conf_b",
    "w_ab",
    "w_ba",
    "f_ab",
    "f_ba",
)
"""The order of the arrays in a kernel's ``graph`` tuple (the evaluator's attributes of the same names)."""


@njit(cache=True)
def _longest_path(
    orders: np.ndarray,
    modes: np.ndarray,
    use_modes: bool,
    graph: tuple,
    start: np.ndarray,
    indeg: np.ndarray,
    queue: np.ndarray,
) -> int:
    """Earliest start times into ``start``; returns how many intervals were scheduled (``< N``: a cycle)."""
    duration, is_last, release, cand_ptr, cand_conf, cand_dir, cand_dst, conf_a, conf_b, w_ab, w_ba, f_ab, f_ba = graph
    n = duration.shape[0]
    for i in range(n):
        start[i] = release[i]
        indeg[i] = 0
    for i in range(n - 1):
        if not is_last[i]:
            indeg[i + 1] += 1
    for c in range(conf_a.shape[0]):
        if orders[c] == 0:
            indeg[conf_b[c]] += 1
        else:
            indeg[conf_a[c]] += 1
    head = 0
    tail = 0
    for i in range(n):
        if indeg[i] == 0:
            queue[tail] = i
            tail += 1
    while head < tail:
        u = queue[head]
        head += 1
        su = start[u]
        if not is_last[u]:
            v = u + 1
            t = su + duration[u]
            if t > start[v]:
                start[v] = t
            indeg[v] -= 1
            if indeg[v] == 0:
                queue[tail] = v
                tail += 1
        for e in range(cand_ptr[u], cand_ptr[u + 1]):
            c = cand_conf[e]
            d = cand_dir[e]
            if orders[c] != d:
                continue
            follow = use_modes and modes[c] != 0
            if d == 0:
                w = f_ab[c] if follow else w_ab[c]
            else:
                w = f_ba[c] if follow else w_ba[c]
            v = cand_dst[e]
            t = su + w
            if t > start[v]:
                start[v] = t
            indeg[v] -= 1
            if indeg[v] == 0:
                queue[tail] = v
                tail += 1
    return tail


@njit(cache=True)
def _mean_completion(start: np.ndarray, last_index: np.ndarray) -> float:
    total = 0.0
    for r in range(last_index.shape[0]):
        total += start[last_index[r]]
    return total / last_index.shape[0]


@njit(cache=True)
def evaluate_batch(
    orders: np.ndarray, modes: np.ndarray, use_modes: bool, graph: tuple, last_index: np.ndarray
) -> np.ndarray:
    """Mean completion time of each of the ``K`` rows of ``orders`` (``inf`` for a row that deadlocks)."""
    n = graph[0].shape[0]
    out = np.empty(orders.shape[0], dtype=np.float64)
    start = np.empty(n, dtype=np.float64)
    indeg = np.empty(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    for k in range(orders.shape[0]):
        done = _longest_path(orders[k], modes[k], use_modes, graph, start, indeg, queue)
        out[k] = _mean_completion(start, last_index) if done == n else np.inf
    return out


@njit(cache=True, parallel=True)
def evaluate_batch_parallel(
    orders: np.ndarray, modes: np.ndarray, use_modes: bool, graph: tuple, last_index: np.ndarray
) -> np.ndarray:
    """:func:`evaluate_batch` with the ``K`` rows spread over numba's threads (``numba.set_num_threads``)."""
    n = graph[0].shape[0]
    out = np.empty(orders.shape[0], dtype=np.float64)
    for k in prange(orders.shape[0]):
        start = np.empty(n, dtype=np.float64)
        indeg = np.empty(n, dtype=np.int64)
        queue = np.empty(n, dtype=np.int64)
        done = _longest_path(orders[k], modes[k], use_modes, graph, start, indeg, queue)
        out[k] = _mean_completion(start, last_index) if done == n else np.inf
    return out


@njit(cache=True)
def start_times(
    orders: np.ndarray, modes: np.ndarray, use_modes: bool, graph: tuple
) -> tuple[np.ndarray, np.ndarray, int]:
    """One schedule: earliest starts, the remaining in-degrees (non-zero on and after a cycle) and the count done."""
    n = graph[0].shape[0]
    start = np.empty(n, dtype=np.float64)
    indeg = np.empty(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    done = _longest_path(orders, modes, use_modes, graph, start, indeg, queue)
    return start, indeg, done
