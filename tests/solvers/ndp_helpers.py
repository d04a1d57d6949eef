"""Tiny road networks for the network design solver tests (built in code, solved in milliseconds)."""

from __future__ import annotations

from typing import Any

import numpy as np

from routelab.problems.network_design import NetworkDesignInstance

# (tail, head, free_flow_time, capacity): two zones (0 -> 1 heavy, 1 -> 0 light), two inner nodes, two-way roads
TINY_LINKS = [
    (0, 2, 1.0, 4.0),
    (0, 3, 5.0, 20.0),
    (2, 1, 5.0, 20.0),
    (3, 1, 1.0, 4.0),
    (2, 3, 0.5, 6.0),
    (3, 2, 0.5, 6.0),
    (2, 0, 1.0, 4.0),
    (1, 3, 1.0, 4.0),
]


def tiny_network(**overrides: Any) -> NetworkDesignInstance:
    """A 4-node, 8-link network with BPR (b 0.15, power 4) congestion and no projects."""
    tail, head, t0, cap = (np.array(col) for col in zip(*TINY_LINKS, strict=True))
    fields: dict[str, Any] = {
        "name": "tiny",
        "num_nodes": 4,
        "num_zones": 2,
        "tail": tail,
        "head": head,
        "capacity": cap,
        "length": np.ones(len(tail)),
        "free_flow_time": t0,
        "b": np.full(len(tail), 0.15),
        "power": np.full(len(tail), 4.0),
        "demand": np.array([[0.0, 12.0], [4.0, 0.0]]),
        "ue_gap": 1e-6,
    }
    fields.update(overrides)
    return NetworkDesignInstance(**fields)


def braess_design() -> NetworkDesignInstance:
    """Braess's network without its middle link, and one project that builds it (it raises TSTT)."""
    links = [(0, 2, 1.0, 10.0), (0, 3, 50.0, 0.02), (2, 1, 50.0, 0.02), (3, 1, 1.0, 10.0)]
    tail, head, t0, b = (np.array(col) for col in zip(*links, strict=True))
    middle = {"type": "new_link", "tail": 2, "head": 3, "capacity": 1.0, "length": 1.0, "free_flow_time": 10.0,
              "b": 0.1, "power": 1.0, "cost": 1.0}  # fmt: skip
    return NetworkDesignInstance(
        name="braess",
        num_nodes=4,
        num_zones=2,
        tail=tail,
        head=head,
        capacity=np.ones(4),
        length=np.ones(4),
        free_flow_time=t0,
        b=b,
        power=np.ones(4),
        demand=np.array([[0.0, 6.0], [0.0, 0.0]]),
        projects=[middle],
        budget=1.0,
        ue_gap=1e-8,
    )
