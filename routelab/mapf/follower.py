"""Follower ("Learn to Follow", Skrynnik et al., AAAI 2024): the paper's planner with a rule-based avoidance policy.

The published Follower has two parts: a *heuristic sub-goal decider* (every agent re-plans with A* on a grid whose
cell costs discourage central and congested cells) and a *learned* local policy that follows that path while
avoiding the other agents. Here the planner is :class:`FollowerPlanner` (shared with the learned policy of
:mod:`routelab.mapf.learned`) and :class:`FollowerPolicy` turns its paths into moves with a rule. Usable directly
with :meth:`routelab.mapf.Simulator.run`::

    policy = FollowerPolicy(FollowerConfig(seed=0))
    episode = Simulator(grid, starts, ComponentGoalSource(grid, len(starts)), horizon=256).run(policy)

Cell costs (the cost of *entering* a cell; all >= 1, rounded to multiples of ``1 / COST_QUANTUM``)::

    cost_a(v) = 1 + w_static * static(v) + w_dynamic * seen_a(v) [/ steps_a] + w_agents * [agent visible on v now]

* ``static(v)`` -- the paper's idea that central cells are used by many shortest paths: the mean BFS distance from
  ``v`` to the other free cells of its 4-connected component, min-max normalised over all free cells to [0, 1] and
  inverted, so the busy centre costs most and routes bend around it when the detour is short. Exact (BFS from
  every free cell) up to ``static_exact_cells`` free cells; above, BFS from ``static_sources`` sources sampled per
  component (stratified, seeded) -- an unbiased estimate that keeps den520d / Berlin under a second.
* ``seen_a(v)`` -- agent ``a``'s own congestion map: how many times it saw another agent on ``v`` in its
  ``(2r+1)^2`` window since its current goal was assigned (the paper's raw ``num_occupations``, reset on a new
  goal); ``dynamic_per_step`` divides by the steps since then (the first version's variant).
* ``w_agents`` -- not in the paper: extra cost where an agent stands now (0 by default; the greedy rule needed it).
* ``oneway(v, k)`` -- not in the paper: ``w_oneway`` when the move enters a 1-wide corridor cell against the
  corridor's preferred direction (:func:`oneway_costs`: alternating one-way passages; warehouse, 96 agents: +5 %).
* ``w_flow * opposing_a(u -> v)`` -- not in the paper: a direction-dependent term on the move ``u -> v``, the net
  number of moves agent ``a`` saw through ``v`` heading the other way (towards ``u``) since its goal was assigned.
  Counts are kept per agent and axis (:func:`_note_move`) and reset with ``seen_a``; lanes form where streams
  would otherwise meet head on (warehouse, 192 agents: +3 %).

Search: the heuristic is the exact static cost-to-go, one Dijkstra (bucket queue) from each new goal
(:func:`_dijkstra_to`, the paper's ``update_h_values``), so A* (binary heap in arrays, lazy deletion, ties towards
deeper nodes, generation stamps instead of clearing) expands little beyond the path unless congestion bends it.
Agents re-plan every step on small maps and every ``replan_every`` steps (or when pushed off their path / given a
new goal) on large ones.

Avoidance (``FollowerConfig.avoidance``):

* ``"pibt"`` (default) -- one step of priority inheritance with backtracking (:func:`_resolve_pibt`): agents in
  descending priority (steps since the goal was assigned minus the remaining path length, random tie-break) take
  the first cell of their path if they can, else the best other neighbour or waiting; taking an undecided agent's
  cell makes it move out first (recursively), and nobody takes its pusher's cell; a pushed agent prefers stepping
  aside to moving straight on in front of its pusher (``push_aside``). The joint move has no vertex
  conflicts and no swaps, so POGEMA's soft collisions cancel none of it.
* ``"greedy"`` -- the first rule (:func:`_resolve_rules`): index-order claims, random side-steps when blocked, the
  longer path wins a swap. It deadlocks when a swap's loser has no free neighbour (the 1-wide gaps between the
  warehouse's shelves), which ``w_agents`` only papered over by making routes flip back and forth; see
  docs/solvers/lifelong-mapf.md for the measurements.

Moves into obstacles or off the map are never requested. Randomness comes from one ``numpy`` generator seeded by
``FollowerConfig.seed`` and re-seeded at every episode start, so episodes are deterministic per seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numba import njit

__all__ = ["FollowerConfig", "FollowerPlanner", "FollowerPolicy", "astar_path", "oneway_costs", "static_penalty"]

_INF = 1e300


# ---------------------------------------------------------------------------------------------------- static cost
@njit(cache=True)
def _bfs_accumulate(blocked: np.ndarray, width2: int, sources: np.ndarray, acc: np.ndarray, cnt: np.ndarray) -> None:
    """BFS from every source on the padded flat grid; add each reached cell's distance to ``acc``, 1 to ``cnt``."""
    n = blocked.size
    dist = np.full(n, -1, dtype=np.int64)
    queue = np.empty(n, dtype=np.int64)
    offs = np.array([-width2, width2, -1, 1], dtype=np.int64)
    tail = 0
    for s in sources:
        for k in range(tail):  # clear only what the previous BFS touched
            dist[queue[k]] = -1
        dist[s] = 0
        queue[0] = s
        head, tail = 0, 1
        while head < tail:
            u = queue[head]
            head += 1
            du = dist[u]
            acc[u] += du
            cnt[u] += 1
            for o in offs:
                v = u + o
                if blocked[v] == 0 and dist[v] < 0:
                    dist[v] = du + 1
                    queue[tail] = v
                    tail += 1


