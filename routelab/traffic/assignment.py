"""Static user-equilibrium (UE) traffic assignment: all-or-nothing loading, BPR costs, (bi-)conjugate Frank-Wolfe.

Why these pieces:

- The upper level of road network design scores every candidate plan by solving a UE, so the assignment is the
  inner loop of the whole family and is written in numba: one shortest-path tree per origin (Dijkstra with a
  binary heap over a CSR adjacency), loaded in reverse settling order (O(nodes) per origin). Origins can be split
  over numba threads (``threads``), but one thread is the default: see :func:`solve_ue`.
- ``FIRST THRU NODE`` (TNTP): nodes numbered below it are zones that a path may start or end at but never pass
  through, otherwise centroid connectors become free shortcuts. The tree search simply does not expand such a
  node unless it is the origin.
- Links cost ``t = t0 * (1 + b * (x / c) ** p)`` (BPR). Routing uses the generalised cost
  ``w_time * t + w_toll * toll + w_length * length`` (Chicago-Sketch's reference: 1, 0.02, 0.04); the Beckmann
  objective integrates that same generalised cost, and TSTT ``sum x t(x)`` is always time only.
- Frank-Wolfe stalls near a relative gap of 1e-5, so conjugate FW (CFW) and bi-conjugate FW (BFW) of
  Mitradjieva & Lindberg (2013) are provided; the direction formulas follow their paper (AequilibraE implements
  the same ones). Every step is an exact line search: bisection on the derivative of the Beckmann objective.

The relative gap of flows ``x`` is ``(sum_a x_a c_a(x) - sum_od q_od * SP_od(c(x))) / sum_a x_a c_a(x)``, measured
before each step, so the flows returned always come with the gap actually measured for them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import njit, prange

ALGORITHMS: tuple[str, ...] = ("fw", "cfw", "bfw")
CONJUGATE_MAX = 0.99999
"""Cap on the conjugate weight of the previous direction: at 1 the new direction would equal the old one."""
PARALLEL_WORK = 200_000
"""Origins x links below which AON runs on one thread (SiouxFalls, Eastern-Massachusetts; Chicago-Sketch is above)."""


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """The arrays a UE assignment needs; nodes are numbered from 0, zones are nodes ``0 .. num_zones - 1``.

    ``first_thru_node`` keeps TNTP's 1-based meaning: nodes ``0 .. first_thru_node - 2`` may not be passed through.
    """

    num_nodes: int
    num_zones: int
    tail: np.ndarray
    head: np.ndarray
    capacity: np.ndarray
    free_flow_time: np.ndarray
    b: np.ndarray
    power: np.ndarray
    toll: np.ndarray | None = None
    length: np.ndarray | None = None
    first_thru_node: int = 1

    def __post_init__(self) -> None:
        m = len(self.tail)
        for name in ("tail", "head"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.int64)
            if arr.shape != (m,):
                raise ValueError(f"{name}: expected shape ({m},), got {arr.shape}")
            if m and (arr.min() < 0 or arr.max() >= self.num_nodes):
                raise ValueError(f"{name}: node indices must lie in 0..{self.num_nodes - 1}")
            object.__setattr__(self, name, arr)
        for name in ("capacity", "free_flow_time", "b", "power", "toll", "length"):
            value = getattr(self, name)
            arr = np.zeros(m) if value is None else np.ascontiguousarray(value, dtype=np.float64)
            if arr.shape != (m,):
                raise ValueError(f"{name}: expected shape ({m},), got {arr.shape}")
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):  # Dijkstra needs non-negative link costs
                raise ValueError(f"{name}: expected finite non-negative values")
            object.__setattr__(self, name, arr)
        if np.any((self.capacity <= 0) & (self.b != 0)):
            raise ValueError("capacity: every congestible link (b != 0) needs a positive capacity")
        if not 1 <= self.num_zones <= self.num_nodes:
            raise ValueError(f"num_zones: expected 1..{self.num_nodes}, got {self.num_zones}")

    @property
    def num_links(self) -> int:
        return len(self.tail)

    def csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Out-links by tail node: ``links[indptr[u]:indptr[u + 1]]`` leave ``u`` (the order is stable)."""
        order = np.argsort(self.tail, kind="stable").astype(np.int64)
        indptr = np.zeros(self.num_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.tail, minlength=self.num_nodes), out=indptr[1:])
        return indptr, order


