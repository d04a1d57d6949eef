"""Drawing a ``coordination`` instance and schedule: the roadmap with every reference path, and a Gantt chart.

The schedule drawn is the scorer's (earliest starts of the solution's orders), never a solver's claim: each robot
is one row, its intervals are bars (coloured like its path), and the time it spends waiting between two intervals
is a grey bar, so congestion shows up as grey. Without a solution the free-flow schedule (nobody in the way) is
drawn instead. An order that deadlocks is refused with the scorer's message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from routelab.problems import FormatError, Solution, atomic_write
from routelab.problems.coordination import CoordinationInstance, parse_payload, score


def schedule_of(instance: CoordinationInstance, solution: Solution | None) -> tuple[np.ndarray, str]:
    """Interval start times to draw and a title fragment; the scorer's schedule of ``solution``."""
    if solution is None:
        iv = instance.intervals
        csum = np.concatenate([[0.0], np.cumsum(iv["duration"])])
        before = csum[:-1] - csum[instance.path_offsets[:-1]][iv["robot"]]
        start = instance.release_times[iv["robot"]] + before
        return start, f"free flow (no solution): mean completion {start[iv['last']].mean():.4g}"
    payload = parse_payload(solution.solver, solution.payload)
    verdict = score(instance, payload)
    if not verdict.feasible:
        raise FormatError(solution.solver, "orders", "a feasible solution to draw", verdict.violations[0])
    start, _ = instance.evaluator.schedule(payload["orders"], payload.get("modes"))
    return (
        start,
        f"{solution.solver}: mean completion {verdict.objective:.4g}, makespan {verdict.details['makespan']:.4g}",
    )


def plot_coordination(
    instance: CoordinationInstance, solution: Solution | None, path: str | Path, *, max_rows: int = 250
) -> None:
    """Write a PNG with the roadmap and paths (left) and the Gantt chart of the schedule (right), atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    start, subtitle = schedule_of(instance, solution)
    iv = instance.intervals
    robots = instance.num_robots
    palette = [plt.get_cmap("tab20")(i) for i in range(20) if i not in (14, 15)]  # no greys: grey means waiting
    colours = [palette[r % len(palette)] for r in range(robots)]
    xy = instance.coords
    fig, (ax_map, ax_gantt) = plt.subplots(
        1, 2, figsize=(15, 7), dpi=110, gridspec_kw={"width_ratios": [1.0, 1.3]}, constrained_layout=True
    )

    # Roadmap and reference paths.
    segments = xy[instance.edges]
    ax_map.add_collection(LineCollection(segments, colors="0.85", linewidths=0.6, zorder=1))
    ax_map.scatter(xy[:, 0], xy[:, 1], s=2, c="0.7", zorder=2)
    jitter = 0.15 * (np.random.default_rng(0).random((robots, 2)) - 0.5)  # keep overlapping paths apart
    for r in range(robots):
        p = xy[instance.path(r)] + jitter[r]
        ax_map.plot(p[:, 0], p[:, 1], color=colours[r], linewidth=1.0, alpha=0.8, zorder=3)
        ax_map.scatter(p[0, 0], p[0, 1], marker="o", s=14, color=colours[r], edgecolors="k", linewidths=0.4, zorder=4)
        ax_map.scatter(p[-1, 0], p[-1, 1], marker="*", s=30, color=colours[r], edgecolors="k", linewidths=0.3, zorder=4)
    ax_map.set_aspect("equal")
    ax_map.invert_yaxis()  # grid roadmaps put row 0 at the top, as the map files do
    ax_map.set_title(f"{instance.name}: {robots} robots, {instance.num_conflicts} conflicts (o start, * goal)")
    ax_map.set_xticks([])
    ax_map.set_yticks([])

    # Gantt: one row per robot, intervals in colour, waiting in grey.
    shown = min(robots, max_rows)
    height = 0.8
    for r in range(shown):
        lo, hi = int(instance.path_offsets[r]), int(instance.path_offsets[r + 1])
        s = start[lo:hi]
        d = iv["duration"][lo:hi]
        moving = [(float(s[k]), float(d[k])) for k in range(hi - lo - 1)]
        ax_gantt.broken_barh(moving, (r - height / 2, height), facecolors=colours[r], edgecolor="none")
        ends = s[:-1] + d[:-1]
        waits = [(float(e), float(n - e)) for e, n in zip(ends, s[1:], strict=True) if n - e > 1e-9]
        if waits:
            ax_gantt.broken_barh(waits, (r - height / 2, height), facecolors="0.3", edgecolor="none")
        if instance.release_times[r] > 0:
            ax_gantt.plot([instance.release_times[r]] * 2, [r - height / 2, r + height / 2], color="k", lw=0.8)
    ax_gantt.set_ylim(shown - 0.5, -0.5)
    ax_gantt.set_xlabel("time")
    ax_gantt.set_ylabel("robot")
    more = f" (first {shown} of {robots} robots)" if shown < robots else ""
    ax_gantt.set_title(f"schedule, dark grey = waiting{more}\n{subtitle}")

    def write(handle: Any) -> None:
        fig.savefig(handle, format="png")

    try:
        atomic_write(path, write)
    finally:
        plt.close(fig)
