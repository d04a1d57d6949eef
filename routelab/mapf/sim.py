"""Lifelong MAPF simulator reproducing POGEMA's ``collision_system="soft"``, ``on_target="restart"`` step.

Coordinates are ``(row, col)``; ``grid[r, c] == 1`` marks a blocked cell. Actions follow POGEMA's
``CommonSettings.MOVES = [[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]]`` (pogema/utils.py, checked in pogema 1.4.0):

====  =======  ===============
code  name     effect
====  =======  ===============
0     wait     stay
1     up       row - 1
2     down     row + 1
3     left     col - 1
4     right    col + 1
====  =======  ===============

Step rule (a line-by-line port of ``Pogema.move_agents`` for ``collision_system == 'soft'`` in pogema/envs.py, not a
re-derivation, because the rule is order dependent and a "cleaner" rule would drift from POGEMA):

1. Every agent claims its target cell (its own cell when waiting); claims are kept as ordered per-cell lists,
   appended in agent-index order (POGEMA's ``used_cells``).
2. Swaps: for a pair ``i < j`` with ``i`` moving ``p -> q`` and ``j`` moving ``q -> p``, POGEMA's ``used_edges``
   bookkeeping (the forward key of ``j`` overwrites, the reverse key appends) flags only the lower index ``i``:
   ``i`` is cancelled, its claim moves from ``q`` to the end of ``p``'s list. ``j`` is then cancelled in step 3
   because ``p`` now has two claims. Net effect: swaps never happen.
3. Agents are visited in *descending* index order; an agent whose (current) target is an obstacle/off-map or holds
   more than one claim is reverted (``_revert_action``): its claim moves back to its own cell, and if that cell
   already had claims, the *first* claimant in that list is reverted too, recursively (a chain of followers backs
   off). Consequences: (a) when several agents want the same free cell, the higher indices are reverted first and
   the lowest index among the contenders moves ("one of them moves"); (b) an agent may follow into a cell vacated
   in the same step (chains) and rotations of length >= 3 are allowed, because a cell vacated by its occupant holds
   a single claim; (c) an agent never enters a cell whose occupant stays.
4. All surviving moves are applied at once, then (``PogemaLifeLong.step``) every agent standing on its goal counts
   one reached goal and immediately gets its next goal from the goal source. Throughput is
   ``total goals / horizon`` (POGEMA's ``LifeLongAverageThroughputMetric`` divides by ``max_episode_steps``).

The map is padded internally with a ring of obstacles, as POGEMA's artificial border does, so off-map moves are
cancelled exactly like moves into obstacles. The kernel is ``O(A)`` per step: per-cell claim lists have at most five
entries (four neighbours plus the occupant) and only touched cells are cleared.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from numba import njit

WAIT, UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3, 4
MOVES = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.int64)
"""Row/col offsets per action, identical to POGEMA's ``MOVES`` (index = action code)."""

_SLOTS = 5  # max claims per cell: 4 neighbours moving in + the occupant


@runtime_checkable
class GoalSource(Protocol):
    """Supplies the next goal of ``agent`` standing on ``current_cell``; ``reset()`` is optional."""

    def next_goal(self, agent: int, current_cell: tuple[int, int]) -> tuple[int, int]: ...


class ComponentGoalSource:
    """Uniform goals from the agent's 4-connected free component, never the current cell (POGEMA's generator).

    Reproduces ``pogema.generator.generate_new_target`` including its random streams: one ``default_rng`` per agent
    seeded by ``default_rng(seed).integers(int32 max, size=num_agents)`` (``PogemaLifeLong._initialize_grid``),
    cells listed in row-major order, redrawn while equal to the current cell. With the same map, seed and agent
    count it therefore yields the same goals as POGEMA with ``on_target="restart"`` and generated targets.
    """

    def __init__(self, grid: np.ndarray, num_agents: int, seed: int | None = 0) -> None:
        from scipy import ndimage

        grid = np.asarray(grid)
        labels, n = ndimage.label(grid == 0)  # default structure = 4-connectivity, like POGEMA's bfs over MOVES
        self._labels = labels
        flat = labels.ravel()
        order = np.argsort(flat, kind="stable")  # stable -> row-major within each component
        counts = np.bincount(flat, minlength=n + 1)
        bounds = np.concatenate([[0], np.cumsum(counts)])
        cells = np.stack(np.unravel_index(order, grid.shape), axis=1).astype(np.int64)
        self._components = [cells[bounds[k] : bounds[k + 1]] for k in range(n + 1)]
        self.num_agents = int(num_agents)
        self.seed = seed
        self.reset()

    def reset(self) -> None:
        """Re-create the per-agent random streams (POGEMA does this on every ``reset``)."""
        main = np.random.default_rng(self.seed)
        seeds = main.integers(np.iinfo(np.int32).max, size=self.num_agents)
        self._rngs = [np.random.default_rng(s) for s in seeds]

    def next_goal(self, agent: int, current_cell: tuple[int, int]) -> tuple[int, int]:
        r, c = int(current_cell[0]), int(current_cell[1])
        comp = self._components[self._labels[r, c]]
        if self._labels[r, c] == 0 or len(comp) < 2:
            raise ValueError(f"agent {agent} at {(r, c)}: no other free cell in its component")
        rng = self._rngs[agent]
        while True:
            g = rng.choice(comp, 1)[0]  # same call as POGEMA, so the same stream consumption
            if g[0] != r or g[1] != c:
                return int(g[0]), int(g[1])


