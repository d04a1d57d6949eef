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
three work arrays.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True)
def _longest_path(
    orders: np.ndarray,
    modes: np.ndarray,
    use_modes: bool,
    duration: np.ndarray,
    is_last: np.ndarray,
    release: np.ndarray,
    cand_ptr: np.ndarray,
    cand_conf: np.ndarray,
    cand_dir: np.ndarray,
    cand_dst: np.ndarray,
    conf_a: np.ndarray,
    conf_b: np.ndarray,
    w_ab: np.ndarray,
    w_ba: np.ndarray,
    f_ab: np.ndarray,
    f_ba: np.ndarray,
    start: np.ndarray,
    indeg: np.ndarray,
    queue: np.ndarray,
) -> int:
    """Earliest start times into ``start``; returns how many intervals were scheduled (``< N``: a cycle)."""
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
def evaluate_batch(
    orders: np.ndarray,
    modes: np.ndarray,
    use_modes: bool,
    duration: np.ndarray,
    is_last: np.ndarray,
    release: np.ndarray,
    last_index: np.ndarray,
    cand_ptr: np.ndarray,
    cand_conf: np.ndarray,
    cand_dir: np.ndarray,
    cand_dst: np.ndarray,
    conf_a: np.ndarray,
    conf_b: np.ndarray,
    w_ab: np.ndarray,
    w_ba: np.ndarray,
    f_ab: np.ndarray,
    f_ba: np.ndarray,
) -> np.ndarray:
    """Mean completion time of each of the ``K`` rows of ``orders`` (``inf`` for a row that deadlocks)."""
    k_count = orders.shape[0]
    n = duration.shape[0]
    out = np.empty(k_count, dtype=np.float64)
    start = np.empty(n, dtype=np.float64)
    indeg = np.empty(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    robots = last_index.shape[0]
    for k in range(k_count):
        done = _longest_path(
            orders[k],
            modes[k],
            use_modes,
            duration,
            is_last,
            release,
            cand_ptr,
            cand_conf,
            cand_dir,
            cand_dst,
            conf_a,
            conf_b,
            w_ab,
            w_ba,
            f_ab,
            f_ba,
            start,
            indeg,
            queue,
        )
        if done < n:
            out[k] = np.inf
            continue
        total = 0.0
        for r in range(robots):
            total += start[last_index[r]]
        out[k] = total / robots
    return out


@njit(cache=True)
def start_times(
    orders: np.ndarray,
    modes: np.ndarray,
    use_modes: bool,
    duration: np.ndarray,
    is_last: np.ndarray,
    release: np.ndarray,
    cand_ptr: np.ndarray,
    cand_conf: np.ndarray,
    cand_dir: np.ndarray,
    cand_dst: np.ndarray,
    conf_a: np.ndarray,
    conf_b: np.ndarray,
    w_ab: np.ndarray,
    w_ba: np.ndarray,
    f_ab: np.ndarray,
    f_ba: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, int]:
    """One schedule: earliest starts, the remaining in-degrees (non-zero on and after a cycle) and the count done."""
    n = duration.shape[0]
    start = np.empty(n, dtype=np.float64)
    indeg = np.empty(n, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    done = _longest_path(
        orders,
        modes,
        use_modes,
        duration,
        is_last,
        release,
        cand_ptr,
        cand_conf,
        cand_dir,
        cand_dst,
        conf_a,
        conf_b,
        w_ab,
        w_ba,
        f_ab,
        f_ba,
        start,
        indeg,
        queue,
    )
    return start, indeg, done


@njit(cache=True, parallel=True)
def evaluate_batch_parallel(
    orders: np.ndarray,
    modes: np.ndarray,
    use_modes: bool,
    duration: np.ndarray,
    is_last: np.ndarray,
    release: np.ndarray,
    last_index: np.ndarray,
    cand_ptr: np.ndarray,
    cand_conf: np.ndarray,
    cand_dir: np.ndarray,
    cand_dst: np.ndarray,
    conf_a: np.ndarray,
    conf_b: np.ndarray,
    w_ab: np.ndarray,
    w_ba: np.ndarray,
    f_ab: np.ndarray,
    f_ba: np.ndarray,
) -> np.ndarray:
    """:func:`evaluate_batch` with the ``K`` rows spread over numba's threads (``numba.set_num_threads``)."""
    k_count = orders.shape[0]
    n = duration.shape[0]
    out = np.empty(k_count, dtype=np.float64)
    robots = last_index.shape[0]
    for k in prange(k_count):
        start = np.empty(n, dtype=np.float64)
        indeg = np.empty(n, dtype=np.int64)
        queue = np.empty(n, dtype=np.int64)
        done = _longest_path(
            orders[k],
            modes[k],
            use_modes,
            duration,
            is_last,
            release,
            cand_ptr,
            cand_conf,
            cand_dir,
            cand_dst,
            conf_a,
            conf_b,
            w_ab,
            w_ba,
            f_ab,
            f_ba,
            start,
            indeg,
            queue,
        )
        if done < n:
            out[k] = np.inf
        else:
            total = 0.0
            for r in range(robots):
                total += start[last_index[r]]
            out[k] = total / robots
    return out
