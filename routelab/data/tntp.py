"""TNTP readers (Transportation Networks for Research): ``*_net.tntp``, ``*_trips.tntp`` and ``*_flow.tntp``.

The format is loose (tabs or spaces, trailing ``;`` on some rows and not others, metadata padded with tabs), so
the readers split on whitespace and check what the metadata promises instead: link and node counts, the zone
count, the total OD flow. Every error is a :class:`FormatError` naming the file, the line and the field, since a
hand-edited network is the usual source of trouble.

Nodes are 1-based in the files and 0-based in the arrays returned here (``tail``, ``head``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routelab.data._common import build, parse_float, parse_int, read_text
from routelab.problems import FormatError

NET_COLUMNS: tuple[str, ...] = (
    "init_node",
    "term_node",
    "capacity",
    "length",
    "free_flow_time",
    "b",
    "power",
    "speed",
    "toll",
    "link_type",
)
_TAG = re.compile(r"^\s*<([^>]+)>(.*)$")
_ENTRY = re.compile(r"([^\s:;]+)\s*:\s*([^\s:;]+)\s*;?")
TOTAL_FLOW_RTOL = 1e-6
"""The published TOTAL OD FLOW is printed with limited digits; a relative difference below this is agreement."""


@dataclass(frozen=True, eq=False)
class TNTPNetwork:
    """One ``*_net.tntp``: metadata and per-link arrays (``tail``/``head`` 0-based)."""

    name: str
    num_zones: int
    num_nodes: int
    first_thru_node: int
    tail: np.ndarray
    head: np.ndarray
    capacity: np.ndarray
    length: np.ndarray
    free_flow_time: np.ndarray
    b: np.ndarray
    power: np.ndarray
    speed: np.ndarray
    toll: np.ndarray
    link_type: np.ndarray

    @property
    def num_links(self) -> int:
        return len(self.tail)

    def road_network(self) -> Any:
        """The network as a :class:`routelab.traffic.RoadNetwork`, ready for :func:`routelab.traffic.solve_ue`."""
        from routelab.traffic import RoadNetwork

        return RoadNetwork(
            num_nodes=self.num_nodes,
            num_zones=self.num_zones,
            tail=self.tail,
            head=self.head,
            capacity=self.capacity,
            free_flow_time=self.free_flow_time,
            b=self.b,
            power=self.power,
            toll=self.toll,
            length=self.length,
            first_thru_node=self.first_thru_node,
        )


@dataclass(frozen=True, eq=False)
class TNTPFlows:
    """One ``*_flow.tntp``: a published link solution (``tail``/``head`` 0-based)."""

    tail: np.ndarray
    head: np.ndarray
    volume: np.ndarray
    cost: np.ndarray

    def aligned(self, network: TNTPNetwork, source: str = "<flows>") -> np.ndarray:
        """The volumes in ``network``'s link order (a link missing from the file, or listed twice, is an error)."""
        index = {(int(t), int(h)): k for k, (t, h) in enumerate(zip(network.tail, network.head, strict=True))}
        out = np.full(network.num_links, np.nan)
        for t, h, v in zip(self.tail.tolist(), self.head.tolist(), self.volume.tolist(), strict=True):
            k = index.get((t, h))
            if k is None:
                raise FormatError(source, "From/To", "links of the network", f"{t + 1} -> {h + 1}")
            if not np.isnan(out[k]):
                raise FormatError(source, "From/To", "each link once", f"{t + 1} -> {h + 1} twice")
            out[k] = v
        if np.isnan(out).any():
            k = int(np.flatnonzero(np.isnan(out))[0])
            raise FormatError(source, "From/To", "a volume for every link", f"none for {index_name(network, k)}")
        return out


def index_name(network: TNTPNetwork, link: int) -> str:
    return f"link {network.tail[link] + 1} -> {network.head[link] + 1}"


def _metadata(path: Path, lines: list[str]) -> tuple[dict[str, tuple[int, str]], int]:
    """``{TAG: (line number, value)}`` up to ``<END OF METADATA>``; returns it and the index of the next line."""
    meta: dict[str, tuple[int, str]] = {}
    for i, raw in enumerate(lines):
        match = _TAG.match(raw)
        if match is None:
            if raw.strip() and not raw.lstrip().startswith("~"):
                raise FormatError(str(path), f"line {i + 1}", "a <TAG> value metadata line", raw.strip())
            continue
        tag = match.group(1).strip().upper()
        if tag == "END OF METADATA":
            return meta, i + 1
        meta[tag] = (i + 1, match.group(2).strip())
    raise FormatError(str(path), "<END OF METADATA>", "the end of the metadata block", "end of file")


