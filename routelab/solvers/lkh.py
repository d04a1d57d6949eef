"""``lkh``: Keld Helsgaun's LKH-3 through the ``elkai`` package, for symmetric and asymmetric TSP.

elkai's public wrappers (``DistanceMatrix.solve_tsp(runs=...)``, ``Coordinates2D``) only expose ``RUNS``; they
hand a TSPLIB problem text and an LKH parameter text to ``elkai._elkai.solve_problem``. We call that function
directly, with the same two texts, so that LKH's own ``SEED`` and ``TOTAL_TIME_LIMIT`` parameters reach it.

Lengths. LKH takes integer arc costs (and multiplies them by ``PRECISION``, 100 by default, in a 32-bit int).
Coordinate instances are passed as coordinates with LKH's matching rounding, so no n x n matrix is built and a
10,000-city instance stays cheap:

- ``nint`` -> ``EUC_2D``, ``ceil`` -> ``CEIL_2D``, ``att`` -> ``ATT``, ``geo`` -> ``GEO`` (factor 1, exact);
- ``trunc1`` -> ``FLOOR_2D`` on coordinates times 10 (floor(10 d) = 10 * the one-decimal truncation);
- ``exact`` -> ``EUC_2D`` on coordinates times the factor of :func:`routelab.solvers.scaling.length_scale`
  (nearest integer of factor * d; factor keeps the longest arc <= 10**6).

Matrix instances (``rounding == "matrix"``) become ``EXPLICIT FULL_MATRIX`` (type ``ATSP`` when asymmetric),
lengths times the same factor, rounded. ``PRECISION`` is lowered when the longest scaled arc would overflow.
The reported tour length is recomputed from the instance by the shared scorer, never taken from LKH.

Time limit. ``TOTAL_TIME_LIMIT`` is checked by LKH between trials; its preprocessing (the subgradient ascent
that builds candidate sets) and the first trial cannot be interrupted. From :data:`LARGE_NODES` cities on we
switch to POPMUSIC candidates and a short ascent, which brings 2,000 random cities under 1 s, but 10,000 cities
still need about 8 s on one core before the first tour exists. When the limit ends before that, LKH returns
no tour and this solver answers objective None with the reason in ``stats["status"]``; it does not raise.
Without a time limit LKH runs its own default of ``runs`` (10) runs.

Seed. LKH treats ``SEED = 0`` as "seed from the clock", so seed ``k`` is passed as ``SEED = k + 1``; runs are
then deterministic for a given seed (up to where the wall-clock limit cuts the search).

CVRP. LKH-3 itself solves CVRP, but elkai 2.0.1's build of it crashes the interpreter (segmentation fault) on
any ``TYPE : CVRP`` problem, so this solver declares tsp only.
"""

from __future__ import annotations

import itertools
from typing import Any

import elkai._elkai as _elkai
import numpy as np

from routelab.problems import Solution
from routelab.solvers.base import Stopwatch, ensure_supported, kind_reason
from routelab.solvers.results import no_solution, scored_solution
from routelab.solvers.scaling import length_scale, max_arc_bound, round_nearest

DEFAULT_RUNS = 10
"""LKH's own default number of runs; with a time limit the runs stop when the limit is reached."""

DEFAULT_PRECISION = 100
"""LKH's default internal precision (arc costs are multiplied by it in 32-bit ints)."""

INT32_BUDGET = 2**30
"""Keep ``PRECISION * longest arc`` below this (half of INT_MAX, headroom for LKH's pi penalties)."""

MAX_MATRIX_NODES = 5000
"""An explicit matrix is sent as text; beyond this (25M numbers) the text alone is hundreds of MB."""

COORD_TYPES: dict[str, str] = {
    "nint": "EUC_2D",
    "ceil": "CEIL_2D",
    "att": "ATT",
    "geo": "GEO",
    "trunc1": "FLOOR_2D",
    "exact": "EUC_2D",
}
"""LKH's EDGE_WEIGHT_TYPE for each coordinate rounding convention (see the module docstring)."""

LARGE_NODES = 1000
"""From this size on (symmetric only) LKH uses POPMUSIC candidate sets and a short ascent (``INITIAL_PERIOD =
100``): the default alpha-nearness ascent is O(n**2) and on 2,000 random cities outlasts a 1 s limit, after
which LKH returns no tour at all."""

LARGE_PARAMS: tuple[str, ...] = ("CANDIDATE_SET_TYPE = POPMUSIC", "INITIAL_PERIOD = 100")

BRUTE_FORCE_NODES = 3
"""elkai needs at least 3 cities; with this few every tour is tried directly."""


