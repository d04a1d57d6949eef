"""The ``coordination`` kind: fix the passing order of robots on fixed reference paths through a shared roadmap.

Robots follow given node sequences on a roadmap graph; where two paths interfere a central unit decides which
robot goes first. The instance is the roadmap, the paths, the release times and the resource rules; everything
else (intervals, conflicts, the dependency graph) is derived from them the same way every time, so a solution is
just one bit per conflict. Full definition: docs/format.md, section "Multi-robot coordination".

The model, in short (the coordination graph of Meng et al., ICRA 2025, with the resource rules of action
dependency graphs):

- **intervals**: robot ``r`` with path ``p_0 .. p_{L-1}`` has ``L`` intervals ``(r, k)``; interval ``(r, k)``
  holds node ``p_k`` while the robot crosses it and drives to ``p_{k+1}``, so its duration is the travel time
  of edge ``(p_k, p_{k+1})``; the goal interval ``(r, L-1)`` has duration 0 (the robot reaches its goal and
  leaves the roadmap, into its station). Intervals are numbered like the flat ``paths`` array.
- **precedence**: ``s(r, k+1) >= s(r, k) + d(r, k)`` and ``s(r, 0) >= release_r``.
- **conflicts**: a pair of intervals of two different robots that hold the same node (or nodes closer than
  ``safety_distance``), or that drive the same edge in opposite directions. A conflict ``c`` between
  intervals ``a < b`` (robot of ``a`` < robot of ``b``) is resolved by ``orders[c]``: 0 means ``a`` first,
  ``s(b) >= s(a) + d(a)``; 1 means ``b`` first, ``s(a) >= s(b) + d(b)``. Both orientations join the same two
  intervals, so any orientation taken from a rank that increases along every robot is deadlock-free.
- **following** (optional, ``follow_gap`` not null): when both intervals drive the same directed edge, mode 1
  lets the second robot start ``follow_gap`` after the first instead of after it has reached the next node.
- **schedule**: earliest start times by longest path over the dependency graph (precedence plus the chosen
  orders) in topological order; a cycle is a deadlock and makes the solution infeasible. The objective is the
  mean completion time (arrival at the goal) over robots, minimised.

Importing this module needs numpy only; the evaluator's numba kernels (:mod:`coordination_kernels`) load the
first time a schedule is computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from routelab.problems.errors import FormatError
from routelab.problems.score import Score, ViolationLog
from routelab.problems.validate import as_array, as_number

NODE_CONFLICT = 0
EDGE_CONFLICT = 1
CONFLICT_KINDS: tuple[str, ...] = ("node", "edge")


def _is_empty(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.size == 0
    return isinstance(value, (list, tuple)) and len(value) == 0


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value


@dataclass(frozen=True, eq=False, kw_only=True)
class CoordinationInstance:
    """Robots with fixed reference paths on a roadmap; a solution orders every conflict.

    Attributes:
        name: instance name.
        coords: ``(V, 2)`` float64 node positions (for the safety distance and for plots).
        edges: ``(E, 2)`` int64 node pairs; undirected unless ``directed``.
        edge_times: ``(E,)`` float64 travel times (> 0); None means the Euclidean edge lengths.
        paths: flat ``(P,)`` int64 node sequence of all robots (or, with ``path_offsets`` None, a list of per-robot
            node lists); robot ``r``'s path is ``paths[path_offsets[r]:path_offsets[r + 1]]``.
        path_offsets: ``(R + 1,)`` int64.
        release_times: ``(R,)`` float64 earliest start of each robot (default 0).
        directed: edges may only be driven from ``edges[e, 0]`` to ``edges[e, 1]``.
        safety_distance: two nodes closer than this (Euclidean, strictly) are one resource; 0 = the same node only.
        follow_gap: the separation of a robot trailing another along the same edge (mode 1); None disables
            following.
        meta: free provenance; never used for scoring.
    """

    kind: ClassVar[str] = "coordination"
    ragged_fields: ClassVar[tuple[str, ...]] = (
        "coords",
        "edges",
        "edge_times",
        "paths",
        "path_offsets",
        "release_times",
    )
    """Array fields whose length differs between instances of one dataset (stored concatenated, see documents)."""

    name: str
    coords: np.ndarray
    edges: np.ndarray
    paths: Any
    edge_times: np.ndarray | None = None
    path_offsets: np.ndarray | None = None
    release_times: np.ndarray | None = None
    directed: bool = False
    safety_distance: float = 0.0
    follow_gap: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    # -- validation ------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        src = self.name
        coords = as_array(src, "coords", self.coords, ndim=2)
        if coords.shape[1] != 2 or len(coords) < 2:
            raise FormatError(src, "coords", "shape (V, 2) with V >= 2", f"shape {coords.shape}")
        object.__setattr__(self, "coords", coords)
        v_count = len(coords)
        directed = _scalar(self.directed)
        if not isinstance(directed, (bool, np.bool_)):
            raise FormatError(src, "directed", "true or false", directed)
        object.__setattr__(self, "directed", bool(directed))

        edges = as_array(src, "edges", self.edges, ndim=2, dtype=int) if not _is_empty(self.edges) else None
        if edges is None or edges.shape[1] != 2:
            got = "no edges" if edges is None else f"shape {edges.shape}"
            raise FormatError(src, "edges", "shape (E, 2) with E >= 1", got)
        bad = np.flatnonzero((edges < 0).any(axis=1) | (edges >= v_count).any(axis=1))
        if bad.size:
            raise FormatError(src, f"edges[{bad[0]}]", f"nodes in 0..{v_count - 1}", edges[bad[0]].tolist())
        loops = np.flatnonzero(edges[:, 0] == edges[:, 1])
        if loops.size:
            raise FormatError(src, f"edges[{loops[0]}]", "two different nodes", edges[loops[0]].tolist())
        if self.edge_times is None:
            times = np.linalg.norm(coords[edges[:, 0]] - coords[edges[:, 1]], axis=1)
        else:
            times = as_array(src, "edge_times", self.edge_times, ndim=1)
            if times.shape != (len(edges),):
                raise FormatError(src, "edge_times", f"shape ({len(edges)},)", f"shape {times.shape}")
        nonpos = np.flatnonzero(times <= 0)
        if nonpos.size:
            raise FormatError(src, f"edge_times[{nonpos[0]}]", "a travel time > 0", float(times[nonpos[0]]))
        object.__setattr__(self, "edges", edges)
        object.__setattr__(self, "edge_times", times)
        keys = edges[:, 0] * v_count + edges[:, 1]
        if not self.directed:
            keys = np.minimum(edges[:, 0], edges[:, 1]) * v_count + np.maximum(edges[:, 0], edges[:, 1])
        uniq, counts = np.unique(keys, return_counts=True)
        if np.any(counts > 1):
            dup = int(uniq[np.argmax(counts > 1)])
            raise FormatError(src, "edges", "each edge listed once", f"edge {divmod(dup, v_count)} repeated")

        self._validate_paths(v_count)
        robots = self.num_robots
        if self.release_times is None:
            release = np.zeros(robots)
        else:
            release = as_array(src, "release_times", self.release_times, ndim=1)
            if release.shape != (robots,):
                raise FormatError(src, "release_times", f"one per robot, shape ({robots},)", f"shape {release.shape}")
            neg = np.flatnonzero(release < 0)
            if neg.size:
                raise FormatError(src, f"release_times[{neg[0]}]", "a time >= 0", float(release[neg[0]]))
        object.__setattr__(self, "release_times", release)
        object.__setattr__(
            self, "safety_distance", as_number(src, "safety_distance", _scalar(self.safety_distance), minimum=0)
        )
        gap = _scalar(self.follow_gap)
        object.__setattr__(self, "follow_gap", None if gap is None else as_number(src, "follow_gap", gap, minimum=0))
        self._check_path_edges(v_count)

    def _validate_paths(self, v_count: int) -> None:
        src = self.name
        if self.path_offsets is None:
            lists = self.paths
            if not isinstance(lists, (list, tuple)) or not lists:
                got = "none" if _is_empty(lists) else type(lists).__name__
                raise FormatError(src, "paths", "one node list per robot (at least one robot)", got)
            per_robot = []
            for r, p in enumerate(lists):
                arr = (
                    np.zeros(0, dtype=np.int64) if _is_empty(p) else as_array(src, f"paths[{r}]", p, ndim=1, dtype=int)
                )
                per_robot.append(arr)
            paths = np.concatenate(per_robot)
            offsets = np.concatenate([[0], np.cumsum([len(p) for p in per_robot])]).astype(np.int64)
        else:
            paths = as_array(src, "paths", self.paths, ndim=1, dtype=int)
            offsets = as_array(src, "path_offsets", self.path_offsets, ndim=1, dtype=int)
            if len(offsets) < 2 or offsets[0] != 0 or offsets[-1] != len(paths):
                raise FormatError(src, "path_offsets", f"R + 1 offsets from 0 to {len(paths)}", offsets.tolist()[:8])
        lengths = np.diff(offsets)
        short = np.flatnonzero(lengths < 2)
        if short.size:
            r = int(short[0])
            raise FormatError(src, f"paths[{r}]", "a start and a goal (at least 2 nodes)", f"{lengths[r]} node(s)")
        outside = np.flatnonzero((paths < 0) | (paths >= v_count))
        if outside.size:
            r = int(np.searchsorted(offsets, outside[0], side="right") - 1)
            k = int(outside[0] - offsets[r])
            raise FormatError(src, f"paths[{r}][{k}]", f"a roadmap node in 0..{v_count - 1}", int(paths[outside[0]]))
        for what, pos in (("start", offsets[:-1]), ("goal", offsets[1:] - 1)):
            nodes = paths[pos]
            uniq, counts = np.unique(nodes, return_counts=True)
            if np.any(counts > 1):
                node = int(uniq[np.argmax(counts > 1)])
                robots = np.flatnonzero(nodes == node).tolist()
                raise FormatError(
                    src,
                    "paths",
                    f"distinct {what} nodes",
                    f"robots {robots[0]} and {robots[1]} both {what} at node {node}",
                )
        object.__setattr__(self, "paths", paths)
        object.__setattr__(self, "path_offsets", offsets)

    def _check_path_edges(self, v_count: int) -> None:
        """Every step of a path must drive one roadmap edge (in its direction when ``directed``)."""
        u = self.paths[:-1]
        v = self.paths[1:]
        inner = np.ones(len(self.paths) - 1, dtype=bool)
        inner[self.path_offsets[1:-1] - 1] = False  # the step from one robot's goal to the next robot's start
        idx = self._edge_index(u, v)
        bad = np.flatnonzero(inner & (idx < 0))
        if bad.size:
            i = int(bad[0])
            r = int(np.searchsorted(self.path_offsets, i, side="right") - 1)
            k = i - int(self.path_offsets[r])
            what = "a wait (repeat the node only via the schedule)" if u[i] == v[i] else "a step off the roadmap"
            raise FormatError(
                self.name,
                f"paths[{r}][{k + 1}]",
                f"a roadmap {'arc' if self.directed else 'edge'} from node {int(u[i])}",
                f"node {int(v[i])}: {what}",
            )

    # -- roadmap lookups ---------------------------------------------------------------------------
    @cached_property
    def _edge_keys(self) -> tuple[np.ndarray, np.ndarray]:
        v_count = len(self.coords)
        tails, heads = self.edges[:, 0], self.edges[:, 1]
        ids = np.arange(len(self.edges))
        if not self.directed:
            tails, heads = np.concatenate([tails, heads]), np.concatenate([heads, tails])
            ids = np.concatenate([ids, ids])
        keys = tails * v_count + heads
        order = np.argsort(keys, kind="stable")
        return keys[order], ids[order]

    def _edge_index(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """The edge id driven from ``u`` to ``v`` (elementwise), -1 where there is none."""
        keys, ids = self._edge_keys
        want = np.asarray(u, dtype=np.int64) * len(self.coords) + np.asarray(v, dtype=np.int64)
        pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        return np.where(keys[pos] == want, ids[pos], -1)

    # -- sizes -----------------------------------------------------------------------------------
    @property
    def num_robots(self) -> int:
        return int(len(self.path_offsets) - 1)

    @property
    def num_agents(self) -> int:
        """Alias of :attr:`num_robots`, so generic code that sizes multi-agent instances reads it."""
        return self.num_robots

    @property
    def num_roadmap_nodes(self) -> int:
        return len(self.coords)

    @property
    def num_intervals(self) -> int:
        return len(self.paths)

    @property
    def num_conflicts(self) -> int:
        return len(self.conflicts["a"])

    def path(self, robot: int) -> np.ndarray:
        return self.paths[self.path_offsets[robot] : self.path_offsets[robot + 1]]

    # -- the coordination graph -------------------------------------------------------------------
    @cached_property
    def intervals(self) -> dict[str, np.ndarray]:
        """Per interval (indexed like ``paths``): ``robot``, ``position`` (k), ``node``, ``next_node`` (-1 at the
        goal), ``duration`` (travel time to the next node, 0 at the goal), ``is_last``; per robot: ``first`` and
        ``last`` (interval indices)."""
        offsets = self.path_offsets
        n = len(self.paths)
        robot = np.repeat(np.arange(self.num_robots), np.diff(offsets))
        position = np.arange(n) - offsets[robot]
        is_last = np.zeros(n, dtype=bool)
        is_last[offsets[1:] - 1] = True
        next_node = np.full(n, -1, dtype=np.int64)
        next_node[~is_last] = self.paths[1:][~is_last[:-1]]
        duration = np.zeros(n)
        moving = np.flatnonzero(~is_last)
        duration[moving] = self.edge_times[self._edge_index(self.paths[moving], next_node[moving])]
        return {
            "robot": robot,
            "position": position,
            "node": self.paths,
            "next_node": next_node,
            "duration": duration,
            "is_last": is_last,
            "first": offsets[:-1].copy(),
            "last": offsets[1:] - 1,
        }

    @cached_property
    def near_nodes(self) -> np.ndarray:
        """``(M, 2)`` node pairs ``u < v`` closer than ``safety_distance`` (empty when it is 0)."""
        d = self.safety_distance
        if d <= 0:
            return np.zeros((0, 2), dtype=np.int64)
        xy = self.coords
        order = np.argsort(xy[:, 0], kind="stable")
        xs = xy[order, 0]
        out = []
        for i_sorted, u in enumerate(order.tolist()):
            hi = int(np.searchsorted(xs, xs[i_sorted] + d, side="left"))
            cand = order[i_sorted + 1 : hi]
            if cand.size:
                close = cand[np.hypot(xy[cand, 0] - xy[u, 0], xy[cand, 1] - xy[u, 1]) < d]
                for v in close.tolist():
                    out.append((min(u, v), max(u, v)))
        return np.array(sorted(set(out)), dtype=np.int64).reshape(-1, 2)

    @cached_property
    def conflicts(self) -> dict[str, np.ndarray]:
        """The conflicts in canonical order (sorted by ``(a, b)``), each a pair of intervals of two robots.

        Keys: ``a``, ``b`` (interval indices, robot of ``a`` < robot of ``b``), ``kind`` (0 node, 1 edge),
        ``followable`` (both drive the same directed edge and following is enabled), ``robots`` ``(C, 2)``.
        """
        iv = self.intervals
        node = iv["node"]
        robot = iv["robot"]
        order = np.argsort(node, kind="stable")
        sorted_nodes = node[order]
        v_count = len(self.coords)
        bounds = np.searchsorted(sorted_nodes, np.arange(v_count + 1))
        pa: list[np.ndarray] = []
        pb: list[np.ndarray] = []
        kinds: list[np.ndarray] = []

        def cross(xs: np.ndarray, ys: np.ndarray, same: bool, kind: int) -> None:
            if same:
                i, j = np.triu_indices(len(xs), k=1)
                a, b = xs[i], xs[j]
            else:
                a, b = np.repeat(xs, len(ys)), np.tile(ys, len(xs))
            keep = robot[a] != robot[b]
            if keep.any():
                pa.append(a[keep])
                pb.append(b[keep])
                kinds.append(np.full(int(keep.sum()), kind, dtype=np.int64))

        counts = np.diff(bounds)
        for u in np.flatnonzero(counts > 1).tolist():
            visits = order[bounds[u] : bounds[u + 1]]
            cross(visits, visits, True, NODE_CONFLICT)
        for u, v in self.near_nodes.tolist():
            if counts[u] and counts[v]:
                cross(order[bounds[u] : bounds[u + 1]], order[bounds[v] : bounds[v + 1]], False, NODE_CONFLICT)
        # The same edge driven in opposite directions: interval (u -> v) against interval (v -> u).
        moving = np.flatnonzero(~iv["is_last"])
        fwd = node[moving] * v_count + iv["next_node"][moving]
        rev = iv["next_node"][moving] * v_count + node[moving]
        f_order = np.argsort(fwd, kind="stable")
        f_sorted = fwd[f_order]
        lo = np.searchsorted(f_sorted, rev, side="left")
        hi = np.searchsorted(f_sorted, rev, side="right")
        for idx in np.flatnonzero((hi > lo) & (node[moving] < iv["next_node"][moving])).tolist():
            partners = moving[f_order[lo[idx] : hi[idx]]]
            cross(moving[idx : idx + 1], partners, False, EDGE_CONFLICT)

        if pa:
            a = np.concatenate(pa)
            b = np.concatenate(pb)
            kind = np.concatenate(kinds)
        else:
            a = b = kind = np.zeros(0, dtype=np.int64)
        swap = robot[a] > robot[b]
        a, b = np.where(swap, b, a), np.where(swap, a, b)
        key = a * len(node) + b
        key, first = np.unique(key, return_index=True)  # sorted by (a, b); a node pair wins over an edge pair
        a, b = a[first], b[first]
        kind = kind[first]
        followable = (
            (node[a] == node[b])
            & (iv["next_node"][a] == iv["next_node"][b])
            & ~iv["is_last"][a]
            & ~iv["is_last"][b]
            & (self.follow_gap is not None)
        )
        return {
            "a": a.astype(np.int64),
            "b": b.astype(np.int64),
            "kind": kind.astype(np.int64),
            "followable": followable,
            "robots": np.stack([robot[a], robot[b]], axis=1).reshape(-1, 2),
        }

    @cached_property
    def evaluator(self) -> CoordinationEvaluator:
        """The fast schedule evaluator of this instance (built once; numba kernels load on first use)."""
        return CoordinationEvaluator(self)

    @property
    def free_flow_completion(self) -> np.ndarray:
        """Each robot's completion time with nobody in the way (release + travel time): a lower bound."""
        iv = self.intervals
        travel = np.add.reduceat(iv["duration"], self.path_offsets[:-1])
        return self.release_times + travel

    # -- serialisation ---------------------------------------------------------------------------
    def to_data(self) -> dict[str, Any]:
        return {
            "coords": self.coords,
            "edges": self.edges,
            "edge_times": self.edge_times,
            "directed": self.directed,
            "paths": self.paths,
            "path_offsets": self.path_offsets,
            "release_times": self.release_times,
            "safety_distance": self.safety_distance,
            "follow_gap": self.follow_gap,
        }

    @classmethod
    def from_data(cls, name: str, data: dict[str, Any], meta: dict[str, Any]) -> CoordinationInstance:
        for key in ("coords", "edges", "paths"):
            if key not in data:
                raise FormatError(name, key, f"the coordination field {key!r}", "missing")
        return cls(
            name=name,
            meta=meta,
            coords=data["coords"],
            edges=data["edges"],
            edge_times=data.get("edge_times"),
            paths=data["paths"],
            path_offsets=data.get("path_offsets"),
            release_times=data.get("release_times"),
            directed=_scalar(data.get("directed", False)),
            safety_distance=_scalar(data.get("safety_distance", 0.0)),
            follow_gap=_scalar(data.get("follow_gap")),
        )


