"""Integer scaling of lengths, times and loads for the solvers that only take integers (OR-Tools, LKH, PyVRP).

OR-Tools routing, LKH and PyVRP all search over integer arc costs. Rounding floats silently would make a
solver optimise a slightly different instance and, worse, call a late arrival on time. So every solver here
converts through this one policy and says in its ``stats`` which factor it used.

Lengths (the objective) are multiplied by :func:`length_scale` and rounded to the nearest integer:

- ``nint``, ``ceil``, ``att``, ``geo``: the source already defines integral lengths, factor 1 (exact).
- ``trunc1`` (Solomon / DIMACS): lengths are multiples of 0.1, factor :data:`TRUNC1_SCALE` = 10 (exact).
- ``exact`` and ``matrix``: factor 1 when every length is integral (e.g. a TSPLIB ATSP matrix), else the largest
  power of ten that keeps the longest arc at or below :data:`MAX_SCALED_ARC` (10**6), so about six significant
  digits survive whatever the units (unit square or kilometres) and nothing overflows: LKH keeps
  ``PRECISION (100) * arc`` in a 32-bit int (limit 2.1e9), OR-Tools and PyVRP sum in int64.

The reported objective is never the scaled search cost divided by the factor (that carries the rounding error);
it is recomputed in the instance's own units from the returned routes by the shared scorer.

Times (cvrptw) use the same factor as lengths when durations are the distances (Solomon), else a factor chosen
the same way from the duration matrix. They are rounded *conservatively*: travel and service times up, window
openings up, window closings down. A schedule that is on time in scaled integers is then on time in the real
numbers too (for Solomon's integral windows and one-decimal lengths all of these are exact anyway).

Loads are integral in every benchmark (the shared format stores integral demands as int64); fractional demands
are scaled by :data:`FRACTIONAL_LOAD_SCALE`, demands rounded up and the capacity down, again conservatively.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

INTEGRAL_ROUNDINGS: frozenset[str] = frozenset({"nint", "ceil", "att", "geo"})
"""Conventions whose lengths are integers by definition."""

TRUNC1_SCALE = 10
"""Solomon's one-decimal truncated lengths times 10 are exact integers."""

MAX_SCALED_ARC = 10**6
"""Target bound on the longest scaled arc for float lengths: ~6 significant digits, far from any overflow."""

FRACTIONAL_LOAD_SCALE = 10_000
"""Factor for non-integral demands/capacity (conservative rounding keeps the scaled problem feasible-safe)."""

_EPS = 1e-9
"""Float noise allowed before rounding up/down, so 47.4 * 10 = 473.99999999999994 still becomes 474."""


def _is_integral(values: np.ndarray) -> bool:
    return bool(np.all(np.abs(values - np.round(values)) <= _EPS * np.maximum(1.0, np.abs(values))))


def _power_of_ten_scale(max_value: float) -> int:
    """The largest power of ten with ``max_value * scale <= MAX_SCALED_ARC`` (at least 1)."""
    if max_value <= 0:
        return 1
    return int(10 ** max(0, math.floor(math.log10(MAX_SCALED_ARC / max_value) + _EPS)))


def max_arc_bound(instance: Any) -> float:
    """An upper bound on the longest arc, without building the matrix of a coordinate instance."""
    if instance.distance_matrix is not None:
        return float(np.max(instance.distance_matrix))
    coords = instance.coords
    span = coords.max(axis=0) - coords.min(axis=0)
    return float(np.hypot(span[0], span[1]))


def length_scale(instance: Any) -> int:
    """The integer factor applied to the instance's lengths before rounding (see the module docstring)."""
    if instance.rounding in INTEGRAL_ROUNDINGS:
        return 1
    if instance.rounding == "trunc1":
        return TRUNC1_SCALE
    if instance.rounding == "matrix" and _is_integral(instance.distance_matrix):
        return 1
    return _power_of_ten_scale(max_arc_bound(instance))


def time_scale(instance: Any, lengths: int) -> int:
    """The factor for durations, windows and service times of a cvrptw instance.

    Durations equal to the distances share the length factor (so Solomon stays exact); a separate duration
    matrix gets its own factor by the same rule, taking windows and service times into account.
    """
    if instance.duration_matrix is None:
        return lengths
    values = np.concatenate(
        [instance.duration_matrix.ravel(), instance.time_windows.ravel(), instance.service_times.ravel()]
    )
    if _is_integral(values):
        return 1
    return _power_of_ten_scale(float(np.max(instance.duration_matrix)))


def round_nearest(values: np.ndarray, scale: float) -> np.ndarray:
    """Lengths for the objective: nearest integer of ``values * scale``."""
    return np.rint(np.asarray(values, dtype=np.float64) * scale).astype(np.int64)


def round_up(values: np.ndarray, scale: float) -> np.ndarray:
    """Conservative rounding for travel/service times, window openings and demands."""
    return np.ceil(np.asarray(values, dtype=np.float64) * scale - _EPS).astype(np.int64)


def round_down(values: np.ndarray, scale: float) -> np.ndarray:
    """Conservative rounding for window closings and capacities."""
    return np.floor(np.asarray(values, dtype=np.float64) * scale + _EPS).astype(np.int64)


def integer_loads(instance: Any) -> tuple[np.ndarray, int, int]:
    """``(demands, capacity, factor)`` as integers; factor 1 when the instance's loads are already integral."""
    demands = np.asarray(instance.demands, dtype=np.float64)
    if _is_integral(demands) and float(instance.capacity).is_integer():
        return np.rint(demands).astype(np.int64), int(instance.capacity), 1
    factor = FRACTIONAL_LOAD_SCALE
    return round_up(demands, factor), int(round_down(np.array([instance.capacity]), factor)[0]), factor


def checked_scale(scale: Any) -> int | None:
    """A user's ``scale`` option: None (choose per instance) or a positive integer."""
    if scale is None:
        return None
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or int(scale) != scale or scale < 1:
        raise ValueError(f"scale must be a positive integer, got {scale!r}")
    return int(scale)
