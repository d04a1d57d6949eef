"""GT-Prior: how often an optimal tour leaves a city towards its r-th nearest neighbour, as a heatmap.

Pan et al. observe that this rank distribution alone (no learning per instance) guides MCTS about as well as
learned heatmaps. We estimate it from tours the suite computes itself: LKH-3 (``lkh``) on seeded uniform random
instances of several sizes, never on a test set. The table is small (one probability per rank per size) and
ships in the package as ``checkpoints/gt_prior.json`` together with how it was fitted;
``routelab train gt-prior`` refits it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from routelab.problems import FormatError, atomic_write
from routelab.solvers.heatmaps import Heatmap, nearest_neighbours

TABLE_FILE = "gt_prior.json"


def rank_counts(coords: np.ndarray, tour: Sequence[int], k: int) -> np.ndarray:
    """Counts of tour edges by neighbour rank: entry r < k is "to the (r+1)-th nearest", entry k is "further"."""
    neighbours, _ = nearest_neighbours(coords, k)
    t = np.asarray(tour, dtype=np.int64)
    counts = np.zeros(k + 1, dtype=np.int64)
    for a, b in ((t, np.roll(t, -1)), (np.roll(t, -1), t)):  # each edge seen from both of its cities
        hit = neighbours[a] == b[:, None]
        ranks = np.where(hit.any(axis=1), hit.argmax(axis=1), k)
        counts += np.bincount(ranks, minlength=k + 1)
    return counts


def fit_table(sizes: Sequence[int], count: int, seed: int, k: int = 20, time_limit: float = 10.0) -> dict[str, Any]:
    """Solve ``count`` generated instances per size with LKH and turn the rank counts into probabilities."""
    from routelab.data.generate import generate
    from routelab.problems import check
    from routelab.solvers import get_solver

    lkh = get_solver("lkh")
    tables: dict[str, list[float]] = {}
    started = time.perf_counter()
    for size in sizes:
        counts = np.zeros(k + 1, dtype=np.int64)
        for instance in generate("tsp", int(size), count, seed):
            solution = lkh.solve(instance, time_limit=time_limit, seed=seed)
            if not check(instance, solution).feasible:
                raise RuntimeError(f"LKH gave no valid tour on {instance.name}")
            counts += rank_counts(instance.coords, solution.payload["tour"], k)
        tables[str(size)] = (counts / counts.sum()).tolist()
    return {
        "k": k,
        "tables": tables,
        "fitted": {
            "how": "LKH-3 (routelab lkh solver) tours of uniform random instances from routelab.data.generate",
            "sizes": list(map(int, sizes)),
            "instances_per_size": count,
            "seed": seed,
            "lkh_time_limit_s": time_limit,
            "seconds": round(time.perf_counter() - started, 1),
            "last_entry": "probability that the edge goes beyond the k nearest neighbours",
        },
    }


def save_table(table: dict[str, Any], path: str | Path) -> None:
    text = json.dumps(table, indent=1) + "\n"
    atomic_write(path, lambda handle: handle.write(text.encode()))


def load_table(path: str | Path | None = None) -> dict[str, Any]:
    """The shipped table (or the one at ``path``), checked."""
    if path is None:
        text = resources.files("routelab.solvers").joinpath("checkpoints", TABLE_FILE).read_text()
        source = f"routelab/solvers/checkpoints/{TABLE_FILE}"
    else:
        source = str(path)
        text = Path(path).read_text()
    table = json.loads(text)
    k = table.get("k")
    tables = table.get("tables")
    if not isinstance(k, int) or not isinstance(tables, dict) or not tables:
        raise FormatError(source, "k/tables", "a rank-probability table written by routelab train gt-prior", "other")
    for size, probs in tables.items():
        if len(probs) != k + 1:
            raise FormatError(source, f"tables.{size}", f"{k + 1} probabilities", len(probs))
    return table


def gt_prior(coords: np.ndarray, k: int = 20, table: dict[str, Any] | None = None) -> Heatmap:
    """Heat ``P(rank r)`` on each city's r-th nearest neighbour, from the fitted size nearest in log n."""
    table = table or load_table()
    k = min(k, int(table["k"]), len(coords) - 1)
    sizes = sorted(int(s) for s in table["tables"])
    size = min(sizes, key=lambda s: abs(np.log(s) - np.log(len(coords))))
    probs = np.asarray(table["tables"][str(size)][:k], dtype=np.float64)
    neighbours, _ = nearest_neighbours(coords, k)
    return Heatmap(neighbours, np.broadcast_to(probs, neighbours.shape).copy(), name="gt_prior")
