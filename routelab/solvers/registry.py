"""Names to solver classes. ``get_solver("ortools", first_solution="savings")`` builds a configured solver.

Solvers register lazily (by import path) so that listing solvers or solving with OR-Tools never imports
torch or Ray.
"""

from __future__ import annotations

import importlib
from typing import Any

from routelab.solvers.base import Solver

_REGISTRY: dict[str, str] = {
    "ortools": "routelab.solvers.ortools_routing:ORToolsSolver",
    "milp": "routelab.solvers.milp:MILPSolver",
    "lkh": "routelab.solvers.lkh:LKHSolver",
    "pyvrp": "routelab.solvers.pyvrp_hgs:PyVRPSolver",
    "nearest": "routelab.solvers.nearest:NearestNeighbourSolver",
    "mcts": "routelab.solvers.mcts:MCTSSolver",
    "rrnco": "routelab.solvers.rrnco:RRNCOSolver",
    "matnet": "routelab.solvers.rrnco:MatNetSolver",
    "rhcr": "routelab.solvers.mapf_solvers:RHCRSolver",
    "follower": "routelab.solvers.mapf_solvers:FollowerSolver",
    "mapf-milp": "routelab.solvers.mapf_window_milp:WindowMILPSolver",
    "ue": "routelab.solvers.ue:UESolver",
    "ga": "routelab.solvers.ndp_ga:SurrogateGASolver",
    "ga-ue": "routelab.solvers.ndp_ga:UEGASolver",
    "fcfs": "routelab.solvers.coordination_heuristics:FCFSSolver",
    "coord-ls": "routelab.solvers.coordination_heuristics:LocalSearchSolver",
    "coord-random": "routelab.solvers.coordination_heuristics:RandomPrioritySolver",
    "gnnvae": "routelab.solvers.gnnvae:GNNVAESolver",
    "greedy": "routelab.solvers.ndp_greedy:GreedySolver",
    "ndp-enum": "routelab.solvers.ndp_enum:EnumerationSolver",
}


def register(name: str, target: str) -> None:
    """Register ``target`` (``"module:Class"``) under ``name``; later families add themselves here."""
    _REGISTRY[name] = target


def solver_names() -> list[str]:
    return sorted(_REGISTRY)


def solver_class(name: str) -> type:
    if name not in _REGISTRY:
        raise KeyError(f"unknown solver {name!r}; known solvers: {', '.join(solver_names())}")
    module, cls = _REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)


def get_solver(name: str, **options: Any) -> Solver:
    """An instance of solver ``name`` configured with ``options`` (a TypeError names a bad option)."""
    return solver_class(name)(**options)