def static_penalty(grid: np.ndarray, exact_cells: int = 4096, n_sources: int = 256, seed: int | None = 0) -> np.ndarray:
    """(H, W) static penalty in [0, 1], highest in the busy centre; 0 on blocked cells.

    A central cell has the *smallest* mean BFS distance to the other cells of its component (it lies on many
    shortest paths), so the penalty is ``(max - mean) / (max - min)`` over all free cells: the centre costs most,
    dead ends and the periphery least. Exact when the map has at most ``exact_cells`` free cells (BFS from every
    cell; the cell itself counts with distance 0), else estimated from about ``n_sources`` BFS sources sampled per
    component (stratified by component size, at least one per component, seeded by ``seed``). Checked on
    random-64-64-20 (3.3k free cells): 256 sampled sources vs exact, correlation 0.98, mean abs error 0.04.
    """
    grid = np.asarray(grid) != 0
    h, w = grid.shape
    blocked = np.ones((h + 2, w + 2), dtype=np.uint8)
    blocked[1:-1, 1:-1] = grid
    flat_blocked = blocked.ravel()
    free = np.flatnonzero(flat_blocked == 0)
    out = np.zeros((h, w), dtype=np.float64)
    if free.size == 0:
        return out
    if free.size <= exact_cells:
        sources = free
    else:
        from scipy import ndimage

        labels, n_comp = ndimage.label(blocked == 0)
        lab = labels.ravel()[free]
        order = np.argsort(lab, kind="stable")
        sizes = np.bincount(lab, minlength=n_comp + 1)
        bounds = np.concatenate([[0], np.cumsum(sizes)])
        rng = np.random.default_rng(seed)
        picks = []
        for k in range(1, n_comp + 1):  # free cells all have labels >= 1, so sizes[0] == 0
            cells = free[order[bounds[k] : bounds[k + 1]]]
            m = min(len(cells), max(1, round(n_sources * len(cells) / free.size)))
            picks.append(rng.choice(cells, m, replace=False))
        sources = np.concatenate(picks)
    acc = np.zeros(flat_blocked.size, dtype=np.float64)
    cnt = np.zeros(flat_blocked.size, dtype=np.float64)
    _bfs_accumulate(flat_blocked, w + 2, sources.astype(np.int64), acc, cnt)
    mean = acc[free] / np.maximum(cnt[free], 1.0)
    lo, hi = mean.min(), mean.max()
    val = (hi - mean) / (hi - lo) if hi > lo else np.zeros_like(mean)
    padded = np.zeros(flat_blocked.size, dtype=np.float64)
    padded[free] = val
    return padded.reshape(h + 2, w + 2)[1:-1, 1:-1].copy()


def oneway_costs(blocked: np.ndarray, width2: int, weight: float) -> np.ndarray:
    """(N, 4) extra cost of entering each padded flat cell with move k (0 up, 1 down, 2 left, 3 right).

    A cell of a 1-wide corridor (free neighbours exactly above and below, or exactly left and right) gets a
    preferred direction, and entering it against that direction costs ``weight`` more: vertical corridors run
    down in even columns and up in odd ones, horizontal corridors right in even rows and left in odd ones. The
    alternation is the one-way street rule of warehouse traffic (and of MAPF "highways", Cohen et al., SoCS
    2015): head-on meetings in a passage nobody can step aside in become rare, at the price of a detour when
    the next passage of the right direction is far. Soft, so a corridor with no alternative is still used both
    ways. All zero when ``weight`` is 0.
    """
    n = blocked.size
    out = np.zeros((n, 4), dtype=np.float64)
    if weight == 0.0:
        return out
    free = blocked == 0
    cells = np.flatnonzero(free)
    up, down = free[cells - width2], free[cells + width2]
    left, right = free[cells - 1], free[cells + 1]
    rows, cols = cells // width2 - 1, cells % width2 - 1  # map coordinates (the padding shifts both by 1)
    vertical = up & down & ~left & ~right
    horizontal = left & right & ~up & ~down
    out[cells[vertical], np.where(cols[vertical] % 2 == 0, 0, 1)] = weight  # even column: going up costs more
    out[cells[horizontal], np.where(rows[horizontal] % 2 == 0, 2, 3)] = weight  # even row: going left costs more
    return out


# ---------------------------------------------------------------------------------------------------- heuristic
COST_QUANTUM = 8
"""Cell costs are rounded to multiples of ``1 / COST_QUANTUM``: the exact heuristic is then an integer Dijkstra
with a bucket queue (Dial's algorithm, about BFS speed), and float sums of such costs are exact, so A*'s ties on
``f`` are real ties (broken towards deeper nodes) rather than rounding noise."""


@njit(cache=True)
def _dijkstra_to(
    blocked: np.ndarray,
    base_q: np.ndarray,
    width2: int,
    goal: int,
    h: np.ndarray,
    dist: np.ndarray,
    head: np.ndarray,
    enode: np.ndarray,
    enext: np.ndarray,
) -> None:
    """Exact static cost-to-go ``h[v]`` from every cell ``v`` to ``goal``; ``inf`` where unreachable.

    ``h[v]`` is the sum of the entering costs ``base_q / COST_QUANTUM`` of the cells on the cheapest path
    ``v -> goal`` (the goal included, ``v`` excluded), i.e. exactly what A* accumulates in ``g``: a perfect
    heuristic for the static part of the cost, and a consistent lower bound once the non-negative congestion terms
    are added. This is the paper's ``update_h_values``, computed once per new goal. Dial's bucket queue over the
    integer costs (``len(head) > max(base_q)`` buckets, lazy deletion; ``enode``/``enext`` hold <= 4 entries per
    cell) makes it a few ms even on 66k-cell maps (den520d, Berlin), where a binary heap took ~20 ms.
    """
    big = np.iinfo(np.int64).max
    dist[:] = big
    head[:] = -1
    n_buckets = head.shape[0]
    dist[goal] = 0
    enode[0] = goal
    enext[0] = -1
    head[0] = 0
    n_entries = 1
    pending = 1
    d = 0
    while pending > 0:
        b = d % n_buckets
        e = head[b]
        if e < 0:
            d += 1
            continue
        head[b] = enext[e]
        pending -= 1
        u = enode[e]
        if dist[u] != d:
            continue  # stale entry
        step = base_q[u]  # predecessors of u pay for entering u
        for k in range(4):
            v = u - width2 if k == 0 else (u + width2 if k == 1 else (u - 1 if k == 2 else u + 1))
            if blocked[v] != 0:
                continue
            nd = d + step
            if nd < dist[v]:
                dist[v] = nd
                nb = nd % n_buckets
                enode[n_entries] = v
                enext[n_entries] = head[nb]
                head[nb] = n_entries
                n_entries += 1
                pending += 1
    inv = 1.0 / COST_QUANTUM
    for v in range(dist.shape[0]):
        h[v] = dist[v] * inv if dist[v] != big else np.inf


