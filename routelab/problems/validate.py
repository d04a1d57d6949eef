"""Small converters from loose document values to checked numpy arrays, raising :class:`FormatError`.

Every instance and solution field passes through one of these at the file boundary, so a wrong shape or a
negative demand is reported by name instead of surfacing later as an IndexError inside a solver.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from routelab.problems.errors import FormatError


def as_array(source: str, field: str, value: Any, *, ndim: int, dtype: type = float) -> np.ndarray:
    """``value`` as a finite numpy array of ``ndim`` dimensions."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(source, field, f"a {ndim}-d array of numbers", type(value).__name__) from None
    if arr.ndim != ndim:
        raise FormatError(source, field, f"a {ndim}-d array", f"{arr.ndim}-d array of shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise FormatError(source, field, "finite numbers", "NaN or infinity")
    if dtype is int:
        if not np.all(arr == np.round(arr)):
            raise FormatError(source, field, "integers", "fractional values")
        return arr.astype(np.int64)
    return arr


def check_shape(source: str, field: str, arr: np.ndarray, shape: tuple[int, ...]) -> None:
    if arr.shape != shape:
        raise FormatError(source, field, f"shape {shape}", f"shape {arr.shape}")


def check_nonnegative(source: str, field: str, arr: np.ndarray) -> None:
    bad = np.flatnonzero(np.asarray(arr).ravel() < 0)
    if bad.size:
        flat = np.asarray(arr).ravel()
        raise FormatError(source, field, "non-negative values", f"{flat[bad[0]]} at flat index {bad[0]}")


def as_int(source: str, field: str, value: Any, *, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            value = int(value)
        else:
            raise FormatError(source, field, "an integer", value)
    value = int(value)
    if minimum is not None and value < minimum:
        raise FormatError(source, field, f"an integer >= {minimum}", value)
    return value


def as_number(source: str, field: str, value: Any, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise FormatError(source, field, "a number", value)
    value = float(value)
    if not np.isfinite(value):
        raise FormatError(source, field, "a finite number", value)
    if minimum is not None and value < minimum:
        raise FormatError(source, field, f"a number >= {minimum}", value)
    return value


def as_index_list(source: str, field: str, value: Any) -> list[int]:
    """A list of node indices (non-negative integers)."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise FormatError(source, field, "a list of node indices", type(value).__name__)
    out: list[int] = []
    for k, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (int, np.integer)):
            if isinstance(item, (float, np.floating)) and float(item).is_integer():
                item = int(item)
            else:
                raise FormatError(source, f"{field}[{k}]", "an integer node index", item)
        out.append(int(item))
    return out