# -- the evaluator ---------------------------------------------------------------------------------
class CoordinationEvaluator:
    """Schedules of one instance for many orders: the hot path of every coordination solver.

    Built once per instance (it stores the candidate edges of both orientations of every conflict, grouped by
    source interval); :meth:`evaluate` scores one order vector or a ``(K, C)`` batch (the GNN-VAE decodes K
    samples at once) in ``O(N + C)`` each, with numba.
    """

    def __init__(self, instance: CoordinationInstance) -> None:
        iv = instance.intervals
        cf = instance.conflicts
        self.num_robots = instance.num_robots
        self.num_conflicts = len(cf["a"])
        self.num_intervals = len(iv["node"])
        self.duration = np.ascontiguousarray(iv["duration"], dtype=np.float64)
        self.is_last = np.ascontiguousarray(iv["is_last"], dtype=np.bool_)
        self.release = np.ascontiguousarray(instance.release_times[iv["robot"]], dtype=np.float64)
        self.last_index = np.ascontiguousarray(iv["last"], dtype=np.int64)
        a, b = cf["a"], cf["b"]
        self.conf_a = np.ascontiguousarray(a, dtype=np.int64)
        self.conf_b = np.ascontiguousarray(b, dtype=np.int64)
        self.w_ab = self.duration[a].copy()
        self.w_ba = self.duration[b].copy()
        gap = 0.0 if instance.follow_gap is None else float(instance.follow_gap)
        follow = cf["followable"]
        self.followable = np.ascontiguousarray(follow, dtype=np.bool_)
        self.f_ab = np.where(follow, gap, self.w_ab)
        self.f_ba = np.where(follow, gap, self.w_ba)
        c = np.arange(self.num_conflicts, dtype=np.int64)
        src = np.concatenate([a, b])
        order = np.argsort(src, kind="stable")
        self.cand_conf = np.ascontiguousarray(np.concatenate([c, c])[order])
        self.cand_dir = np.ascontiguousarray(np.concatenate([np.zeros_like(c), np.ones_like(c)])[order])
        self.cand_dst = np.ascontiguousarray(np.concatenate([b, a])[order])
        self.cand_ptr = np.searchsorted(src[order], np.arange(self.num_intervals + 1)).astype(np.int64)

    @cached_property
    def _graph(self) -> tuple[np.ndarray, ...]:
        """The static arrays of the kernels, in :data:`coordination_kernels.GRAPH_FIELDS` order (built once: the
        evaluator is called in tight loops)."""
        from routelab.problems.coordination_kernels import GRAPH_FIELDS

        return tuple(getattr(self, name) for name in GRAPH_FIELDS)

    def _prepare(self, orders: Any, modes: Any) -> tuple[np.ndarray, np.ndarray, bool, bool]:
        arr = np.asarray(orders)
        single = arr.ndim == 1
        arr = np.ascontiguousarray(np.atleast_2d(arr), dtype=np.int8)
        if arr.shape[1] != self.num_conflicts:
            raise ValueError(f"orders have {arr.shape[1]} entries per row, the instance has {self.num_conflicts}")
        if modes is None:
            mode_arr = np.zeros((arr.shape[0], max(self.num_conflicts, 1)), dtype=np.int8)
            return arr, mode_arr, False, single
        mode_arr = np.ascontiguousarray(np.atleast_2d(np.asarray(modes)), dtype=np.int8)
        if mode_arr.shape != arr.shape:
            raise ValueError(f"modes have shape {mode_arr.shape}, orders {arr.shape}")
        return arr, mode_arr, True, single

    def evaluate(self, orders: Any, modes: Any = None, *, parallel: bool = False) -> np.ndarray | float:
        """Mean completion time per order vector (``inf`` when it deadlocks): a float for one ``(C,)`` vector,
        a ``(K,)`` array for a ``(K, C)`` batch. ``modes`` (same shape, 1 = following) is optional.

        ``parallel`` spreads the rows of a batch over numba's threads (worth it from a few rows of large instances;
        the default stays on one thread, as benchmark jobs run one per core)."""
        from routelab.problems import coordination_kernels as kernels

        arr, mode_arr, use_modes, single = self._prepare(orders, modes)
        kernel = kernels.evaluate_batch_parallel if parallel and len(arr) > 1 else kernels.evaluate_batch
        out = kernel(arr, mode_arr, use_modes, self._graph, self.last_index)
        return float(out[0]) if single else out

    def schedule(self, orders: Any, modes: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
        """``(start_times, None)`` for an acyclic order, else ``(partial_starts, cycle)`` where ``cycle`` lists
        the intervals of one dependency cycle in order (each waits for the next one's predecessor...)."""
        from routelab.problems.coordination_kernels import start_times

        arr, mode_arr, use_modes, _ = self._prepare(orders, modes)
        start, indeg, done = start_times(arr[0], mode_arr[0], use_modes, self._graph)
        if done == self.num_intervals:
            return start, None
        return start, self._find_cycle(arr[0], indeg > 0)

    def _find_cycle(self, orders: np.ndarray, stuck: np.ndarray) -> np.ndarray:
        """One cycle among the intervals Kahn's sort could not schedule, in dependency order."""
        n = self.num_intervals
        preds: list[list[int]] = [[] for _ in range(n)]
        for i in np.flatnonzero(stuck[1:] & ~self.is_last[:-1] & stuck[:-1]).tolist():
            preds[i + 1].append(i)
        first = np.where(orders == 0, self.conf_a, self.conf_b)
        second = np.where(orders == 0, self.conf_b, self.conf_a)
        for u, v in zip(first.tolist(), second.tolist(), strict=True):
            if stuck[u] and stuck[v]:
                preds[v].append(u)
        seen: dict[int, int] = {}
        walk: list[int] = []
        node = int(np.flatnonzero(stuck)[0])
        while node not in seen:
            seen[node] = len(walk)
            walk.append(node)
            node = preds[node][0]
        cycle = walk[seen[node] :]
        return np.array(cycle[::-1], dtype=np.int64)


# -- helpers for solvers and models ---------------------------------------------------------------
def orders_from_ranks(instance: CoordinationInstance, ranks: Any) -> np.ndarray:
    """Orient every conflict from the lower-ranked interval to the higher one (ties: lower interval first).

    Deadlock-free whenever ``ranks`` increases strictly along every robot's intervals (for example start times
    of a feasible schedule plus a tiny increasing tie-breaker, or a decoder's cumulative sums): every edge of the
    dependency graph then goes up in rank.
    """
    rank = np.asarray(ranks, dtype=np.float64)
    cf = instance.conflicts
    ra, rb = rank[cf["a"]], rank[cf["b"]]
    return ((rb < ra) | ((rb == ra) & (cf["b"] < cf["a"]))).astype(np.int8)


def orders_from_priority(instance: CoordinationInstance, priority: Any) -> np.ndarray:
    """Every conflict won by the robot with the smaller ``priority`` value (ties: the lower robot index).

    Always deadlock-free: the orders are those of one global order of robots.
    """
    pri = np.asarray(priority, dtype=np.float64)
    robots = instance.conflicts["robots"]
    pa, pb = pri[robots[:, 0]], pri[robots[:, 1]]
    return ((pb < pa) | ((pb == pa) & (robots[:, 1] < robots[:, 0]))).astype(np.int8)


def describe_interval(instance: CoordinationInstance, interval: int) -> str:
    """``robot R at node V (position K)``: how violation messages name an interval."""
    iv = instance.intervals
    robot, node, pos = (int(iv[key][interval]) for key in ("robot", "node", "position"))
    return f"robot {robot} at node {node} (position {pos})"


# -- solutions ------------------------------------------------------------------------------------
def _bits(source: str, field_name: str, value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.size == 0:
        return np.zeros(0, dtype=np.int8)
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise FormatError(source, field_name, "a list of 0/1, one per conflict", type(value).__name__)
    if len(value) == 0:
        return np.zeros(0, dtype=np.int8)
    arr = as_array(source, field_name, np.asarray(value, dtype=object).astype(float), ndim=1, dtype=int)
    bad = np.flatnonzero((arr != 0) & (arr != 1))
    if bad.size:
        raise FormatError(source, f"{field_name}[{bad[0]}]", "0 or 1", int(arr[bad[0]]))
    return arr.astype(np.int8)


def parse_payload(source: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``{"orders": [0/1 per conflict], "modes": [0/1 per conflict] (optional)}``; lengths are the scorer's job."""
    if "orders" not in payload:
        raise FormatError(source, "orders", "one 0/1 per conflict (the payload)", "missing")
    out: dict[str, Any] = {"orders": _bits(source, "orders", payload["orders"])}
    if payload.get("modes") is not None:
        out["modes"] = _bits(source, "modes", payload["modes"])
    return out


def score(instance: CoordinationInstance, payload: dict[str, Any]) -> Score:
    """Build the dependency graph of the orders, reject a deadlock naming its cycle, and recompute the schedule.

    The objective is the mean completion time; it is ``inf`` when the orders deadlock or do not fit the instance.
    """
    orders: np.ndarray = payload["orders"]
    modes: np.ndarray | None = payload.get("modes")
    count = instance.num_conflicts
    log = ViolationLog()
    details: dict[str, Any] = {"robots": instance.num_robots, "conflicts": count}
    if len(orders) != count:
        log.add(f"orders has {len(orders)} entries, the instance has {count} conflicts (one 0/1 each)")
    if modes is not None:
        if len(modes) != count:
            log.add(f"modes has {len(modes)} entries, the instance has {count} conflicts")
        else:
            bad = np.flatnonzero((modes == 1) & ~instance.conflicts["followable"])
            for c in bad.tolist():
                why = (
                    "following is disabled (follow_gap is null)"
                    if instance.follow_gap is None
                    else ("the two intervals do not drive the same edge")
                )
                log.add(f"conflict {c}: mode 1 (following) not allowed: {why}")
    if log:
        return Score(False, float("inf"), log.as_tuple(), details, violation_count=log.count)
    start, cycle = instance.evaluator.schedule(orders, modes)
    if cycle is not None:
        iv = instance.intervals
        steps = [describe_interval(instance, int(i)) for i in cycle]
        shown = steps if len(steps) <= 12 else [*steps[:11], f"... ({len(steps) - 11} more)"]
        log.add(
            f"deadlock: the orders make a dependency cycle of {len(cycle)} intervals: "
            + " -> ".join([*shown, steps[0]])
        )
        details["cycle"] = [
            {"robot": int(iv["robot"][i]), "position": int(iv["position"][i]), "node": int(iv["node"][i])}
            for i in cycle.tolist()
        ]
        details["cycle_robots"] = sorted({int(iv["robot"][i]) for i in cycle.tolist()})
        return Score(False, float("inf"), log.as_tuple(), details, violation_count=log.count)
    completion = start[instance.intervals["last"]]
    free = instance.free_flow_completion
    details.update(
        completion_times=completion.tolist(),
        mean_completion=float(completion.mean()),
        sum_completion=float(completion.sum()),
        makespan=float(completion.max()),
        free_flow_mean=float(free.mean()),
        total_delay=float((completion - free).sum()),
    )
    return Score(True, float(completion.mean()), (), details)
