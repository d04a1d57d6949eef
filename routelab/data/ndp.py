"""Road network design (NDP) instances from a road network: lane addition, lane swap, perturbed demand.

The two variants follow Madadi & Correia (ESWA 2024), the seed paper of issue 6:

- ``lane-add``: every congestible link (``capacity > 0`` and ``b > 0``; on any other link a lane changes no travel
  time) is a candidate ``add_lane`` project. One more lane adds ``capacity / lanes`` (``lanes`` = n, 2 or 4 in the
  paper: +50 % or +25 %), and costs ``free_flow_time * capacity`` whatever n is, as in the paper: the cost grows
  with the road's length (time) and size (capacity). The budget is ``budget`` (a share, 0.25 / 0.5 / 0.75) of the
  total cost of all projects.
- ``lane-swap``: for every two-way road (links ``u -> v`` and ``v -> u`` both present and congestible) two
  ``swap_lane`` projects, moving one lane one way or the other. A direction is assumed to have ``lanes`` lanes
  (TNTP files do not record lanes; default 2), so one lane is ``capacity / lanes`` of the link it leaves, which
  stays positive because ``lanes >= 2``. Re-striping a lane costs ``free_flow_time * moved capacity`` of the link it
  leaves: the lane-addition unit price applied to one lane, so the two variants' costs are on one scale. Selecting
  both directions of a road is allowed (each is paid; the moves cancel in part). Since a road's two projects are
  alternatives, the budget is the share of *half* the total cost, i.e. of swapping every road once.

Training data for surrogates needs many similar instances: ``demand_noise=e`` scales every OD entry by an
independent factor from U(1 - e, 1 + e) and ``capacity_noise=e`` every link's capacity the same way (0 <= e < 0.5),
drawn from ``numpy.random.default_rng([seed, index])``. Projects (gains, costs) and the budget are computed from
the unperturbed network, so every instance of a dataset has the same candidate list and budget and only the
traffic differs.

Instance ``index`` of a run depends only on (network, options, seed, index), so asking for more instances never
changes the first ones.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from routelab.problems.errors import FormatError
from routelab.problems.network_design import NetworkDesignInstance

VARIANTS: tuple[str, ...] = ("lane-add", "lane-swap")
NOISE_MAX = 0.5
"""Noise is below 0.5 so a perturbed capacity stays above a swapped lane (half the unperturbed capacity)."""

SOURCE = "network_design generator"
_OPTIONS = ("variant", "lanes", "budget", "demand_noise", "capacity_noise", "ue_gap", "name")


def lane_addition_projects(instance: NetworkDesignInstance, lanes: int) -> list[dict[str, Any]]:
    """One ``add_lane`` per congestible link: gain ``capacity / lanes``, cost ``free_flow_time * capacity``."""
    cap, t0 = instance.capacity, instance.free_flow_time
    links = np.flatnonzero((cap > 0) & (instance.b > 0))
    return [
        {"type": "add_lane", "link": int(a), "capacity": float(cap[a] / lanes), "cost": float(t0[a] * cap[a])}
        for a in links
    ]


def two_way_pairs(instance: NetworkDesignInstance) -> list[tuple[int, int]]:
    """``(a, b)`` with ``a < b`` for every road whose two directions are links ``a`` and ``b`` (first match each)."""
    by_ends: dict[tuple[int, int], int] = {}
    for a, (u, v) in enumerate(zip(instance.tail.tolist(), instance.head.tolist(), strict=True)):
        by_ends.setdefault((u, v), a)
    pairs = []
    for (u, v), a in by_ends.items():
        b = by_ends.get((v, u))
        if b is not None and a < b:
            pairs.append((a, b))
    return sorted(pairs)


def lane_swap_projects(instance: NetworkDesignInstance, lanes: int) -> list[dict[str, Any]]:
    """Two ``swap_lane`` per two-way congestible road, one lane (``capacity / lanes`` of the link it leaves) each
    way, costing ``free_flow_time * moved capacity`` of that link."""
    cap, t0, b = instance.capacity, instance.free_flow_time, instance.b
    projects = []
    for a, c in two_way_pairs(instance):
        if cap[a] <= 0 or cap[c] <= 0 or b[a] <= 0 or b[c] <= 0:
            continue
        for src, dst in ((a, c), (c, a)):
            moved = float(cap[src] / lanes)
            cost = float(t0[src] * moved)
            projects.append(
                {"type": "swap_lane", "from_link": int(src), "to_link": int(dst), "capacity": moved, "cost": cost}
            )
    return projects


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < float(value) <= 1:
        raise FormatError(SOURCE, "budget", "a share of the total project cost in (0, 1]", value)
    return float(value)


def _noise(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= float(value) < NOISE_MAX:
        raise FormatError(SOURCE, key, f"a relative noise in [0, {NOISE_MAX})", value)
    return float(value)


def _lanes(value: Any, variant: str) -> int:
    least = 2 if variant == "lane-swap" else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        why = " (a direction must keep a lane)" if variant == "lane-swap" else ""
        raise FormatError(SOURCE, "lanes", f"an integer >= {least}{why}", value)
    return int(value)


def design_instance(
    base: NetworkDesignInstance,
    *,
    variant: str = "lane-add",
    lanes: int = 2,
    budget: float = 0.5,
    demand_noise: float = 0.0,
    capacity_noise: float = 0.0,
    seed: int = 0,
    index: int = 0,
    ue_gap: float | None = None,
    name: str | None = None,
) -> NetworkDesignInstance:
    """An NDP instance on ``base``'s network and demand (its own projects and budget are replaced).

    Args:
        variant: ``"lane-add"`` or ``"lane-swap"`` (see the module doc).
        lanes: n, one lane is ``capacity / n`` (lane-add: any n >= 1; lane-swap: lanes per direction, >= 2).
        budget: the budget as a share of the total project cost (lane-swap: of half of it).
        demand_noise, capacity_noise: relative half-width of the uniform factors (0: the network as given).
        seed, index: the random stream of the noise, ``default_rng([seed, index])``.
        ue_gap: the scorer's UE gap (default: ``base``'s).
        name: the instance name (default ``{base}-{variant}{lanes}-b{percent}``, plus ``-s{seed}-{index}`` when
            noisy).

    Raises:
        FormatError: a bad option (the message names it), or (field ``budget``) a budget below every project's
        cost, so that nothing could ever be built.
    """
    if variant not in VARIANTS:
        raise FormatError(SOURCE, "variant", f"one of {', '.join(VARIANTS)}", variant)
    n = _lanes(lanes, variant)
    share = _share(budget)
    d_noise, c_noise = _noise("demand_noise", demand_noise), _noise("capacity_noise", capacity_noise)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise FormatError(SOURCE, "seed", "a non-negative integer", seed)
    projects = lane_addition_projects(base, n) if variant == "lane-add" else lane_swap_projects(base, n)
    label = f"{base.name}-{variant}{n}-b{round(share * 100):d}"
    if not projects:
        what = "congestible links" if variant == "lane-add" else "two-way congestible roads"
        raise FormatError(label, "projects", f"a network with {what}", "none")
    total = math.fsum(p["cost"] for p in projects)
    amount = share * (total if variant == "lane-add" else total / 2.0)
    cheapest = min(p["cost"] for p in projects)
    if amount < cheapest:
        raise FormatError(label, "budget", f"at least the cheapest project's cost {cheapest!r}", amount)
    noisy = d_noise > 0 or c_noise > 0
    demand, capacity = base.demand, base.capacity
    if noisy:
        rng = np.random.default_rng([seed, index])
        demand = demand * rng.uniform(1.0 - d_noise, 1.0 + d_noise, size=demand.shape)
        capacity = capacity * rng.uniform(1.0 - c_noise, 1.0 + c_noise, size=capacity.shape)
        label += f"-s{seed}-{index}"
    settings = {"variant": variant, "lanes": n, "budget": share, "demand_noise": d_noise, "capacity_noise": c_noise}
    meta = {
        **base.meta,
        "source": "ndp-generator",
        "base": base.name,
        "seed": seed,
        "index": index,
        "generator": settings,
    }
    return replace(
        base,
        name=name or label,
        meta=meta,
        demand=demand,
        capacity=capacity,
        projects=projects,
        budget=amount,
        ue_gap=base.ue_gap if ue_gap is None else ue_gap,
    )


def read_network(path: str | Path) -> NetworkDesignInstance:
    """A network from a TNTP ``*_net.tntp`` (trips read from beside it) or a ``network_design`` instance file
    (.json / .npz, its first instance); relative paths fall back to the benchmark root."""
    from routelab.data.root import benchmark_file

    found = benchmark_file(path)
    if not found.exists():
        raise FormatError(str(path), "net", "an existing *_net.tntp or network_design instance file", "missing")
    if found.name.endswith(".tntp"):
        from routelab.data.tntp import read_tntp_instance

        return read_tntp_instance(found)
    from routelab.data.readers import read_instances

    instance = read_instances(found)[0]
    if instance.kind != "network_design":
        raise FormatError(str(path), "kind", "a network_design instance", instance.kind)
    return instance


def design_from_tntp(net_path: str | Path, **options: Any) -> NetworkDesignInstance:
    """:func:`design_instance` on a TNTP network (``*_trips.tntp`` beside it), e.g.
    ``design_from_tntp("network_design/tntp/SiouxFalls/SiouxFalls_net.tntp", lanes=4, budget=0.25)``."""
    return design_instance(read_network(net_path), **options)


def generate_designs(net: str | Path | None, size: int | None, count: int, seed: int, **options: Any) -> list[Any]:
    """``count`` instances on the network ``net`` (what ``generate("network_design", ...)`` returns).

    ``size`` is the network's node count when given (a check that the spec names the network it means; None or 0
    skips it). With ``count > 1`` every instance gets ``-s{seed}-{k}`` in its name; without noise they are equal.
    """
    if net is None:
        raise FormatError(SOURCE, "net", "a network to build on: net= a *_net.tntp file", "missing")
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise FormatError(SOURCE, unknown[0], f"one of the options net, {', '.join(_OPTIONS)}", "unknown option")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise FormatError(SOURCE, "count", "a positive integer", count)
    base = read_network(net)
    if size and size != base.num_nodes:
        raise FormatError(SOURCE, "size", f"0 or the node count of {net} ({base.num_nodes})", size)
    name = options.pop("name", None)
    out = []
    for k in range(count):
        inst = design_instance(base, seed=seed, index=k, **options)
        if count > 1 and not inst.name.endswith(f"-s{seed}-{k}"):
            inst = replace(inst, name=f"{inst.name}-s{seed}-{k}")
        if name:
            inst = replace(inst, name=name if count == 1 else f"{name}-{k}")
        out.append(inst)
    return out
