"""The shared format: instances, solutions, (de)serialisation and the independent scorer.

Imports numpy only, so every other layer (readers, solvers, models, the bench runner) can depend on it.
"""

from routelab.problems.coordination import CoordinationInstance
from routelab.problems.cvrp import CVRPInstance
from routelab.problems.cvrptw import CVRPTWInstance
from routelab.problems.documents import (
    atomic_write,
    load_dataset,
    load_instance,
    load_solution,
    save_dataset,
    save_instance,
    save_solution,
)
from routelab.problems.errors import FormatError
from routelab.problems.kinds import KINDS, gap_percent, get_kind, objective_sense
from routelab.problems.mapf import LifelongMAPFInstance
from routelab.problems.network_design import NetworkDesignInstance
from routelab.problems.score import Score
from routelab.problems.solution import Solution, check, score_payload
from routelab.problems.tsp import TSPInstance

__all__ = [
    "KINDS",
    "CVRPInstance",
    "CVRPTWInstance",
    "CoordinationInstance",
    "FormatError",
    "LifelongMAPFInstance",
    "NetworkDesignInstance",
    "Score",
    "Solution",
    "TSPInstance",
    "atomic_write",
    "check",
    "gap_percent",
    "get_kind",
    "load_dataset",
    "load_instance",
    "load_solution",
    "objective_sense",
    "save_dataset",
    "save_instance",
    "save_solution",
    "score_payload",
]
