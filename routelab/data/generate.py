"""Seeded uniform random tsp / cvrp / cvrptw instances in the style of rl4co (Kool et al. 2019 and successors).

- Coordinates are uniform in [0, 1]^2 and lengths are exact Euclidean (``rounding="exact"``).
- ``size`` counts cities for tsp and *customers* for cvrp/cvrptw (the depot is an extra node 0), as in rl4co.
- cvrp demands are uniform integers in ``min_demand..max_demand`` (1..9); the capacity follows rl4co's table
  (:data:`CVRP_CAPACITIES`), see :func:`cvrp_capacity` for sizes between and beyond its keys.
- cvrptw follows Li, Yan and Wu (NeurIPS 2021, "Learning to delegate"): depot window [0, horizon] (3.0),
  service time 0.2, each window centred at a time ``c`` drawn from [t(0,i), horizon - s_i - t(i,0)] with
  half-width uniform in [s_i / 2, horizon / 3], clipped to the horizon. Serving a customer at ``c`` on its own
  route is then always on time, so every instance has a feasible solution (one route per customer). When a
  far customer would make that impossible, the horizon of that instance is extended to just fit it.
- ``asymmetric=True`` turns the lengths into an explicit matrix (``rounding="matrix"``, coordinates kept for
  plots): each Euclidean length is scaled by an independent factor in [1, 1 + asymmetry] and the result closed
  under shortest paths, so it satisfies the triangle inequality exactly.

Instance ``index`` of a run depends only on (kind, size, options, seed, index), so asking for more instances
never changes the first ones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from routelab.problems import CVRPInstance, CVRPTWInstance, TSPInstance
from routelab.problems.distances import pairwise

KINDS: tuple[str, ...] = ("tsp", "cvrp", "cvrptw")

CVRP_CAPACITIES: dict[int, int] = {
    10: 20,
    15: 25,
    20: 30,
    30: 33,
    40: 37,
    50: 40,
    60: 43,
    75: 45,
    100: 50,
    125: 55,
    150: 60,
    200: 70,
    500: 100,
    1000: 150,
}
"""rl4co's capacities by number of customers (from Kool et al. 2019, Hottung et al. 2022, Kim et al. 2023)."""


@dataclass(frozen=True)
class GeneratorOptions:
    """Every generator option with its default; each kind accepts the subset in :data:`KIND_OPTIONS`."""

    asymmetric: bool = False
    asymmetry: float = 0.2
    capacity: float | None = None
    min_demand: int = 1
    max_demand: int = 9
    num_vehicles: int | None = None
    horizon: float = 3.0
    service_time: float = 0.2


KIND_OPTIONS: dict[str, tuple[str, ...]] = {
    "tsp": ("asymmetric", "asymmetry"),
    "cvrp": ("asymmetric", "asymmetry", "capacity", "min_demand", "max_demand", "num_vehicles"),
    "cvrptw": (
        "asymmetric",
        "asymmetry",
        "capacity",
        "min_demand",
        "max_demand",
        "num_vehicles",
        "horizon",
        "service_time",
    ),
}


def cvrp_capacity(num_customers: int) -> int:
    """rl4co's capacity for ``num_customers``, interpolated between the table's keys, halves rounded up.

    Below 10 customers it is 20; above 1,000 it grows by the last segment's slope, 150 + (n - 1000) / 10.
    """
    keys = np.array(sorted(CVRP_CAPACITIES), dtype=float)
    values = np.array([CVRP_CAPACITIES[int(k)] for k in keys], dtype=float)
    if num_customers > keys[-1]:
        return int(np.floor(values[-1] + (num_customers - keys[-1]) / 10.0 + 0.5))
    return int(np.floor(np.interp(num_customers, keys, values) + 0.5))


