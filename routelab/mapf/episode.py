"""Running a policy on a ``lifelong_mapf`` instance: the instance's own goal stream drives the simulator.

The simulator (:mod:`routelab.mapf.sim`) can draw goals POGEMA's way, but an instance fixes its goals itself
(:meth:`routelab.problems.mapf.LifelongMAPFInstance.goal_stream`) so that the scorer can recount them from the
instance alone; :class:`InstanceGoalSource` hands the simulator exactly that stream, so what a solver executes
and what the scorer recounts are the same goals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from routelab.mapf.sim import Episode, Simulator


class InstanceGoalSource:
    """Goals from ``instance.goal_stream(agent)``, in order. An agent whose explicit list is used up gets its
    current cell back and so simply stays there (the scorer counts no further goals for it)."""

    def __init__(self, instance: Any) -> None:
        self.instance = instance
        self.exhausted: set[int] = set()
        self._streams: list[Iterator[tuple[int, int]]] = []
        self.reset()

    def reset(self) -> None:
        self._streams = [self.instance.goal_stream(a) for a in range(self.instance.num_agents)]
        self.exhausted = set()

    def next_goal(self, agent: int, current_cell: tuple[int, int]) -> tuple[int, int]:
        if agent not in self.exhausted:
            try:
                return next(self._streams[agent])
            except StopIteration:
                self.exhausted.add(agent)
        return current_cell


def run_episode(instance: Any, policy: Callable[[Simulator], np.ndarray]) -> tuple[dict[str, Any], Episode]:
    """Simulate ``policy`` for the instance's horizon; returns the solution payload (executed paths) and episode."""
    sim = Simulator(instance.grid, instance.starts, InstanceGoalSource(instance), instance.horizon)
    episode = sim.run(policy)
    paths = np.ascontiguousarray(episode.trajectory.transpose(1, 0, 2))
    return {"paths": paths.tolist()}, episode
