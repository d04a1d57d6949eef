"""Road matrices from a user's own OSRM server, through its Table service.

OSRM (``osrm-routed``) answers ``GET /table/v1/{profile}/{lon,lat;...}?sources=..&destinations=..`` with the
travel duration (s) and distance (m) between every source and destination, which is exactly a
:class:`~routelab.data.roads.matrices.RoadMatrices` block. Three things make a thin client insufficient:

* The server refuses tables larger than its ``--max-table-size`` (100 by default) with ``TooBig``. Larger point
  sets are split into source blocks x destination blocks; each request carries only the union of one source block
  and one destination block, so every request stays within ``max_table_size`` coordinates whatever ``n`` is, and
  the blocks are assembled into the full ``n x n`` matrices.
* OSRM snaps every coordinate to the nearest road. The durations are between the *snapped* positions, so those are
  what :attr:`RoadMatrices.points` holds (the snapping distance goes to ``meta``): points and matrices then agree,
  and a point that snapped far away (a depot in a field) is visible instead of silently wrong.
* A self-hosted server is often down, restarting or overloaded. Connection failures, timeouts, HTTP 5xx and 429 are
  retried with exponential back-off; anything the server *means* (HTTP 4xx, a JSON ``code`` other than ``Ok``) fails
  at once, because repeating a bad query only repeats the answer. Every failure is a one-line
  :class:`RoadServiceError` naming the URL, what happened and what was expected, never a ``requests`` traceback.

OSRM's ``null`` (no route) becomes ``inf`` explicitly, as everywhere in :mod:`routelab.data.roads`.
"""

from __future__ import annotations

import re
import time
from typing import Any

import numpy as np
import requests

from routelab.data.roads.matrices import RoadMatrices
from routelab.problems import FormatError

_PROFILE = re.compile(r"^[A-Za-z0-9_.-]+$")
_RETRY_AFTER_CAP_S = 60.0  # a server asking for a longer pause is better reported than waited for


class RoadServiceError(ValueError):
    """A road service (an OSRM server) could not be reached or did not give a usable answer.

    The message has the shape ``URL: WHAT HAPPENED; expected WHAT`` on one line. ``status`` is the HTTP status
    and ``code`` OSRM's JSON ``code`` when there was one, so callers can branch without parsing the message.
    """

    def __init__(
        self, url: str, what: str, expected: str, *, status: int | None = None, code: str | None = None
    ) -> None:
        self.url = url
        self.what = what
        self.expected = expected
        self.status = status
        self.code = code
        super().__init__(f"{url}: {what}; expected {expected}")