class LKHSolver:
    """LKH-3 (via elkai) for tsp; symmetric instances as TSP, asymmetric matrices as ATSP.

    Args:
        runs: LKH ``RUNS``; each run restarts from a new initial tour and the best tour of all runs is kept.
        max_trials: LKH ``MAX_TRIALS`` per run (None: LKH's default, the number of cities).
    """

    name = "lkh"
    kinds = frozenset({"tsp"})
    needs = (
        f"tsp only (elkai's LKH-3 crashes on CVRP); symmetric or asymmetric; at most {MAX_MATRIX_NODES} "
        "nodes for a matrix instance; time limit checked between trials, preprocessing not interruptible"
    )

    def __init__(self, runs: int = DEFAULT_RUNS, max_trials: int | None = None) -> None:
        if int(runs) != runs or runs < 1:
            raise ValueError(f"runs must be a positive integer, got {runs!r}")
        if max_trials is not None and (int(max_trials) != max_trials or max_trials < 1):
            raise ValueError(f"max_trials must be a positive integer, got {max_trials!r}")
        self.runs = int(runs)
        self.max_trials = None if max_trials is None else int(max_trials)

    def supports(self, instance: Any) -> str | None:
        reason = kind_reason(self, instance)
        if reason is not None:
            return reason
        if instance.distance_matrix is not None and instance.num_nodes > MAX_MATRIX_NODES:
            return f"more than {MAX_MATRIX_NODES} nodes in an explicit matrix ({instance.num_nodes})"
        return None

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)
        clock = Stopwatch()
        n = instance.num_nodes
        stats: dict[str, Any] = {"seed": seed, "runs": self.runs, "time_limit": time_limit}
        if n <= BRUTE_FORCE_NODES:
            tour = _brute_force(instance)
            stats.update(status="solved by enumeration (fewer than 4 cities)", scale=1)
        else:
            problem, scale, max_scaled = _problem_text(instance)
            precision = DEFAULT_PRECISION if max_scaled <= 0 else min(DEFAULT_PRECISION, INT32_BUDGET // max_scaled)
            if precision < 1:
                return no_solution(self.name, instance, clock, stats, "arc lengths too large for LKH")
            params = [f"RUNS = {self.runs}", "PROBLEM_FILE = :stdin:", f"SEED = {int(seed) + 1}"]
            params.append(f"PRECISION = {precision}")
            if n >= LARGE_NODES and _header(problem, "TYPE") == "TSP":
                params.extend(LARGE_PARAMS)
            if self.max_trials is not None:
                params.append(f"MAX_TRIALS = {self.max_trials}")
            if time_limit is not None:
                params.append(f"TOTAL_TIME_LIMIT = {max(0.01, clock.remaining(time_limit)):.3f}")
            stats.update(scale=scale, precision=precision, edge_weight_type=_header(problem, "EDGE_WEIGHT_TYPE"))
            try:
                raw = _elkai.solve_problem("\n".join(params) + "\n", problem)
            except Exception as error:  # LKH reports errors via longjmp -> SystemError without a message
                return no_solution(self.name, instance, clock, stats, f"LKH failed: {error!r}")
            tour = [int(c) - 1 for c in raw]
            if not tour and time_limit is not None:
                why = "time limit reached before LKH's preprocessing and first trial finished"
                return no_solution(self.name, instance, clock, stats, why)
            if sorted(tour) != list(range(n)):
                return no_solution(self.name, instance, clock, stats, "LKH returned no permutation")
            stats["status"] = "ok"
        start = tour.index(0)
        tour = tour[start:] + tour[:start]
        return scored_solution(self.name, instance, {"tour": tour}, clock, stats)


def _header(problem: str, key: str) -> str:
    """A field of the TSPLIB header (the first few lines; the body may be megabytes)."""
    for line in problem.split("\n", 8)[:8]:
        if line.startswith(key):
            return line.split(":", 1)[1].strip()
    return ""


def _brute_force(instance: Any) -> list[int]:
    n = instance.num_nodes
    dist = instance.distances
    tours = ([0, *p] for p in itertools.permutations(range(1, n)))
    return min(tours, key=lambda t: float(dist[t, np.roll(t, -1)].sum()))


def _problem_text(instance: Any) -> tuple[str, int, int]:
    """The TSPLIB text for LKH, the length factor used, and the longest scaled arc (for PRECISION)."""
    n = instance.num_nodes
    scale = length_scale(instance)
    if instance.distance_matrix is None:
        weight_type = COORD_TYPES[instance.rounding]
        coords = instance.coords
        if instance.rounding in ("trunc1", "exact"):  # FLOOR_2D / EUC_2D of scaled coordinates, see module doc
            coords = coords * scale
        longest = int(np.ceil(max_arc_bound(instance) * scale)) + 1
        if instance.rounding == "geo":
            longest = 20_038  # half the idealised earth's circumference in km, the longest GEO length
        lines = ["TYPE : TSP", f"DIMENSION : {n}", f"EDGE_WEIGHT_TYPE : {weight_type}", "NODE_COORD_SECTION"]
        lines += [f"{i + 1} {float(x)!r} {float(y)!r}" for i, (x, y) in enumerate(coords)]
        return "\n".join(lines) + "\nEOF\n", scale, longest
    weights = round_nearest(instance.distances, scale)
    np.fill_diagonal(weights, 0)
    kind = "TSP" if np.array_equal(weights, weights.T) else "ATSP"
    header = [
        f"TYPE : {kind}",
        f"DIMENSION : {n}",
        "EDGE_WEIGHT_TYPE : EXPLICIT",
        "EDGE_WEIGHT_FORMAT : FULL_MATRIX",
        "EDGE_WEIGHT_SECTION",
    ]
    body = "\n".join(" ".join(map(str, row)) for row in weights.tolist())
    return "\n".join(header) + "\n" + body + "\nEOF\n", scale, int(weights.max())
