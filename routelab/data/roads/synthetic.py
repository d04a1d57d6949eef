"""Procedural cities: seeded road graphs with one-way streets, fast arterials and a river, for training diversity.

Real extracts are few and alike; a model trained on road matrices needs many cities whose asymmetry and detours
vary. :func:`synthetic_city` draws one from a seed:

* a street grid with random block sizes (``block_m``), node positions jittered by ``jitter_m``;
* every ``arterial_every``-th street in each direction (random offset) is a two-way arterial;
* ``diagonals`` avenues cut across the grid at 30-60 degrees, also arterials;
* a ring road (``ring=True``, radius ``ring_radius`` x half the city) at the fastest speed, joined to the grid
  every ``ring_link_every``-th ring node;
* a fraction ``removed_fraction`` of residential street segments is removed (parks, blocks, dead ends);
* residential streets are cut into runs of ``oneway_run`` blocks and each run is one-way, in a random direction,
  with probability ``oneway_fraction``;
* optionally a meandering river (``river=True``) crossed only by ``bridges`` grid streets (arterials first) and
  the ring road.

Speeds come from ``speeds_kmh`` = (residential, arterial, ring). Everything is numpy on whole arrays and the only
randomness is ``np.random.default_rng(seed)``, so a seed always gives the same city. The graph is returned whole;
callers restrict it with :meth:`~routelab.data.roads.graph.RoadGraph.largest_strongly_connected`, which keeps well
over 90 % of the nodes with the defaults.
"""

from __future__ import annotations

import numpy as np

from routelab.data.roads.graph import EARTH_RADIUS_M, RoadGraph
from routelab.data.roads.matrices import haversine_m

DEFAULT_CENTRE = (50.0, 10.0)
"""A mid-latitude placeholder (central Germany); only the latitude matters, through the metres-per-degree scale."""

_RESIDENTIAL, _ARTERIAL, _RING = 0, 1, 2