class OSRMProvider:
    """A :class:`~routelab.data.roads.matrices.RoadProvider` backed by an OSRM server's Table service.

    ``base_url`` is the server root (``http://localhost:5000``); ``profile`` the routing profile in the URL
    (``driving``; ``osrm-routed`` serves whichever profile it was built with under any name, but a proxy in front
    of several servers may not). ``max_table_size`` must not exceed the server's ``--max-table-size``; ``timeout``
    applies to connecting and to waiting for the answer, per request. A failed request is tried again ``retries``
    times (so ``retries + 1`` attempts), waiting ``backoff * 2**k`` seconds before retry ``k`` (or longer if a 429
    / 503 carries a ``Retry-After``). ``session`` is injectable for tests and for connection reuse across
    providers; one created here is closed by :meth:`close`.
    """

    def __init__(
        self,
        base_url: str,
        profile: str = "driving",
        max_table_size: int = 100,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.5,
        session: requests.Session | None = None,
    ) -> None:
        where = "OSRMProvider"
        if not isinstance(base_url, str) or not re.match(r"^https?://[^/\s]+", base_url):
            raise FormatError(where, "base_url", "an http(s) URL such as http://localhost:5000", base_url)
        if not isinstance(profile, str) or not _PROFILE.match(profile):
            raise FormatError(where, "profile", "a profile name such as driving (letters, digits, _ . -)", profile)
        if isinstance(max_table_size, bool) or not isinstance(max_table_size, int) or max_table_size < 2:
            raise FormatError(where, "max_table_size", "an integer >= 2", max_table_size)
        if not timeout > 0:
            raise FormatError(where, "timeout", "a positive number of seconds", timeout)
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise FormatError(where, "retries", "an integer >= 0", retries)
        if not backoff >= 0:
            raise FormatError(where, "backoff", "a non-negative number of seconds", backoff)
        self.base_url = base_url.rstrip("/")
        self.profile = profile
        self.max_table_size = max_table_size
        self.timeout = float(timeout)
        self.retries = retries
        self.backoff = float(backoff)
        self._owns_session = session is None
        self.session = session if session is not None else requests.Session()

    @property
    def table_url(self) -> str:
        """The Table service endpoint, without coordinates: what error messages name."""
        return f"{self.base_url}/table/v1/{self.profile}"

    def close(self) -> None:
        """Close the HTTP session if this provider created it (an injected session belongs to the caller)."""
        if self._owns_session:
            self.session.close()

    def __enter__(self) -> OSRMProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OSRMProvider({self.base_url!r}, profile={self.profile!r}, max_table_size={self.max_table_size})"

    def blocks(self, n: int) -> list[np.ndarray]:
        """Index blocks such that any two of them together hold at most ``max_table_size`` coordinates.

        ``n <= max_table_size`` is one block (one request). Otherwise blocks of ``max_table_size // 2``, and
        ``len(blocks) ** 2`` requests.
        """
        if n <= self.max_table_size:
            return [np.arange(n)]
        size = self.max_table_size // 2
        return [np.arange(start, min(start + size, n)) for start in range(0, n, size)]

    def matrices(self, points: np.ndarray) -> RoadMatrices:
        """Distance (m) and duration (s) between every ordered pair of ``points`` ((n, 2) lat, lon).

        The returned points are OSRM's snapped positions; unreachable pairs are ``inf``; the diagonal is 0.
        """
        pts = self._check_points(points)
        n = len(pts)
        distance = np.full((n, n), np.inf)
        duration = np.full((n, n), np.inf)
        snapped = pts.copy()
        snap_m = np.full(n, np.nan)
        seen = np.zeros(n, dtype=bool)
        blocks = self.blocks(n)
        total = len(blocks) ** 2
        count = 0
        for src in blocks:
            for dst in blocks:
                count += 1
                coords = src if src is dst else np.concatenate([src, dst])
                dst_pos = np.arange(len(src)) if src is dst else np.arange(len(src), len(coords))
                label = f"{self.table_url} (request {count} of {total}, {len(coords)} coordinates)"
                url = (
                    f"{self.table_url}/"
                    + ";".join(f"{pts[i, 1]:.7f},{pts[i, 0]:.7f}" for i in coords)
                    + "?sources="
                    + ";".join(str(k) for k in range(len(src)))
                    + "&destinations="
                    + ";".join(str(int(k)) for k in dst_pos)
                    + "&annotations=distance,duration"
                )
                body = self._get(url, label)
                block = np.ix_(src, dst)
                duration[block] = _matrix(body, "durations", len(src), len(dst), label)
                distance[block] = _matrix(body, "distances", len(src), len(dst), label)
                for key, index in (("sources", src), ("destinations", dst)):
                    for k, (location, snap) in enumerate(_waypoints(body, key, len(index), label)):
                        i = index[k]
                        if location is not None and not seen[i]:
                            snapped[i] = location
                            snap_m[i] = np.nan if snap is None else snap
                            seen[i] = True
        np.fill_diagonal(distance, 0.0)
        np.fill_diagonal(duration, 0.0)
        meta: dict[str, Any] = {
            "provider": "osrm",
            "url": self.base_url,
            "profile": self.profile,
            "max_table_size": self.max_table_size,
            "requests": count,
        }
        if seen.all() and np.isfinite(snap_m).all():
            meta["snap_distance_m"] = [float(v) for v in snap_m]
        return RoadMatrices(snapped, distance, duration, source=self.table_url, meta=meta)

    def _check_points(self, points: np.ndarray) -> np.ndarray:
        source = self.table_url
        try:
            pts = np.asarray(points, dtype=np.float64)
        except (TypeError, ValueError):
            raise FormatError(source, "points", "an (n, 2) array of (lat, lon)", type(points).__name__) from None
        if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 1:
            raise FormatError(source, "points", "an (n, 2) array of (lat, lon) with n >= 1", f"shape {pts.shape}")
        bad = np.flatnonzero(~np.isfinite(pts).all(axis=1))
        if len(bad):
            raise FormatError(source, "points", "finite (lat, lon)", f"{pts[bad[0]].tolist()} at row {bad[0]}")
        bad = np.flatnonzero(np.abs(pts[:, 0]) > 90)
        if len(bad):
            raise FormatError(
                source,
                "points",
                "latitude in [-90, 90] (points are (lat, lon), not (lon, lat))",
                f"latitude {pts[bad[0], 0]} at row {bad[0]}",
            )
        bad = np.flatnonzero(np.abs(pts[:, 1]) > 180)
        if len(bad):
            raise FormatError(
                source, "points", "longitude in [-180, 180]", f"longitude {pts[bad[0], 1]} at row {bad[0]}"
            )
        return pts

    def _get(self, url: str, label: str) -> dict[str, Any]:
        """One Table request with retries for what may pass (no connection, timeout, 5xx, 429); the JSON body."""
        attempts = self.retries + 1
        failure = ("no attempt", "an answer")
        status: int | None = None
        delay = self.backoff
        for attempt in range(attempts):
            if attempt:
                time.sleep(delay)
                delay = self.backoff * 2**attempt
            try:
                response = self.session.get(url, timeout=self.timeout)
            except requests.Timeout:
                failure = (
                    f"no answer within {self.timeout:g} s (timeout)",
                    "an answer within the timeout (raise timeout= or lower max_table_size)",
                )
                continue
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
                what = "connection refused" if "refused" in str(exc).lower() else "connection failed"
                failure = (what, "an OSRM server listening there (is osrm-routed running? is base_url right?)")
                continue
            except requests.RequestException as exc:
                raise RoadServiceError(
                    label, f"request could not be sent ({type(exc).__name__})", "a valid http(s) base_url"
                ) from None
            status = response.status_code
            if status == 429 or status >= 500:
                code, message = _code_message(response)
                detail = f" ({code}: {message})" if code or message else ""
                failure = (f"HTTP {status} {response.reason or ''}".rstrip() + detail, "HTTP 200 with a table")
                wait = _retry_after(response)
                if wait is not None:
                    delay = max(delay, min(wait, _RETRY_AFTER_CAP_S))
                continue
            return self._decode(response, label)
        tries = f"{attempts} attempt" + ("s" if attempts > 1 else "")
        raise RoadServiceError(label, f"{failure[0]} after {tries}", failure[1], status=status)

    def _decode(self, response: requests.Response, label: str) -> dict[str, Any]:
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            raise RoadServiceError(
                label,
                f"HTTP {status} with a body that is not JSON ({_snippet(response.text)!r})",
                "an OSRM JSON response (is base_url an OSRM server, and the profile right?)",
                status=status,
            ) from None
        if not isinstance(body, dict):
            raise RoadServiceError(
                label, f"HTTP {status} with JSON {type(body).__name__}", "an OSRM JSON object", status=status
            )
        code = body.get("code")
        if status >= 400 or code != "Ok":
            message = body.get("message")
            what = f"server answered HTTP {status} with code {code!r}" + (f": {_snippet(message)}" if message else "")
            expected = 'code "Ok"'
            if code == "TooBig":
                expected += (
                    f" (lower max_table_size, now {self.max_table_size}, to at most the server's --max-table-size)"
                )
            raise RoadServiceError(label, what, expected, status=status, code=code if isinstance(code, str) else None)
        return body