def _options(kind: str, given: dict[str, Any]) -> GeneratorOptions:
    allowed = KIND_OPTIONS[kind]
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(unknown)} for {kind}; accepted: {', '.join(allowed)}")
    for key, value in given.items():
        _check_type(key, value)
    opts = GeneratorOptions(**given)
    if not opts.asymmetry >= 0:
        raise ValueError(f"asymmetry must be >= 0, got {opts.asymmetry}")
    if not 1 <= opts.min_demand <= opts.max_demand:
        raise ValueError(f"need 1 <= min_demand <= max_demand, got {opts.min_demand}..{opts.max_demand}")
    if opts.capacity is not None and opts.capacity < opts.max_demand:
        raise ValueError(f"capacity {opts.capacity} is below max_demand {opts.max_demand}")
    if opts.num_vehicles is not None and opts.num_vehicles < 1:
        raise ValueError(f"num_vehicles must be >= 1, got {opts.num_vehicles}")
    if not opts.horizon > 0 or not opts.service_time >= 0:
        raise ValueError(f"need horizon > 0 and service_time >= 0, got {opts.horizon}, {opts.service_time}")
    return opts


_BOOL_OPTIONS = {"asymmetric"}
_INT_OPTIONS = {"min_demand", "max_demand", "num_vehicles"}
_OPTIONAL = {"capacity", "num_vehicles"}


def _check_type(key: str, value: Any) -> None:
    """Options may come from a command line as parsed JSON; a wrong type is a clear ValueError, not a TypeError."""
    if value is None and key in _OPTIONAL:
        return
    if key in _BOOL_OPTIONS:
        ok = isinstance(value, bool)
    elif key in _INT_OPTIONS:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
    if not ok:
        wanted = "true/false" if key in _BOOL_OPTIONS else "an integer" if key in _INT_OPTIONS else "a number"
        raise ValueError(f"option {key} must be {wanted}, got {value!r}")


def asymmetric_matrix(coords: np.ndarray, rng: np.random.Generator, asymmetry: float) -> np.ndarray:
    """Euclidean lengths scaled by independent factors in [1, 1 + asymmetry], closed under shortest paths.

    The closure (Floyd-Warshall, O(n^3) but vectorised per pivot) keeps the triangle inequality exact, which
    solvers and lower bounds that assume it rely on.
    """
    n = len(coords)
    matrix = pairwise(coords, "exact") * (1.0 + asymmetry * rng.random((n, n)))
    np.fill_diagonal(matrix, 0.0)
    for k in range(n):
        np.minimum(matrix, matrix[:, k : k + 1] + matrix[k : k + 1, :], out=matrix)
    return matrix


def _geometry(size: int, rng: np.random.Generator, opts: GeneratorOptions) -> dict[str, Any]:
    coords = rng.random((size, 2))
    if not opts.asymmetric:
        return {"coords": coords, "rounding": "exact"}
    return {"coords": coords, "distance_matrix": asymmetric_matrix(coords, rng, opts.asymmetry), "rounding": "matrix"}


def _fleet(size: int, rng: np.random.Generator, opts: GeneratorOptions) -> dict[str, Any]:
    demands = np.concatenate([[0], rng.integers(opts.min_demand, opts.max_demand + 1, size=size)])
    capacity = opts.capacity if opts.capacity is not None else max(cvrp_capacity(size), opts.max_demand)
    return {"demands": demands, "capacity": capacity, "depot": 0, "num_vehicles": opts.num_vehicles}


def _time_windows(
    geometry: dict[str, Any], size: int, rng: np.random.Generator, opts: GeneratorOptions
) -> dict[str, Any]:
    """Windows through which a direct depot -> i -> depot trip is always on time (see the module doc)."""
    lengths = geometry.get("distance_matrix")
    if lengths is None:
        lengths = pairwise(geometry["coords"], "exact")
    out_time, back_time = lengths[0], lengths[:, 0]
    service = np.full(size + 1, float(opts.service_time))
    service[0] = 0.0
    horizon = max(opts.horizon, float(np.max(out_time + service + back_time)))
    latest = horizon - service - back_time
    centre = out_time + (latest - out_time) * rng.random(size + 1)
    half = service / 2.0 + (opts.horizon / 3.0 - service / 2.0) * rng.random(size + 1)
    windows = np.stack([np.maximum(0.0, centre - half), np.minimum(horizon, centre + half)], axis=1)
    windows[0] = [0.0, horizon]
    return {"time_windows": windows, "service_times": service}


