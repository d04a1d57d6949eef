"""Shared fixtures for the bench tests: tiny instances on disk, spec writing and test-only solvers.

The solvers live in an importable module (not in a test file) because the runner names a solver by
``module:Class`` so that freshly spawned worker processes can rebuild it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from routelab.problems import CVRPInstance, Solution, TSPInstance, save_instance
from routelab.solvers.nearest import NearestNeighbourSolver
from routelab.solvers.registry import register

VOLATILE = ("runtime_s", "hostname", "timestamp")
"""Columns that differ between two runs of the same job."""


def tsp(name: str, n: int, seed: int) -> TSPInstance:
    coords = np.random.default_rng(seed).uniform(0, 100, size=(n, 2))
    return TSPInstance(name=name, coords=coords)


def cvrp(name: str, n: int, seed: int) -> CVRPInstance:
    rng = np.random.default_rng(seed)
    demands = rng.integers(1, 5, size=n)
    demands[0] = 0
    return CVRPInstance(name=name, coords=rng.uniform(0, 100, size=(n, 2)), demands=demands, capacity=10)


def write_instances(root: Path) -> dict[str, Any]:
    """Three tsp and one cvrp instance as shared-format .json under ``root``; returns them by name."""
    made = {
        "t1": tsp("t1", 8, 1),
        "t2": tsp("t2", 10, 2),
        "t3": tsp("t3", 12, 3),
        "c1": cvrp("c1", 9, 4),
    }
    for name, inst in made.items():
        folder = "tsp" if inst.kind == "tsp" else "cvrp"
        save_instance(inst, root / folder / f"{name}.json")
    return made


def write_spec(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def comparable(row: Any) -> dict[str, Any]:
    return {k: v for k, v in row.as_dict().items() if k not in VOLATILE}


class SlowSolver(NearestNeighbourSolver):
    """Nearest neighbour after a nap of $BENCH_TEST_DELAY seconds: lets a test kill a run mid-way."""

    name = "slow"

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        time.sleep(float(os.environ.get("BENCH_TEST_DELAY", "0")))
        solution = super().solve(instance, time_limit=time_limit, seed=seed)
        solution.solver = self.name
        return solution


class LyingSolver(NearestNeighbourSolver):
    """A valid tour with a made-up objective: the row must carry the scorer's number, not this one."""

    name = "lying"

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        solution = super().solve(instance, time_limit=time_limit, seed=seed)
        solution.objective = 1.0
        solution.stats = {"lower_bound": 0.5, "status": "made up"}
        return solution


class BrokenTourSolver(NearestNeighbourSolver):
    """Visits city 0 twice and skips the last: infeasible."""

    name = "broken"

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        n = instance.num_nodes
        tour = [0, *range(n - 2), 0] if n > 2 else [0, 0]
        return Solution(kind="tsp", instance=instance.name, solver=self.name, payload={"tour": tour}, objective=1.0)


class GiveUpSolver(NearestNeighbourSolver):
    """Finds nothing (objective None, empty payload)."""

    name = "giveup"

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        return Solution(kind=instance.kind, instance=instance.name, solver=self.name, payload={})


class CrashingSolver(NearestNeighbourSolver):
    """Raises on seed 1, works otherwise."""

    name = "crashing"

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        if seed == 1:
            raise RuntimeError("boom\non two lines")
        return super().solve(instance, time_limit=time_limit, seed=seed)


class CVRPOnlySolver(NearestNeighbourSolver):
    name = "cvrp-only"
    kinds = frozenset({"cvrp"})


class OptionSolver(NearestNeighbourSolver):
    """Accepts exactly one option, to test that bad options fail at planning time."""

    name = "optioned"

    def __init__(self, strength: int = 1) -> None:
        self.strength = strength


TEST_SOLVERS = {
    "slow": SlowSolver,
    "lying": LyingSolver,
    "broken": BrokenTourSolver,
    "giveup": GiveUpSolver,
    "crashing": CrashingSolver,
    "cvrp-only": CVRPOnlySolver,
    "optioned": OptionSolver,
}


def register_test_solvers() -> None:
    for name, cls in TEST_SOLVERS.items():
        register(name, f"{cls.__module__}:{cls.__qualname__}")


class DyingSolver(NearestNeighbourSolver):
    """Kills its own (worker) process on seed 1, like a segfaulting native solver; harmless in the test process."""

    name = "dying"

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        import multiprocessing

        if seed == 1 and multiprocessing.parent_process() is not None:
            os._exit(3)
        time.sleep(0.05)
        return super().solve(instance, time_limit=time_limit, seed=seed)


TEST_SOLVERS["dying"] = DyingSolver


class ShuffleSolver(NearestNeighbourSolver):
    """Nearest neighbour, or (by default) a seeded random tour: a tunable option with a known best value."""

    name = "shuffle"
    tuning_space: ClassVar[dict[str, tuple[Any, ...]]] = {"shuffle": (True, False)}

    def __init__(self, shuffle: bool = True) -> None:
        self.shuffle = shuffle

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        if not self.shuffle:
            return super().solve(instance, time_limit=time_limit, seed=seed)
        tour = [0, *(np.random.default_rng(seed).permutation(instance.num_nodes - 1) + 1).tolist()]
        return Solution(kind="tsp", instance=instance.name, solver=self.name, payload={"tour": tour})


TEST_SOLVERS["shuffle"] = ShuffleSolver