# ---------------------------------------------------------------------------------------------------- A*
@njit(cache=True)
def _astar(
    blocked: np.ndarray,
    base_cost: np.ndarray,
    dyn: np.ndarray,
    dyn_scale: float,
    flow: np.ndarray,
    w_flow: float,
    oneway: np.ndarray,
    occ: np.ndarray,
    w_occ: float,
    radius: int,
    width2: int,
    start: int,
    goal: int,
    h: np.ndarray,
    g: np.ndarray,
    stamp: np.ndarray,
    gen: int,
    parent: np.ndarray,
    hf: np.ndarray,
    hg: np.ndarray,
    hn: np.ndarray,
) -> tuple[int, int, float]:
    """A* on the padded flat grid; entering ``v`` by move ``k`` costs ``base_cost[v] + dyn_scale * dyn[v] +
    oneway[v, k]`` (+ the head-on term ``w_flow * flow`` and ``w_occ``).

    ``h`` is the exact static cost-to-go of :func:`_dijkstra_to` for this goal. Returns ``(first_cell,
    path_length, path_cost)``; ``first_cell == start`` when ``start == goal`` and ``-1`` when the goal is
    unreachable. ``stamp[v] == gen`` marks ``g[v]``/``parent[v]`` as valid for this search (a negative stamp
    ``-gen`` marks a closed node), so nothing is cleared between searches.
    """
    if start == goal:
        return start, 0, 0.0
    if not h[start] < np.inf:
        return -1, 0, _INF
    sr, sc = start // width2, start % width2
    g[start] = 0.0
    stamp[start] = gen
    parent[start] = -1
    size = 1
    hf[0] = h[start]
    hg[0] = 0.0
    hn[0] = start
    found = False
    while size > 0:
        # pop min (f asc, g desc)
        u = hn[0]
        gu = hg[0]
        size -= 1
        if size > 0:
            lf, lg, ln = hf[size], hg[size], hn[size]
            i = 0
            while True:
                c = 2 * i + 1
                if c >= size:
                    break
                if c + 1 < size and (hf[c + 1] < hf[c] or (hf[c + 1] == hf[c] and hg[c + 1] > hg[c])):
                    c += 1
                if hf[c] < lf or (hf[c] == lf and hg[c] > lg):
                    hf[i], hg[i], hn[i] = hf[c], hg[c], hn[c]
                    i = c
                else:
                    break
            hf[i], hg[i], hn[i] = lf, lg, ln
        if stamp[u] == -gen or gu > g[u]:
            continue  # stale entry
        stamp[u] = -gen
        if u == goal:
            found = True
            break
        for k in range(4):
            if k == 0:
                v = u - width2
            elif k == 1:
                v = u + width2
            elif k == 2:
                v = u - 1
            else:
                v = u + 1
            if blocked[v] != 0 or stamp[v] == -gen:
                continue
            nv = gu + base_cost[v] + dyn_scale * dyn[v] + oneway[v, k]
            if w_flow != 0.0:  # agents seen moving through v towards u: a head-on meeting in a corridor
                f = flow[v, 0] if k < 2 else flow[v, 1]
                if k == 1 or k == 3:
                    f = -f
                if f > 0:
                    nv += w_flow * f
            if w_occ != 0.0 and occ[v] >= 0 and abs(v // width2 - sr) <= radius and abs(v % width2 - sc) <= radius:
                nv += w_occ  # an agent visible there now
            if stamp[v] != gen or nv < g[v]:
                stamp[v] = gen
                g[v] = nv
                parent[v] = u
                fv = nv + h[v]
                i = size
                size += 1
                while i > 0:  # sift up
                    p = (i - 1) // 2
                    if hf[p] < fv or (hf[p] == fv and hg[p] >= nv):
                        break
                    hf[i], hg[i], hn[i] = hf[p], hg[p], hn[p]
                    i = p
                hf[i], hg[i], hn[i] = fv, nv, v
    if not found:
        return -1, 0, _INF
    length = 1
    v = goal
    while parent[v] != start:
        v = parent[v]
        length += 1
    return v, length, g[goal]


def astar_path(
    cost: np.ndarray,
    start: tuple[int, int],
    goal: tuple[int, int],
    flow: np.ndarray | None = None,
    w_flow: float = 0.0,
    w_oneway: float = 0.0,
) -> np.ndarray | None:
    """Cheapest 4-connected path from ``start`` to ``goal``; ``cost[r, c]`` is the cost of entering a cell.

    ``flow`` (H, W, 2) optionally adds the head-on term of :class:`FollowerConfig` ``w_flow``: ``flow[r, c, 0]``
    = downward minus upward moves seen through the cell, ``flow[r, c, 1]`` = rightward minus leftward.
    ``w_oneway`` adds the one-way corridor costs of :func:`oneway_costs`.

    ``cost`` must be >= 1 on free cells (rounded to multiples of ``1 / COST_QUANTUM``); ``inf`` or ``nan`` marks
    a blocked cell. Returns the (k + 1, 2) cells
    including both ends, or ``None`` when unreachable. A thin wrapper around the kernels the policy uses (exact
    Dijkstra heuristic + A*), for tests and inspection.
    """
    cost = np.asarray(cost, dtype=np.float64)
    h, w = cost.shape
    free = np.isfinite(cost)
    if free.any() and cost[free].min() < 1.0:
        raise ValueError("free cell costs must be >= 1")
    w2 = w + 2
    blocked = np.ones((h + 2) * w2, dtype=np.uint8)
    blocked.reshape(h + 2, w2)[1:-1, 1:-1] = ~free
    base_q = np.full((h + 2) * w2, COST_QUANTUM, dtype=np.int64)
    base_q.reshape(h + 2, w2)[1:-1, 1:-1] = np.rint(np.where(free, cost, 1.0) * COST_QUANTUM)
    base = base_q / COST_QUANTUM
    s = (start[0] + 1) * w2 + start[1] + 1
    t = (goal[0] + 1) * w2 + goal[1] + 1
    if blocked[s] or blocked[t]:
        return None
    n = base.size
    g = np.empty(n)
    stamp = np.zeros(n, dtype=np.int64)
    parent = np.empty(n, dtype=np.int64)
    hf, hg, hn = np.empty(4 * n + 8), np.empty(4 * n + 8), np.empty(4 * n + 8, dtype=np.int64)
    hmap = np.empty(n)
    dist, head = np.empty(n, dtype=np.int64), np.empty(int(base_q.max()) + 1, dtype=np.int64)
    _dijkstra_to(blocked, base_q, w2, t, hmap, dist, head, np.empty(4 * n + 8, dtype=np.int64), hn)
    occ = np.full(n, -1, dtype=np.int64)
    dyn = np.zeros(n, dtype=np.int32)
    flat_flow = np.zeros((n, 2), dtype=np.int16)
    if flow is not None:
        flat_flow.reshape(h + 2, w2, 2)[1:-1, 1:-1] = np.asarray(flow, dtype=np.int16)
    first, _, _ = _astar(
        blocked, base, dyn, 0.0, flat_flow, float(w_flow), oneway_costs(blocked, w2, float(w_oneway)), occ, 0.0, 0,
        w2, s, t, hmap, g, stamp, 1, parent, hf, hg, hn,
    )  # fmt: skip
    if first < 0:
        return None
    cells = [t]
    while cells[-1] != s:
        cells.append(int(parent[cells[-1]]))
    cells.reverse()
    return np.array([[c // w2 - 1, c % w2 - 1] for c in cells], dtype=np.int64).reshape(-1, 2)


# ---------------------------------------------------------------------------------------------------- planning
_FLOW_CAP = 30000


@njit(cache=True)
def _note_move(flow: np.ndarray, src: int, dst: int, width2: int) -> None:
    """Record a seen move ``src -> dst`` in one agent's flow map, at both cells (saturating int16 counts).

    ``flow[v, 0]`` = downward minus upward moves seen through ``v``, ``flow[v, 1]`` = rightward minus leftward;
    a net count, because two-way traffic in a wide aisle is no reason to avoid it.
    """
    d = dst - src
    if d == 0:
        return
    axis = 0 if (d == width2 or d == -width2) else 1
    sign = 1 if d > 0 else -1
    for v in (src, dst):
        x = flow[v, axis] + sign
        if -_FLOW_CAP <= x <= _FLOW_CAP:
            flow[v, axis] = x


@njit(cache=True)
def _plan(
    blocked: np.ndarray,
    base_cost: np.ndarray,
    base_q: np.ndarray,
    w_dyn: float,
    dyn_per_step: bool,
    w_flow: float,
    oneway: np.ndarray,
    w_occ: float,
    width2: int,
    radius: int,
    replan_every: int,
    cur: np.ndarray,
    goal: np.ndarray,
    prev_goal: np.ndarray,
    seen: np.ndarray,
    flow: np.ndarray,
    prev_cur: np.ndarray,
    steps: np.ndarray,
    occ: np.ndarray,
    hmap: np.ndarray,
    g: np.ndarray,
    stamp: np.ndarray,
    gen0: int,
    parent: np.ndarray,
    hf: np.ndarray,
    hg: np.ndarray,
    hn: np.ndarray,
    hbuf: np.ndarray,
    dist: np.ndarray,
    head: np.ndarray,
    enext: np.ndarray,
    path: np.ndarray,
    ppos: np.ndarray,
    ptotal: np.ndarray,
    age: np.ndarray,
    desired: np.ndarray,
    plen: np.ndarray,
    path_obs: np.ndarray,
) -> int:
    """The Follower's sub-goal decider for all agents: congestion bookkeeping, then A* where needed.

    Sets ``occ[cur[a]] = a`` (the caller clears it with :func:`_clear`); writes ``desired`` (the next cell of the
    path, the agent's own cell if it is on its goal or the goal is unreachable) and ``plen`` (remaining path
    length, 0 if none). An agent re-plans when its goal changed, it left its path (pushed aside, or it did not
    take the planned step and is not where it was), its stored prefix (``path[a]``, ``path.shape[1] - 1`` steps)
    is used up, or ``replan_every`` steps passed; ``replan_every = 1`` is the paper's re-plan-every-step. If
    ``path_obs`` has ``A`` rows, the freshly planned path's cells inside each agent's ``(2r+1)^2`` window are
    marked there (the learned policy's path channel; it needs ``replan_every = 1``). Returns the next A* generation.
    """
    n_agents = cur.shape[0]
    height2 = blocked.size // width2
    side = 2 * radius + 1
    cap = path.shape[1]
    for a in range(n_agents):
        occ[cur[a]] = a
    # new goal -> forget the congestion map (the paper's reset_dynamic_cost) and refresh the exact heuristic
    for a in range(n_agents):
        if goal[a] != prev_goal[a]:
            seen[a, :] = 0
            flow[a, :, :] = 0
            steps[a] = 0
            prev_goal[a] = goal[a]
            ptotal[a] = -1  # forces a re-plan
            _dijkstra_to(blocked, base_q, width2, goal[a], hbuf, dist, head, hn, enext)
            for v in range(hbuf.shape[0]):
                hmap[a, v] = hbuf[v]
    # observation: other agents inside the (2r+1)^2 window
    for a in range(n_agents):
        r0, c0 = cur[a] // width2, cur[a] % width2
        steps[a] += 1
        for r in range(max(1, r0 - radius), min(height2 - 1, r0 + radius + 1)):
            base = r * width2
            for c in range(max(1, c0 - radius), min(width2 - 1, c0 + radius + 1)):
                b = occ[base + c]
                if b >= 0 and b != a:
                    seen[a, base + c] += 1
                    if w_flow != 0.0 and prev_cur[b] >= 0:
                        _note_move(flow[a], prev_cur[b], base + c, width2)
    prev_cur[:] = cur
    mark = path_obs.shape[0] == n_agents
    gen = gen0
    for a in range(n_agents):
        age[a] += 1
        need = ptotal[a] < 0 or age[a] >= replan_every or mark
        if not need:
            k = ppos[a]
            if k + 1 < cap and k + 1 <= ptotal[a] and cur[a] == path[a, k + 1]:
                ppos[a] = k + 1  # took the planned step
            elif cur[a] != path[a, k]:
                need = True  # pushed off the path
            if ppos[a] >= ptotal[a] or ppos[a] + 1 >= cap:
                need = True  # goal reached (new goal pending) or prefix used up
        if need:
            gen += 1
            scale = w_dyn / steps[a] if dyn_per_step else w_dyn
            first, length, _ = _astar(
                blocked, base_cost, seen[a], scale, flow[a], w_flow, oneway, occ, w_occ, radius, width2, cur[a],
                goal[a], hmap[a], g, stamp, gen, parent, hf, hg, hn,
            )  # fmt: skip
            age[a] = 0
            ppos[a] = 0
            path[a, 0] = cur[a]
            if mark:
                path_obs[a, :, :] = 0
            if first < 0 or length == 0:
                ptotal[a] = 0
            else:
                ptotal[a] = length
                v = goal[a]
                idx = length
                while True:
                    if idx < cap:
                        path[a, idx] = v
                    if mark:
                        dr, dc = v // width2 - cur[a] // width2 + radius, v % width2 - cur[a] % width2 + radius
                        if 0 <= dr < side and 0 <= dc < side:
                            path_obs[a, dr, dc] = 1
                    if v == cur[a]:
                        break
                    v = parent[v]
                    idx -= 1
        k = ppos[a]
        if ptotal[a] > k:
            desired[a] = path[a, k + 1]
            plen[a] = ptotal[a] - k
        else:
            desired[a] = cur[a]
            plen[a] = 0
    return gen


@njit(cache=True)
def _clear(occ: np.ndarray, claim: np.ndarray, cur: np.ndarray, tgt: np.ndarray) -> None:
    for a in range(cur.shape[0]):
        occ[cur[a]] = -1
        claim[tgt[a]] = -1


@njit(cache=True)
def _to_actions(cur: np.ndarray, tgt: np.ndarray, width2: int, actions: np.ndarray) -> None:
    for a in range(cur.shape[0]):
        diff = tgt[a] - cur[a]
        if diff == 0:
            actions[a] = 0
        elif diff == -width2:
            actions[a] = 1
        elif diff == width2:
            actions[a] = 2
        elif diff == -1:
            actions[a] = 3
        else:
            actions[a] = 4


# ---------------------------------------------------------------------------------------------------- avoidance
@njit(cache=True)
def _resolve_rules(
    blocked: np.ndarray,
    width2: int,
    sidestep_prob: float,
    patience: int,
    waits: np.ndarray,
    cur: np.ndarray,
    desired: np.ndarray,
    plen: np.ndarray,
    occ: np.ndarray,
    rand: np.ndarray,
    claim: np.ndarray,
    tgt: np.ndarray,
) -> None:
    """The original greedy rule (``avoidance="greedy"``): agents decide in index order, blocked agents wait or
    side-step at random; swaps are broken by path length. Kept for comparison: it deadlocks in 1-wide passages
    (the loser of a swap there has nowhere to go and the winner never yields), see the module docstring."""
    n_agents = cur.shape[0]
    for a in range(n_agents):
        me = cur[a]
        d = desired[a]
        ok = False
        forced = False
        if d == me:
            ok = True
        elif claim[d] >= 0:
            ok = False  # a lower index already claimed it
        else:
            b = occ[d]
            if b < 0:
                ok = True
            else:
                nb = tgt[b] if b < a else desired[b]  # decided (lower index) or intended (higher index)
                if nb == me:  # swap
                    if b < a:
                        forced = True  # b won and counts on us making room
                    elif plen[a] >= plen[b]:  # a (the lower index here) is farther or tied -> a keeps its move
                        ok = True
                    else:
                        forced = True
                elif nb == d:
                    ok = False  # occupant stays
                else:
                    ok = True  # occupant leaves: follow it
        if ok:
            t = d
        else:
            t = me
            if forced or waits[a] >= patience or rand[a, 0] < sidestep_prob:
                n_free = 0
                for k in range(4):
                    v = me - width2 if k == 0 else (me + width2 if k == 1 else (me - 1 if k == 2 else me + 1))
                    if blocked[v] == 0 and occ[v] < 0 and claim[v] < 0:
                        n_free += 1
                if n_free > 0:
                    pick = min(int(rand[a, 1] * n_free), n_free - 1)
                    for k in range(4):
                        v = me - width2 if k == 0 else (me + width2 if k == 1 else (me - 1 if k == 2 else me + 1))
                        if blocked[v] == 0 and occ[v] < 0 and claim[v] < 0:
                            if pick == 0:
                                t = v
                                break
                            pick -= 1
        tgt[a] = t
        claim[t] = a
        waits[a] = 0 if ok else waits[a] + 1


@njit(cache=True)
def _pibt_push(
    a: int,
    pusher: int,
    d: int,
    blocked: np.ndarray,
    base_cost: np.ndarray,
    width2: int,
    cur: np.ndarray,
    desired: np.ndarray,
    hmap: np.ndarray,
    noise: np.ndarray,
    aside: float,
    sa: np.ndarray,
    sp: np.ndarray,
    si: np.ndarray,
    sn: np.ndarray,
    sc: np.ndarray,
) -> None:
    """Open frame ``d`` of :func:`_resolve_pibt`'s explicit stack: agent ``a``'s candidate cells, best first.

    Candidates: the planned first step, then the other free neighbours and waiting, ordered by static cost-to-go
    (entering cost + ``h``; waiting counts one extra step), with a small random tie-break.
    """
    me = cur[a]
    ahead = 2 * me - cur[pusher] if pusher >= 0 else -1  # straight on, where the pusher is heading next
    key = np.empty(5, dtype=np.float64)
    n = 0
    for k in range(5):
        if k == 4:
            v = me
        else:
            v = me - width2 if k == 0 else (me + width2 if k == 1 else (me - 1 if k == 2 else me + 1))
            if blocked[v] != 0:
                continue
        hv = hmap[a, v]
        kv = hv + 1.0 if v == me else base_cost[v] + hv
        if v == desired[a] and v != me:
            kv = -1.0  # the plan comes first
        elif v == ahead:
            kv += aside  # pushed straight on, it would be pushed again: prefer stepping aside
        kv += noise[a, k]
        j = n - 1  # insertion sort
        while j >= 0 and key[j] > kv:
            key[j + 1] = key[j]
            sc[d, j + 1] = sc[d, j]
            j -= 1
        key[j + 1] = kv
        sc[d, j + 1] = v
        n += 1
    sa[d] = a
    sp[d] = pusher
    si[d] = 0
    sn[d] = n


@njit(cache=True)
def _resolve_pibt(
    blocked: np.ndarray,
    base_cost: np.ndarray,
    width2: int,
    cur: np.ndarray,
    desired: np.ndarray,
    hmap: np.ndarray,
    priority: np.ndarray,
    occ: np.ndarray,
    noise: np.ndarray,
    aside: float,
    claim: np.ndarray,
    tgt: np.ndarray,
) -> None:
    """Conflict-free joint move by priority inheritance with backtracking (PIBT, Okumura et al., AIJ 2022).

    Agents in descending ``priority`` that have not moved yet pick their best unclaimed candidate; taking a cell
    whose occupant has not decided makes the occupant inherit the priority and move out first (recursively); if
    it cannot, the taker tries its next candidate; an agent that finds nothing stays. A pushed agent never takes
    its pusher's cell (no swaps). The recursion runs on an explicit stack (numba cannot cache recursive
    functions). The result has no vertex conflicts and no swaps, so POGEMA's soft collisions cancel nothing.
    """
    n_agents = cur.shape[0]
    tgt[:] = -1
    sa = np.empty(n_agents + 1, dtype=np.int64)
    sp = np.empty(n_agents + 1, dtype=np.int64)
    si = np.empty(n_agents + 1, dtype=np.int64)
    sn = np.empty(n_agents + 1, dtype=np.int64)
    sc = np.empty((n_agents + 1, 5), dtype=np.int64)
    order = np.argsort(-priority)
    for o in range(n_agents):
        root = order[o]
        if tgt[root] >= 0:
            continue
        _pibt_push(root, -1, 0, blocked, base_cost, width2, cur, desired, hmap, noise, aside, sa, sp, si, sn, sc)
        d = 1
        have = False
        ok = False
        while d > 0:
            f = d - 1
            a = sa[f]
            if have:
                have = False
                if ok:  # the pushed agent made room: this frame succeeds too
                    d -= 1
                    have = True
                    continue
            advanced = False
            while si[f] < sn[f]:
                v = sc[f, si[f]]
                si[f] += 1
                if claim[v] >= 0:
                    continue
                if sp[f] >= 0 and v == cur[sp[f]]:
                    continue
                claim[v] = a
                tgt[a] = v
                b = occ[v]
                if b >= 0 and b != a and tgt[b] < 0:
                    _pibt_push(
                        b, a, d, blocked, base_cost, width2, cur, desired, hmap, noise, aside, sa, sp, si, sn, sc
                    )  # fmt: skip
                    d += 1
                else:
                    d -= 1
                    have = True
                    ok = True
                advanced = True
                break
            if not advanced:  # no candidate: stay (the pusher then tries its next one)
                tgt[a] = cur[a]
                claim[cur[a]] = a
                d -= 1
                have = True
                ok = False


# ---------------------------------------------------------------------------------------------------- policy
AVOIDANCE = ("pibt", "greedy")


@dataclass(frozen=True)
class FollowerConfig:
    """Options of :class:`FollowerPolicy` (defaults from the sweep recorded in docs/solvers/lifelong-mapf.md).

    The paper's planner: ``w_static`` scales the static penalty, ``w_dynamic`` the congestion counts. Our
    rule-based stand-in for the learned avoidance adds ``avoidance`` (``"pibt"``: priority inheritance among the
    agents in contact; ``"greedy"``: the first, deadlock-prone rule) and ``w_agents``.
    """

    obs_radius: int = 5
    """Observation window half-size ``r`` (POGEMA's ``obs_radius``; the window is ``(2r+1)^2``)."""
    w_static: float = 2.0
    """Weight of the static centrality penalty (in [0, 1] per cell)."""
    w_dynamic: float = 0.5
    """Weight of the congestion term: times a cell was seen occupied since the goal was assigned (the paper's
    raw ``num_occupations``), or that count divided by the steps since then when ``dynamic_per_step``."""
    push_aside: float = 1.0
    """``"pibt"`` only: extra sort key of the cell straight ahead for a pushed agent (where its pusher is heading
    next), so it steps out of the way rather than being driven along in front of the pusher (not in the paper).
    Warehouse, 6 held-out episodes, 32 / 64 / 96 / 192 agents, with ``w_flow``: +1.4 / +2.1 / +2.3 / +3.2 %
    throughput over neither."""
    w_flow: float = 0.25
    w_oneway: float = 5.0
    """Extra cost of passing through a 1-wide corridor cell against its preferred direction (:func:`oneway_costs`;
    not in the paper). Warehouse, 6 held-out episodes, 64 / 96 / 192 agents: +3 / +5 / +8 % throughput; on
    random-32-32-10 -0.3 to -0.9 %, maps without 1-wide passages unchanged."""
    """Weight of the head-on term: entering ``v`` from ``u`` costs ``w_flow`` more per net move seen through ``v``
    in the opposite direction (towards ``u``) since the goal was assigned, so routes avoid meeting a stream head
    on in a corridor (not in the paper; the counts are per agent and local like ``seen_a``, see
    :func:`_note_move`)."""
    dynamic_per_step: bool = False
    """Divide the congestion counts by the steps since the goal was assigned (the first version's variant)."""
    replan_every: int = 0
    """Re-plan at least every this many steps (1 = every step, as in the paper); in between an agent follows its
    stored path and re-plans early when its goal changes or it is pushed off the path. 0 = automatic: 1 on maps
    with at most ``static_exact_cells`` free cells, 4 above, where it halves the time per episode (den520d, 256
    agents: 1.000 -> 0.992 goals per step; on the warehouse 4 would cost ~1% throughput, see
    docs/solvers/lifelong-mapf.md)."""
    w_agents: float = 0.0
    """Extra cost of a cell where another agent is visible now (needed by ``"greedy"``, harmful with ``"pibt"``)."""
    avoidance: str = "pibt"
    """Collision avoidance: ``"pibt"`` or ``"greedy"`` (see the module docstring)."""
    sidestep_prob: float = 0.5
    """``"greedy"`` only: probability that a blocked agent steps to a random free neighbour instead of waiting."""
    patience: int = 1_000_000
    """``"greedy"`` only: after this many consecutive blocked steps an agent side-steps with probability 1."""
    static_exact_cells: int = 4096
    """Exact static penalty (BFS from every free cell) up to this many free cells; sampled above."""
    static_sources: int = 256
    """Number of sampled BFS sources when the map is larger than ``static_exact_cells``."""
    seed: int = 0
    """Seed of the tie-break / side-step randomness and of the static-penalty sampling."""

    def __post_init__(self) -> None:
        if self.avoidance not in AVOIDANCE:
            raise ValueError(f"avoidance must be one of {AVOIDANCE}, got {self.avoidance!r}")
        if self.replan_every < 0:
            raise ValueError(f"replan_every must be >= 0 (0 = automatic), got {self.replan_every}")
        if self.obs_radius < 1:
            raise ValueError(f"obs_radius must be >= 1, got {self.obs_radius}")
        if min(self.w_static, self.w_dynamic, self.w_agents, self.w_flow, self.w_oneway) < 0:
            raise ValueError("w_static, w_dynamic, w_flow, w_oneway and w_agents must be >= 0 (A* needs costs >= 0)")


class FollowerPlanner:
    """The Follower's per-agent planner state for one episode (congestion maps, heuristics, A* buffers).

    Shared by the rule-based :class:`FollowerPolicy` and the learned policy (:mod:`routelab.mapf.learned`),
    which differ only in how they turn the planned paths into moves.
    """

    def __init__(self, config: FollowerConfig) -> None:
        self.config = config
        self._grid_key: bytes | None = None
        self.static: np.ndarray | None = None

    def prepare_map(self, grid: np.ndarray) -> None:
        """Static penalty and buffers for ``grid`` (cached: a no-op for the same map)."""
        key = grid.shape[0].to_bytes(4, "little") + np.packbits(grid != 0).tobytes()
        if key == self._grid_key:
            return
        cfg = self.config
        self._grid_key = key
        self.static = static_penalty(grid, cfg.static_exact_cells, cfg.static_sources, cfg.seed)
        h, w = grid.shape
        self.width2 = w + 2
        self.blocked = np.ones((h + 2) * self.width2, dtype=np.uint8)
        self.blocked.reshape(h + 2, self.width2)[1:-1, 1:-1] = grid != 0
        base = np.ones((h + 2) * self.width2, dtype=np.float64)
        base.reshape(h + 2, self.width2)[1:-1, 1:-1] += cfg.w_static * self.static
        self.base_q = np.rint(base * COST_QUANTUM).astype(np.int64)
        self.base = self.base_q / COST_QUANTUM
        n = base.size
        self.oneway = oneway_costs(self.blocked, self.width2, cfg.w_oneway)
        free = int((grid == 0).sum())
        self.replan_every = cfg.replan_every or (1 if free <= cfg.static_exact_cells else 4)
        self._dist = np.empty(n, dtype=np.int64)
        self._head = np.empty(int(self.base_q.max()) + 1, dtype=np.int64)
        self._enext = np.empty(4 * n + 8, dtype=np.int64)
        self._g = np.empty(n)
        self._stamp = np.zeros(n, dtype=np.int64)
        self._parent = np.empty(n, dtype=np.int64)
        self._hf = np.empty(4 * n + 8)
        self._hg = np.empty(4 * n + 8)
        self._hn = np.empty(4 * n + 8, dtype=np.int64)
        self._hbuf = np.empty(n)
        self.occ = np.full(n, -1, dtype=np.int64)
        self.claim = np.full(n, -1, dtype=np.int64)
        self._gen = 0

    def reset(self, grid: np.ndarray, num_agents: int) -> None:
        """New episode: fresh congestion maps; heuristics are recomputed on the first step (new goals)."""
        self.prepare_map(grid)
        a = int(num_agents)
        n = self.base.size
        self.seen = np.zeros((a, n), dtype=np.int32)
        self.flow = np.zeros((a, n if self.config.w_flow else 1, 2), dtype=np.int16)
        self.prev_cur = np.full(a, -1, dtype=np.int64)
        self.hmap = np.empty((a, n), dtype=np.float32)  # multiples of 1/8 below 2M: exact in float32
        self.steps = np.zeros(a, dtype=np.int64)
        self.prev_goal = np.full(a, -1, dtype=np.int64)
        self.desired = np.empty(a, dtype=np.int64)
        self.plen = np.empty(a, dtype=np.int64)
        self.path = np.empty((a, self.replan_every + 1), dtype=np.int64)
        self.ppos = np.zeros(a, dtype=np.int64)
        self.ptotal = np.full(a, -1, dtype=np.int64)
        self.age = np.zeros(a, dtype=np.int64)
        self.tgt = np.empty(a, dtype=np.int64)
        self.waits = np.zeros(a, dtype=np.int64)

    def flat(self, cells: np.ndarray) -> np.ndarray:
        """(A, 2) ``(row, col)`` -> flat padded cell ids."""
        cells = np.asarray(cells)
        return ((cells[:, 0] + 1) * self.width2 + cells[:, 1] + 1).astype(np.int64)

    def plan(self, cur: np.ndarray, goal: np.ndarray, path_obs: np.ndarray | None = None) -> None:
        """One planning step (see :func:`_plan`); leaves ``occ`` set until :meth:`finish`."""
        cfg = self.config
        empty = np.zeros((0, 1, 1), dtype=np.uint8)
        self._gen = _plan(
            self.blocked, self.base, self.base_q, float(cfg.w_dynamic), bool(cfg.dynamic_per_step),
            float(cfg.w_flow), self.oneway, float(cfg.w_agents), self.width2, int(cfg.obs_radius),
            int(self.replan_every), cur, goal, self.prev_goal, self.seen, self.flow, self.prev_cur, self.steps,
            self.occ, self.hmap, self._g,
            self._stamp, self._gen, self._parent, self._hf, self._hg, self._hn, self._hbuf, self._dist, self._head,
            self._enext, self.path, self.ppos, self.ptotal, self.age, self.desired, self.plen,
            empty if path_obs is None else path_obs,
        )  # fmt: skip

    def finish(self, cur: np.ndarray, actions: np.ndarray) -> None:
        """Turn ``self.tgt`` into action codes and clear the per-step cell marks."""
        _to_actions(cur, self.tgt, self.width2, actions)
        _clear(self.occ, self.claim, cur, self.tgt)


class FollowerPolicy:
    """Follower planner + rule-based avoidance as a ``policy(sim) -> actions`` callable for ``Simulator.run``.

    State (congestion maps, RNG) is reset automatically when called on a simulator at ``t == 0`` or on a different
    simulator, so one object can run many episodes; the static penalty is cached per map.
    """

    def __init__(self, config: FollowerConfig | None = None, **overrides: float | int | str | bool) -> None:
        self.config = replace(config or FollowerConfig(), **overrides)
        self.planner = FollowerPlanner(self.config)
        self._sim_id: int | None = None

    @property
    def static(self) -> np.ndarray | None:
        """The static penalty of the current map (``None`` before the first call)."""
        return self.planner.static

    def reset(self, sim: object) -> None:
        """Start a new episode on ``sim`` (a :class:`~routelab.mapf.Simulator`)."""
        self.planner.reset(np.asarray(sim.grid), int(sim.num_agents))  # type: ignore[attr-defined]
        self._rng = np.random.default_rng(self.config.seed)
        self._sim_id = id(sim)

    def __call__(self, sim: object) -> np.ndarray:
        if self._sim_id != id(sim) or sim.t == 0:  # type: ignore[attr-defined]
            self.reset(sim)
        p = self.planner
        cfg = self.config
        cur = p.flat(sim.positions)  # type: ignore[attr-defined]
        goal = p.flat(sim.goals)  # type: ignore[attr-defined]
        a = len(cur)
        actions = np.zeros(a, dtype=np.int64)
        p.plan(cur, goal)
        if cfg.avoidance == "pibt":
            noise = self._rng.random((a, 5)) * 1e-3
            priority = p.steps - p.plen + self._rng.random(a) * 0.5  # elapsed since goal, minus distance left
            _resolve_pibt(p.blocked, p.base, p.width2, cur, p.desired, p.hmap, priority, p.occ, noise,
                float(cfg.push_aside), p.claim, p.tgt,
            )  # fmt: skip
        else:
            _resolve_rules(
                p.blocked, p.width2, float(cfg.sidestep_prob), int(cfg.patience), p.waits, cur, p.desired, p.plen,
                p.occ, self._rng.random((a, 2)), p.claim, p.tgt,
            )  # fmt: skip
        p.finish(cur, actions)
        return actions
