"""Lifelong multi-agent path finding: a fast numpy/numba simulator with POGEMA's lifelong semantics.

See :mod:`routelab.mapf.sim` for the step rule (POGEMA ``collision_system="soft"``, ``on_target="restart"``).
"""

from routelab.mapf.sim import (
    DOWN,
    LEFT,
    MOVES,
    RIGHT,
    UP,
    WAIT,
    ComponentGoalSource,
    Episode,
    GoalSource,
    SequenceGoalSource,
    Simulator,
    StepInfo,
    random_policy,
)

__all__ = [
    "DOWN",
    "LEFT",
    "MOVES",
    "RIGHT",
    "UP",
    "WAIT",
    "ComponentGoalSource",
    "Episode",
    "GoalSource",
    "SequenceGoalSource",
    "Simulator",
    "StepInfo",
    "random_policy",
]
