"""The coordination graph as tensors: what the GNN-VAE reads, and the feature layout a checkpoint is tied to.

One graph node per robot interval (numbered like ``instance.paths``), three kinds of directed messages:

- precedence forward ``i -> i + 1`` and backward ``i + 1 -> i`` along every robot (both directions, so delays
  ahead and congestion behind both reach an interval);
- conflict messages ``a -> b`` and ``b -> a`` for every conflict (the *skeleton* treats a conflict as undirected;
  its orientation is the decoder's output, never its input).

Every feature is local and measured in units of ``tau`` (the instance's median positive travel time), so a model
trained on 5-25 robots reads a 250-robot floor with the same statistics: absolute times enter only through
``log1p`` and the differences of planned starts across a conflict (what decides who arrives first) are squashed
with ``tanh``. The encoder additionally reads a solution (:func:`solution_features`): the delay of each interval in
that solution's schedule, and each conflict message's orientation (+1 when the sender goes first).

Ranks are residuals on a *base* schedule, dynamic FCFS (:func:`base_orders`): the decoder's rank of an interval is
its start in that schedule plus the running maximum, along its robot, of learned non-negative delays ("hold this
robot back by ``d`` from here on"). A running maximum, unlike a running sum, does not grow with the path length,
so what is learned on 5-25-robot floors means the same on 250-robot ones. The base's delays and orientations are
node and edge features too, so the network sees where the dispatch rule already queues robots and learns where
the MILP departs from it. Both parts never decrease along a robot, which is all deadlock freedom needs. These
*static* ranks are what training fits; inference decodes the same delays by dispatch by default
(:mod:`routelab.coordination.dispatch`), because static ranks go stale on large floors.

:data:`FEATURE_LAYOUT` names every column; a checkpoint stores it, and loading refuses a checkpoint whose layout
differs from the one this code builds (see :func:`routelab.coordination.gnnvae.load_checkpoint`). Change a feature
here and you must bump :data:`LAYOUT_VERSION` and retrain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from routelab.problems.coordination import EDGE_CONFLICT, CoordinationInstance

LAYOUT_VERSION = "coord-graph/2"
NODE_FEATURES: tuple[str, ...] = (
    "duration/tau",
    "position k/(L-1)",
    "log1p(remaining travel/tau)/4",
    "log1p(planned start/tau)/4",
    "is_first",
    "is_last",
    "log1p(conflicts)/3",
    "log1p(edge conflicts)/3",
    "share of conflict partners planned earlier",
    "tanh(mean planned lead over partners/4)",
    "log1p(path length)/4",
    "log1p(base delay/tau)",
    "tanh(base delay/tau/4)",
)
EDGE_FEATURES: tuple[str, ...] = (
    "precedence forward",
    "precedence backward",
    "conflict",
    "tanh(planned start of receiver - sender)/4",
    "clip(planned start of receiver - sender, -8, 8)/8",
    "edge (opposite-direction) conflict",
    "followable",
    "sender duration/tau",
    "base orientation: +1 sender first, -1 receiver first, 0 precedence",
)
SOLUTION_NODE_FEATURES: tuple[str, ...] = ("log1p(delay/tau)", "tanh(delay/tau/4)")
SOLUTION_EDGE_FEATURES: tuple[str, ...] = ("orientation: +1 sender first, -1 receiver first, 0 precedence",)
FEATURE_LAYOUT: dict[str, Any] = {
    "version": LAYOUT_VERSION,
    "node": list(NODE_FEATURES),
    "edge": list(EDGE_FEATURES),
    "solution_node": list(SOLUTION_NODE_FEATURES),
    "solution_edge": list(SOLUTION_EDGE_FEATURES),
    "ranks": "fcfs-dynamic start + per-robot running max of delays",
}


@dataclass
class CoordGraph:
    """Tensors of one instance (or of several merged by :func:`merge_graphs`).

    Attributes:
        x: ``(N, F)`` float32 node features.
        edge_index: ``(2, M)`` int64 messages: ``P`` forward precedence, ``P`` backward, ``C`` conflict ``a -> b``,
            ``C`` conflict ``b -> a`` (in this order, so solution features line up).
        edge_attr: ``(M, G)`` float32 message features.
        base_rank: ``(N,)`` float64 each interval's start in the base schedule (dynamic FCFS) in units of tau; it
            never decreases along a robot.
        base_orders: ``(C,)`` int8 the base schedule's orders.
        planned: ``(N,)`` float64 free-flow start in units of tau.
        robot: ``(N,)`` int64 robot of each interval (robots are contiguous, numbered in increasing order).
        conf_a, conf_b: ``(C,)`` int64 the conflicts, in the instance's canonical order.
        num_prec: ``P``.
        tau: the time unit.
        followable: ``(C,)`` bool conflicts that may be driven in following mode.
    """

    x: torch.Tensor
    edge_index: torch.Tensor
    edge_attr: torch.Tensor
    base_rank: np.ndarray
    base_orders: np.ndarray
    planned: np.ndarray
    robot: np.ndarray
    conf_a: np.ndarray
    conf_b: np.ndarray
    num_prec: int
    tau: float
    followable: np.ndarray

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])

    @property
    def num_conflicts(self) -> int:
        return len(self.conf_a)


def time_unit(instance: CoordinationInstance) -> float:
    """The median positive travel time: the unit every time feature and every rank is measured in."""
    dur = instance.intervals["duration"]
    positive = dur[dur > 0]
    return float(np.median(positive)) if positive.size else 1.0


def planned_starts(instance: CoordinationInstance) -> np.ndarray:
    """Free-flow start of every interval (release plus the travel before it)."""
    iv = instance.intervals
    csum = np.concatenate([[0.0], np.cumsum(iv["duration"])])
    return instance.release_times[iv["robot"]] + csum[:-1] - csum[instance.path_offsets[:-1]][iv["robot"]]


def base_orders(instance: CoordinationInstance) -> np.ndarray:
    """The orders the decoder's ranks start from: dynamic FCFS (dispatch by actual arrival; deadlock-free)."""
    from routelab.solvers.coordination_heuristics import fcfs_dynamic

    return fcfs_dynamic(instance)


