"""OSRMProvider against a real local HTTP server that speaks the OSRM Table protocol.

The fake server snaps every coordinate to a 1e-4 degree grid, answers an asymmetric distance computed from the
snapped coordinates alone (so a split request must give exactly what one big request gives), returns ``null``
for the designated island, enforces a max table size with ``TooBig``, and can fail, stall or answer garbage.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import requests

from routelab.data.roads.matrices import RoadMatrices, haversine_m
from routelab.data.roads.osrm import OSRMProvider, RoadServiceError
from routelab.problems import FormatError

GRID = 1e-4  # snapping grid of the fake server, in degrees


def snap(lat: float, lon: float) -> tuple[float, float]:
    return round(round(lat / GRID) * GRID, 6), round(round(lon / GRID) * GRID, 6)


def road_distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Deterministic and asymmetric, from the (snapped) coordinates only: request-independent."""
    if a == b:
        return 0.0
    factor = 1.2 if a < b else 1.5
    return float(haversine_m(np.array(a), np.array(b))) * factor


def expected(points: np.ndarray, island: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    snapped = [snap(lat, lon) for lat, lon in np.asarray(points)]
    n = len(snapped)
    dist = np.array([[road_distance(snapped[i], snapped[j]) for j in range(n)] for i in range(n)])
    if island is not None:
        isl = snap(*island)
        for i in range(n):
            for j in range(n):
                if i != j and isl in (snapped[i], snapped[j]):
                    dist[i, j] = np.inf
    return np.array(snapped), dist


@dataclass
class FakeOSRM:
    """Behaviour switches and a log of what the server saw."""

    max_table_size: int = 100
    island: tuple[float, float] | None = None  # (lat, lon); snapped before comparing
    fail_first: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    sleep: float = 0.0
    force: tuple[int, str] | None = None  # (HTTP status, raw body) answered instead of a table
    omit_distances: bool = False
    url: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str) -> tuple[int, str, dict[str, str]]:
        with self.lock:
            number = len(self.seen)
            self.seen.append({"path": path})
        if number < self.fail_first:
            headers = {"Retry-After": self.retry_after} if self.retry_after is not None else {}
            return self.fail_status, json.dumps({"code": "Busy", "message": "try later"}), headers
        if self.sleep:
            time.sleep(self.sleep)
        if self.force is not None:
            return self.force[0], self.force[1], {}
        parts = urlsplit(path)
        prefix = "/table/v1/driving/"
        if not parts.path.startswith(prefix):
            return 404, "<html>Not Found</html>", {"Content-Type": "text/html"}
        coords = [tuple(float(v) for v in c.split(",")) for c in parts.path[len(prefix) :].split(";")]
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.seen[-1].update(coords=coords, query=query)
        if len(coords) > self.max_table_size:
            return 400, json.dumps({"code": "TooBig", "message": "Too many table coordinates"}), {}
        everything = list(range(len(coords)))
        sources = [int(v) for v in query["sources"].split(";")] if "sources" in query else everything
        dests = [int(v) for v in query["destinations"].split(";")] if "destinations" in query else everything
        snapped = [snap(lat, lon) for lon, lat in coords]
        isl = snap(*self.island) if self.island is not None else None

        def cell(i: int, j: int, scale: float) -> float | None:
            a, b = snapped[i], snapped[j]
            if isl is not None and isl in (a, b):
                return None
            return round(road_distance(a, b) * scale, 3)

        def waypoint(i: int) -> dict[str, Any]:
            lat, lon = snapped[i]
            moved = float(haversine_m(np.array([coords[i][1], coords[i][0]]), np.array([lat, lon])))
            return {"location": [lon, lat], "distance": moved, "name": "Main Street", "hint": "abc"}

        body: dict[str, Any] = {
            "code": "Ok",
            "durations": [[cell(i, j, 0.1) for j in dests] for i in sources],
            "sources": [waypoint(i) for i in sources],
            "destinations": [waypoint(j) for j in dests],
        }
        if "distance" in query.get("annotations", "duration") and not self.omit_distances:
            body["distances"] = [[cell(i, j, 1.0) for j in dests] for i in sources]
        return 200, json.dumps(body), {}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body, headers = self.server.fake.answer(self.path)  # type: ignore[attr-defined]
        data = body.encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def fake() -> Iterator[FakeOSRM]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    state = FakeOSRM(url=f"http://127.0.0.1:{server.server_address[1]}")
    server.fake = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=2)