def _meta_int(path: Path, meta: dict[str, tuple[int, str]], tag: str, minimum: int) -> int:
    if tag not in meta:
        raise FormatError(str(path), f"<{tag}>", "this metadata line", "missing")
    line, value = meta[tag]
    token = value.split()[0] if value.split() else ""
    number = parse_int(path, f"line {line}: <{tag}>", token)
    if number < minimum:
        raise FormatError(str(path), f"line {line}: <{tag}>", f"an integer >= {minimum}", number)
    return number


def read_tntp_net(path: str | Path) -> TNTPNetwork:
    """Read a ``*_net.tntp`` network and check its link count, node numbers and FIRST THRU NODE."""
    path = Path(path)
    lines = read_text(path).splitlines()
    meta, start = _metadata(path, lines)
    zones = _meta_int(path, meta, "NUMBER OF ZONES", 1)
    nodes = _meta_int(path, meta, "NUMBER OF NODES", 1)
    first_thru = _meta_int(path, meta, "FIRST THRU NODE", 1)
    links = _meta_int(path, meta, "NUMBER OF LINKS", 0)
    if zones > nodes:
        raise FormatError(str(path), "<NUMBER OF ZONES>", f"at most the node count {nodes}", zones)
    if first_thru > nodes + 1:
        raise FormatError(str(path), "<FIRST THRU NODE>", f"at most {nodes + 1}", first_thru)
    rows: list[list[float]] = []
    for i in range(start, len(lines)):
        text = lines[i].strip()
        if not text or text.startswith("~"):
            continue
        text = text.rstrip(";").strip()
        tokens = text.split()
        if len(tokens) != len(NET_COLUMNS):
            raise FormatError(
                str(path), f"line {i + 1}", f"{len(NET_COLUMNS)} columns ({' '.join(NET_COLUMNS)})", f"{len(tokens)}"
            )
        row = [parse_float(path, f"line {i + 1}: {col}", tok) for col, tok in zip(NET_COLUMNS, tokens, strict=True)]
        for col in ("init_node", "term_node"):
            k = NET_COLUMNS.index(col)
            node = parse_int(path, f"line {i + 1}: {col}", tokens[k])
            if not 1 <= node <= nodes:
                raise FormatError(str(path), f"line {i + 1}: {col}", f"a node in 1..{nodes}", node)
        for col in ("capacity", "length", "free_flow_time", "b", "power", "toll"):
            value = row[NET_COLUMNS.index(col)]
            if value < 0:
                raise FormatError(
                    str(path), f"line {i + 1}: {col}", "a non-negative number", tokens[NET_COLUMNS.index(col)]
                )
        cap, b = row[2], row[5]
        if cap <= 0 and b != 0:
            raise FormatError(str(path), f"line {i + 1}: capacity", "a positive capacity (the link has b != 0)", cap)
        rows.append(row)
    if len(rows) != links:
        raise FormatError(str(path), "<NUMBER OF LINKS>", f"{links} link rows (the metadata)", f"{len(rows)} rows")
    table = np.array(rows, dtype=np.float64).reshape(len(rows), len(NET_COLUMNS))
    col = {name: table[:, k].copy() for k, name in enumerate(NET_COLUMNS)}
    return TNTPNetwork(
        name=_base_name(path, "_net"),
        num_zones=zones,
        num_nodes=nodes,
        first_thru_node=first_thru,
        tail=col["init_node"].astype(np.int64) - 1,
        head=col["term_node"].astype(np.int64) - 1,
        capacity=col["capacity"],
        length=col["length"],
        free_flow_time=col["free_flow_time"],
        b=col["b"],
        power=col["power"],
        speed=col["speed"],
        toll=col["toll"],
        link_type=col["link_type"],
    )


