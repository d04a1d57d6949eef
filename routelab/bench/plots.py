"""Drawing an instance and its solution: routes on coordinates, for eyeballing what a solver did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from routelab.problems import Solution, atomic_write
from routelab.problems.errors import FormatError


def plot_routing(instance: Any, solution: Solution | None, path: str | Path, *, title: str | None = None) -> None:
    """Write a PNG of ``instance`` (and the tour/routes of ``solution``) to ``path``, atomically.

    Matrix-only instances have no positions to draw; they are refused with a clear error rather than drawn
    on an invented layout.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if instance.coords is None:
        raise FormatError(instance.name, "coords", "coordinates to draw (this instance has a matrix only)", "none")
    xy = instance.coords
    n = len(xy)
    fig, ax = plt.subplots(figsize=(7, 7), dpi=110)
    size = max(2.0, 30.0 / np.sqrt(max(n, 1) / 50))
    depot = getattr(instance, "depot", None)
    ax.scatter(xy[:, 0], xy[:, 1], s=size, c="0.25", zorder=3)
    if depot is not None:
        ax.scatter(xy[depot, 0], xy[depot, 1], s=size * 6, c="crimson", marker="s", zorder=4, label="depot")
    label = instance.name
    if solution is not None:
        if "tour" in solution.payload:
            tour = np.asarray(solution.payload["tour"] + solution.payload["tour"][:1], dtype=np.int64)
            ax.plot(xy[tour, 0], xy[tour, 1], lw=0.8, c="tab:blue", zorder=2)
        for k, route in enumerate(solution.payload.get("routes", [])):
            path_nodes = np.asarray([depot, *route, depot], dtype=np.int64)
            ax.plot(xy[path_nodes, 0], xy[path_nodes, 1], lw=1.0, zorder=2, color=plt.cm.tab20(k % 20))
        if solution.objective is not None:
            label += f" - {solution.solver}: {solution.objective:.6g}"
    ax.set_title(title or label)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()

    def write(handle: Any) -> None:
        fig.savefig(handle, format="png")

    try:
        atomic_write(path, write)
    finally:
        plt.close(fig)
