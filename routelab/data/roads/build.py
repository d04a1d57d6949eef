"""Build a city's matrix file from any road source: an OSM extract, the built-in one, an OSRM server, a synthetic city.

This is what ``routelab generate city-matrices`` and ``routelab generate atsp|acvrp|acvrptw --city helsinki`` run.
Points are road nodes sampled uniformly from the largest strongly connected part of the network (graph
sources), or uniform in a bounding box and snapped by the server (OSRM), as RRNCO samples points on roads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from routelab.data.roads.city import City, load_city
from routelab.problems import FormatError

BBox = tuple[float, float, float, float]
"""(south, west, north, east) in degrees."""


def parse_bbox(text: str) -> BBox:
    """``"60.16,24.92,60.18,24.96"`` -> (south, west, north, east), checked."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 4:
        raise FormatError("--bbox", "bbox", "four numbers south,west,north,east", text)
    south, west, north, east = values
    if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
        raise FormatError("--bbox", "bbox", "south < north in [-90, 90] and west < east in [-180, 180]", text)
    return south, west, north, east


def build_city(
    *,
    points: int,
    seed: int = 0,
    pbf: str | Path | None = None,
    builtin: str | None = None,
    osrm: str | None = None,
    synthetic: int | None = None,
    bbox: BBox | None = None,
    name: str | None = None,
) -> City:
    """Sample ``points`` road points from exactly one source and compute their distance/duration matrices."""
    given = [
        k for k, v in {"pbf": pbf, "builtin": builtin, "osrm": osrm, "synthetic": synthetic}.items() if v is not None
    ]
    if len(given) != 1:
        raise FormatError("city", "source", "exactly one of --pbf, --builtin, --osrm, --synthetic", given or "none")
    if points < 2:
        raise FormatError("city", "points", "at least 2 points", points)
    rng = np.random.default_rng(seed)
    if osrm is not None:
        from routelab.data.roads.osrm import OSRMProvider

        if bbox is None:
            raise FormatError("city", "bbox", "a --bbox to sample points in when the source is an OSRM server", "none")
        south, west, north, east = bbox
        raw = np.column_stack([rng.uniform(south, north, points), rng.uniform(west, east, points)])
        with OSRMProvider(osrm) as provider:
            roads = provider.matrices(raw)
        city = City.from_roads(name or "osrm", roads)
    else:
        if synthetic is not None:
            from routelab.data.roads.synthetic import synthetic_city

            graph = synthetic_city(synthetic).largest_strongly_connected()
            default_name = f"synthetic-{synthetic}"
        else:
            from routelab.data.roads.osm import OSMProvider, builtin_city

            path = builtin_city(builtin) if builtin is not None else Path(pbf)  # type: ignore[arg-type]
            graph = OSMProvider(path, bbox=bbox).graph
            default_name = builtin.capitalize() if builtin is not None else path.name.split(".")[0]
        if points > graph.n_nodes:
            raise FormatError(
                graph.source, "points", f"at most {graph.n_nodes} points (the road nodes of its connected part)", points
            )
        roads = graph.matrices(graph.sample_points(points, rng))
        city = City.from_roads(name or default_name, roads)
    city.meta.update({"points_requested": points, "seed": seed})
    return city


def open_city(spec: str, *, points: int = 1000, seed: int = 0) -> City:
    """A city from a ``{City}_data.npz`` file, a built-in extract's name, or ``synthetic:SEED`` (a procedural city);
    the last two are built on the fly, offline, with ``points`` road points drawn with ``seed``."""
    from routelab.data.roads.osm import BUILTIN_EXTRACTS

    if spec.startswith("synthetic:") and not Path(spec).exists():
        try:
            city_seed = int(spec.split(":", 1)[1])
        except ValueError:
            raise FormatError(spec, "city", "synthetic:SEED with an integer seed", spec) from None
        from routelab.data.roads.synthetic import synthetic_city

        nodes = synthetic_city(city_seed).largest_strongly_connected().n_nodes
        return build_city(points=min(points, nodes), seed=seed, synthetic=city_seed)
    if spec.strip().lower() in BUILTIN_EXTRACTS and not Path(spec).exists():
        from routelab.data.roads.osm import OSMProvider, builtin_city

        nodes = OSMProvider(builtin_city(spec)).graph.n_nodes
        return build_city(points=min(points, nodes), seed=seed, builtin=spec.strip().lower())
    return load_city(spec)
