"""The ``network_design`` kind: pick road projects within a budget to minimise total system travel time at UE.

A bi-level problem. The upper level selects a subset of candidate projects (add a lane, build a new link, move a
lane between the two directions of a two-way road) whose costs fit the budget; the lower level is the static
user equilibrium (UE) of the modified network, which drivers reach on their own. The objective is the total
system travel time ``TSTT = sum_a x_a t_a(x_a)`` at that equilibrium, minimised.

Why the scorer solves the UE itself: the equilibrium is determined by the instance and the plan, so a solution
only names the projects; flows a solver reports are shown next to the scorer's but never trusted. The UE is
solved with bi-conjugate Frank-Wolfe to the instance's ``ue_gap`` (relative gap) on one thread, which makes the
score deterministic. Drivers route on the generalised cost ``w_time t + w_toll toll + w_length length``
(``cost_weights``), while TSTT counts time only: the system cost of a plan is the time people spend, whatever
they trade it against when choosing routes.

Nodes are numbered from 0; zones are nodes ``0 .. num_zones - 1`` (TNTP's zones 1..Z) and ``demand`` is the dense
``(zones, zones)`` OD matrix. ``first_thru_node`` keeps TNTP's 1-based meaning: nodes numbered below it may only
start or end a path. The numba solver is imported lazily, so this module (like all of ``routelab.problems``)
imports numpy only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from routelab.problems.errors import FormatError
from routelab.problems.score import Score, ViolationLog
from routelab.problems.validate import as_array, as_index_list, as_int, as_number, check_nonnegative, check_shape

PROJECT_TYPES: tuple[str, ...] = ("add_lane", "new_link", "swap_lane")
LINK_FIELDS: tuple[str, ...] = ("capacity", "length", "free_flow_time", "b", "power", "toll")
BUDGET_RTOL = 1e-9
"""Relative slack on the budget, so that costs summed in another order do not flip feasibility."""
UE_MAX_ITER = 100_000


def _as_float(
    source: str, field_name: str, value: Any, *, minimum: float | None = None, positive: bool = False
) -> float:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    number = as_number(source, field_name, value, minimum=minimum)
    if positive and number <= 0:
        raise FormatError(source, field_name, "a positive number", number)
    return number


def _link_index(source: str, field_name: str, value: Any, num_links: int) -> int:
    k = as_int(source, field_name, value, minimum=0)
    if k >= num_links:
        raise FormatError(source, field_name, f"a link index in 0..{num_links - 1}", k)
    return k


@dataclass(frozen=True, eq=False, kw_only=True)
class NetworkDesignInstance:
    """A road network with OD demand, candidate projects and a budget.

    Attributes:
        num_nodes, num_zones: node count and zone count (zones are nodes ``0 .. num_zones - 1``).
        first_thru_node: TNTP's 1-based FIRST THRU NODE (1: every node may be passed through).
        tail, head: ``(m,)`` int64 0-based link end nodes.
        capacity, length, free_flow_time, b, power, toll: ``(m,)`` float64 link attributes (BPR
            ``t = free_flow_time * (1 + b * (x / capacity) ** power)``).
        link_type: ``(m,)`` int64, carried for provenance.
        demand: ``(num_zones, num_zones)`` float64 trips, row = origin.
        cost_weights: ``(time, toll, length)`` weights of the generalised routing cost (default 1, 0, 0).
        projects: candidate projects, each a dict with ``type`` and ``cost`` (see :data:`PROJECT_TYPES`):
            ``{"type": "add_lane", "link": k, "capacity": gain, "cost": c}``;
            ``{"type": "new_link", "tail": u, "head": v, "capacity", "length", "free_flow_time", "b", "power",
            "toll" (default 0), "link_type" (default 0), "cost": c}``;
            ``{"type": "swap_lane", "from_link": k, "to_link": j, "capacity": moved, "cost": c}`` where ``j``
            is the opposite direction of ``k`` and ``moved`` is less than ``k``'s capacity.
        budget: the most the selected projects may cost in all.
        ue_gap: the relative gap the scorer solves the UE to.
    """

    kind: ClassVar[str] = "network_design"
    name: str
    num_nodes: int
    num_zones: int
    tail: np.ndarray
    head: np.ndarray
    capacity: np.ndarray
    length: np.ndarray
    free_flow_time: np.ndarray
    b: np.ndarray
    power: np.ndarray
    demand: np.ndarray
    toll: np.ndarray | None = None
    link_type: np.ndarray | None = None
    first_thru_node: int = 1
    cost_weights: tuple[float, float, float] = (1.0, 0.0, 0.0)
    projects: list[dict[str, Any]] = field(default_factory=list)
    budget: float = 0.0
    ue_gap: float = 1e-5
    meta: dict[str, Any] = field(default_factory=dict)

    # -- validation -----------------------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        src = self.name
        n = as_int(src, "num_nodes", self.num_nodes, minimum=1)
        z = as_int(src, "num_zones", self.num_zones, minimum=1)
        if z > n:
            raise FormatError(src, "num_zones", f"at most num_nodes ({n})", z)
        ftn = as_int(src, "first_thru_node", self.first_thru_node, minimum=1)
        if ftn > n + 1:
            raise FormatError(src, "first_thru_node", f"at most {n + 1}", ftn)
        for key, value in (("num_nodes", n), ("num_zones", z), ("first_thru_node", ftn)):
            object.__setattr__(self, key, value)

        tail = as_array(src, "tail", self.tail, ndim=1, dtype=int)
        m = len(tail)
        for key, value in (("tail", tail), ("head", self.head)):
            arr = as_array(src, key, value, ndim=1, dtype=int)
            check_shape(src, key, arr, (m,))
            bad = np.flatnonzero((arr < 0) | (arr >= n))
            if bad.size:
                raise FormatError(src, f"{key}[{bad[0]}]", f"a node in 0..{n - 1}", int(arr[bad[0]]))
            object.__setattr__(self, key, arr)
        for key in LINK_FIELDS:
            value = getattr(self, key)
            arr = np.zeros(m) if value is None else as_array(src, key, value, ndim=1)
            check_shape(src, key, arr, (m,))
            check_nonnegative(src, key, arr)
            object.__setattr__(self, key, arr)
        congestible = np.flatnonzero((self.capacity <= 0) & (self.b != 0))
        if congestible.size:
            k = int(congestible[0])
            raise FormatError(
                src, f"capacity[{k}]", "a positive capacity on a link with b != 0", float(self.capacity[k])
            )
        link_type = np.zeros(m, dtype=np.int64) if self.link_type is None else self.link_type
        link_type = as_array(src, "link_type", link_type, ndim=1, dtype=int)
        check_shape(src, "link_type", link_type, (m,))
        object.__setattr__(self, "link_type", link_type)

        demand = as_array(src, "demand", self.demand, ndim=2)
        check_shape(src, "demand", demand, (z, z))
        check_nonnegative(src, "demand", demand)
        object.__setattr__(self, "demand", demand)

        weights = self.cost_weights
        if isinstance(weights, np.ndarray):
            weights = weights.tolist()
        if not isinstance(weights, (list, tuple)) or len(weights) != 3:
            raise FormatError(src, "cost_weights", "three numbers (time, toll, length)", weights)
        w = tuple(_as_float(src, f"cost_weights[{k}]", v, minimum=0.0) for k, v in enumerate(weights))
        if w[0] <= 0:
            raise FormatError(src, "cost_weights[0]", "a positive time weight", w[0])
        object.__setattr__(self, "cost_weights", w)
        object.__setattr__(self, "budget", _as_float(src, "budget", self.budget, minimum=0.0))
        gap = _as_float(src, "ue_gap", self.ue_gap, positive=True)
        if gap >= 1:
            raise FormatError(src, "ue_gap", "a relative gap below 1", gap)
        object.__setattr__(self, "ue_gap", gap)
        if not isinstance(self.projects, (list, tuple)):
            raise FormatError(src, "projects", "a list of project objects", type(self.projects).__name__)
        projects = [self._project(k, p) for k, p in enumerate(self.projects)]
        object.__setattr__(self, "projects", projects)

    def _project(self, k: int, raw: Any) -> dict[str, Any]:
        """One project, checked and normalised (numbers as float/int) so that it round-trips exactly."""
        src, where = self.name, f"projects[{k}]"
        if not isinstance(raw, dict):
            raise FormatError(src, where, "an object with 'type' and 'cost'", type(raw).__name__)
        kind = raw.get("type")
        if kind not in PROJECT_TYPES:
            raise FormatError(src, f"{where}.type", f"one of {', '.join(PROJECT_TYPES)}", kind)
        out: dict[str, Any] = {"type": kind}
        allowed = {"type", "cost", "name"}
        m = self.num_links
        if kind == "add_lane":
            allowed |= {"link", "capacity"}
            out["link"] = _link_index(src, f"{where}.link", raw.get("link"), m)
            out["capacity"] = _as_float(src, f"{where}.capacity", raw.get("capacity"), positive=True)
        elif kind == "swap_lane":
            allowed |= {"from_link", "to_link", "capacity"}
            a = _link_index(src, f"{where}.from_link", raw.get("from_link"), m)
            b = _link_index(src, f"{where}.to_link", raw.get("to_link"), m)
            if (self.tail[a], self.head[a]) != (self.head[b], self.tail[b]):
                raise FormatError(
                    src, f"{where}.to_link", f"the opposite direction of link {a} ({self.tail[a]} -> {self.head[a]})", b
                )
            moved = _as_float(src, f"{where}.capacity", raw.get("capacity"), positive=True)
            if moved >= self.capacity[a]:
                raise FormatError(
                    src, f"{where}.capacity", f"less than link {a}'s capacity {float(self.capacity[a])!r}", moved
                )
            out.update({"from_link": a, "to_link": b, "capacity": moved})
        else:
            allowed |= {"tail", "head", "link_type", *LINK_FIELDS}
            for end in ("tail", "head"):
                node = as_int(src, f"{where}.{end}", raw.get(end), minimum=0)
                if node >= self.num_nodes:
                    raise FormatError(src, f"{where}.{end}", f"a node in 0..{self.num_nodes - 1}", node)
                out[end] = node
            for key in LINK_FIELDS:
                default = 0.0 if key == "toll" else None
                value = raw.get(key, default)
                if value is None:
                    raise FormatError(src, f"{where}.{key}", "a number (new_link needs every BPR attribute)", "missing")
                out[key] = _as_float(src, f"{where}.{key}", value, minimum=0.0)
            if out["capacity"] <= 0 and out["b"] != 0:
                raise FormatError(src, f"{where}.capacity", "a positive capacity (b != 0)", out["capacity"])
            out["link_type"] = as_int(src, f"{where}.link_type", raw.get("link_type", 0))
        out["cost"] = _as_float(src, f"{where}.cost", raw.get("cost"), minimum=0.0)
        if "name" in raw:
            if not isinstance(raw["name"], str):
                raise FormatError(src, f"{where}.name", "a string", raw["name"])
            out["name"] = raw["name"]
        extra = sorted(set(raw) - allowed)
        if extra:
            raise FormatError(src, f"{where}.{extra[0]}", f"only the {kind} fields {sorted(allowed)}", extra[0])
        return out

    # -- geometry ---------------------------------------------------------------------------------------------------
    @property
    def num_links(self) -> int:
        return len(self.tail)

    @property
    def num_projects(self) -> int:
        return len(self.projects)

    def plan_cost(self, selection: list[int]) -> float:
        return float(math.fsum(self.projects[k]["cost"] for k in selection))

    def link_arrays(self, selection: list[int] | tuple[int, ...] = ()) -> dict[str, np.ndarray]:
        """The link arrays of the network with ``selection`` built: capacities changed in place, new links
        appended after the existing ones in selection order (so flows of a plan have ``m + new links`` entries).

        Indices must be valid; a capacity driven to zero or below by swaps is returned as is (the scorer reports it).
        """
        arrays = {key: getattr(self, key).copy() for key in ("tail", "head", "link_type", *LINK_FIELDS)}
        added: list[dict[str, Any]] = []
        for k in selection:
            p = self.projects[k]
            if p["type"] == "add_lane":
                arrays["capacity"][p["link"]] += p["capacity"]
            elif p["type"] == "swap_lane":
                arrays["capacity"][p["from_link"]] -= p["capacity"]
                arrays["capacity"][p["to_link"]] += p["capacity"]
            else:
                added.append(p)
        if added:
            for key in arrays:
                extra = np.array([p[key] for p in added], dtype=arrays[key].dtype)
                arrays[key] = np.concatenate([arrays[key], extra])
        return arrays

    def road_network(self, selection: list[int] | tuple[int, ...] = ()) -> Any:
        """A :class:`routelab.traffic.RoadNetwork` of the network with ``selection`` built (imports numba)."""
        from routelab.traffic import RoadNetwork

        arrays = self.link_arrays(selection)
        return RoadNetwork(
            num_nodes=self.num_nodes,
            num_zones=self.num_zones,
            tail=arrays["tail"],
            head=arrays["head"],
            capacity=arrays["capacity"],
            free_flow_time=arrays["free_flow_time"],
            b=arrays["b"],
            power=arrays["power"],
            toll=arrays["toll"],
            length=arrays["length"],
            first_thru_node=self.first_thru_node,
        )

    def solve_ue(
        self,
        selection: list[int] | tuple[int, ...] = (),
        *,
        gap: float | None = None,
        algorithm: str = "bfw",
        time_limit: float | None = None,
        threads: int | None = 1,
    ) -> Any:
        """The UE of the network with ``selection`` built (:func:`routelab.traffic.solve_ue`), to ``ue_gap``
        unless ``gap`` says otherwise."""
        from routelab.traffic import solve_ue

        return solve_ue(
            self.road_network(selection),
            self.demand,
            algorithm=algorithm,
            gap=self.ue_gap if gap is None else gap,
            max_iter=UE_MAX_ITER,
            time_limit=time_limit,
            weights=self.cost_weights,
            threads=threads,
        )

    # -- serialisation ----------------------------------------------------------------------------------------------
    def to_data(self) -> dict[str, Any]:
        return {
            "num_nodes": self.num_nodes,
            "num_zones": self.num_zones,
            "first_thru_node": self.first_thru_node,
            "tail": self.tail,
            "head": self.head,
            "capacity": self.capacity,
            "length": self.length,
            "free_flow_time": self.free_flow_time,
            "b": self.b,
            "power": self.power,
            "toll": self.toll,
            "link_type": self.link_type,
            "demand": self.demand,
            "cost_weights": list(self.cost_weights),
            "projects": [dict(p) for p in self.projects],
            "budget": self.budget,
            "ue_gap": self.ue_gap,
        }

    @classmethod
    def from_data(cls, name: str, data: dict[str, Any], meta: dict[str, Any]) -> NetworkDesignInstance:
        required = ("num_nodes", "num_zones", "tail", "head", "capacity", "free_flow_time", "b", "power", "demand")
        for key in required:
            if key not in data:
                raise FormatError(name, key, f"the network_design field {key!r}", "missing")

        def scalar(key: str, default: Any) -> Any:
            value = data.get(key, default)
            return value.item() if isinstance(value, np.ndarray) and value.ndim == 0 else value

        return cls(
            name=name,
            meta=meta,
            num_nodes=scalar("num_nodes", None),
            num_zones=scalar("num_zones", None),
            first_thru_node=scalar("first_thru_node", 1),
            tail=data["tail"],
            head=data["head"],
            capacity=data["capacity"],
            length=data.get("length", np.zeros(len(np.asarray(data["tail"])))),
            free_flow_time=data["free_flow_time"],
            b=data["b"],
            power=data["power"],
            toll=data.get("toll"),
            link_type=data.get("link_type"),
            demand=data["demand"],
            cost_weights=data.get("cost_weights", (1.0, 0.0, 0.0)),
            projects=data.get("projects", []),
            budget=scalar("budget", 0.0),
            ue_gap=scalar("ue_gap", 1e-5),
        )


# -- solutions ----------------------------------------------------------------------------------------------------
def parse_payload(source: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``{"projects": [indices], "flows": [...] (optional)}``; flows are only reported, never trusted."""
    if "projects" not in payload:
        raise FormatError(source, "projects", "a list of project indices (the network_design payload)", "missing")
    out: dict[str, Any] = {"projects": as_index_list(source, "projects", payload["projects"])}
    flows = payload.get("flows")
    if flows is not None:
        out["flows"] = as_array(source, "flows", flows, ndim=1)
    return out


