"""The ``lifelong_mapf`` kind: lifelong multi-agent path finding on a 4-connected grid.

Agents start on distinct free cells; each has a stream of goals and gets its next goal as soon as it reaches
the current one. Over ``horizon`` steps every agent waits or moves to a free 4-neighbour; two agents may never
share a cell nor swap cells. The objective is the throughput, goals reached per step, and it is maximised
(``Score.sense == "max"``).

Timing (POGEMA's ``on_target="restart"``): positions are indexed ``t = 0..horizon``, ``t = 0`` being the start;
step ``t`` moves every agent from its position ``t - 1`` to its position ``t``. An agent standing on its
current goal at the end of step ``t`` (``t >= 1``) reaches that goal at step ``t``, and its next goal is active
from step ``t + 1``. A goal is never the cell its agent stands on when the goal becomes active, so an agent
that stays on a reached goal does not score again.

Goal streams:

- explicit: ``goals`` (a flat ``(G, 2)`` array of ``(row, col)``) and ``goal_offsets`` (``(A + 1,)``): agent
  ``a``'s goals are ``goals[goal_offsets[a]:goal_offsets[a + 1]]``, in order; after its last goal an agent
  has no goal and scores nothing more. A goal may be unreachable (a closed room): that agent simply never
  reaches it.
- generated: ``goal_seed`` and ``goal_mode`` ``"component"`` (uniform over the free cells of the agent's
  4-connected component) or ``"endpoints"`` (uniform over the ``endpoints`` in that component). Agent ``a``'s
  goals come from ``numpy.random.default_rng([goal_seed, a])``, one ``integers(m)`` draw per goal over the
  candidate cells sorted row-major, minus the cell the agent stands on when the goal becomes active (see
  :meth:`LifelongMAPFInstance.goal_stream`). Goals are always reachable; an agent whose component holds no
  other candidate has no (further) goal.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from routelab.problems.errors import FormatError
from routelab.problems.score import Score, ViolationLog
from routelab.problems.validate import as_array, as_int

GOAL_MODES: tuple[str, ...] = ("explicit", "component", "endpoints")


def _cells(source: str, field_name: str, value: Any) -> np.ndarray:
    """A ``(k, 2)`` int64 array of ``(row, col)`` cells (an empty list gives shape ``(0, 2)``)."""
    if _is_empty(value):
        return np.zeros((0, 2), dtype=np.int64)
    arr = as_array(source, field_name, value, ndim=2, dtype=int)
    if arr.shape[1] != 2:
        raise FormatError(source, field_name, "shape (k, 2) of (row, col) cells", f"shape {arr.shape}")
    return arr


def _is_empty(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.size == 0
    return isinstance(value, (list, tuple)) and len(value) == 0


def _cell(arr: np.ndarray) -> tuple[int, int]:
    return int(arr[0]), int(arr[1])


@dataclass(frozen=True, eq=False, kw_only=True)
class LifelongMAPFInstance:
    """A lifelong MAPF instance: a grid, agents' start cells, a horizon and a goal stream per agent.

    Attributes:
        name: instance name.
        grid: ``(H, W)`` uint8, 1 = blocked, 0 = free.
        starts: ``(A, 2)`` int64 ``(row, col)`` start cells, distinct and free.
        horizon: the number of steps (>= 1).
        goals: explicit mode: flat ``(G, 2)`` int64 goal cells; the constructor also accepts a list of
            per-agent lists of cells when ``goal_offsets`` is None.
        goal_offsets: explicit mode: ``(A + 1,)`` int64, agent ``a``'s goals are rows ``offsets[a]:offsets[a+1]``.
        goal_seed: generated mode: the seed (>= 0) of every agent's goal generator.
        goal_mode: ``"explicit"`` (inferred when ``goals`` is given), ``"component"`` (the default otherwise)
            or ``"endpoints"``.
        endpoints: ``(K, 2)`` int64 task cells (required for ``"endpoints"``; kept, but unused, otherwise).
        meta: free provenance; never used for scoring.
    """

    kind: ClassVar[str] = "lifelong_mapf"
    name: str
    grid: np.ndarray
    starts: np.ndarray
    horizon: int
    goals: np.ndarray | None = None
    goal_offsets: np.ndarray | None = None
    goal_seed: int | None = None
    goal_mode: str | None = None
    endpoints: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    # -- validation ------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        src = self.name
        grid = as_array(src, "grid", self.grid, ndim=2, dtype=int)
        if grid.shape[0] < 1 or grid.shape[1] < 1:
            raise FormatError(src, "grid", "at least one row and one column", f"shape {grid.shape}")
        if not np.all((grid == 0) | (grid == 1)):
            raise FormatError(src, "grid", "0 (free) or 1 (blocked) in every cell", "other values")
        grid = grid.astype(np.uint8)
        object.__setattr__(self, "grid", grid)
        free = int((grid == 0).sum())
        if free == 0:
            raise FormatError(src, "grid", "at least one free cell", "every cell blocked")
        object.__setattr__(self, "horizon", as_int(src, "horizon", self.horizon, minimum=1))

        starts = _cells(src, "starts", self.starts)
        if len(starts) < 1:
            raise FormatError(src, "starts", "at least one agent", "none")
        if len(starts) > free:
            raise FormatError(src, "starts", f"at most {free} agents (the free cells)", f"{len(starts)} agents")
        self._check_cells(starts, "starts", "start")
        flat = starts[:, 0] * grid.shape[1] + starts[:, 1]
        uniq, counts = np.unique(flat, return_counts=True)
        if np.any(counts > 1):
            agents = np.flatnonzero(flat == uniq[np.argmax(counts > 1)]).tolist()
            cell = starts[agents[0]]
            raise FormatError(src, "starts", "distinct start cells", f"agents {agents} all start at {_cell(cell)}")
        object.__setattr__(self, "starts", starts)

        mode = self.goal_mode
        if mode is None:
            mode = "explicit" if self.goals is not None else "component"
        if mode not in GOAL_MODES:
            raise FormatError(src, "goal_mode", f"one of {', '.join(GOAL_MODES)}", mode)
        object.__setattr__(self, "goal_mode", mode)

        if self.endpoints is not None:
            endpoints = _cells(src, "endpoints", self.endpoints)
            self._check_cells(endpoints, "endpoints", "endpoint")
            ends = endpoints[:, 0] * grid.shape[1] + endpoints[:, 1]
            if len(np.unique(ends)) != len(ends):
                raise FormatError(src, "endpoints", "distinct cells", "a repeated endpoint")
            object.__setattr__(self, "endpoints", endpoints)

        if mode == "explicit":
            self._validate_explicit()
        else:
            if self.goals is not None or self.goal_offsets is not None:
                raise FormatError(src, "goals", f"no explicit goals with goal_mode {mode!r}", "goals")
            if self.goal_seed is None:
                raise FormatError(src, "goal_seed", "a seed for generated goals (or explicit goals)", "missing")
            object.__setattr__(self, "goal_seed", as_int(src, "goal_seed", self.goal_seed, minimum=0))
            if mode == "endpoints" and (self.endpoints is None or len(self.endpoints) == 0):
                raise FormatError(src, "endpoints", "at least one endpoint for goal_mode 'endpoints'", "none")

    def _check_cells(self, cells: np.ndarray, field_name: str, what: str) -> None:
        h, w = self.grid.shape
        for k, (r, c) in enumerate(cells.tolist()):
            if not (0 <= r < h and 0 <= c < w):
                raise FormatError(self.name, f"{field_name}[{k}]", f"a {what} on the {h} x {w} map", (r, c))
            if self.grid[r, c]:
                raise FormatError(self.name, f"{field_name}[{k}]", f"a {what} on a free cell", f"obstacle at {(r, c)}")

    def _validate_explicit(self) -> None:
        src = self.name
        if self.goal_seed is not None:
            raise FormatError(src, "goal_seed", "no seed with explicit goals", self.goal_seed)
        if self.goals is None:
            raise FormatError(src, "goals", "explicit goals for goal_mode 'explicit'", "missing")
        num_agents = len(self.starts)
        if self.goal_offsets is None:
            lists = self.goals
            if not isinstance(lists, (list, tuple)) or len(lists) != num_agents:
                got = len(lists) if isinstance(lists, (list, tuple)) else type(lists).__name__
                raise FormatError(src, "goals", f"one list of goal cells per agent ({num_agents})", got)
            per_agent = [_cells(src, f"goals[{a}]", g) for a, g in enumerate(lists)]
            goals = np.concatenate(per_agent) if per_agent else np.zeros((0, 2), dtype=np.int64)
            offsets = np.concatenate([[0], np.cumsum([len(g) for g in per_agent])]).astype(np.int64)
        else:
            goals = _cells(src, "goals", self.goals)
            offsets = as_array(src, "goal_offsets", self.goal_offsets, ndim=1, dtype=int)
            if offsets.shape != (num_agents + 1,):
                raise FormatError(src, "goal_offsets", f"shape ({num_agents + 1},)", f"shape {offsets.shape}")
            if offsets[0] != 0 or offsets[-1] != len(goals) or np.any(np.diff(offsets) < 0):
                raise FormatError(
                    src, "goal_offsets", f"non-decreasing from 0 to {len(goals)} (the goal count)", offsets.tolist()
                )
        for a in range(num_agents):
            mine = goals[offsets[a] : offsets[a + 1]]
            for k, (r, c) in enumerate(mine.tolist()):
                h, w = self.grid.shape
                if not (0 <= r < h and 0 <= c < w):
                    raise FormatError(src, f"goals[{a}][{k}]", f"a goal on the {h} x {w} map", (r, c))
                if self.grid[r, c]:
                    raise FormatError(src, f"goals[{a}][{k}]", "a goal on a free cell", f"obstacle at {(r, c)}")
                prev = self.starts[a] if k == 0 else mine[k - 1]
                if (r, c) == _cell(prev):
                    what = "the agent's start" if k == 0 else "the agent's previous goal"
                    raise FormatError(src, f"goals[{a}][{k}]", f"a cell other than {what}", (r, c))
        object.__setattr__(self, "goals", goals)
        object.__setattr__(self, "goal_offsets", offsets)

    # -- geometry --------------------------------------------------------------------------------
    @property
    def num_agents(self) -> int:
        return int(self.starts.shape[0])

    @property
    def height(self) -> int:
        return int(self.grid.shape[0])

    @property
    def width(self) -> int:
        return int(self.grid.shape[1])

    @cached_property
    def components(self) -> np.ndarray:
        """``(H, W)`` int64 labels of the 4-connected components of the free cells (-1 on obstacles).

        Labels are numbered 0, 1, ... in row-major order of each component's first cell.
        """
        h, w = self.grid.shape
        free = (self.grid == 0).ravel()
        labels = np.full(h * w, -1, dtype=np.int64)
        label = 0
        for seed in np.flatnonzero(free).tolist():
            if labels[seed] >= 0:
                continue
            labels[seed] = label
            queue = deque([seed])
            while queue:
                v = queue.popleft()
                r, c = divmod(v, w)
                for u, ok in ((v - w, r > 0), (v + w, r < h - 1), (v - 1, c > 0), (v + 1, c < w - 1)):
                    if ok and free[u] and labels[u] < 0:
                        labels[u] = label
                        queue.append(u)
            label += 1
        return labels.reshape(h, w)

    def goal_candidates(self, agent: int) -> np.ndarray:
        """The sorted flat cell ids (``row * W + col``) agent ``agent``'s generated goals are drawn from."""
        label = self.components[tuple(self.starts[agent])]
        flat_labels = self.components.ravel()
        if self.goal_mode == "endpoints":
            assert self.endpoints is not None
            ids = np.sort(self.endpoints[:, 0] * self.width + self.endpoints[:, 1])
            return ids[flat_labels[ids] == label]
        return np.flatnonzero(flat_labels == label)

    # -- goal streams ----------------------------------------------------------------------------
    def goal_stream(self, agent: int) -> Iterator[tuple[int, int]]:
        """Agent ``agent``'s goals in order, as ``(row, col)``; the same every time it is called.

        Explicit mode yields the agent's list and stops. Generated mode draws from
        ``numpy.random.default_rng([goal_seed, agent])``: with ``C`` the candidates (:meth:`goal_candidates`)
        and ``cur`` the cell the agent stands on when the goal becomes active (its start for the first goal,
        else the previous goal), if ``cur`` is in ``C`` at position ``p`` it draws ``j = integers(len(C) - 1)``
        and takes ``C[j]`` if ``j < p`` else ``C[j + 1]``; otherwise ``j = integers(len(C))`` and ``C[j]``.
        It stops when no candidate other than ``cur`` exists, else never.
        """
        if not 0 <= agent < self.num_agents:
            raise IndexError(f"agent {agent} does not exist (agents are 0..{self.num_agents - 1})")
        if self.goal_mode == "explicit":
            assert self.goals is not None and self.goal_offsets is not None
            mine = self.goals[self.goal_offsets[agent] : self.goal_offsets[agent + 1]].tolist()
            yield from ((r, c) for r, c in mine)
            return
        cand = self.goal_candidates(agent)
        rng = np.random.default_rng([int(self.goal_seed or 0), agent])
        w = self.width
        cur = int(self.starts[agent, 0]) * w + int(self.starts[agent, 1])
        while True:
            p = int(np.searchsorted(cand, cur))
            inside = p < len(cand) and cand[p] == cur
            m = len(cand) - 1 if inside else len(cand)
            if m < 1:
                return
            j = int(rng.integers(m))
            cur = int(cand[j + 1 if inside and j >= p else j])
            yield divmod(cur, w)

    def goal_sequence(self, agent: int, count: int) -> np.ndarray:
        """The first ``count`` goals of ``agent`` as a ``(k, 2)`` int64 array, ``k < count`` if the stream ends."""
        out: list[tuple[int, int]] = []
        if count > 0:
            for goal in self.goal_stream(agent):
                out.append(goal)
                if len(out) == count:
                    break
        return np.array(out, dtype=np.int64).reshape(-1, 2)

    # -- serialisation ---------------------------------------------------------------------------
    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "grid": self.grid,
            "starts": self.starts,
            "horizon": self.horizon,
            "goal_mode": self.goal_mode,
        }
        if self.goal_mode == "explicit":
            data["goals"] = self.goals
            data["goal_offsets"] = self.goal_offsets
        else:
            data["goal_seed"] = self.goal_seed
        if self.endpoints is not None:
            data["endpoints"] = self.endpoints
        return data

    @classmethod
    def from_data(cls, name: str, data: dict[str, Any], meta: dict[str, Any]) -> LifelongMAPFInstance:
        for key in ("grid", "starts", "horizon"):
            if key not in data:
                raise FormatError(name, key, f"the lifelong_mapf field {key!r}", "missing")
        horizon = data["horizon"]
        seed = data.get("goal_seed")
        return cls(
            name=name,
            meta=meta,
            grid=data["grid"],
            starts=data["starts"],
            horizon=horizon.item() if isinstance(horizon, np.ndarray) else horizon,
            goals=data.get("goals"),
            goal_offsets=data.get("goal_offsets"),
            goal_seed=seed.item() if isinstance(seed, np.ndarray) else seed,
            goal_mode=data.get("goal_mode"),
            endpoints=data.get("endpoints"),
        )