def synthetic_city(
    seed: int,
    *,
    size_km: float = 3.0,
    centre: tuple[float, float] = DEFAULT_CENTRE,
    block_m: tuple[float, float] = (80.0, 200.0),
    jitter_m: float = 12.0,
    arterial_every: int = 5,
    diagonals: int = 2,
    ring: bool = True,
    ring_radius: float = 0.8,
    ring_link_every: int = 3,
    removed_fraction: float = 0.08,
    oneway_fraction: float = 0.3,
    oneway_run: int = 4,
    river: bool = True,
    bridges: int = 3,
    speeds_kmh: tuple[float, float, float] = (30.0, 50.0, 70.0),
) -> RoadGraph:
    """A procedural city of about ``size_km`` x ``size_km`` around ``centre`` (lat, lon); see the module docstring.

    With the defaults a 3 km city has roughly 500 nodes; the count grows with ``(size_km / mean block)^2``.
    """
    if size_km <= 0 or not 0 < block_m[0] <= block_m[1]:
        raise ValueError(f"need size_km > 0 and 0 < block_m[0] <= block_m[1], got {size_km}, {block_m}")
    rng = np.random.default_rng(seed)
    half = size_km * 500.0

    # --- grid junctions: random block sizes per row / column, jittered positions (local metres, x east, y north)
    xs, ys = _street_lines(rng, 2 * half, block_m), _street_lines(rng, 2 * half, block_m)
    nx, ny = len(xs), len(ys)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")  # node id = ix * ny + iy
    x = gx.ravel() + rng.uniform(-jitter_m, jitter_m, nx * ny)
    y = gy.ravel() + rng.uniform(-jitter_m, jitter_m, nx * ny)
    ids = np.arange(nx * ny).reshape(nx, ny)

    # --- grid segments: along x on each row, along y on each column; (line, position along the line) per segment
    seg_a = np.concatenate([ids[:-1, :].ravel(), ids[:, :-1].ravel()])
    seg_b = np.concatenate([ids[1:, :].ravel(), ids[:, 1:].ravel()])
    row_pos, row_line = np.meshgrid(np.arange(nx - 1), np.arange(ny), indexing="ij")
    col_line, col_pos = np.meshgrid(np.arange(nx), np.arange(ny - 1), indexing="ij")
    orient = np.concatenate([np.zeros(row_line.size, dtype=np.int64), np.ones(col_line.size, dtype=np.int64)])
    line = np.concatenate([row_line.ravel(), col_line.ravel()])
    pos = np.concatenate([row_pos.ravel(), col_pos.ravel()])
    offset = rng.integers(0, max(arterial_every, 1), size=2)
    arterial = (line % max(arterial_every, 1)) == offset[orient]
    cls = np.where(arterial, _ARTERIAL, _RESIDENTIAL)

    # one-way runs of residential streets: one draw per (orientation, line, run)
    run = pos // max(oneway_run, 1)
    n_runs = int(run.max()) + 1
    run_key = (orient * (max(nx, ny) + 1) + line) * n_runs + run
    n_keys = int(run_key.max()) + 1
    run_oneway = rng.random(n_keys) < oneway_fraction
    run_dir = rng.choice(np.array([1, -1]), size=n_keys)
    direction = np.where(run_oneway[run_key] & (cls == _RESIDENTIAL), run_dir[run_key], 0)
    removed = (rng.random(len(seg_a)) < removed_fraction) & (cls == _RESIDENTIAL)
    seg_a, seg_b, cls, direction = seg_a[~removed], seg_b[~removed], cls[~removed], direction[~removed]

    # --- diagonal avenues: grid junctions nearest a line through the centre region, joined in order
    diag_a, diag_b = [], []
    for _ in range(diagonals):
        angle = np.radians(rng.uniform(30, 60)) * rng.choice([1, -1])
        x0, y0 = rng.uniform(-0.2, 0.2, size=2) * half
        iy = np.searchsorted(ys, y0 + np.tan(angle) * (xs - x0))
        iy = np.clip(iy, 0, ny - 1)
        inside = (y0 + np.tan(angle) * (xs - x0) >= ys[0]) & (y0 + np.tan(angle) * (xs - x0) <= ys[-1])
        chain = ids[np.arange(nx)[inside], iy[inside]]
        diag_a.append(chain[:-1])
        diag_b.append(chain[1:])
    n_grid = nx * ny

    # --- ring road: its own junctions on a circle, linked to the nearest grid junction every few nodes
    ring_a, ring_b, link_a, link_b = [], [], [], []
    if ring:
        radius = ring_radius * half
        count = max(int(np.ceil(2 * np.pi * radius / 150.0)), 8)
        theta = np.linspace(0, 2 * np.pi, count, endpoint=False) + rng.uniform(0, 2 * np.pi)
        rx = radius * np.cos(theta) + rng.uniform(-jitter_m, jitter_m, count)
        ry = radius * np.sin(theta) + rng.uniform(-jitter_m, jitter_m, count)
        ring_ids = n_grid + np.arange(count)
        ring_a.append(ring_ids)
        ring_b.append(np.roll(ring_ids, -1))
        linked = ring_ids[:: max(ring_link_every, 1)]
        near = np.argmin(
            (x[None, :] - rx[linked - n_grid, None]) ** 2 + (y[None, :] - ry[linked - n_grid, None]) ** 2, axis=1
        )
        link_a.append(linked)
        link_b.append(near)
        x, y = np.concatenate([x, rx]), np.concatenate([y, ry])

    def _cat(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    diag, ringe, links = (_cat(diag_a), _cat(diag_b)), (_cat(ring_a), _cat(ring_b)), (_cat(link_a), _cat(link_b))
    seg_a = np.concatenate([seg_a, diag[0], ringe[0], links[0]])
    seg_b = np.concatenate([seg_b, diag[1], ringe[1], links[1]])
    cls = np.concatenate(
        [cls, np.full(len(diag[0]), _ARTERIAL), np.full(len(ringe[0]), _RING), np.full(len(links[0]), _ARTERIAL)]
    )
    direction = np.concatenate([direction, np.zeros(len(diag[0]) + len(ringe[0]) + len(links[0]), dtype=np.int64)])

    # --- river: a sine-wave line east-west; crossing segments are removed except a few bridges and the ring
    if river:
        y_r = rng.uniform(-0.3, 0.3) * half
        amp, wave, phase = rng.uniform(0.03, 0.1) * half, rng.uniform(0.8, 2.0) * 2 * half, rng.uniform(0, 2 * np.pi)

        def north(i: np.ndarray) -> np.ndarray:
            return y[i] > y_r + amp * np.sin(2 * np.pi * x[i] / wave + phase)

        crossing = north(seg_a) != north(seg_b)
        candidates = np.flatnonzero(crossing & (cls != _RING))
        # arterials first (two-way, so a bridge never strands one bank), then residential streets, in random order
        candidates = candidates[np.lexsort((rng.random(len(candidates)), cls[candidates] != _ARTERIAL))]
        keep = ~crossing | (cls == _RING)
        keep[candidates[:bridges]] = True
        seg_a, seg_b, cls, direction = seg_a[keep], seg_b[keep], cls[keep], direction[keep]

    # --- directed edges: two-way segments both ways, one-way segments in their direction
    fwd, bwd = direction >= 0, direction <= 0
    tail = np.concatenate([seg_a[fwd], seg_b[bwd]])
    head = np.concatenate([seg_b[fwd], seg_a[bwd]])
    speed = np.asarray(speeds_kmh, dtype=np.float64)[np.concatenate([cls[fwd], cls[bwd]])]

    lat0, lon0 = centre
    lat = lat0 + np.degrees(y / EARTH_RADIUS_M)
    lon = lon0 + np.degrees(x / (EARTH_RADIUS_M * np.cos(np.radians(lat0))))
    points = np.column_stack([lat, lon])
    length = haversine_m(points[tail], points[head])
    return RoadGraph(lat, lon, tail, head, length, speed, source=f"synthetic_city(seed={seed})")


def _street_lines(rng: np.random.Generator, extent: float, block_m: tuple[float, float]) -> np.ndarray:
    """Positions of parallel streets across ``extent`` metres (centred on 0), gaps drawn from ``block_m``."""
    gaps = rng.uniform(block_m[0], block_m[1], size=int(extent / block_m[0]) + 2)
    lines = np.concatenate([[0.0], np.cumsum(gaps)])
    lines = lines[lines <= extent]
    return lines - lines[-1] / 2