def score(instance: NetworkDesignInstance, payload: dict[str, Any]) -> Score:
    """Check the plan (indices, repeats, budget, capacities), solve the UE of the built network to ``ue_gap`` and
    return its TSTT (minimised). The TSTT is computed for the valid projects even when the plan is infeasible."""
    inst = instance
    selection: list[int] = payload["projects"]
    log = ViolationLog()
    valid: list[int] = []
    seen: set[int] = set()
    for pos, k in enumerate(selection):
        if not 0 <= k < inst.num_projects:
            last = f"0..{inst.num_projects - 1}" if inst.num_projects else "none: the instance has no projects"
            log.add(f"projects position {pos}: project {k} does not exist (projects are {last})")
        elif k in seen:
            log.add(f"project {k} selected more than once")
        else:
            seen.add(k)
            valid.append(k)
    cost = inst.plan_cost(valid)
    if cost > inst.budget * (1 + BUDGET_RTOL) + 1e-12:
        log.add(f"plan costs {cost!r} > budget {inst.budget!r}")
    arrays = inst.link_arrays(valid)
    for a in np.flatnonzero((arrays["capacity"] <= 0) & (arrays["b"] != 0)).tolist():
        log.add(
            f"link {a} ({arrays['tail'][a]} -> {arrays['head'][a]}): capacity {float(arrays['capacity'][a])!r} <= 0"
        )
    details: dict[str, Any] = {"projects": valid, "cost": cost, "budget": inst.budget}
    if any(m.endswith("<= 0") for m in log.messages):
        return Score(
            feasible=False, objective=math.inf, violations=log.as_tuple(), violation_count=log.count, details=details
        )
    try:
        ue = inst.solve_ue(valid)
    except ValueError as exc:  # OD pairs without a path: the network itself is broken
        raise FormatError(inst.name, "demand", "a path for every OD pair with trips", str(exc)) from None
    details.update(
        {
            "ue_converged": ue.converged,  # the scorer's own limit, never held against the plan
            "beckmann": ue.beckmann,
            "ue_gap": ue.gap,
            "ue_iterations": ue.iterations,
            "ue_seconds": ue.seconds,
            "links": len(ue.flows),
        }
    )
    claimed = payload.get("flows")
    if claimed is not None:
        if len(claimed) == len(ue.flows):
            from routelab.traffic import tstt

            details["claimed_flows_tstt"] = tstt(inst.road_network(valid), claimed)
            details["claimed_flows_max_abs_diff"] = float(np.abs(claimed - ue.flows).max()) if len(claimed) else 0.0
        else:
            details["claimed_flows_note"] = f"{len(claimed)} flows for {len(ue.flows)} links; ignored"
    return Score(
        feasible=not log,
        objective=ue.tstt,
        violations=log.as_tuple(),
        violation_count=log.count,
        details=details,
    )
