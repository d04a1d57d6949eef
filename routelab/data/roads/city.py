"""City matrix files in RRNCO's format (``{City}_data.npz``), so the published dataset and ours are interchangeable.

A city file holds ``points`` ``(m, 2)`` (lat, lon), ``distance`` ``(m, m)`` in kilometres and ``duration``
``(m, m)`` in minutes between every ordered pair of points sampled on a city's drivable roads; RRNCO samples
ATSP / ACVRP / ACVRPTW instances from them on the fly (:mod:`routelab.data.roads.instances`). Unreachable pairs
are stored, as in RRNCO's files, as a huge value (:data:`UNREACHABLE`); on reading, anything at or above
:data:`UNREACHABLE_THRESHOLD` is unreachable, and the sampler only draws points that can all reach each other.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from routelab.data.roads.matrices import RoadMatrices
from routelab.problems import FormatError, atomic_write

UNREACHABLE = 1e9
"""What an unreachable pair is written as (km or minutes): far beyond any road trip, finite for float32 readers."""

UNREACHABLE_THRESHOLD = 1e6
"""Values at or above this (a million km or minutes) read as unreachable."""


@dataclass(frozen=True, eq=False)
class City:
    """One city's matrices in RRNCO units; ``inf`` marks unreachable pairs in memory."""

    name: str
    points: np.ndarray
    distance_km: np.ndarray
    duration_min: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.points)

    @classmethod
    def from_roads(cls, name: str, roads: RoadMatrices) -> City:
        """Convert a provider's metres and seconds into RRNCO's kilometres and minutes."""
        return cls(
            name=name,
            points=roads.points.copy(),
            distance_km=roads.distance_m / 1000.0,
            duration_min=roads.duration_s / 60.0,
            meta={**roads.meta, "source": roads.source},
        )

    def connected_points(self) -> np.ndarray:
        """Indices of the largest set of points that can all reach each other (a strongly connected component).

        The matrices are shortest-path closures, so "i reaches j" is just a finite entry; the component comes from
        that relation directly.
        """
        finite = np.isfinite(self.distance_km) & np.isfinite(self.duration_min)
        count, labels = connected_components(csr_matrix(finite), directed=True, connection="strong")
        if count == 1:
            return np.arange(self.size)
        biggest = np.bincount(labels).argmax()
        return np.flatnonzero(labels == biggest)


def save_city(city: City, path: str | Path) -> None:
    """Write ``city`` as an RRNCO ``.npz`` (points, distance km, duration min; unreachable as a huge value)."""

    def finite(arr: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(arr), arr, UNREACHABLE).astype(np.float64)

    def write(handle: io.BufferedWriter) -> None:
        np.savez(
            handle,
            points=np.asarray(city.points, dtype=np.float64),
            distance=finite(city.distance_km),
            duration=finite(city.duration_min),
        )

    atomic_write(path, write)


def city_name(path: str | Path) -> str:
    """``Helsinki_data.npz`` -> ``Helsinki`` (RRNCO's naming); any other file keeps its stem."""
    stem = Path(path).stem
    return stem[: -len("_data")] if stem.endswith("_data") else stem


def load_city(path: str | Path) -> City:
    """Read an RRNCO city file, checking every field; errors name the file and the field."""
    path = Path(path)
    source = str(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise FormatError(source, "file", "an existing city .npz ({City}_data.npz)", "no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise FormatError(source, "file", "a readable .npz archive", str(exc)) from None
    for key in ("points", "distance", "duration"):
        if key not in arrays:
            raise FormatError(source, key, "an array (RRNCO city files hold points, distance, duration)", "missing")
    points = np.asarray(arrays["points"], dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) < 2:
        raise FormatError(source, "points", "an (m, 2) array of (lat, lon), m >= 2", points.shape)
    if not np.all(np.isfinite(points)) or np.abs(points[:, 0]).max() > 90 or np.abs(points[:, 1]).max() > 180:
        raise FormatError(source, "points", "finite (lat, lon) in degrees", "values outside [-90, 90] x [-180, 180]")
    m = len(points)
    out = {}
    for key in ("distance", "duration"):
        arr = np.asarray(arrays[key], dtype=np.float64)
        if arr.shape != (m, m):
            raise FormatError(source, key, f"an ({m}, {m}) matrix (one row per point)", arr.shape)
        if np.isnan(arr).any():
            i, j = (int(v) for v in np.argwhere(np.isnan(arr))[0])
            raise FormatError(source, key, "numbers", f"NaN at [{i}, {j}]")
        if (arr < 0).any():
            i, j = (int(v) for v in np.argwhere(arr < 0)[0])
            raise FormatError(source, key, "non-negative travel costs", f"{arr[i, j]} at [{i}, {j}]")
        arr = np.where(arr >= UNREACHABLE_THRESHOLD, np.inf, arr)
        if np.any(np.diagonal(arr) != 0):
            i = int(np.flatnonzero(np.diagonal(arr) != 0)[0])
            raise FormatError(source, key, "0 on the diagonal", f"{arr[i, i]} at [{i}, {i}]")
        out[key] = arr
    return City(name=city_name(path), points=points, distance_km=out["distance"], duration_min=out["duration"])