@dataclass
class UEResult:
    """A UE assignment: link flows, travel times and generalised costs at those flows, and how it converged."""

    flows: np.ndarray
    times: np.ndarray
    costs: np.ndarray
    beckmann: float
    tstt: float
    gap: float
    gaps: list[float] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)
    """Seconds since the start at which each entry of ``gaps`` was measured (time-to-gap curves)."""
    iterations: int = 0
    seconds: float = 0.0
    converged: bool = False
    algorithm: str = "bfw"


# -- link costs -----------------------------------------------------------------------------------------------
def _safe_ratio(flows: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    return np.divide(flows, capacity, out=np.zeros_like(flows), where=capacity > 0)


def bpr_times(network: RoadNetwork, flows: np.ndarray) -> np.ndarray:
    """BPR travel time of every link at ``flows``."""
    ratio = _safe_ratio(np.asarray(flows, dtype=np.float64), network.capacity)
    return network.free_flow_time * (1.0 + network.b * ratio**network.power)


def fixed_costs(network: RoadNetwork, weights: tuple[float, float, float]) -> np.ndarray:
    """The flow-independent part of the generalised cost: ``w_toll * toll + w_length * length``."""
    return weights[1] * network.toll + weights[2] * network.length


def generalised_costs(network: RoadNetwork, flows: np.ndarray, weights: tuple[float, float, float]) -> np.ndarray:
    return weights[0] * bpr_times(network, flows) + fixed_costs(network, weights)


def tstt(network: RoadNetwork, flows: np.ndarray) -> float:
    """Total system travel time ``sum_a x_a t_a(x_a)`` (time only, whatever the routing weights)."""
    flows = np.asarray(flows, dtype=np.float64)
    return float(np.dot(flows, bpr_times(network, flows)))


def beckmann(network: RoadNetwork, flows: np.ndarray, weights: tuple[float, float, float] = (1.0, 0.0, 0.0)) -> float:
    """The Beckmann objective ``sum_a integral_0^x_a c_a(w) dw`` of the generalised cost (the UE minimises it)."""
    x = np.asarray(flows, dtype=np.float64)
    ratio = _safe_ratio(x, network.capacity)
    integral = network.free_flow_time * (
        x + network.b * network.capacity * ratio ** (network.power + 1.0) / (network.power + 1.0)
    )
    return float(weights[0] * integral.sum() + np.dot(fixed_costs(network, weights), x))


def _cost_slopes(network: RoadNetwork, flows: np.ndarray, w_time: float) -> np.ndarray:
    """``d c_a / d x_a``: the diagonal Hessian of the Beckmann objective that (bi-)conjugacy is measured in."""
    ratio = _safe_ratio(flows, network.capacity)
    cap = np.where(network.capacity > 0, network.capacity, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = network.free_flow_time * network.b * network.power * ratio ** (network.power - 1.0) / cap
    return w_time * np.nan_to_num(slope, nan=0.0, posinf=0.0)


# -- shortest paths and all-or-nothing --------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def _tree(origin, indptr, out_links, head_csr, cost_csr, no_thru, dist, pred, order, heap, pos, wanted, targets):
    """Dijkstra from ``origin``; returns how many nodes were settled into ``order``.

    The heap is an indexed 4-ary heap of nodes keyed by ``dist`` (decrease-key through ``pos``: -1 never queued,
    -2 settled), and the arcs are read in CSR order (``head_csr[e]``, ``cost_csr[e]`` for the ``e``-th arc, whose
    link is ``out_links[e]``), which on Chicago-Sketch is ~25 % faster than a lazy binary heap over link-indexed
    arrays. Nodes below ``no_thru`` (0-based zones before FIRST THRU NODE) are settled but never expanded, except the
    origin. The search stops as soon as the ``targets`` destinations with ``wanted[d] > 0`` (zones with demand from
    the origin) are all settled: the rest of the tree carries no flow. Unsettled nodes may keep tentative labels;
    only settled ones (``order[:settled]``) are read.
    """
    n = dist.size
    for i in range(n):
        dist[i] = np.inf
        pred[i] = -1
        pos[i] = -1
    dist[origin] = 0.0
    heap[0] = origin
    pos[origin] = 0
    size = 1
    settled = 0
    while size > 0:
        u = heap[0]
        pos[u] = -2
        size -= 1
        if size > 0:  # move the last node to the root and sift it down
            last = heap[size]
            key = dist[last]
            i = 0
            while True:
                c = 4 * i + 1
                if c >= size:
                    break
                best = c
                best_key = dist[heap[c]]
                for j in range(c + 1, min(c + 4, size)):
                    kj = dist[heap[j]]
                    if kj < best_key:
                        best_key = kj
                        best = j
                if best_key >= key:
                    break
                heap[i] = heap[best]
                pos[heap[i]] = i
                i = best
            heap[i] = last
            pos[last] = i
        order[settled] = u
        settled += 1
        if u < wanted.size and wanted[u] > 0.0 and u != origin:
            targets -= 1
            if targets == 0:
                break
        if u < no_thru and u != origin:
            continue
        du = dist[u]
        for e in range(indptr[u], indptr[u + 1]):
            v = head_csr[e]
            nd = du + cost_csr[e]
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = out_links[e]
                i = pos[v]
                if i == -1:  # first label: append, then sift up
                    i = size
                    size += 1
                while i > 0:
                    parent = (i - 1) // 4
                    w = heap[parent]
                    if dist[w] <= nd:
                        break
                    heap[i] = w
                    pos[w] = i
                    i = parent
                heap[i] = v
                pos[v] = i
    return settled


@njit(cache=True, nogil=True)
def _aon_chunk(c, chunks, origins, demand, indptr, out_links, tail, head, cost, no_thru, num_nodes, flows, sp, bad):
    """Load origins ``c, c + chunks, ...`` into ``flows``; ``sp[c]`` and ``bad[c]`` collect this chunk's totals."""
    zones = demand.shape[1]
    dist = np.empty(num_nodes)
    pred = np.empty(num_nodes, dtype=np.int64)
    order = np.empty(num_nodes, dtype=np.int64)
    node_flow = np.zeros(num_nodes)
    heap = np.empty(num_nodes, dtype=np.int64)
    pos = np.empty(num_nodes, dtype=np.int64)
    head_csr = head[out_links]  # arcs in CSR order: the tree reads them sequentially
    cost_csr = cost[out_links]
    for j in range(c, origins.size, chunks):
        o = origins[j]
        row = demand[o]
        targets = 0
        for d in range(zones):
            if row[d] > 0.0 and d != o:
                targets += 1
        if targets == 0:
            continue
        settled = _tree(o, indptr, out_links, head_csr, cost_csr, no_thru, dist, pred, order, heap, pos, row, targets)
        for d in range(zones):
            q = demand[o, d]
            if q > 0.0 and d != o:
                if dist[d] == np.inf:
                    if bad[c, 0] == 0:
                        bad[c, 1] = o
                        bad[c, 2] = d
                    bad[c, 0] += 1
                    continue
                node_flow[d] += q
                sp[c] += q * dist[d]
        for i in range(settled - 1, 0, -1):  # reverse settling order: every node after its tree parent
            v = order[i]
            f = node_flow[v]
            if f != 0.0:
                a = pred[v]
                flows[a] += f
                node_flow[tail[a]] += f
                node_flow[v] = 0.0
        node_flow[o] = 0.0


@njit(cache=True, nogil=True)
def _aon_serial(origins, demand, indptr, out_links, tail, head, cost, no_thru, num_nodes):
    """All-or-nothing loading on one thread (small networks: a thread team costs more than it saves)."""
    flows = np.zeros(tail.size)
    sp = np.zeros(1)
    bad = np.zeros((1, 3), dtype=np.int64)
    _aon_chunk(0, 1, origins, demand, indptr, out_links, tail, head, cost, no_thru, num_nodes, flows, sp, bad)
    return flows, sp[0], bad[0]


@njit(cache=True, parallel=True)
def _aon_parallel(origins, demand, indptr, out_links, tail, head, cost, no_thru, num_nodes, chunks):
    """All-or-nothing loading with the origins split into ``chunks`` interleaved parts, one per thread.

    Returns the link flows, ``sum_od q_od * SP_od`` and ``[count, origin, destination]`` of OD pairs with demand
    but no path (count 0 when every pair is connected).
    """
    m = tail.size
    part_flows = np.zeros((chunks, m))
    part_sp = np.zeros(chunks)
    part_bad = np.zeros((chunks, 3), dtype=np.int64)
    for c in prange(chunks):
        _aon_chunk(
            c,
            chunks,
            origins,
            demand,
            indptr,
            out_links,
            tail,
            head,
            cost,
            no_thru,
            num_nodes,
            part_flows[c],
            part_sp,
            part_bad,
        )
    total = np.zeros(m)
    bad = np.zeros(3, dtype=np.int64)
    for c in range(chunks):
        total += part_flows[c]
        if part_bad[c, 0] > 0:
            if bad[0] == 0:
                bad[1] = part_bad[c, 1]
                bad[2] = part_bad[c, 2]
            bad[0] += part_bad[c, 0]
    return total, part_sp.sum(), bad


@njit(cache=True)
def _bpr(x, fft, b, power, cap, w_time, fixed):
    """Generalised BPR cost of one link (``x ** 4`` multiplied out: it is the common power and ``**`` is slow)."""
    if b == 0.0 or cap <= 0.0:
        return w_time * fft + fixed
    r = x / cap
    if power == 4.0:
        r2 = r * r
        rp = r2 * r2
    elif power == 1.0:
        rp = r
    else:
        rp = r**power
    return w_time * fft * (1.0 + b * rp) + fixed


@njit(cache=True)
def _slope_along(x, d, tau, fft, b, power, cap, w_time, fixed):
    """``d/dtau`` of the Beckmann objective at ``x + tau * d``: ``sum_a c_a(x_a + tau d_a) d_a``."""
    total = 0.0
    for a in range(x.size):
        if d[a] != 0.0:
            total += _bpr(x[a] + tau * d[a], fft[a], b[a], power[a], cap[a], w_time, fixed[a]) * d[a]
    return total


@njit(cache=True)
def _line_search(x, d, fft, b, power, cap, w_time, fixed, tol):
    """Exact step along ``d`` in [0, 1]: bisection on the (monotone) derivative of the Beckmann objective.

    Returns ``(tau, slope at 0)``; a non-negative slope at 0 means ``d`` is no descent direction and tau is 0.
    """
    g0 = _slope_along(x, d, 0.0, fft, b, power, cap, w_time, fixed)
    if g0 >= 0.0:
        return 0.0, g0
    if _slope_along(x, d, 1.0, fft, b, power, cap, w_time, fixed) <= 0.0:
        return 1.0, g0
    lo = 0.0
    hi = 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if _slope_along(x, d, mid, fft, b, power, cap, w_time, fixed) < 0.0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi), g0


# -- the assignment -------------------------------------------------------------------------------------------------
class _Loader:
    """Everything AON needs that does not change between iterations (CSR, origins, thread split)."""

    def __init__(self, network: RoadNetwork, demand: np.ndarray, threads: int | None) -> None:
        z = network.num_zones
        demand = np.ascontiguousarray(demand, dtype=np.float64)
        if demand.shape != (z, z):
            raise ValueError(f"demand: expected shape ({z}, {z}) (zones x zones), got {demand.shape}")
        if np.any(demand < 0) or not np.all(np.isfinite(demand)):
            raise ValueError("demand: expected finite non-negative trips")
        off_diagonal = demand.copy()
        np.fill_diagonal(off_diagonal, 0.0)
        self.network = network
        self.demand = demand
        self.origins = np.flatnonzero(off_diagonal.sum(axis=1) > 0).astype(np.int64)
        self.indptr, self.out_links = network.csr()
        self.no_thru = max(0, int(network.first_thru_node) - 1)
        if threads is None:  # a thread team only pays off once a load is a millisecond or so of work
            threads = numba.get_num_threads() if len(self.origins) * network.num_links >= PARALLEL_WORK else 1
        self.chunks = max(1, min(int(threads), numba.get_num_threads(), len(self.origins)))

    def load(self, costs: np.ndarray) -> tuple[np.ndarray, float]:
        net = self.network
        if not len(self.origins):
            return np.zeros(net.num_links), 0.0
        args = (self.origins, self.demand, self.indptr, self.out_links, net.tail, net.head)
        costs = np.ascontiguousarray(costs, dtype=np.float64)
        if self.chunks == 1:
            flows, sp, bad = _aon_serial(*args, costs, self.no_thru, net.num_nodes)
        else:
            flows, sp, bad = _aon_parallel(*args, costs, self.no_thru, net.num_nodes, self.chunks)
        if bad[0]:
            raise ValueError(
                f"demand: {bad[0]} OD pairs have trips but no path, e.g. zone {bad[1] + 1} -> zone {bad[2] + 1}"
                " (1-based; paths may not pass through zones below FIRST THRU NODE)"
            )
        return flows, float(sp)


def all_or_nothing(
    network: RoadNetwork, demand: np.ndarray, costs: np.ndarray, *, threads: int | None = 1
) -> tuple[np.ndarray, float]:
    """Load every OD pair on one shortest path under ``costs``; returns ``(flows, sum_od q_od * SP_od)``."""
    return _Loader(network, demand, threads).load(costs)


def relative_gap(
    network: RoadNetwork,
    demand: np.ndarray,
    flows: np.ndarray,
    weights: tuple[float, float, float] = (1.0, 0.0, 0.0),
    *,
    threads: int | None = 1,
) -> float:
    """``(sum x c(x) - sum q SP(c(x))) / sum x c(x)`` for any flows (e.g. a published solution)."""
    flows = np.asarray(flows, dtype=np.float64)
    costs = generalised_costs(network, flows, weights)
    _, sp = all_or_nothing(network, demand, costs, threads=threads)
    total = float(np.dot(flows, costs))
    return (total - sp) / total if total > 0 else 0.0


def solve_ue(
    network: RoadNetwork,
    demand: np.ndarray,
    *,
    algorithm: str = "bfw",
    gap: float = 1e-4,
    max_iter: int = 100_000,
    time_limit: float | None = None,
    weights: tuple[float, float, float] = (1.0, 0.0, 0.0),
    threads: int | None = 1,
) -> UEResult:
    """Solve the static UE to relative gap ``gap`` (or ``max_iter`` steps, or ``time_limit`` seconds).

    ``algorithm``: ``"fw"`` (Frank-Wolfe), ``"cfw"`` (conjugate FW) or ``"bfw"`` (bi-conjugate FW). ``weights``
    are ``(time, toll, length)`` of the generalised routing cost. ``threads`` defaults to 1 because scorers and
    bench jobs already run side by side, and numba's OpenMP team spin-waits badly on an oversubscribed machine
    (3x slower than one thread on a busy 2-core box); ``None`` uses every numba thread on large networks.
    ``iterations`` counts AON loads after the first (one per gap measured); ``gaps[k]`` is the gap of the flows
    after ``k`` steps.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm: expected one of {', '.join(ALGORITHMS)}, got {algorithm!r}")
    clock = time.perf_counter()
    w = (float(weights[0]), float(weights[1]), float(weights[2]))
    if w[0] < 0 or w[1] < 0 or w[2] < 0:
        raise ValueError(f"weights: expected non-negative (time, toll, length) weights, got {weights}")
    loader = _Loader(network, demand, threads)
    net = network
    fixed = fixed_costs(net, w)
    args = (net.free_flow_time, net.b, net.power, net.capacity, w[0], fixed)

    x, _ = loader.load(generalised_costs(net, np.zeros(net.num_links), w))
    gaps: list[float] = []
    elapsed: list[float] = []
    s_prev = np.zeros(0)  # s_{k-1}: the previous direction's target point
    s_prev2 = np.zeros(0)  # s_{k-2}
    chain = 0  # consecutive directions since the last plain FW step (0: next step is FW)
    tau_prev = 1.0
    rgap = math.inf
    converged = False
    while True:
        costs = generalised_costs(net, x, w)
        y, sp = loader.load(costs)
        total = float(np.dot(x, costs))
        rgap = (total - sp) / total if total > 0 else 0.0
        gaps.append(rgap)
        elapsed.append(time.perf_counter() - clock)
        if rgap <= gap:
            converged = True
            break
        if len(gaps) > max_iter or (time_limit is not None and time.perf_counter() - clock >= time_limit):
            break
        tol = max(min(1e-6, rgap * 1e-5), 1e-13)
        use = 0 if algorithm == "fw" or tau_prev >= 1.0 else min(chain, 1 if algorithm == "cfw" else 2)
        while True:
            s = _direction(use, x, y, s_prev, s_prev2, tau_prev, _cost_slopes(net, x, w[0]) if use else None)
            tau, g0 = _line_search(x, s - x, *args, tol)
            if g0 < 0.0 or use == 0:
                break
            use = 0  # the conjugate direction does not descend: restart from a plain FW step
        if use == 0:
            chain = 1
            if tau == 0.0:  # exact step 0 along y - x can only be round-off: take a tiny MSA-like step
                tau = 1e-2 / len(gaps)
        else:
            chain += 1
        x = x + tau * (s - x)
        np.maximum(x, 0.0, out=x)
        s_prev2, s_prev, tau_prev = s_prev, s, tau
    times = bpr_times(net, x)
    return UEResult(
        flows=x,
        times=times,
        costs=w[0] * times + fixed,
        beckmann=beckmann(net, x, w),
        tstt=float(np.dot(x, times)),
        gap=rgap,
        gaps=gaps,
        elapsed=elapsed,
        iterations=len(gaps) - 1,
        seconds=time.perf_counter() - clock,
        converged=converged,
        algorithm=algorithm,
    )


def _direction(
    use: int,
    x: np.ndarray,
    y: np.ndarray,
    s_prev: np.ndarray,
    s_prev2: np.ndarray,
    tau_prev: float,
    slopes: np.ndarray | None,
) -> np.ndarray:
    """The target point ``s`` of the next step (the step is ``x + tau (s - x)``).

    ``use`` 0: FW, ``s = y`` (the AON flows). 1: conjugate FW, ``s = a s_prev + (1 - a) y`` with ``a`` making
    ``s - x`` conjugate to ``s_prev - x`` under the diagonal Hessian ``slopes``. 2: bi-conjugate FW,
    ``s = b0 y + b1 s_prev + b2 s_prev2`` conjugate to the last two directions (Mitradjieva & Lindberg 2013).
    """
    if use == 0:
        return y
    assert slopes is not None
    if use == 1:
        d_prev = s_prev - x
        num = float(np.dot(d_prev * slopes, y - x))
        den = float(np.dot(d_prev * slopes, y - s_prev))
        alpha = num / den if den != 0.0 else 0.0
        alpha = min(max(alpha, 0.0), CONJUGATE_MAX)
        return alpha * s_prev + (1.0 - alpha) * y
    tau = tau_prev
    xbar = tau * s_prev + (1.0 - tau) * s_prev2 - x
    yx = y - x
    z = s_prev - x
    mu_den = float(np.dot(xbar * slopes, s_prev2 - s_prev))
    mu = max(0.0, -float(np.dot(xbar * slopes, yx)) / mu_den) if mu_den != 0.0 else 0.0
    nu_den = float(np.dot(z * slopes, z))
    nu = max(0.0, -float(np.dot(z * slopes, yx)) / nu_den + mu * tau / (1.0 - tau)) if nu_den != 0.0 else 0.0
    b0 = 1.0 / (1.0 + mu + nu)
    return b0 * y + nu * b0 * s_prev + mu * b0 * s_prev2