def build_graph(instance: CoordinationInstance, base: np.ndarray | None = None) -> CoordGraph:
    """The skeleton tensors of ``instance`` (see the module doc); ``base`` orders default to :func:`base_orders`.

    Vectorised and linear in intervals + conflicts, except the base orders' dispatch (``O((N + C) log N)``).
    """
    iv = instance.intervals
    cf = instance.conflicts
    n = instance.num_intervals
    tau = time_unit(instance)
    dur = iv["duration"] / tau
    robot = iv["robot"]
    lengths = np.diff(instance.path_offsets)[robot]
    planned = planned_starts(instance) / tau
    completion = planned[iv["last"]][robot]
    a, b = cf["a"], cf["b"]
    kind_edge = cf["kind"] == EDGE_CONFLICT
    followable = np.asarray(cf["followable"], dtype=bool)

    deg = np.bincount(np.concatenate([a, b]), minlength=n).astype(np.float64)
    deg_edge = np.bincount(np.concatenate([a[kind_edge], b[kind_edge]]), minlength=n).astype(np.float64)
    lead_ab = planned[b] - planned[a]  # > 0: a is planned earlier than b
    earlier = np.bincount(b, weights=(lead_ab > 0), minlength=n) + np.bincount(a, weights=(lead_ab < 0), minlength=n)
    lead_sum = np.bincount(a, weights=lead_ab, minlength=n) - np.bincount(b, weights=lead_ab, minlength=n)
    safe = np.maximum(deg, 1.0)
    base = base_orders(instance) if base is None else np.asarray(base)
    base_start, cycle = instance.evaluator.schedule(base)
    if cycle is not None:
        raise ValueError(f"{instance.name}: the base orders deadlock")
    base_rank = base_start / tau
    base_delay = np.maximum(base_rank - planned, 0.0)
    x = np.stack(
        [
            dur,
            iv["position"] / np.maximum(lengths - 1, 1),
            np.log1p(np.maximum(completion - planned, 0.0)) / 4.0,
            np.log1p(planned) / 4.0,
            iv["position"] == 0,
            iv["is_last"],
            np.log1p(deg) / 3.0,
            np.log1p(deg_edge) / 3.0,
            np.where(deg > 0, earlier / safe, 0.0),
            np.tanh(lead_sum / safe / 4.0),
            np.log1p(lengths) / 4.0,
            np.log1p(base_delay),
            np.tanh(base_delay / 4.0),
        ],
        axis=1,
    ).astype(np.float32)

    prec = np.flatnonzero(~iv["is_last"])
    p = len(prec)
    c = len(a)
    src = np.concatenate([prec, prec + 1, a, b])
    dst = np.concatenate([prec + 1, prec, b, a])
    diff = planned[dst] - planned[src]
    etype = np.zeros((2 * p + 2 * c, 3), dtype=np.float32)
    etype[:p, 0] = 1.0
    etype[p : 2 * p, 1] = 1.0
    etype[2 * p :, 2] = 1.0
    is_conf = np.zeros(2 * p + 2 * c, dtype=bool)
    is_conf[2 * p :] = True
    conf_edge = np.concatenate([np.zeros(2 * p, dtype=bool), kind_edge, kind_edge])
    conf_follow = np.concatenate([np.zeros(2 * p, dtype=bool), followable, followable])
    sign = np.where(base == 0, 1.0, -1.0)
    orient = np.concatenate([np.zeros(2 * p), sign, -sign])
    edge_attr = np.concatenate(
        [
            etype,
            np.stack(
                [
                    np.where(is_conf, np.tanh(diff / 4.0), 0.0),
                    np.where(is_conf, np.clip(diff, -8.0, 8.0) / 8.0, 0.0),
                    conf_edge,
                    conf_follow,
                    dur[src],
                    orient,
                ],
                axis=1,
            ),
        ],
        axis=1,
    ).astype(np.float32)

    return CoordGraph(
        x=torch.from_numpy(x),
        edge_index=torch.from_numpy(np.stack([src, dst]).astype(np.int64)),
        edge_attr=torch.from_numpy(edge_attr),
        base_rank=base_rank,
        base_orders=np.asarray(base, dtype=np.int8),
        planned=planned,
        robot=robot.astype(np.int64),
        conf_a=a.astype(np.int64),
        conf_b=b.astype(np.int64),
        num_prec=p,
        tau=tau,
        followable=followable,
    )