def city(n: int, seed: int = 0) -> np.ndarray:
    """Points around Milan, deliberately off the snapping grid."""
    rng = np.random.default_rng(seed)
    pts = np.column_stack([45.46 + rng.uniform(-0.05, 0.05, n), 9.19 + rng.uniform(-0.05, 0.05, n)])
    return np.round(pts, 6)


def provider(fake: FakeOSRM, **kwargs: Any) -> OSRMProvider:
    kwargs.setdefault("timeout", 2.0)
    kwargs.setdefault("backoff", 0.01)
    return OSRMProvider(fake.url, **kwargs)


def test_small_set_is_one_request_with_lon_lat_order(fake: FakeOSRM) -> None:
    pts = city(6)
    with provider(fake) as osrm:
        rm = osrm.matrices(pts)
    assert isinstance(rm, RoadMatrices) and rm.size == 6
    assert len(fake.seen) == 1
    seen = fake.seen[0]
    assert seen["query"] == {
        "sources": "0;1;2;3;4;5",
        "destinations": "0;1;2;3;4;5",
        "annotations": "distance,duration",
    }
    lon, lat = seen["coords"][0]
    assert (lat, lon) == pytest.approx(tuple(pts[0]))  # OSRM wants lon,lat; points are lat, lon
    _, dist = expected(pts)
    np.testing.assert_allclose(rm.distance_m, dist, atol=1e-3)
    np.testing.assert_allclose(rm.duration_s, dist / 10, atol=1e-3)
    assert not np.allclose(rm.distance_m, rm.distance_m.T)  # asymmetric, and kept that way
    assert np.all(np.diag(rm.distance_m) == 0) and np.all(np.diag(rm.duration_s) == 0)
    assert rm.meta["provider"] == "osrm" and rm.meta["url"] == fake.url and rm.meta["profile"] == "driving"
    assert rm.meta["requests"] == 1
    assert rm.source == f"{fake.url}/table/v1/driving"


def test_snapped_points_and_snap_distance_are_returned(fake: FakeOSRM) -> None:
    pts = city(5, seed=3)
    rm = provider(fake).matrices(pts)
    snapped, _ = expected(pts)
    np.testing.assert_allclose(rm.points, snapped, atol=1e-9)
    assert np.abs(rm.points - pts).min() > 0  # they really moved
    moved = haversine_m(pts, snapped)
    np.testing.assert_allclose(rm.meta["snap_distance_m"], moved, rtol=1e-9)
    assert all(0 < m < 15 for m in rm.meta["snap_distance_m"])  # within half a 1e-4 degree grid cell


def test_large_set_is_split_within_the_table_size_and_assembled(fake: FakeOSRM) -> None:
    fake.max_table_size = 10
    pts = city(23, seed=1)
    split = provider(fake, max_table_size=10).matrices(pts)
    assert split.meta["requests"] == len(fake.seen) == 25  # blocks of 5: 5 x 5 (source, destination) pairs
    assert max(len(s["coords"]) for s in fake.seen) <= 10
    fake.max_table_size = 100
    fake.seen.clear()
    whole = provider(fake, max_table_size=100).matrices(pts)
    assert len(fake.seen) == 1
    np.testing.assert_array_equal(split.distance_m, whole.distance_m)
    np.testing.assert_array_equal(split.duration_s, whole.duration_s)
    np.testing.assert_array_equal(split.points, whole.points)
    assert split.meta["snap_distance_m"] == pytest.approx(whole.meta["snap_distance_m"])
    snapped, dist = expected(pts)
    np.testing.assert_allclose(split.distance_m, dist, atol=1e-3)
    np.testing.assert_allclose(split.points, snapped, atol=1e-9)


