"""The one-instance-per-line TSP test sets of the heatmap + MCTS literature (Fu et al., DIFUSCO, DIMES, ...).

Each line is ``x1 y1 x2 y2 ... xN yN output t1 t2 ... tN t1``: coordinates in [0, 1]^2, then the stored tour
as 1-based city ids, closed (the first city repeated at the end). Instances read as ``rounding="exact"`` and
are named ``<file stem>-<line index>`` (``tsp500_test_concorde-0``), so a result row points back at its line.
Only the first ``limit`` lines are parsed when asked, since the 10,000-city file is large.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from pathlib import Path

import numpy as np

from routelab.data._common import build, write_text
from routelab.problems import FormatError, Solution, TSPInstance, score_payload

SEPARATOR = "output"


def _lines(path: Path, limit: int | None) -> Iterator[tuple[int, str]]:
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    try:
        with path.open() as handle:
            numbered = ((k, line) for k, line in enumerate(handle) if line.strip())
            yield from islice(numbered, limit)
    except FileNotFoundError:
        raise FormatError(str(path), "file", "an existing file", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(str(path), "file", "a readable text file", str(exc)) from None


def _parse_line(path: Path, index: int, line: str) -> tuple[TSPInstance, list[int] | None]:
    source = f"{path}:{index + 1}"
    coord_text, sep, tour_text = line.partition(SEPARATOR)
    try:
        values = np.asarray(coord_text.split(), dtype=np.float64)
    except ValueError:
        bad = next(t for t in coord_text.split() if not _is_number(t))
        raise FormatError(source, "coordinates", "numbers 'x1 y1 x2 y2 ...'", bad) from None
    if values.size % 2 or values.size < 4:
        raise FormatError(source, "coordinates", "an even count of at least 4 numbers (x y pairs)", values.size)
    coords = values.reshape(-1, 2)
    n = len(coords)
    tour: list[int] | None = None
    if sep:
        tokens = tour_text.split()
        try:
            ids = [int(t) for t in tokens]
        except ValueError:
            bad = next(t for t in tokens if not _is_number(t))
            raise FormatError(source, "tour", "1-based integer city ids after 'output'", bad) from None
        if len(ids) != n + 1 or ids[0] != ids[-1]:
            raise FormatError(source, "tour", f"{n + 1} ids, closed (the first id repeated last)", f"{len(ids)} ids")
        tour = [i - 1 for i in ids[:-1]]
    name = f"{path.stem}-{index}"
    meta = {"source": "tsp_testset", "file": path.name, "line": index}
    instance = build(source, lambda: TSPInstance(name=name, coords=coords, rounding="exact", meta=meta))
    return instance, tour


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_tsp_testset(path: str | Path, limit: int | None = None) -> list[TSPInstance]:
    """The instances of a test-set file (the first ``limit`` non-empty lines when given)."""
    path = Path(path)
    return [_parse_line(path, k, line)[0] for k, line in _lines(path, limit)]


def read_tsp_testset_with_tours(
    path: str | Path, limit: int | None = None
) -> list[tuple[TSPInstance, Solution | None]]:
    """Instances with their stored tours as ``solver="reference"`` Solutions (None for lines without a tour).

    The stored tours are references, not optima (see the benchmark README); the tsp10000 file's are the
    placeholder 1..N, flagged ``stats["identity_tour"]``. ``objective`` is the recomputed length.
    """
    path = Path(path)
    out: list[tuple[TSPInstance, Solution | None]] = []
    for k, line in _lines(path, limit):
        instance, tour = _parse_line(path, k, line)
        solution = None
        if tour is not None:
            payload = {"tour": tour}
            solution = Solution(
                kind="tsp",
                instance=instance.name,
                solver="reference",
                payload=payload,
                objective=score_payload(instance, payload).objective,
                feasible=True,
                stats={"file": path.name, "line": k, "identity_tour": tour == list(range(len(tour)))},
            )
        out.append((instance, solution))
    return out


def tsp_testset_line(instance: TSPInstance, tour: Sequence[int] | None = None, source: str = "<tsp_testset>") -> str:
    """One line of the format; without a tour the placeholder 1..N is written (as in the tsp10000 file)."""
    if instance.kind != "tsp" or instance.coords is None or instance.distance_matrix is not None:
        raise FormatError(
            source, "kind", "a coordinate tsp instance (the test-set format has no matrix)", instance.kind
        )
    if instance.rounding != "exact":
        raise FormatError(source, "rounding", "'exact' (the test-set convention); use .json/.npz", instance.rounding)
    order = list(range(instance.num_nodes)) if tour is None else [int(c) for c in tour]
    coords = " ".join(repr(float(v)) for v in instance.coords.ravel())
    ids = " ".join(str(c + 1) for c in [*order, order[0]])
    return f"{coords} {SEPARATOR} {ids}"


def write_tsp_testset(
    instances: Sequence[TSPInstance], path: str | Path, tours: Sequence[Sequence[int] | None] | None = None
) -> None:
    """Write instances (and optionally their tours, 0-based) one per line, atomically."""
    if tours is not None and len(tours) != len(instances):
        raise ValueError(f"{len(tours)} tours for {len(instances)} instances")
    lines = [tsp_testset_line(inst, None if tours is None else tours[k], str(path)) for k, inst in enumerate(instances)]
    write_text(path, "\n".join(lines) + "\n")