def solution_features(graph: CoordGraph, orders: np.ndarray, start: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """What the encoder reads about a solution: ``(N, 2)`` node delays and ``(M, 1)`` message orientations.

    ``start`` is the solution's schedule (earliest starts of ``orders``); its delay over the planned start is
    non-decreasing along each robot.
    """
    delay = np.maximum(start / graph.tau - graph.planned, 0.0)
    node = np.stack([np.log1p(delay), np.tanh(delay / 4.0)], axis=1).astype(np.float32)
    sign = np.where(np.asarray(orders) == 0, 1.0, -1.0)  # +1: a goes first
    orient = np.concatenate([np.zeros(2 * graph.num_prec), sign, -sign]).astype(np.float32)
    return torch.from_numpy(node), torch.from_numpy(orient[:, None])


ROBOT_STRIDE = 1.0e6
"""Segment offset for the per-robot running maximum (delays are clipped below it)."""
MAX_DELAY = 1.0e5
"""Largest learned delay, in units of tau (far beyond any schedule the generator makes)."""


def rank_from_delays(graph: CoordGraph, delays: np.ndarray) -> np.ndarray:
    """``base_rank`` plus the per-robot running maximum of ``delays`` (float64; ``(N,)`` or ``(K, N)``, >= 0).

    Both terms never decrease along a robot (rounding is monotone, so this holds in floating point too): the
    property :func:`orders_from_rank_batch` needs for deadlock freedom.
    """
    d = np.clip(np.asarray(delays, dtype=np.float64), 0.0, MAX_DELAY)
    shift = graph.robot * ROBOT_STRIDE
    running = np.maximum.accumulate(d + shift, axis=-1) - shift
    return graph.base_rank + np.maximum(running, 0.0)


def orders_from_rank_batch(graph: CoordGraph, ranks: np.ndarray) -> np.ndarray:
    """``(K, C)`` int8 orders from ``(K, N)`` ranks: every conflict from the lower ``(rank, index)`` to the higher.

    Deadlock-free by construction when ranks never decrease along a robot: ``(rank, interval index)`` is then one
    strict total order that every precedence edge (``i -> i + 1``) and every oriented conflict edge climbs, so the
    dependency graph cannot contain a cycle. Ties go to ``a`` (the lower index), as in
    :func:`routelab.problems.coordination.orders_from_ranks`.
    """
    ra = ranks[:, graph.conf_a]
    rb = ranks[:, graph.conf_b]
    return ((rb < ra) | ((rb == ra) & (graph.conf_b < graph.conf_a)[None, :])).astype(np.int8)


def merge_graphs(graphs: list[CoordGraph]) -> tuple[CoordGraph, np.ndarray]:
    """One disconnected graph of several (for training minibatches) and the node offset of each part."""
    offsets = np.concatenate([[0], np.cumsum([g.num_nodes for g in graphs])]).astype(np.int64)
    robot_offsets = np.concatenate([[0], np.cumsum([int(g.robot[-1]) + 1 for g in graphs])]).astype(np.int64)
    prec_parts, conf_parts = [], []
    for g, off in zip(graphs, offsets[:-1].tolist(), strict=False):
        p, c = g.num_prec, g.num_conflicts
        ei = g.edge_index + off
        prec_parts.append((ei[:, :p], ei[:, p : 2 * p], g.edge_attr[:p], g.edge_attr[p : 2 * p]))
        conf_parts.append(
            (ei[:, 2 * p : 2 * p + c], ei[:, 2 * p + c :], g.edge_attr[2 * p : 2 * p + c], g.edge_attr[2 * p + c :])
        )
    edge_index = torch.cat(
        [part[i] for i in (0, 1) for part in prec_parts] + [part[i] for i in (0, 1) for part in conf_parts], dim=1
    )
    edge_attr = torch.cat(
        [part[i] for i in (2, 3) for part in prec_parts] + [part[i] for i in (2, 3) for part in conf_parts], dim=0
    )
    merged = CoordGraph(
        x=torch.cat([g.x for g in graphs]),
        edge_index=edge_index,
        edge_attr=edge_attr,
        base_rank=np.concatenate([g.base_rank for g in graphs]),
        base_orders=np.concatenate([g.base_orders for g in graphs]),
        planned=np.concatenate([g.planned for g in graphs]),
        robot=np.concatenate([g.robot + off for g, off in zip(graphs, robot_offsets[:-1], strict=False)]),
        conf_a=np.concatenate([g.conf_a + off for g, off in zip(graphs, offsets[:-1], strict=False)]),
        conf_b=np.concatenate([g.conf_b + off for g, off in zip(graphs, offsets[:-1], strict=False)]),
        num_prec=sum(g.num_prec for g in graphs),
        tau=1.0,
        followable=np.concatenate([g.followable for g in graphs]),
    )
    return merged, offsets


def merge_solution_features(
    parts: list[tuple[torch.Tensor, torch.Tensor]], graphs: list[CoordGraph]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Solution features of several graphs in the message order of :func:`merge_graphs`."""
    nodes = torch.cat([node for node, _ in parts])
    prec_f, prec_b, conf_f, conf_b = [], [], [], []
    for (_, orient), g in zip(parts, graphs, strict=True):
        p, c = g.num_prec, g.num_conflicts
        prec_f.append(orient[:p])
        prec_b.append(orient[p : 2 * p])
        conf_f.append(orient[2 * p : 2 * p + c])
        conf_b.append(orient[2 * p + c :])
    return nodes, torch.cat(prec_f + prec_b + conf_f + conf_b)
