"""Traffic assignment: the lower level (user equilibrium) of road network design.

Imports numpy and numba only; :mod:`routelab.problems` imports it lazily so that the shared format stays
numpy-only.
"""

from routelab.traffic.assignment import (
    ALGORITHMS,
    RoadNetwork,
    UEResult,
    all_or_nothing,
    beckmann,
    bpr_times,
    generalised_costs,
    relative_gap,
    solve_ue,
    tstt,
)

__all__ = [
    "ALGORITHMS",
    "RoadNetwork",
    "UEResult",
    "all_or_nothing",
    "beckmann",
    "bpr_times",
    "generalised_costs",
    "relative_gap",
    "solve_ue",
    "tstt",
]
