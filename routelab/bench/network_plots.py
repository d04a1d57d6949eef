"""Drawing a ``network_design`` instance at user equilibrium: link flows as widths, volume/capacity as colours.

The flows drawn are the scorer's: the UE of the network with the solution's projects built is solved here, to the
instance's own gap, rather than read from the solution (a solver's flows are a claim). Each direction of a
two-way road is drawn slightly to its right, so both stay visible. Built projects are outlined in black; new
links are dashed. Node positions come from a TNTP ``*_node.tntp`` when one is given (or lies beside a ``*_net.tntp``
instance file); otherwise a Kamada-Kawai layout of the road graph is used, which keeps the topology readable
but is not geography (the title says so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from routelab.problems import FormatError, Solution, atomic_write
from routelab.problems.network_design import NetworkDesignInstance, parse_payload


def layout(instance: NetworkDesignInstance) -> np.ndarray:
    """Deterministic ``(num_nodes, 2)`` positions from the road graph alone (no coordinates in the format)."""
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(instance.num_nodes))
    graph.add_edges_from(zip(instance.tail.tolist(), instance.head.tolist(), strict=True))
    pos = nx.kamada_kawai_layout(graph)
    return np.array([pos[v] for v in range(instance.num_nodes)], dtype=np.float64)


def _built_links(instance: NetworkDesignInstance, projects: list[int]) -> tuple[set[int], set[int]]:
    """Links whose capacity a project changed, and the indices of new links (after the base ones)."""
    changed: set[int] = set()
    new: set[int] = set()
    added = instance.num_links
    for k in projects:
        p = instance.projects[k]
        if p["type"] == "add_lane":
            changed.add(p["link"])
        elif p["type"] == "swap_lane":
            changed.update((p["from_link"], p["to_link"]))
        else:
            new.add(added)
            added += 1
    return changed, new


def plot_network_design(
    instance: NetworkDesignInstance,
    solution: Solution | None,
    path: str | Path,
    *,
    coords: np.ndarray | None = None,
) -> dict[str, Any]:
    """Write a PNG of the UE of ``instance`` with ``solution``'s projects built (none without a solution).

    Returns what was drawn (TSTT, the largest volume/capacity, the layout used), which the CLI prints.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    projects: list[int] = []
    if solution is not None:
        projects = parse_payload(solution.solver, solution.payload)["projects"]
        bad = [k for k in projects if not 0 <= k < instance.num_projects]
        if bad:
            raise FormatError(solution.solver, "projects", f"indices in 0..{instance.num_projects - 1}", bad[0])
    if coords is not None and coords.shape != (instance.num_nodes, 2):
        raise FormatError(instance.name, "coords", f"({instance.num_nodes}, 2) node coordinates", coords.shape)
    geographic = coords is not None
    xy = coords if coords is not None else layout(instance)
    arrays = instance.link_arrays(projects)
    ue = instance.solve_ue(projects)
    flows = ue.flows
    capacity = arrays["capacity"]
    ratio = np.divide(flows, capacity, out=np.zeros_like(flows), where=capacity > 0)

    tail, head = arrays["tail"], arrays["head"]
    a, b = xy[tail], xy[head]
    direction = b - a
    norm = np.hypot(direction[:, 0], direction[:, 1])
    norm[norm == 0] = 1.0
    right = np.stack([direction[:, 1], -direction[:, 0]], axis=1) / norm[:, None]
    span = float(np.ptp(xy, axis=0).max()) or 1.0
    offset = right * span * 0.006  # each direction of a two-way road on its own side
    segments = np.stack([a + offset, b + offset], axis=1)
    widths = 0.5 + 5.5 * flows / max(float(flows.max()), 1e-12)
    changed, new = _built_links(instance, projects)

    fig, ax = plt.subplots(figsize=(9, 8))
    cmap = plt.get_cmap("RdYlGn_r")
    vmax = max(1.0, float(ratio.max()))
    if changed or new:
        built = sorted(changed | new)
        ax.add_collection(LineCollection(segments[built], colors="black", linewidths=widths[built] + 2.5, zorder=1))
    lines = LineCollection(segments, cmap=cmap, linewidths=widths, zorder=2)
    lines.set_array(ratio)
    lines.set_clim(0.0, vmax)
    lines.set_linestyles(["--" if k in new else "-" for k in range(len(flows))])
    ax.add_collection(lines)
    zones = np.arange(instance.num_nodes) < instance.num_zones
    ax.scatter(xy[~zones, 0], xy[~zones, 1], s=12, c="grey", zorder=3)
    ax.scatter(xy[zones, 0], xy[zones, 1], s=22, c="navy", marker="s", zorder=3, label="zones")
    fig.colorbar(lines, ax=ax, label="volume / capacity at UE")
    ax.autoscale()
    ax.set_aspect("equal" if geographic else "auto")
    ax.set_xticks([])
    ax.set_yticks([])
    who = f"{solution.solver}, {len(projects)} projects" if solution is not None else "no projects"
    where = "" if geographic else " (topological layout, not geography)"
    ax.set_title(f"{instance.name}: {who}; TSTT {ue.tstt:,.0f}; width = flow, colour = v/c{where}", fontsize=9)
    ax.legend(loc="lower left", fontsize=8)

    def write(handle: Any) -> None:
        fig.savefig(handle, format="png", dpi=110)

    try:
        atomic_write(path, write)
    finally:
        plt.close(fig)
    return {"tstt": ue.tstt, "max_vc": float(ratio.max()), "geographic": geographic, "links": len(flows)}
