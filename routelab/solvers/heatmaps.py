"""Heatmaps for heatmap-guided TSP search: sparse top-k candidate edges of each city with a weight.

A heatmap is never a dense n x n matrix here: 10,000 cities with k = 20 candidates is 200,000 weights, so
MCTS on TSP-10000 fits in memory. Kinds:

- ``softdist``: ``H_ij = exp(-d_ij / tau) / sum_k exp(-d_ik / tau)`` over the k nearest cities (Xia et al.,
  ICML 2024), a parameter-free stand-in for learned heatmaps. ``tau`` is the published value at 500 / 1,000 /
  10,000 cities on the unit square, interpolated in log n between them, and scaled by the instance's typical
  nearest-neighbour distance so that it does not depend on the coordinate units (see :func:`softdist_tau`).
- ``gt_prior``: the probability that a near-optimal tour uses a city's r-th nearest neighbour, fitted from LKH
  tours of generated instances (:mod:`routelab.solvers.gt_prior`).
- ``zero``: all weights 0 (the ablation: MCTS guided by distances alone).
- a file: a dense ``(n, n)`` ``.npy`` matrix or a sparse ``.npz`` with ``neighbours`` ``(n, k)`` and
  ``weights`` ``(n, k)``, so learned heatmaps (DIMES, DIFUSCO, UTSP) can be plugged in.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routelab.problems import FormatError

PUBLISHED_TAU = {500: 0.0066, 1000: 0.0051, 10000: 0.0018}
"""SoftDist temperatures tuned by Xia et al. (2024) for uniform cities in the unit square."""


@dataclass(frozen=True)
class Heatmap:
    """``neighbours[i, r]`` is the r-th candidate of city i; ``weights[i, r]`` its heat (higher = likelier)."""

    neighbours: np.ndarray  # (n, k) int32
    weights: np.ndarray  # (n, k) float64
    name: str = "heatmap"

    @property
    def num_cities(self) -> int:
        return int(self.neighbours.shape[0])

    @property
    def k(self) -> int:
        return int(self.neighbours.shape[1])


def nearest_neighbours(coords: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest other cities of each city and their Euclidean distances, sorted, without an n x n matrix."""
    from scipy.spatial import cKDTree

    n = len(coords)
    k = min(k, n - 1)
    dist, idx = cKDTree(coords).query(coords, k=k + 1)
    # Column 0 is the city itself unless duplicates exist; drop self explicitly.
    rows = np.arange(n)[:, None]
    not_self = idx != rows
    order = np.argsort(~not_self, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(idx, order, 1).astype(np.int32), np.take_along_axis(dist, order, 1)


def softdist_tau(n: int, typical_nn: float) -> float:
    """SoftDist's temperature for ``n`` cities whose mean nearest-neighbour distance is ``typical_nn``.

    The published taus are for the unit square, where the mean nearest-neighbour distance is about
    ``0.5 / sqrt(n)``; expressing tau in those units makes the rule hold for any scale, and interpolating
    log tau linearly in log n covers sizes between (and, clamped, beyond) the published ones.
    """
    sizes = np.log(np.array(sorted(PUBLISHED_TAU)))
    ratios = np.log([PUBLISHED_TAU[s] / (0.5 / np.sqrt(s)) for s in sorted(PUBLISHED_TAU)])
    ratio = float(np.exp(np.interp(np.log(max(n, 2)), sizes, ratios)))
    return ratio * typical_nn


def softdist(coords: np.ndarray, k: int = 20, tau: float | None = None) -> Heatmap:
    """The SoftDist heatmap over the ``k`` nearest neighbours (softmax of ``-d / tau`` per row)."""
    neighbours, dist = nearest_neighbours(coords, k)
    if tau is None:
        tau = softdist_tau(len(coords), float(np.mean(dist[:, 0])) or 1.0)
    logits = -dist / tau
    logits -= logits.max(axis=1, keepdims=True)
    heat = np.exp(logits)
    heat /= heat.sum(axis=1, keepdims=True)
    return Heatmap(neighbours, heat, name="softdist")


def zero(coords: np.ndarray, k: int = 20) -> Heatmap:
    """All-zero heat over the ``k`` nearest neighbours: the no-heatmap ablation."""
    neighbours, _ = nearest_neighbours(coords, k)
    return Heatmap(neighbours, np.zeros(neighbours.shape), name="zero")


def load_heatmap(path: str | Path, n: int, k: int = 20) -> Heatmap:
    """A heatmap from a dense ``.npy`` (``(n, n)``, top-k kept per row) or a sparse ``.npz`` file."""
    path = Path(path)
    try:
        if path.suffix == ".npy":
            dense = np.load(path, allow_pickle=False)
            if dense.shape != (n, n):
                raise FormatError(str(path), "heatmap", f"a ({n}, {n}) matrix for {n} cities", f"shape {dense.shape}")
            dense = np.array(dense, dtype=np.float64)
            np.fill_diagonal(dense, -np.inf)
            k = min(k, n - 1)
            neighbours = np.argsort(-dense, axis=1)[:, :k].astype(np.int32)
            weights = np.take_along_axis(dense, neighbours, 1)
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                for key in ("neighbours", "weights"):
                    if key not in archive.files:
                        raise FormatError(str(path), key, "an (n, k) array", "missing")
                neighbours = archive["neighbours"].astype(np.int32)
                weights = archive["weights"].astype(np.float64)
            if neighbours.ndim != 2 or neighbours.shape[0] != n or weights.shape != neighbours.shape:
                raise FormatError(
                    str(path),
                    "neighbours",
                    f"(n, k) arrays with n = {n} cities",
                    f"shapes {neighbours.shape}, {weights.shape}",
                )
            if neighbours.size and (neighbours.min() < 0 or neighbours.max() >= n):
                raise FormatError(str(path), "neighbours", f"city indices in 0..{n - 1}", "an index out of range")
        else:
            raise FormatError(str(path), "extension", "a dense .npy or a sparse .npz heatmap", path.suffix)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, FormatError):
            raise
        raise FormatError(str(path), "file", "a readable heatmap file", f"{type(exc).__name__}: {exc}") from None
    if not np.all(np.isfinite(weights)):
        raise FormatError(str(path), "weights", "finite numbers", "NaN or infinity")
    return Heatmap(neighbours, weights, name=path.stem)


def make_heatmap(kind: str, instance: Any, k: int = 20) -> Heatmap:
    """``softdist``, ``gt_prior``, ``zero`` or a file path, for a coordinate TSP instance."""
    if kind == "gt_prior":
        from routelab.solvers.gt_prior import gt_prior

        return gt_prior(instance.coords, k)
    if kind == "softdist":
        return softdist(instance.coords, k)
    if kind == "zero":
        return zero(instance.coords, k)
    return load_heatmap(kind, instance.num_nodes, k)