# -- solutions ------------------------------------------------------------------------------------
def parse_payload(source: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``{"paths": ...}``: per agent a list of ``[row, col]`` positions (t = 0..horizon), or an ``(A, T, 2)`` array.

    Lengths are not checked here (the scorer reports a wrong length as a violation); each path becomes an
    ``(L, 2)`` int64 array.
    """
    if "paths" not in payload:
        raise FormatError(source, "paths", "one list of [row, col] positions per agent (the payload)", "missing")
    raw = payload["paths"]
    if isinstance(raw, np.ndarray):
        if raw.ndim != 3 or raw.shape[2] != 2:
            raise FormatError(source, "paths", "an (agents, horizon + 1, 2) array", f"shape {raw.shape}")
        raw = list(raw)
    if not isinstance(raw, (list, tuple)):
        raise FormatError(source, "paths", "a list of paths, one per agent", type(raw).__name__)
    paths = []
    for a, path in enumerate(raw):
        if _is_empty(path):
            paths.append(np.zeros((0, 2), dtype=np.int64))
            continue
        arr = as_array(source, f"paths[{a}]", path, ndim=2, dtype=int)
        if arr.shape[1] != 2:
            raise FormatError(source, f"paths[{a}]", "a list of [row, col] positions", f"shape {arr.shape}")
        paths.append(arr)
    return {"paths": paths}


def score(instance: LifelongMAPFInstance, payload: dict[str, Any]) -> Score:
    """Replay the paths, report every illegal move, vertex and swap conflict, and recount the goals reached.

    The throughput (goals / horizon) is recomputed even when the paths are infeasible; it counts each agent's
    goals along its own path (up to ``horizon + 1`` positions).
    """
    paths: list[np.ndarray] = payload["paths"]
    inst = instance
    h, w = inst.grid.shape
    steps = inst.horizon + 1
    log = ViolationLog()
    if len(paths) != inst.num_agents:
        log.add(f"{len(paths)} paths for {inst.num_agents} agents")
    num = min(len(paths), inst.num_agents)

    # Positions (num, steps, 2) padded with -1; `present` marks the positions each path really gives.
    pos = np.full((num, steps, 2), -1, dtype=np.int64)
    present = np.zeros((num, steps), dtype=bool)
    for a in range(num):
        path = paths[a]
        if len(path) != steps:
            log.add(f"agent {a}: path has {len(path)} positions, expected {steps} (t = 0..{inst.horizon})")
        k = min(len(path), steps)
        pos[a, :k] = path[:k]
        present[a, :k] = True
        if k and tuple(path[0]) != _cell(inst.starts[a]):
            log.add(f"agent {a}: path starts at {_cell(path[0])}, not at its start {_cell(inst.starts[a])}")

    inside = present & (pos[..., 0] >= 0) & (pos[..., 0] < h) & (pos[..., 1] >= 0) & (pos[..., 1] < w)
    flat = np.where(inside, pos[..., 0] * w + pos[..., 1], -1)
    blocked = np.zeros_like(inside)
    blocked[inside] = inst.grid.ravel()[flat[inside]] == 1
    for a, t in zip(*np.nonzero(present & ~inside), strict=True):
        log.add(f"agent {a} step {t}: cell {_cell(pos[a, t])} is off the {h} x {w} map")
    for a, t in zip(*np.nonzero(blocked), strict=True):
        log.add(f"agent {a} step {t}: cell {_cell(pos[a, t])} is blocked")

    # Moves: a wait or one 4-neighbour step (checked between consecutive given positions).
    both = present[:, 1:] & present[:, :-1]
    jump = both & (np.abs(pos[:, 1:] - pos[:, :-1]).sum(axis=2) > 1)
    for a, s in zip(*np.nonzero(jump), strict=True):
        log.add(
            f"agent {a} step {s + 1}: moves from {_cell(pos[a, s])} to {_cell(pos[a, s + 1])}, "
            "not a wait or a 4-neighbour step"
        )

    # Vertex conflicts: one message per (step, cell) shared by two or more agents.
    cells = h * w
    t_idx = np.broadcast_to(np.arange(steps), (num, steps))
    keys = t_idx[inside] * cells + flat[inside]
    uniq, counts = np.unique(keys, return_counts=True)
    for key in uniq[counts > 1].tolist():
        t, cell = divmod(key, cells)
        agents = np.flatnonzero(inside[:, t] & (flat[:, t] == cell)).tolist()
        if len(agents) == 2:
            log.add(f"step {t}: agents {agents[0]} and {agents[1]} both at {divmod(cell, w)}")
        else:
            log.add(f"step {t}: agents {', '.join(map(str, agents))} all at {divmod(cell, w)}")

    # Swaps: agent a goes u -> v and agent b goes v -> u in the same step (u != v).
    moving = inside[:, 1:] & inside[:, :-1] & (flat[:, 1:] != flat[:, :-1])
    agent_idx, s_idx = np.nonzero(moving)
    u = flat[agent_idx, s_idx]
    v = flat[agent_idx, s_idx + 1]
    fwd = (s_idx * cells + u) * cells + v
    rev = (s_idx * cells + v) * cells + u
    order = np.argsort(fwd)
    hit = np.searchsorted(fwd[order], rev)
    hit = np.minimum(hit, max(len(order) - 1, 0))
    for k in np.flatnonzero((u < v) & (fwd[order][hit] == rev)).tolist():
        other = int(agent_idx[order[hit[k]]])
        log.add(
            f"step {int(s_idx[k]) + 1}: agents {int(agent_idx[k])} and {other} swap "
            f"{divmod(int(u[k]), w)} <-> {divmod(int(v[k]), w)}"
        )

    # Goals: reached at step t >= 1 when the agent stands on its current goal at the end of step t.
    per_agent = [0] * inst.num_agents
    for a in range(num):
        t = 1
        track = flat[a]
        for r, c in inst.goal_stream(a):
            hits = np.flatnonzero(track[t:] == r * w + c)
            if not hits.size:
                break
            t += int(hits[0])
            per_agent[a] += 1
            t += 1
            if t >= steps:
                break
    total = sum(per_agent)
    throughput = total / inst.horizon
    return Score(
        feasible=not log,
        objective=throughput,
        violations=log.as_tuple(),
        violation_count=log.count,
        details={"goals_per_agent": per_agent, "goals": total, "throughput": throughput, "horizon": inst.horizon},
        sense="max",
    )