def _one(kind: str, size: int, seed: int, index: int, opts: GeneratorOptions) -> Any:
    rng = np.random.default_rng([seed, index])
    name = f"{kind}{size}{'-asym' if opts.asymmetric else ''}-s{seed}-{index}"
    used = {k: v for k, v in asdict(opts).items() if k in KIND_OPTIONS[kind]}
    meta = {"source": "generator", "seed": seed, "index": index, "generator": {"kind": kind, "size": size, **used}}
    if kind == "tsp":
        return TSPInstance(name=name, meta=meta, **_geometry(size, rng, opts))
    geometry = _geometry(size + 1, rng, opts)
    fleet = _fleet(size, rng, opts)
    if kind == "cvrp":
        return CVRPInstance(name=name, meta=meta, **geometry, **fleet)
    return CVRPTWInstance(name=name, meta=meta, **geometry, **fleet, **_time_windows(geometry, size, rng, opts))


def generate(kind: str, size: int, count: int, seed: int, **options: Any) -> list[Any]:
    """``count`` random instances of ``kind`` with ``size`` cities (tsp) or customers (cvrp, cvrptw).

    Deterministic for a given ``seed``; each instance's meta records ``source``, ``seed``, ``index`` and the
    generator settings. Options (per kind, see :class:`GeneratorOptions`): ``asymmetric``, ``asymmetry``,
    ``capacity``, ``min_demand``, ``max_demand``, ``num_vehicles``, ``horizon``, ``service_time``.

    Road kinds (``atsp``, ``acvrp``, ``acvrptw``) are sampled from a city's road matrices instead
    (:mod:`routelab.data.roads.instances`): ``city`` is a ``{City}_data.npz`` file or a built-in extract
    (``helsinki``), ``points`` the road points a built-in city is built with; other options are the sampler's.
    """
    from routelab.data.roads.instances import ROAD_KINDS

    if kind in ROAD_KINDS:
        return _road_instances(kind, size, count, seed, **options)
    if kind == "lifelong_mapf":
        return _mapf_instances(size, count, seed, **options)
    if kind == "coordination":  # size = robots; warehouse or map= roadmaps, see routelab.data.coordination_gen
        from routelab.data.coordination_gen import generate_coordination

        return generate_coordination(size, count, seed, **options)
    if kind == "network_design":  # built on a road network: net= a *_net.tntp (routelab.data.ndp)
        from routelab.data.ndp import generate_designs

        return generate_designs(options.pop("net", None), size, count, seed, **options)
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; the generators make {', '.join((*KINDS, *ROAD_KINDS))}")
    if isinstance(size, bool) or not isinstance(size, int) or size < (2 if kind == "tsp" else 1):
        raise ValueError(f"size must be an integer >= {2 if kind == 'tsp' else 1}, got {size!r}")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    opts = _options(kind, options)
    return [_one(kind, size, seed, index, opts) for index in range(count)]


def _road_instances(
    kind: str, size: int, count: int, seed: int, *, city: str | None = None, points: int = 1000, **options: Any
) -> list[Any]:
    """Road instances sampled from ``city``; the city's own points are drawn with ``seed`` too, so a built-in city
    and its instances are both reproducible."""
    from routelab.data.roads.build import open_city
    from routelab.data.roads.instances import sample_instances

    if city is None:
        raise ValueError(f"{kind} instances are sampled from road matrices: give city= a {{City}}_data.npz or helsinki")
    return sample_instances(open_city(str(city), points=points, seed=seed), kind, size, count, seed, **options)


def _mapf_instances(
    agents: int, count: int, seed: int, *, map: str | None = None, horizon: int = 256, **options: Any
) -> list[Any]:
    """Lifelong MAPF episodes on ``map`` (a path, or one relative to the benchmark root) with ``agents`` agents;
    instance ``k`` uses seed ``seed + k`` for its starts and goal stream."""
    from routelab.data.mapf_io import make_instance, read_grid_map
    from routelab.data.root import benchmark_file

    if map is None:
        raise ValueError("lifelong_mapf instances need map= a MovingAI, RHCR kiva or POGEMA map file")
    grid_map = read_grid_map(benchmark_file(map))
    return [make_instance(grid_map, agents=agents, horizon=horizon, seed=seed + k, **options) for k in range(count)]