class SequenceGoalSource:
    """Fixed per-agent goal lists, POGEMA's ``targets_xy`` sequences: goal ``k+1`` after goal ``k``, cycling.

    ``sequences[a][0]`` is agent ``a``'s initial goal (pass it as ``goals=`` to :class:`Simulator`, or use
    :meth:`initial_goals`).
    """

    def __init__(self, sequences: list[list[tuple[int, int]]] | list[np.ndarray]) -> None:
        self.sequences = [np.asarray(s, dtype=np.int64).reshape(-1, 2) for s in sequences]
        self.reset()

    def reset(self) -> None:
        self._idx = [0] * len(self.sequences)

    def initial_goals(self) -> np.ndarray:
        return np.array([s[0] for s in self.sequences], dtype=np.int64)

    def next_goal(self, agent: int, current_cell: tuple[int, int]) -> tuple[int, int]:
        seq = self.sequences[agent]
        self._idx[agent] = (self._idx[agent] + 1) % len(seq)
        g = seq[self._idx[agent]]
        return int(g[0]), int(g[1])


@njit(cache=True)
def _list_remove(lists: np.ndarray, cnt: np.ndarray, cell: int, agent: int) -> None:
    n = cnt[cell]
    k = 0
    while lists[cell, k] != agent:
        k += 1
    for m in range(k, n - 1):
        lists[cell, m] = lists[cell, m + 1]
    cnt[cell] = n - 1


@njit(cache=True)
def _step_kernel(
    blocked: np.ndarray,
    occ: np.ndarray,
    pos: np.ndarray,
    goals: np.ndarray,
    actions: np.ndarray,
    lists: np.ndarray,
    cnt: np.ndarray,
    cur: np.ndarray,
    tgt: np.ndarray,
    act: np.ndarray,
    reached: np.ndarray,
    width2: int,
) -> int:
    """One POGEMA soft-collision step on flat padded cells; updates ``pos``/``occ``; returns #agents on goal."""
    n_agents = pos.shape[0]
    # offsets in the padded flat grid, POGEMA's MOVES order
    for i in range(n_agents):
        a = actions[i]
        c = (pos[i, 0] + 1) * width2 + pos[i, 1] + 1
        cur[i] = c
        act[i] = a
        if a == 0:
            tgt[i] = c
        elif a == 1:
            tgt[i] = c - width2
        elif a == 2:
            tgt[i] = c + width2
        elif a == 3:
            tgt[i] = c - 1
        else:
            tgt[i] = c + 1
    # phase 1: claims in index order (used_cells)
    for i in range(n_agents):
        t = tgt[i]
        lists[t, cnt[t]] = i
        cnt[t] += 1
    # phase 2: swaps (used_edges): only the lower index of a swapping pair is flagged here
    for i in range(n_agents):
        if act[i] != 0:
            j = occ[tgt[i]]
            if j > i and tgt[j] == cur[i]:
                _list_remove(lists, cnt, tgt[i], i)
                c = cur[i]
                lists[c, cnt[c]] = i
                cnt[c] += 1
                act[i] = 0
    # phase 3: reversed index order, recursive revert of the first claimant of the reverted agent's own cell
    for i in range(n_agents - 1, -1, -1):
        t = cur[i] if act[i] == 0 else tgt[i]
        if cnt[t] > 1 or blocked[t] != 0:
            k = i
            cell = t
            while True:
                act[k] = 0
                _list_remove(lists, cnt, cell, k)
                own = cur[k]
                if cnt[own] > 0:
                    lists[own, cnt[own]] = k
                    cnt[own] += 1
                    k = lists[own, 0]
                    cell = own
                else:
                    lists[own, 0] = k
                    cnt[own] = 1
                    break
    # apply moves simultaneously
    for i in range(n_agents):
        if act[i] != 0:
            occ[cur[i]] = -1
    n_reached = 0
    for i in range(n_agents):
        a = act[i]
        if a != 0:
            occ[tgt[i]] = i
            if a == 1:
                pos[i, 0] -= 1
            elif a == 2:
                pos[i, 0] += 1
            elif a == 3:
                pos[i, 1] -= 1
            else:
                pos[i, 1] += 1
        cnt[cur[i]] = 0
        cnt[tgt[i]] = 0
        if pos[i, 0] == goals[i, 0] and pos[i, 1] == goals[i, 1]:
            reached[n_reached] = i
            n_reached += 1
    return n_reached