def read_tntp_trips(path: str | Path, *, num_zones: int | None = None) -> np.ndarray:
    """Read a ``*_trips.tntp`` OD table as a dense ``(zones, zones)`` float matrix (row origin, column destination).

    ``<TOTAL OD FLOW>`` is checked against the sum (to :data:`TOTAL_FLOW_RTOL`), and ``num_zones`` (the
    network's) against ``<NUMBER OF ZONES>``.
    """
    path = Path(path)
    lines = read_text(path).splitlines()
    meta, start = _metadata(path, lines)
    zones = _meta_int(path, meta, "NUMBER OF ZONES", 1)
    if num_zones is not None and zones != num_zones:
        raise FormatError(str(path), "<NUMBER OF ZONES>", f"{num_zones} (the network's zone count)", zones)
    if "TOTAL OD FLOW" not in meta:
        raise FormatError(str(path), "<TOTAL OD FLOW>", "this metadata line", "missing")
    total_line, total_text = meta["TOTAL OD FLOW"]
    total = parse_float(path, f"line {total_line}: <TOTAL OD FLOW>", (total_text.split() or [""])[0])
    demand = np.zeros((zones, zones))
    origin: int | None = None
    seen: set[tuple[int, int]] = set()
    for i in range(start, len(lines)):
        text = lines[i].strip()
        if not text or text.startswith("~"):
            continue
        if text.lower().startswith("origin"):
            tokens = text.split()
            if len(tokens) != 2:
                raise FormatError(str(path), f"line {i + 1}: Origin", "'Origin k'", text)
            origin = parse_int(path, f"line {i + 1}: Origin", tokens[1])
            if not 1 <= origin <= zones:
                raise FormatError(str(path), f"line {i + 1}: Origin", f"a zone in 1..{zones}", origin)
            continue
        if origin is None:
            raise FormatError(str(path), f"line {i + 1}", "an 'Origin k' line before the first entries", text)
        entries = _ENTRY.findall(text)
        if not entries or _ENTRY.sub("", text).strip():
            raise FormatError(str(path), f"line {i + 1}", "'destination : flow;' entries", text)
        for dest_text, flow_text in entries:
            dest = parse_int(path, f"line {i + 1}: destination", dest_text)
            if not 1 <= dest <= zones:
                raise FormatError(str(path), f"line {i + 1}: destination", f"a zone in 1..{zones}", dest)
            flow = parse_float(path, f"line {i + 1}: flow to {dest}", flow_text)
            if flow < 0:
                raise FormatError(str(path), f"line {i + 1}: flow to {dest}", "a non-negative flow", flow_text)
            if (origin, dest) in seen:
                raise FormatError(str(path), f"line {i + 1}: destination", "each destination once per origin", dest)
            seen.add((origin, dest))
            demand[origin - 1, dest - 1] = flow
    got = float(demand.sum())
    if abs(got - total) > TOTAL_FLOW_RTOL * max(1.0, abs(total)):
        raise FormatError(str(path), f"line {total_line}: <TOTAL OD FLOW>", f"the sum of the entries {got!r}", total)
    return demand


def read_tntp_flow(path: str | Path) -> TNTPFlows:
    """Read a ``*_flow.tntp`` reference solution: ``From To Volume Cost`` rows (tabs or spaces)."""
    path = Path(path)
    lines = read_text(path).splitlines()
    rows: list[tuple[int, int, float, float]] = []
    for i, raw in enumerate(lines):
        tokens = raw.replace(";", " ").split()
        if not tokens or tokens[0].startswith("~"):
            continue
        if not rows and tokens[0].lower() == "from":
            continue  # the header line
        if len(tokens) != 4:
            raise FormatError(str(path), f"line {i + 1}", "4 columns (From To Volume Cost)", len(tokens))
        tail = parse_int(path, f"line {i + 1}: From", tokens[0])
        head = parse_int(path, f"line {i + 1}: To", tokens[1])
        volume = parse_float(path, f"line {i + 1}: Volume", tokens[2])
        cost = parse_float(path, f"line {i + 1}: Cost", tokens[3])
        if tail < 1 or head < 1:
            raise FormatError(str(path), f"line {i + 1}: From/To", "1-based node numbers", f"{tail} {head}")
        rows.append((tail - 1, head - 1, volume, cost))
    if not rows:
        raise FormatError(str(path), "file", "at least one From To Volume Cost row", "none")
    arr = np.array([(r[2], r[3]) for r in rows], dtype=np.float64)
    return TNTPFlows(
        tail=np.array([r[0] for r in rows], dtype=np.int64),
        head=np.array([r[1] for r in rows], dtype=np.int64),
        volume=arr[:, 0].copy(),
        cost=arr[:, 1].copy(),
    )


