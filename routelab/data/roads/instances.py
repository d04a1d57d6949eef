"""ATSP, ACVRP and ACVRPTW instances sampled from a city's road matrices, following RRNCO's conventions.

- Points are drawn uniformly without replacement from the city's largest mutually reachable set of points
  (:meth:`City.connected_points`), so every instance has finite costs in both directions.
- ATSP: ``size`` points; objective = road distance (km).
- ACVRP: ``size`` customers plus a depot, the first point drawn; demands uniform integers 1..9; capacity from
  rl4co's table (50 at 100 customers), as RRNCO's ACVRP.
- ACVRPTW: RRNCO's rule on durations normalised by the instance's longest trip (``D / max D``; the diagonal is 0,
  so this is a pure rescaling): service times U[0.15, 0.18], window lengths U[0.18, 0.20], depot horizon 4.6,
  window start ``d0i + (h_max - 1) * dmax * U`` with ``dmax = max(d(0, i), d(i, 0))`` and ``h_max = (4.6 - s -
  len) / dmax - 1``, which keeps the out-and-back route of every customer feasible; capacity ``30 + n / 5``.
  The instance stores everything back in minutes (windows, service times and the duration matrix) so the
  scorer's timing is in real units; ``meta["duration_unit_min"]`` records the normalising trip length.

Coordinates are a local east/north projection in km around the city's centre: only for plots and for a neural
model's node features; lengths always come from the matrices (``rounding="matrix"``).
Instance ``index`` depends only on (city, kind, size, options, seed, index), as in :mod:`routelab.data.generate`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from routelab.data.generate import cvrp_capacity
from routelab.data.roads.city import City
from routelab.problems import CVRPInstance, CVRPTWInstance, FormatError, TSPInstance

ROAD_KINDS: dict[str, str] = {"atsp": "tsp", "acvrp": "cvrp", "acvrptw": "cvrptw"}
"""The road-routing names and the shared-format kind each is (an asymmetric matrix makes the "A")."""

TW_HORIZON = 4.6
"""Depot horizon in normalised duration units (RRNCO, after Liu et al. 2024)."""


def tw_capacity(num_customers: int) -> int:
    """RRNCO's ACVRPTW capacity: 30 + n / 5 above 20 customers (POMO-MTL's rule)."""
    return 30 + (num_customers // 5 if num_customers > 20 else 0)


def local_km(points: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(lat, lon) -> (east, north) km from ``centre``: an equirectangular projection, fine within a city."""
    lat0 = np.radians(centre[0])
    east = (points[:, 1] - centre[1]) * 111.320 * np.cos(lat0)
    north = (points[:, 0] - centre[0]) * 110.574
    return np.stack([east, north], axis=1)


def sample_instances(
    city: City,
    kind: str,
    size: int,
    count: int,
    seed: int,
    *,
    min_demand: int = 1,
    max_demand: int = 9,
    capacity: float | None = None,
) -> list[Any]:
    """``count`` instances of ``kind`` (atsp, acvrp, acvrptw, or tsp/cvrp/cvrptw) drawn from ``city``."""
    base = ROAD_KINDS.get(kind, kind)
    if base not in ("tsp", "cvrp", "cvrptw"):
        raise FormatError(city.name, "kind", f"one of {', '.join(ROAD_KINDS)}", kind)
    if size < (3 if base == "tsp" else 1) or count < 1:
        raise FormatError(city.name, "size", "a positive instance size and count", f"size={size}, count={count}")
    if not 1 <= min_demand <= max_demand:
        raise FormatError(city.name, "demands", "1 <= min_demand <= max_demand", f"{min_demand}..{max_demand}")
    pool = city.connected_points()
    needed = size if base == "tsp" else size + 1
    if needed > len(pool):
        raise FormatError(
            city.name,
            "points",
            f"at least {needed} mutually reachable points for {kind} of size {size}",
            f"{len(pool)} of {city.size}",
        )
    centre = city.points[pool].mean(axis=0)
    out = []
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        chosen = pool[rng.choice(len(pool), size=needed, replace=False)]
        name = f"{kind}{size}-{city.name}-s{seed}-{index}"
        meta = {"source": "city", "city": city.name, "seed": seed, "index": index, "points": chosen.tolist()}
        geometry = {
            "coords": local_km(city.points[chosen], centre),
            "distance_matrix": city.distance_km[np.ix_(chosen, chosen)],
            "rounding": "matrix",
        }
        if base == "tsp":
            out.append(TSPInstance(name=name, meta=meta, **geometry))
            continue
        demands = np.concatenate([[0], rng.integers(min_demand, max_demand + 1, size=size)])
        if base == "cvrp":
            cap = capacity if capacity is not None else cvrp_capacity(size)
            out.append(CVRPInstance(name=name, meta=meta, demands=demands, capacity=cap, **geometry))
            continue
        cap = capacity if capacity is not None else tw_capacity(size)
        durations = city.duration_min[np.ix_(chosen, chosen)]
        windows, service, unit = _time_windows(durations, rng)
        meta["duration_unit_min"] = unit
        out.append(
            CVRPTWInstance(
                name=name,
                meta=meta,
                demands=demands,
                capacity=cap,
                time_windows=windows,
                service_times=service,
                duration_matrix=durations,
                **geometry,
            )
        )
    return out


def _time_windows(durations: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """RRNCO's windows on normalised durations, returned in minutes (see the module docstring)."""
    unit = float(durations.max())
    if unit <= 0:
        raise FormatError("city", "duration", "positive travel times between distinct points", "all zero")
    norm = durations / unit
    n = len(durations) - 1
    service = 0.15 + 0.03 * rng.random(n)
    length = 0.18 + 0.02 * rng.random(n)
    out_time, back_time = norm[0, 1:], norm[1:, 0]
    longest = np.maximum(out_time, back_time)
    h_max = (TW_HORIZON - service - length) / (longest + 1e-6) - 1
    start = out_time + (h_max - 1) * longest * rng.random(n)
    windows = np.zeros((n + 1, 2))
    windows[0] = (0.0, TW_HORIZON)
    windows[1:, 0] = start
    windows[1:, 1] = start + length
    service_all = np.concatenate([[0.0], service])
    return windows * unit, service_all * unit, unit