def _matrix(body: dict[str, Any], key: str, rows: int, cols: int, label: str) -> np.ndarray:
    """``body[key]`` as a float ``(rows, cols)`` array with ``null`` -> ``inf``."""
    table = body.get(key)
    expected = f"{key!r}: {rows} rows of {cols} numbers or null (request annotations=distance,duration, OSRM >= 5.8)"
    if not isinstance(table, list):
        raise RoadServiceError(label, f"response has no {key!r} matrix", expected, code="Ok")
    if len(table) != rows or any(not isinstance(row, list) or len(row) != cols for row in table):
        shape = [len(row) if isinstance(row, list) else type(row).__name__ for row in table][:5]
        raise RoadServiceError(label, f"{key!r} has {len(table)} rows (lengths {shape})", expected, code="Ok")
    out = np.empty((rows, cols))
    for i, row in enumerate(table):
        for j, value in enumerate(row):
            if value is None:
                out[i, j] = np.inf
            elif isinstance(value, int | float) and not isinstance(value, bool):
                out[i, j] = value
            else:
                raise RoadServiceError(label, f"{key}[{i}][{j}] is {_snippet(repr(value))}", expected, code="Ok")
    return out


def _waypoints(body: dict[str, Any], key: str, count: int, label: str) -> list[tuple[np.ndarray | None, float | None]]:
    """Snapped (lat, lon) and snapping distance per waypoint; ``None`` where the response does not say."""
    items = body.get(key)
    if items is None:
        return [(None, None)] * count
    expected = f"{key!r}: {count} waypoints with location [lon, lat]"
    if not isinstance(items, list) or len(items) != count:
        got = len(items) if isinstance(items, list) else type(items).__name__
        raise RoadServiceError(label, f"{key!r} has {got} waypoints", expected, code="Ok")
    out: list[tuple[np.ndarray | None, float | None]] = []
    for k, item in enumerate(items):
        location = item.get("location") if isinstance(item, dict) else None
        if (
            not isinstance(location, list)
            or len(location) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in location)
        ):
            raise RoadServiceError(label, f"{key}[{k}] location is {_snippet(repr(location))}", expected, code="Ok")
        snap = item.get("distance")
        snap_m = float(snap) if isinstance(snap, int | float) and not isinstance(snap, bool) else None
        out.append((np.array([float(location[1]), float(location[0])]), snap_m))
    return out


def _code_message(response: requests.Response) -> tuple[str | None, str | None]:
    """OSRM's ``code`` and ``message`` from an error body, if it is JSON."""
    try:
        body = response.json()
    except ValueError:
        return None, None
    if not isinstance(body, dict):
        return None, None
    code, message = body.get("code"), body.get("message")
    return (str(code) if code is not None else None, _snippet(message) if message is not None else None)


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare from OSRM proxies, and the back-off still applies


def _snippet(value: object, limit: int = 80) -> str:
    """A one-line, bounded rendering of server text for an error message."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