def _base_name(path: Path, suffix: str) -> str:
    stem = path.name
    if stem.lower().endswith(".tntp"):
        stem = stem[:-5]
    return stem[: -len(suffix)] if stem.lower().endswith(suffix) else stem


def trips_path_for(net_path: str | Path) -> Path:
    """The ``*_trips.tntp`` next to a ``*_net.tntp`` (same prefix)."""
    net_path = Path(net_path)
    return net_path.with_name(_base_name(net_path, "_net") + "_trips.tntp")


def is_tntp_net(path: str | Path) -> bool:
    return Path(path).name.lower().endswith("_net.tntp")


def read_tntp_instance(
    net_path: str | Path,
    trips_path: str | Path | None = None,
    *,
    cost_weights: tuple[float, float, float] = (1.0, 0.0, 0.0),
    projects: list[dict[str, Any]] | None = None,
    budget: float = 0.0,
    ue_gap: float = 1e-5,
) -> Any:
    """A ``network_design`` instance from a network and its trips (default: the sibling ``*_trips.tntp``).

    ``cost_weights`` are (time, toll, length): TNTP files do not carry them (Chicago-Sketch's README gives
    1, 0.02, 0.04), so the caller states them. Without ``projects`` the instance is a plain UE problem.
    """
    from routelab.problems.network_design import NetworkDesignInstance

    net = read_tntp_net(net_path)
    trips = trips_path_for(net_path) if trips_path is None else Path(trips_path)
    demand = read_tntp_trips(trips, num_zones=net.num_zones)
    return build(
        net_path,
        lambda: NetworkDesignInstance(
            name=net.name,
            meta={"source": "tntp", "net": Path(net_path).name, "trips": trips.name},
            num_nodes=net.num_nodes,
            num_zones=net.num_zones,
            first_thru_node=net.first_thru_node,
            tail=net.tail,
            head=net.head,
            capacity=net.capacity,
            length=net.length,
            free_flow_time=net.free_flow_time,
            b=net.b,
            power=net.power,
            toll=net.toll,
            link_type=net.link_type,
            demand=demand,
            cost_weights=cost_weights,
            projects=projects or [],
            budget=budget,
            ue_gap=ue_gap,
        ),
    )


def nodes_path_for(net_path: str | Path) -> Path:
    """The ``*_node.tntp`` next to a ``*_net.tntp`` (same prefix); it may not exist (EMA ships none)."""
    net_path = Path(net_path)
    return net_path.with_name(_base_name(net_path, "_net") + "_node.tntp")


def read_tntp_nodes(path: str | Path, num_nodes: int) -> np.ndarray:
    """``(num_nodes, 2)`` node coordinates from a ``*_node.tntp`` (``Node X Y`` rows), for drawing only.

    Every node 1..num_nodes must appear once: a drawing with a node at a made-up place would mislead.
    """
    path = Path(path)
    coords = np.full((num_nodes, 2), np.nan)
    for i, raw in enumerate(read_text(path).splitlines()):
        tokens = raw.replace(";", " ").split()
        if not tokens or tokens[0].startswith("~") or not tokens[0].lstrip("-").isdigit():
            continue  # blank, comment or the header line
        if len(tokens) < 3:
            raise FormatError(str(path), f"line {i + 1}", "3 columns (Node X Y)", len(tokens))
        node = parse_int(path, f"line {i + 1}: Node", tokens[0])
        if not 1 <= node <= num_nodes:
            raise FormatError(str(path), f"line {i + 1}: Node", f"a node in 1..{num_nodes}", node)
        coords[node - 1] = (
            parse_float(path, f"line {i + 1}: X", tokens[1]),
            parse_float(path, f"line {i + 1}: Y", tokens[2]),
        )
    missing = np.flatnonzero(np.isnan(coords[:, 0]))
    if missing.size:
        raise FormatError(
            str(path), "nodes", f"coordinates for all {num_nodes} nodes", f"none for node {missing[0] + 1}"
        )
    return coords