def test_odd_table_size_and_island_across_blocks(fake: FakeOSRM) -> None:
    fake.max_table_size = 7
    pts = city(11, seed=2)
    fake.island = tuple(pts[9])
    rm = provider(fake, max_table_size=7).matrices(pts)  # blocks of 3: 4 x 4 requests
    assert len(fake.seen) == 16 and max(len(s["coords"]) for s in fake.seen) <= 7
    _, dist = expected(pts, island=fake.island)
    np.testing.assert_allclose(rm.distance_m, dist, atol=1e-3)


def test_null_is_inf_and_require_connected_names_the_point(fake: FakeOSRM) -> None:
    pts = city(5, seed=4)
    fake.island = tuple(pts[2])
    rm = provider(fake).matrices(pts)
    others = [0, 1, 3, 4]
    assert np.all(np.isinf(rm.distance_m[2, others])) and np.all(np.isinf(rm.distance_m[others, 2]))
    assert np.all(np.isinf(rm.duration_s[2, others])) and np.all(np.isinf(rm.duration_s[others, 2]))
    assert rm.distance_m[2, 2] == 0 and rm.duration_s[2, 2] == 0
    assert np.isfinite(rm.distance_m[np.ix_(others, others)]).all()
    assert rm.unreachable.sum() == 8
    with pytest.raises(FormatError, match=r"8 unreachable pairs, first from point 0 .* to point 2"):
        rm.require_connected()


def test_transient_503_is_retried(fake: FakeOSRM) -> None:
    fake.fail_first = 2
    rm = provider(fake, retries=3).matrices(city(4))
    assert len(fake.seen) == 3  # two failures, then the answer
    assert np.isfinite(rm.distance_m).all()


def test_429_with_retry_after_is_retried(fake: FakeOSRM) -> None:
    fake.fail_first, fake.fail_status, fake.retry_after = 1, 429, "0"
    provider(fake, retries=1).matrices(city(3))
    assert len(fake.seen) == 2


def test_permanent_503_fails_clearly_after_the_retries(fake: FakeOSRM) -> None:
    fake.fail_first = 1000
    start = time.perf_counter()
    with pytest.raises(RoadServiceError) as info:
        provider(fake, retries=2, backoff=0.02).matrices(city(4))
    assert time.perf_counter() - start >= 0.02 + 0.04  # exponential back-off: 0.02, then 0.04
    assert len(fake.seen) == 3
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{fake.url}/table/v1/driving")
    assert "HTTP 503" in message and "after 3 attempts" in message and "expected HTTP 200" in message
    assert "Busy: try later" in message
    assert info.value.status == 503
    assert info.value.__cause__ is None and info.value.__context__ is None  # no requests traceback


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_fails_clearly_and_quickly() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    osrm = OSRMProvider(url, timeout=0.5, retries=1, backoff=0.01)
    start = time.perf_counter()
    with pytest.raises(RoadServiceError) as info:
        osrm.matrices(city(3))
    assert time.perf_counter() - start < 2.0
    message = str(info.value)
    assert message.startswith(f"{url}/table/v1/driving")
    assert "connection refused after 2 attempts" in message and "osrm-routed running" in message
    assert "\n" not in message and "HTTPConnectionPool" not in message
    assert info.value.__context__ is None  # no requests traceback chained


def test_slow_server_times_out(fake: FakeOSRM) -> None:
    fake.sleep = 0.6
    start = time.perf_counter()
    with pytest.raises(RoadServiceError, match=r"no answer within 0\.15 s \(timeout\) after 1 attempt;") as info:
        provider(fake, timeout=0.15, retries=0).matrices(city(3))
    assert time.perf_counter() - start < 0.5
    assert fake.url in str(info.value)


def test_too_big_fails_at_once_and_suggests_lowering_max_table_size(fake: FakeOSRM) -> None:
    fake.max_table_size = 10
    with pytest.raises(RoadServiceError) as info:
        provider(fake, max_table_size=20, retries=3).matrices(city(15))
    assert len(fake.seen) == 1  # a refusal is not retried
    message = str(info.value)
    assert "HTTP 400 with code 'TooBig': Too many table coordinates" in message
    assert "lower max_table_size, now 20" in message
    assert info.value.code == "TooBig" and info.value.status == 400