@dataclass
class StepInfo:
    """Result of one :meth:`Simulator.step`."""

    t: int
    """Step counter after the step (1 after the first step)."""
    reached: np.ndarray
    """Indices of the agents that reached their goal in this step (they already hold their next goal)."""

    @property
    def num_reached(self) -> int:
        return len(self.reached)


@dataclass
class Episode:
    """A finished run of :meth:`Simulator.run`."""

    trajectory: np.ndarray
    """(horizon + 1, A, 2) int64 positions, row 0 = starts."""
    goals_reached: np.ndarray
    """(A,) goals reached per agent."""
    throughput: float
    """Total goals reached / horizon (POGEMA's ``avg_throughput``)."""
    goal_sequences: list[np.ndarray]
    """Per agent, (k, 2) goals in assignment order: the initial goal, then each goal handed out on arrival."""
    wall_time: float
    """Seconds spent in :meth:`Simulator.run` (policy included)."""
    horizon: int = field(default=0)

    @property
    def total_goals(self) -> int:
        return int(self.goals_reached.sum())


def random_policy(seed: int | None = 0) -> Callable[[Simulator], np.ndarray]:
    """A seeded uniform random policy over the five actions (for tests and benchmarks)."""
    rng = np.random.default_rng(seed)

    def policy(sim: Simulator) -> np.ndarray:
        return rng.integers(0, 5, size=sim.num_agents)

    return policy


