"""Classical and search solvers behind the :class:`~routelab.solvers.base.Solver` protocol."""

from routelab.solvers.base import Solver, UnsupportedInstance
from routelab.solvers.registry import get_solver, register, solver_names

__all__ = ["Solver", "UnsupportedInstance", "get_solver", "register", "solver_names"]
