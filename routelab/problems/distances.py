"""Edge-length conventions of the benchmark sources, computed exactly as each source defines them.

Published optima and best-known values are only comparable under the rounding their source used, so an
instance carries the name of its convention and every length is derived from coordinates here, never in
a solver. The conventions:

- ``exact``:  float Euclidean distance (random instances, the neural-routing literature).
- ``nint``:   TSPLIB ``EUC_2D``, nearest integer of the Euclidean distance (also CVRPLIB X).
- ``ceil``:   TSPLIB ``CEIL_2D``, Euclidean distance rounded up.
- ``att``:    TSPLIB ``ATT`` pseudo-Euclidean distance.
- ``geo``:    TSPLIB ``GEO`` great-circle distance on the idealised sphere, coordinates as DDD.MM.
- ``trunc1``: Euclidean distance truncated to one decimal (Solomon VRPTW / DIMACS convention of the BKS).
- ``matrix``: lengths given explicitly as a full (possibly asymmetric) matrix; coordinates are for plots only.
"""

from __future__ import annotations

import numpy as np

ROUNDINGS: tuple[str, ...] = ("exact", "nint", "ceil", "att", "geo", "trunc1", "matrix")

_GEO_PI = 3.141592
_GEO_RADIUS = 6378.388


def _geo_radians(values: np.ndarray) -> np.ndarray:
    degrees = np.trunc(values)
    minutes = values - degrees
    return _GEO_PI * (degrees + 5.0 * minutes / 3.0) / 180.0


def edge_lengths(coords: np.ndarray, rounding: str, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Lengths of the arcs ``i[k] -> j[k]`` under ``rounding``; broadcasts like numpy indexing.

    Computing only the arcs asked for keeps scoring a 10,000-city tour at O(n) memory.
    """
    a = coords[i]
    b = coords[j]
    if rounding == "geo":
        lat_a, lon_a = _geo_radians(a[..., 0]), _geo_radians(a[..., 1])
        lat_b, lon_b = _geo_radians(b[..., 0]), _geo_radians(b[..., 1])
        q1 = np.cos(lon_a - lon_b)
        q2 = np.cos(lat_a - lat_b)
        q3 = np.cos(lat_a + lat_b)
        arg = np.clip(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3), -1.0, 1.0)
        lengths = np.trunc(_GEO_RADIUS * np.arccos(arg) + 1.0)
        return np.where(np.asarray(i) == np.asarray(j), 0.0, lengths)
    diff = a - b
    squared = np.einsum("...k,...k->...", diff, diff)
    if rounding == "att":
        r = np.sqrt(squared / 10.0)
        t = np.floor(r + 0.5)
        return np.where(t < r, t + 1.0, t)
    d = np.sqrt(squared)
    if rounding == "exact":
        return d
    if rounding == "nint":
        return np.floor(d + 0.5)
    if rounding == "ceil":
        return np.ceil(d)
    if rounding == "trunc1":
        # The small epsilon keeps 10*d that should be an integer (e.g. 50.0) from flooring to 49.
        return np.floor(d * 10.0 + 1e-9) / 10.0
    raise ValueError(f"unknown rounding convention {rounding!r}; expected one of {', '.join(ROUNDINGS)}")


def pairwise(coords: np.ndarray, rounding: str) -> np.ndarray:
    """The full ``n x n`` length matrix of ``coords`` under ``rounding`` (float64)."""
    n = len(coords)
    idx = np.arange(n)
    return edge_lengths(coords, rounding, idx[:, None], idx[None, :]).astype(np.float64)