class Simulator:
    """Lifelong MAPF episode on a grid, POGEMA soft collisions + restart-on-target (see module docstring).

    ``grid``: (H, W) array, nonzero = blocked. ``starts``: (A, 2) distinct free cells. ``goal_source``: a
    :class:`GoalSource` or a callable ``(agent, (r, c)) -> (r, c)``. ``horizon``: number of steps of an episode.
    ``goals``: optional (A, 2) initial goals; when omitted they are drawn from the goal source at the starts.
    """

    def __init__(
        self,
        grid: np.ndarray,
        starts: np.ndarray,
        goal_source: GoalSource | Callable[[int, tuple[int, int]], tuple[int, int]],
        horizon: int,
        goals: np.ndarray | None = None,
    ) -> None:
        grid = np.asarray(grid)
        if grid.ndim != 2:
            raise ValueError("grid must be 2-D")
        self.grid = (grid != 0).astype(np.uint8)
        self.height, self.width = self.grid.shape
        self._blocked = np.ones((self.height + 2) * (self.width + 2), dtype=np.uint8)
        self._blocked.reshape(self.height + 2, self.width + 2)[1:-1, 1:-1] = self.grid
        self._width2 = self.width + 2
        self.starts = np.array(starts, dtype=np.int64).reshape(-1, 2)
        self._check_cells(self.starts, "start")
        if len({(int(r), int(c)) for r, c in self.starts}) != len(self.starts):
            raise ValueError("starts must be distinct")
        self.initial_goals = None if goals is None else np.array(goals, dtype=np.int64).reshape(-1, 2)
        if self.initial_goals is not None:
            if self.initial_goals.shape != self.starts.shape:
                raise ValueError("goals must have the same shape as starts")
            self._check_cells(self.initial_goals, "goal")
        if horizon < 0:
            raise ValueError("horizon must be >= 0")
        self.horizon = int(horizon)
        self.goal_source = goal_source
        self.num_agents = len(self.starts)
        n_cells = self._blocked.size
        self._lists = np.empty((n_cells, _SLOTS), dtype=np.int64)
        self._cnt = np.zeros(n_cells, dtype=np.int64)
        self._occ = np.full(n_cells, -1, dtype=np.int64)
        a = self.num_agents
        self._cur = np.empty(a, dtype=np.int64)
        self._tgt = np.empty(a, dtype=np.int64)
        self._act = np.empty(a, dtype=np.int64)
        self._reached = np.empty(a, dtype=np.int64)
        self.reset()

    # ------------------------------------------------------------------ helpers
    def _check_cells(self, cells: np.ndarray, what: str) -> None:
        r, c = cells[:, 0], cells[:, 1]
        if ((r < 0) | (r >= self.height) | (c < 0) | (c >= self.width)).any():
            raise ValueError(f"{what} outside the map")
        if self.grid[r, c].any():
            raise ValueError(f"{what} on a blocked cell")

    def _next_goal(self, agent: int, cell: tuple[int, int]) -> tuple[int, int]:
        src = self.goal_source
        g = src.next_goal(agent, cell) if hasattr(src, "next_goal") else src(agent, cell)
        r, c = int(g[0]), int(g[1])
        if not (0 <= r < self.height and 0 <= c < self.width) or self.grid[r, c]:
            raise ValueError(f"goal source gave agent {agent} an invalid goal {(r, c)}")
        return r, c

    # ------------------------------------------------------------------ API
    def reset(self) -> None:
        """Back to the starts and initial goals; resets the goal source when it has ``reset()``."""
        if hasattr(self.goal_source, "reset"):
            self.goal_source.reset()
        self._pos = self.starts.copy()
        if self.initial_goals is not None:
            self._goals = self.initial_goals.copy()
        else:
            self._goals = np.array(
                [self._next_goal(i, (int(r), int(c))) for i, (r, c) in enumerate(self.starts)], dtype=np.int64
            ).reshape(-1, 2)
        self._goal_seq: list[list[tuple[int, int]]] = [[(int(r), int(c))] for r, c in self._goals]
        self._occ.fill(-1)
        self._cnt.fill(0)
        self._occ[(self._pos[:, 0] + 1) * self._width2 + self._pos[:, 1] + 1] = np.arange(self.num_agents)
        self._t = 0
        self._goals_reached = np.zeros(self.num_agents, dtype=np.int64)
        self._traj = np.empty((self.horizon + 1, self.num_agents, 2), dtype=np.int64)
        self._traj[0] = self._pos

    @property
    def positions(self) -> np.ndarray:
        """(A, 2) current positions (a read-only view)."""
        v = self._pos.view()
        v.flags.writeable = False
        return v

    @property
    def goals(self) -> np.ndarray:
        """(A, 2) current goals (a read-only view)."""
        v = self._goals.view()
        v.flags.writeable = False
        return v

    @property
    def t(self) -> int:
        """Steps executed since the last reset."""
        return self._t

    @property
    def goals_reached(self) -> np.ndarray:
        """(A,) goals reached so far per agent (a copy)."""
        return self._goals_reached.copy()

    @property
    def trajectory(self) -> np.ndarray:
        """(t + 1, A, 2) executed positions so far (a copy)."""
        return self._traj[: self._t + 1].copy()

    @property
    def goal_sequences(self) -> list[np.ndarray]:
        """Per agent, the goals assigned so far, initial goal first."""
        return [np.array(s, dtype=np.int64).reshape(-1, 2) for s in self._goal_seq]

    @property
    def done(self) -> bool:
        return self._t >= self.horizon

    def step(self, actions: np.ndarray) -> StepInfo:
        """Execute one joint action (codes 0..4, see module docstring); return who reached a goal."""
        if self._t >= self.horizon:
            raise RuntimeError("episode is over (horizon reached); call reset()")
        acts = np.asarray(actions, dtype=np.int64)
        if acts.shape != (self.num_agents,):
            raise ValueError(f"expected {self.num_agents} actions, got shape {acts.shape}")
        if self.num_agents and (acts.min() < 0 or acts.max() > 4):
            raise ValueError("actions must be in 0..4")
        n = _step_kernel(
            self._blocked,
            self._occ,
            self._pos,
            self._goals,
            acts,
            self._lists,
            self._cnt,
            self._cur,
            self._tgt,
            self._act,
            self._reached,
            self._width2,
        )
        self._t += 1
        self._traj[self._t] = self._pos
        reached = self._reached[:n].copy()
        for i in reached.tolist():
            self._goals_reached[i] += 1
            g = self._next_goal(i, (int(self._pos[i, 0]), int(self._pos[i, 1])))
            self._goals[i, 0], self._goals[i, 1] = g
            self._goal_seq[i].append(g)
        return StepInfo(t=self._t, reached=reached)

    def run(self, policy: Callable[[Simulator], np.ndarray]) -> Episode:
        """Reset, then step ``policy(sim) -> actions`` until the horizon; return the :class:`Episode`."""
        t0 = time.perf_counter()
        self.reset()
        while self._t < self.horizon:
            self.step(policy(self))
        wall = time.perf_counter() - t0
        total = int(self._goals_reached.sum())
        return Episode(
            trajectory=self._traj.copy(),
            goals_reached=self._goals_reached.copy(),
            throughput=total / self.horizon if self.horizon else 0.0,
            goal_sequences=self.goal_sequences,
            wall_time=wall,
            horizon=self.horizon,
        )
