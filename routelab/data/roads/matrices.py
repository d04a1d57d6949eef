"""What every road provider returns: travel distance and duration between points, asymmetric, with gaps.

A provider (:mod:`~routelab.data.roads.osrm` for a user's OSRM server, :mod:`~routelab.data.roads.osm` for an
offline OpenStreetMap extract, :mod:`~routelab.data.roads.synthetic` for procedural cities) maps ``(n, 2)``
points in (lat, lon) to a :class:`RoadMatrices`. Units are fixed at this boundary, metres and seconds, because
OSRM answers in them; the RRNCO city format's km / minutes are a conversion at write time
(:mod:`~routelab.data.roads.city`).

Unreachable pairs (a point on an island, a one-way dead end) are ``inf`` here, never a large sentinel: a
sentinel silently becomes a very long route in a solver, an ``inf`` is caught by :meth:`RoadMatrices.require_connected`
with the pair named.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from routelab.problems import FormatError


@dataclass(frozen=True, eq=False)
class RoadMatrices:
    """Road distances ``distance_m[i, j]`` (metres) and durations ``duration_s[i, j]`` (seconds) from point i to j.

    ``points`` are the (lat, lon) the matrices were computed for: a provider that snaps to the road network
    returns the snapped positions, so the points and matrices always agree. ``inf`` marks unreachable pairs;
    the diagonal is 0.
    """

    points: np.ndarray
    distance_m: np.ndarray
    duration_s: np.ndarray
    source: str = "road matrices"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        points = np.asarray(self.points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) < 1:
            raise FormatError(self.source, "points", "an (n, 2) array of (lat, lon)", getattr(points, "shape", None))
        if not np.all(np.isfinite(points)):
            raise FormatError(self.source, "points", "finite (lat, lon)", "NaN or infinity")
        n = len(points)
        for name in ("distance_m", "duration_s"):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n, n):
                raise FormatError(self.source, name, f"an ({n}, {n}) matrix", arr.shape)
            if np.isnan(arr).any():
                i, j = np.argwhere(np.isnan(arr))[0]
                raise FormatError(self.source, name, "numbers (inf for unreachable)", f"NaN at [{i}, {j}]")
            if (arr < 0).any():
                i, j = np.argwhere(arr < 0)[0]
                raise FormatError(self.source, name, "non-negative values", f"{arr[i, j]} at [{i}, {j}]")
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "points", points)

    @property
    def size(self) -> int:
        return len(self.points)

    @property
    def unreachable(self) -> np.ndarray:
        """``(n, n)`` bool: no route from i to j (in either matrix)."""
        return ~(np.isfinite(self.distance_m) & np.isfinite(self.duration_s))

    def require_connected(self) -> None:
        """Raise a FormatError naming the first unreachable pair, so no instance is built on a broken matrix."""
        bad = np.argwhere(self.unreachable)
        if len(bad):
            i, j = (int(v) for v in bad[0])
            lat, lon = self.points[i]
            raise FormatError(
                self.source,
                "points",
                "points that can all reach each other by road",
                f"{len(bad)} unreachable pairs, first from point {i} ({lat:.6f}, {lon:.6f}) to point {j}",
            )

    def subset(self, index: np.ndarray) -> RoadMatrices:
        """The matrices restricted to ``index`` (in that order)."""
        index = np.asarray(index, dtype=np.int64)
        return RoadMatrices(
            points=self.points[index],
            distance_m=self.distance_m[np.ix_(index, index)],
            duration_s=self.duration_s[np.ix_(index, index)],
            source=self.source,
            meta=dict(self.meta),
        )


class RoadProvider(Protocol):
    """Anything that turns points into road matrices."""

    def matrices(self, points: np.ndarray) -> RoadMatrices:
        """Distance and duration between every ordered pair of ``points`` ((n, 2) lat, lon)."""
        ...


def haversine_m(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Great-circle distance in metres between (lat, lon) arrays ``a`` and ``b`` (broadcasting)."""
    lat1, lon1 = np.radians(a[..., 0]), np.radians(a[..., 1])
    lat2, lon2 = np.radians(b[..., 0]), np.radians(b[..., 1])
    h = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