@pytest.mark.parametrize(
    ("status", "code", "text"),
    [(400, "InvalidQuery", "Query string malformed close to position 28"), (200, "NoTable", "No table found")],
)
def test_error_codes_fail_with_the_servers_code_and_message(fake: FakeOSRM, status: int, code: str, text: str) -> None:
    fake.force = (status, json.dumps({"code": code, "message": text}))
    with pytest.raises(RoadServiceError, match=rf"HTTP {status} with code '{code}': {text}; expected code \"Ok\""):
        provider(fake).matrices(city(3))
    assert len(fake.seen) == 1


def test_body_that_is_not_json(fake: FakeOSRM) -> None:
    fake.force = (200, "<html>\n<body>Welcome to nginx</body></html>")
    with pytest.raises(RoadServiceError, match=r"HTTP 200 with a body that is not JSON \('<html> <body>Welcome"):
        provider(fake).matrices(city(3))


def test_wrong_path_404_is_not_retried() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.fake = FakeOSRM()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(RoadServiceError, match=r"/table/v1/car .*HTTP 404 with a body that is not JSON"):
            OSRMProvider(url, profile="car", retries=3, backoff=0.01).matrices(city(3))
        assert len(server.fake.seen) == 1  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def test_response_without_the_distance_matrix(fake: FakeOSRM) -> None:
    fake.omit_distances = True  # what an OSRM older than 5.8, or one ignoring annotations, answers
    with pytest.raises(RoadServiceError, match=r"response has no 'distances' matrix; expected 'distances': 3 rows"):
        provider(fake).matrices(city(3))


def test_malformed_matrix_entries(fake: FakeOSRM) -> None:
    body = {"code": "Ok", "durations": [[0, "x"], [1, 0]], "distances": [[0, 1], [1, 0]]}
    fake.force = (200, json.dumps(body))
    with pytest.raises(RoadServiceError, match=r"durations\[0\]\[1\] is 'x'"):
        provider(fake).matrices(city(2))
    fake.force = (200, json.dumps({**body, "durations": [[0, 1]]}))
    with pytest.raises(RoadServiceError, match=r"'durations' has 1 rows"):
        provider(fake).matrices(city(2))


@pytest.mark.parametrize(
    ("points", "got"),
    [
        (np.zeros(3), "shape (3,)"),
        (np.zeros((3, 3)), "shape (3, 3)"),
        (np.zeros((0, 2)), "shape (0, 2)"),
        ([[45.0, 9.0], [np.nan, 9.0]], "at row 1"),
        ([[45.0, 9.0], [95.0, 9.0]], "latitude 95.0 at row 1"),
        ([[45.0, 9.0], [45.0, -200.0]], "longitude -200.0 at row 1"),
        ("not points", "an (n, 2) array"),
    ],
)
def test_bad_points_are_a_format_error_naming_points(fake: FakeOSRM, points: Any, got: str) -> None:
    with pytest.raises(FormatError, match=r": points: expected") as info:
        provider(fake).matrices(points)
    assert got in str(info.value)
    assert fake.seen == []  # rejected before any request


@pytest.mark.parametrize(
    ("kwargs", "field_name"),
    [
        ({"base_url": "localhost:5000"}, "base_url"),
        ({"profile": "driving/../x"}, "profile"),
        ({"max_table_size": 1}, "max_table_size"),
        ({"timeout": 0}, "timeout"),
        ({"retries": -1}, "retries"),
        ({"backoff": -0.1}, "backoff"),
    ],
)
def test_bad_settings(kwargs: dict[str, Any], field_name: str) -> None:
    args = {"base_url": "http://localhost:5000", **kwargs}
    with pytest.raises(FormatError, match=rf"OSRMProvider: {field_name}: expected"):
        OSRMProvider(**args)


def test_injected_session_is_used_and_not_closed(fake: FakeOSRM) -> None:
    session = requests.Session()
    with OSRMProvider(fake.url + "/", session=session, backoff=0.01) as osrm:
        assert osrm.session is session and osrm.base_url == fake.url
        osrm.matrices(city(2))
    osrm.matrices(city(2))  # still usable: the caller owns the session
    assert len(fake.seen) == 2
    session.close()
