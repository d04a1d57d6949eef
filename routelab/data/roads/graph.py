"""A directed road graph and the shortest-path matrices between points on it.

Both offline providers (:mod:`~routelab.data.roads.osm` for OpenStreetMap extracts and
:mod:`~routelab.data.roads.synthetic` for procedural cities) build a :class:`RoadGraph` and let it answer
:meth:`RoadGraph.matrices`, so the routing semantics (snapping, one-way streets, fastest routes, ``inf`` for
unreachable) are defined once, here.

Semantics follow OSRM's table service so that an offline matrix and an OSRM matrix mean the same thing:

* the duration from i to j is that of the *fastest* route (shortest path by travel time, no turn penalties);
* the distance from i to j is, by default, the length *of that fastest route* (``distance_of="fastest"``), which
  is what OSRM reports. ``distance_of="shortest"`` instead gives the shortest-by-length route, computed on its
  own weight, which is the metric a pure-distance VRP benchmark wants; then distance and duration may describe
  two different routes.

Cost: one scipy Dijkstra per distinct snapped node (in chunks of ``_SOURCE_CHUNK`` sources to bound memory), plus,
for ``"fastest"``, a numba pass over the predecessor trees that sums edge lengths along each fastest route (the
first call in a process compiles it or loads it from numba's cache, ~1 s cold); ``"shortest"`` runs a second
Dijkstra on length instead. 1,000 points on a 20k-node graph take a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
from numba import njit
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from routelab.data.roads.matrices import RoadMatrices, haversine_m
from routelab.problems import FormatError

EARTH_RADIUS_M = 6_371_008.8
# Zero-length edges (two OSM nodes on one spot) would be explicit zeros in a sparse matrix, which some sparse
# operations drop; a micro-metre / micro-second floor keeps them as edges without changing any route measurably.
_MIN_WEIGHT = 1e-6
# Rows of the (sources x nodes) Dijkstra output held at once: bounds memory at ~8 bytes x chunk x nodes per array.
_SOURCE_CHUNK = 256

DistanceOf = Literal["fastest", "shortest"]


@dataclass(frozen=True, eq=False)
class RoadGraph:
    """A directed road network: node positions and one-way edges with a length and a travel speed.

    A two-way street is two edges. Parallel edges are allowed (two ways between the same junctions); every
    shortest-path computation uses the best one for the weight at hand.
    """

    lat: np.ndarray
    lon: np.ndarray
    tail: np.ndarray
    head: np.ndarray
    length_m: np.ndarray
    speed_kmh: np.ndarray
    source: str = "road graph"

    def __post_init__(self) -> None:
        lat = np.asarray(self.lat, dtype=np.float64).ravel()
        lon = np.asarray(self.lon, dtype=np.float64).ravel()
        if len(lat) != len(lon) or len(lat) < 1:
            raise FormatError(self.source, "nodes", "matching, non-empty lat and lon arrays", (len(lat), len(lon)))
        if not (np.all(np.isfinite(lat)) and np.all(np.isfinite(lon))):
            raise FormatError(self.source, "nodes", "finite (lat, lon)", "NaN or infinity")
        tail = np.asarray(self.tail, dtype=np.int64).ravel()
        head = np.asarray(self.head, dtype=np.int64).ravel()
        length = np.asarray(self.length_m, dtype=np.float64).ravel()
        speed = np.asarray(self.speed_kmh, dtype=np.float64).ravel()
        m = len(tail)
        if not (len(head) == len(length) == len(speed) == m):
            raise FormatError(
                self.source,
                "edges",
                "tail, head, length_m, speed_kmh of one length",
                (m, len(head), len(length), len(speed)),
            )
        if m and (tail.min() < 0 or head.min() < 0 or max(tail.max(), head.max()) >= len(lat)):
            raise FormatError(self.source, "edges", f"node ids in [0, {len(lat)})", "an id out of range")
        if m and not (np.all(np.isfinite(length)) and length.min() >= 0):
            raise FormatError(self.source, "length_m", "finite non-negative metres", float(np.nanmin(length)))
        if m and not (np.all(np.isfinite(speed)) and speed.min() > 0):
            raise FormatError(self.source, "speed_kmh", "finite positive km/h", float(np.nanmin(speed)))
        for name, arr in (("lat", lat), ("lon", lon), ("tail", tail), ("head", head)):
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "length_m", length)
        object.__setattr__(self, "speed_kmh", speed)

    # ----------------------------------------------------------------- basic views

    @property
    def n_nodes(self) -> int:
        return len(self.lat)

    @property
    def n_edges(self) -> int:
        return len(self.tail)

    @property
    def positions(self) -> np.ndarray:
        """``(n_nodes, 2)`` (lat, lon)."""
        return np.column_stack([self.lat, self.lon])

    @property
    def time_s(self) -> np.ndarray:
        """Free-flow travel time of each edge in seconds (length at the edge's speed)."""
        return self.length_m / (self.speed_kmh / 3.6)

    def __repr__(self) -> str:
        return f"RoadGraph({self.source!r}, {self.n_nodes} nodes, {self.n_edges} edges)"

    # ----------------------------------------------------------------- structure

    def subgraph(self, nodes: np.ndarray) -> RoadGraph:
        """The graph induced by ``nodes`` (ids in the new graph follow their order); edges leaving it are dropped."""
        nodes = np.asarray(nodes, dtype=np.int64)
        new_id = np.full(self.n_nodes, -1, dtype=np.int64)
        new_id[nodes] = np.arange(len(nodes))
        keep = (new_id[self.tail] >= 0) & (new_id[self.head] >= 0)
        return RoadGraph(
            lat=self.lat[nodes],
            lon=self.lon[nodes],
            tail=new_id[self.tail[keep]],
            head=new_id[self.head[keep]],
            length_m=self.length_m[keep],
            speed_kmh=self.speed_kmh[keep],
            source=self.source,
        )

    @cached_property
    def _scc_labels(self) -> np.ndarray:
        adjacency = csr_matrix((np.ones(self.n_edges), (self.tail, self.head)), shape=(self.n_nodes, self.n_nodes))
        _, labels = connected_components(adjacency, directed=True, connection="strong")
        return labels

    @cached_property
    def _largest_scc_nodes(self) -> np.ndarray:
        labels = self._scc_labels
        return np.flatnonzero(labels == np.bincount(labels).argmax())

    def largest_strongly_connected(self) -> RoadGraph:
        """The largest strongly connected component: every node can reach every other.

        Real extracts have dead ends at the clipping boundary and one-way fragments; keeping only this component
        means any two snapped points have a route both ways, so a matrix built on it has no ``inf``.
        """
        nodes = self._largest_scc_nodes
        if len(nodes) == self.n_nodes:
            return self
        return self.subgraph(nodes)

    # ----------------------------------------------------------------- points

    @cached_property
    def _projection(self) -> tuple[float, cKDTree]:
        """Equirectangular metres around the graph's mean latitude: exact enough for nearest-node at city scale."""
        cos0 = float(np.cos(np.radians(np.mean(self.lat))))
        return cos0, cKDTree(self._project(self.lat, self.lon, cos0))

    @staticmethod
    def _project(lat: np.ndarray, lon: np.ndarray, cos0: float) -> np.ndarray:
        return np.column_stack([np.radians(lon) * cos0 * EARTH_RADIUS_M, np.radians(lat) * EARTH_RADIUS_M])

    def snap(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest node to each (lat, lon) in ``points``: ``(node ids, great-circle snap distance in metres)``."""
        points = _as_points(points, self.source)
        cos0, tree = self._projection
        _, nodes = tree.query(self._project(points[:, 0], points[:, 1], cos0))
        nodes = np.asarray(nodes, dtype=np.int64)
        return nodes, haversine_m(points, self.positions[nodes])

    def sample_points(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """``(n, 2)`` positions of ``n`` distinct nodes drawn uniformly from the largest strongly connected component.

        Sampling inside that component guarantees the points can all reach each other, so matrices on them are finite.
        """
        rng = np.random.default_rng(rng)
        members = self._largest_scc_nodes
        if not 0 < n <= len(members):
            raise ValueError(f"{self.source}: cannot sample {n} distinct nodes from a component of {len(members)}")
        return self.positions[rng.choice(members, size=n, replace=False)]

    # ----------------------------------------------------------------- shortest paths

    @cached_property
    def _time_csr(self) -> csr_matrix:
        return self._weighted_csr(self.time_s)

    @cached_property
    def _length_csr(self) -> csr_matrix:
        return self._weighted_csr(self.length_m)

    def _weighted_csr(self, weight: np.ndarray) -> csr_matrix:
        weight, tail, head, _ = self._best_edges(weight)
        return csr_matrix((weight, (tail, head)), shape=(self.n_nodes, self.n_nodes))

    @cached_property
    def _fastest_in_edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The fastest edge per (tail, head) grouped by head (in_ptr, in_tail, in_len), for :func:`_path_lengths`."""
        _, tail, head, length = self._best_edges(self.time_s)
        order = np.argsort(head, kind="stable")
        in_ptr = np.zeros(self.n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(head, minlength=self.n_nodes), out=in_ptr[1:])
        return in_ptr, tail[order], length[order]

    def _best_edges(self, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(weight, tail, head, length)`` of the lightest edge per (tail, head), self-loops dropped.

        A CSR built from parallel edges would sum them; Dijkstra must see only the best one.
        """
        loops = self.tail == self.head
        tail, head = self.tail[~loops], self.head[~loops]
        weight = np.maximum(weight[~loops], _MIN_WEIGHT)
        length = self.length_m[~loops]
        order = np.lexsort((weight, head, tail))
        tail, head, weight, length = tail[order], head[order], weight[order], length[order]
        first = np.ones(len(tail), dtype=bool)
        first[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
        return weight[first], tail[first], head[first], length[first]

    def matrices(
        self,
        points: np.ndarray,
        *,
        max_snap_m: float = 500.0,
        distance_of: DistanceOf = "fastest",
    ) -> RoadMatrices:
        """Road distance and duration between every ordered pair of ``points`` ((n, 2) lat, lon).

        Points snap to their nearest node; one farther than ``max_snap_m`` from every node is a FormatError naming
        it, since a matrix for a point in a lake or outside the extract would be fiction. The returned points are
        the snapped node positions. Two points snapping to one node are 0 apart. Unreachable pairs are ``inf``.
        ``distance_of`` picks which route the distance measures (see the module docstring).
        """
        if distance_of not in ("fastest", "shortest"):
            raise ValueError(f"distance_of must be 'fastest' or 'shortest', got {distance_of!r}")
        points = _as_points(points, self.source)
        nodes, snap_m = self.snap(points)
        far = np.flatnonzero(snap_m > max_snap_m)
        if len(far):
            i = int(far[0])
            raise FormatError(
                self.source,
                "points",
                f"points within {max_snap_m:g} m of a road",
                f"point {i} ({points[i, 0]:.6f}, {points[i, 1]:.6f}) is {snap_m[i]:.0f} m from the nearest road"
                + (f" ({len(far)} such points)" if len(far) > 1 else ""),
            )
        unique, inverse = np.unique(nodes, return_inverse=True)
        duration = np.empty((len(unique), len(unique)))
        distance = np.empty((len(unique), len(unique)))
        time_csr = self._time_csr
        for start in range(0, len(unique), _SOURCE_CHUNK):
            sources = unique[start : start + _SOURCE_CHUNK]
            rows = slice(start, start + len(sources))
            if distance_of == "fastest":
                full, pred = dijkstra(time_csr, directed=True, indices=sources, return_predecessors=True)
                duration[rows] = full[:, unique]
                distance[rows] = _path_lengths(pred, sources, unique, *self._fastest_in_edges)
            else:
                duration[rows] = dijkstra(time_csr, directed=True, indices=sources)[:, unique]
                distance[rows] = dijkstra(self._length_csr, directed=True, indices=sources)[:, unique]
        unreachable = ~np.isfinite(duration)
        distance[unreachable] = np.inf
        np.fill_diagonal(distance, 0.0)
        np.fill_diagonal(duration, 0.0)
        index = np.ix_(inverse, inverse)
        return RoadMatrices(
            points=self.positions[nodes],
            distance_m=distance[index],
            duration_s=duration[index],
            source=self.source,
            meta={"nodes": nodes, "snap_m": snap_m, "distance_of": distance_of},
        )


def _as_points(points: np.ndarray, source: str) -> np.ndarray:
    arr = np.asarray(points, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) < 1:
        raise FormatError(source, "points", "an (n, 2) array of (lat, lon)", getattr(arr, "shape", None))
    if not np.all(np.isfinite(arr)):
        raise FormatError(source, "points", "finite (lat, lon)", "NaN or infinity")
    return arr


@njit(cache=True)
def _path_lengths(
    pred: np.ndarray,
    sources: np.ndarray,
    targets: np.ndarray,
    in_ptr: np.ndarray,
    in_tail: np.ndarray,
    in_len: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """Length from each source to each target along the source's shortest-path tree (``pred`` from Dijkstra).

    Per source, each target walks up its predecessor chain until it meets a node whose length is known (the
    source, or a node an earlier target passed), then unwinds the chain adding tree-edge lengths: every tree node
    is visited at most once a source, i.e. an accumulation in topological order of the tree restricted to the
    targets' ancestors. A tree edge's length is looked up among the edges into its head (``in_*``, CSC order),
    which hold only the best edge per (tail, head), i.e. the one Dijkstra used. Unreachable targets get inf.
    """
    k, n = pred.shape
    out = np.empty((k, len(targets)))
    known = np.empty(n)
    stamp = np.full(n, -1, dtype=np.int64)  # stamp[v] == r: known[v] is valid for source row r
    stack = np.empty(n, dtype=np.int64)
    for r in range(k):
        stamp[sources[r]] = r
        known[sources[r]] = 0.0
        for c in range(len(targets)):
            v = targets[c]
            top = 0
            while stamp[v] != r and pred[r, v] >= 0:
                stack[top] = v
                top += 1
                v = pred[r, v]
            if stamp[v] != r:  # chain ended at a node with no predecessor that is not the source: unreachable
                out[r, c] = np.inf
                continue
            total = known[v]
            while top > 0:
                top -= 1
                w = stack[top]
                u = pred[r, w]
                for e in range(in_ptr[w], in_ptr[w + 1]):
                    if in_tail[e] == u:
                        total += in_len[e]
                        break
                known[w] = total
                stamp[w] = r
            out[r, c] = total
    return out
