"""rl4co environments, a training generator and conversions for ATSP / ACVRP / ACVRPTW on real-road matrices.

rl4co's own ATSP / CVRP / CVRPTW environments measure Euclidean lengths on ``locs`` (CVRP, CVRPTW) or read a
synthetic ``cost_matrix`` whose node count comes from the generator (ATSP). RRNCO's problems are defined by road
matrices instead, so the environments here subclass rl4co's (keeping their names, stepping, capacity masks and
multi-start conventions, so rl4co's POMO / MatNet / AttentionModel policies and their env embeddings work) and
replace only what depends on geometry: rewards come from ``distance_matrix``, ACVRPTW time from
``duration_matrix``, and every shape from the TensorDict, never from the generator.

The TensorDict contract, for ``B`` instances of ``N`` nodes (vrp kinds: node 0 is the depot, ``N`` = customers + 1):

- ``locs`` ``[B, N, 2]``: coordinates (local km) min-max normalised per instance into [0, 1], aspect kept
  (subtract the per-instance minimum, divide by the larger of the x / y ranges). Only a node feature.
- ``distance_matrix`` ``[B, N, N]``: road distances / ``distance_scale`` ``[B, 1]`` (the instance's largest entry).
- ``duration_matrix`` ``[B, N, N]``: travel times / ``duration_scale`` ``[B, 1]``; ATSP / ACVRP carry no durations
  in the shared format, so there it is the normalised distance matrix and ``duration_scale = distance_scale``.
- ATSP: ``cost_matrix`` = ``distance_matrix`` (rl4co's ATSPEnv / MatNet key).
- ACVRP / ACVRPTW: ``demand`` ``[B, N-1]`` = customer demand / capacity, ``vehicle_capacity`` ``[B, 1]`` = 1,
  ``capacity_original`` ``[B, 1]``.
- ACVRPTW: ``time_windows`` ``[B, N, 2]`` and ``service_time`` ``[B, N]`` in normalised duration units
  (minutes / ``duration_scale``). rl4co's CVRPTWEnv and its ``VRPTWInitEmbedding`` call the service times
  ``durations`` (``[B, N]``, depot included), so ``durations`` is provided too, the same tensor as ``service_time``.

Objectives in the scorer's units are ``-reward * distance_scale``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from rl4co.envs.common.base import RL4COEnvBase
from rl4co.envs.common.utils import Generator
from rl4co.envs.routing.atsp.env import ATSPEnv
from rl4co.envs.routing.cvrp.env import CVRPEnv
from rl4co.envs.routing.cvrptw.env import CVRPTWEnv
from tensordict import TensorDict
from torchrl.data import Composite, Unbounded

from routelab.data.generate import cvrp_capacity
from routelab.data.roads.city import City
from routelab.data.roads.instances import TW_HORIZON, local_km, tw_capacity

ROAD_KINDS: dict[str, str] = {"atsp": "tsp", "acvrp": "cvrp", "acvrptw": "cvrptw"}
"""Road-routing kind -> shared-format kind (the same table as :mod:`routelab.data.roads.instances`)."""

STATIC_KEYS: tuple[str, ...] = (
    "locs",
    "distance_matrix",
    "duration_matrix",
    "distance_scale",
    "duration_scale",
    "cost_matrix",
    "demand",
    "vehicle_capacity",
    "capacity_original",
    "time_windows",
    "service_time",
    "durations",
)
"""Instance keys a reset carries over; everything else (state from an earlier rollout) is rebuilt."""

TIME_SLACK = 1e-5
"""Tolerance (normalised duration units) of :meth:`RoadACVRPTWEnv.check_solution_validity` for float32 sums."""


def _base_kind(kind: str) -> str:
    base = ROAD_KINDS.get(kind, kind)
    if base not in ("tsp", "cvrp", "cvrptw"):
        raise ValueError(f"unknown kind {kind!r}: expected one of {', '.join([*ROAD_KINDS, 'tsp', 'cvrp', 'cvrptw'])}")
    return base


# --------------------------------------------------------------------------------------------------------------------
# Packing: raw (km, minutes, demands) arrays -> the normalised TensorDict contract
# --------------------------------------------------------------------------------------------------------------------


def _per_instance_max(arr: np.ndarray) -> np.ndarray:
    """``[B]`` maxima; 1 where an instance is all zeros, so dividing never makes NaNs."""
    peak = arr.reshape(len(arr), -1).max(axis=1)
    return np.where(peak > 0, peak, 1.0)


def _tensor(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def pack_td(
    kind: str,
    coords: np.ndarray,
    distance: np.ndarray,
    duration: np.ndarray | None = None,
    demands: np.ndarray | None = None,
    capacity: np.ndarray | None = None,
    time_windows: np.ndarray | None = None,
    service_times: np.ndarray | None = None,
) -> TensorDict:
    """Build the contract TensorDict from raw batched arrays (see the module docstring).

    ``coords`` ``[B, N, 2]`` any planar unit; ``distance`` / ``duration`` ``[B, N, N]``; ``demands`` ``[B, N-1]``
    (customers only); ``capacity`` ``[B]``; ``time_windows`` ``[B, N, 2]`` and ``service_times`` ``[B, N]`` in the
    units of ``duration``. One function for the generator and for real instances, so training and inference can
    never disagree on the normalisation.
    """
    base = _base_kind(kind)
    b = distance.shape[0]
    lo = coords.min(axis=1, keepdims=True)
    span = (coords.max(axis=1, keepdims=True) - lo).max(axis=2, keepdims=True)
    locs = (coords - lo) / np.where(span > 0, span, 1.0)
    distance_scale = _per_instance_max(distance)
    dist = distance / distance_scale[:, None, None]
    if duration is None:
        duration_scale, dur = distance_scale, dist
    else:
        duration_scale = _per_instance_max(duration)
        dur = duration / duration_scale[:, None, None]
    dist_t = _tensor(dist)
    out: dict[str, torch.Tensor] = {
        "locs": _tensor(locs),
        "distance_matrix": dist_t,
        "duration_matrix": dist_t if dur is dist else _tensor(dur),
        "distance_scale": _tensor(distance_scale[:, None]),
        "duration_scale": _tensor(duration_scale[:, None]),
    }
    if base == "tsp":
        out["cost_matrix"] = dist_t
    else:
        if demands is None or capacity is None:
            raise ValueError(f"{kind} needs demands and capacity")
        capacity = np.asarray(capacity, dtype=np.float64).reshape(b, 1)
        out["demand"] = _tensor(demands / capacity)
        out["vehicle_capacity"] = torch.ones(b, 1)
        out["capacity_original"] = _tensor(capacity)
    if base == "cvrptw":
        if time_windows is None or service_times is None:
            raise ValueError(f"{kind} needs time_windows and service_times")
        out["time_windows"] = _tensor(time_windows / duration_scale[:, None, None])
        service = _tensor(service_times / duration_scale[:, None])
        out["service_time"] = service
        out["durations"] = service  # rl4co's name for service times (CVRPTWEnv, VRPTWInitEmbedding)
    return TensorDict(out, batch_size=[b])


# --------------------------------------------------------------------------------------------------------------------
# Generator
# --------------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CityArrays:
    """What sampling needs from one city, computed once: the reachable pool and projected coordinates."""

    pool: np.ndarray
    coords_km: np.ndarray
    distance_km: np.ndarray
    duration_min: np.ndarray


class RoadGenerator(Generator):
    """Training batches sampled from real cities, with :mod:`routelab.data.roads.instances`'s conventions, batched.

    Each instance draws its points (without replacement, from the city's mutually reachable pool, depot first)
    from one random city; a batch mixes cities. ``num_loc`` follows rl4co: nodes for ATSP, customers for the vrp
    kinds (the depot is extra). ``cities`` is a list of :class:`City` or a zero-argument callable returning one,
    called lazily on the first batch (so a datamodule can be pickled to workers before the matrices are loaded)
    and again every ``refresh_every`` batches when set (procedural cities). ``cities_per_batch`` limits how many
    distinct cities one batch draws from (None: each instance picks any city). ``city_durations`` gives ATSP /
    ACVRP the city's real durations as ``duration_matrix``; it is off by default because shared-format ATSP / ACVRP
    instances carry no durations, so inference (:func:`instances_to_td`) would feed the model distances there.
    ``seed`` None draws each batch's numpy seed from torch's global RNG, so ``torch.manual_seed`` /
    Lightning's ``seed_everything`` make training reproducible.
    """

    def __init__(
        self,
        cities: Sequence[City] | Callable[[], Sequence[City]],
        kind: str = "atsp",
        num_loc: int = 50,
        *,
        min_demand: int = 1,
        max_demand: int = 9,
        capacity: float | None = None,
        cities_per_batch: int | None = None,
        refresh_every: int | None = None,
        city_durations: bool = False,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kind = kind
        self.base_kind = _base_kind(kind)
        self.num_loc = int(num_loc)
        self.num_nodes = self.num_loc if self.base_kind == "tsp" else self.num_loc + 1
        if self.num_nodes < 3:
            raise ValueError(f"{kind} needs at least 3 nodes, got num_loc={num_loc}")
        if not 1 <= min_demand <= max_demand:
            raise ValueError(f"need 1 <= min_demand <= max_demand, got {min_demand}..{max_demand}")
        self.min_demand = min_demand
        self.max_demand = max_demand
        if capacity is None and self.base_kind != "tsp":
            capacity = cvrp_capacity(self.num_loc) if self.base_kind == "cvrp" else tw_capacity(self.num_loc)
        self.capacity = capacity
        # Attributes rl4co code sometimes reads from a generator (specs, meta-training, rendering).
        self.vehicle_capacity = 1.0
        self.min_loc, self.max_loc = 0.0, 1.0
        self.min_dist, self.max_dist = 0.0, 1.0
        self.cities_per_batch = cities_per_batch
        self.refresh_every = refresh_every
        self.city_durations = city_durations
        self._source = cities
        self._cities: list[_CityArrays] | None = None
        self._batches = 0
        self._rng = np.random.default_rng(seed) if seed is not None else None

    # -- cities -------------------------------------------------------------------------------------------------------

    def _load_cities(self) -> list[_CityArrays]:
        cities = self._source() if callable(self._source) else self._source
        out = []
        for city in cities:
            pool = city.connected_points()
            if len(pool) < self.num_nodes:
                continue  # too small for this size: skip rather than fail a whole training run
            centre = city.points[pool].mean(axis=0)
            out.append(_CityArrays(pool, local_km(city.points, centre), city.distance_km, city.duration_min))
        if not out:
            raise ValueError(f"no city has {self.num_nodes} mutually reachable points for {self.kind}")
        return out

    def cities(self) -> list[_CityArrays]:
        """The per-city arrays, (re)loaded from the source when due."""
        due = self.refresh_every is not None and self._batches % self.refresh_every == 0
        if self._cities is None or (due and callable(self._source)):
            self._cities = self._load_cities()
        return self._cities

    # -- sampling -----------------------------------------------------------------------------------------------------

    def _rng_for_batch(self) -> np.random.Generator:
        if self._rng is not None:
            return self._rng
        return np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))

    @staticmethod
    def _draw(rng: np.random.Generator, pool_size: int, count: int, needed: int) -> np.ndarray:
        """``[count, needed]`` distinct indices into the pool per row, in uniformly random order.

        Smallest keys of a random matrix: a uniform subset (argpartition, O(pool)) whose order, sorted by key, is a
        uniform permutation, so the first drawn point (the depot) is uniform too.
        """
        keys = rng.random((count, pool_size))
        part = np.argpartition(keys, needed - 1, axis=1)[:, :needed] if needed < pool_size else np.argsort(keys, 1)
        order = np.argsort(np.take_along_axis(keys, part, axis=1), axis=1)
        return np.take_along_axis(part, order, axis=1)

    def _generate(self, batch_size: list[int] | int) -> TensorDict:
        batch_size = [batch_size] if isinstance(batch_size, int) else list(batch_size)
        count = int(np.prod(batch_size)) if batch_size else 1
        cities = self.cities()
        self._batches += 1
        rng = self._rng_for_batch()
        n = self.num_nodes
        if self.cities_per_batch is not None and self.cities_per_batch < len(cities):
            pick = rng.choice(len(cities), size=self.cities_per_batch, replace=False)
            assign = pick[rng.integers(len(pick), size=count)]
        else:
            assign = rng.integers(len(cities), size=count)
        want_durations = self.base_kind == "cvrptw" or self.city_durations
        coords = np.empty((count, n, 2))
        distance = np.empty((count, n, n))
        duration = np.empty((count, n, n)) if want_durations else None
        for c in np.unique(assign):
            rows = np.flatnonzero(assign == c)
            city = cities[c]
            chosen = city.pool[self._draw(rng, len(city.pool), len(rows), n)]
            coords[rows] = city.coords_km[chosen]
            pairs = (chosen[:, :, None], chosen[:, None, :])
            distance[rows] = city.distance_km[pairs]
            if duration is not None:
                duration[rows] = city.duration_min[pairs]
        if self.base_kind == "tsp":
            td = pack_td("tsp", coords, distance, duration)
        else:
            customers = n - 1
            demands = rng.integers(self.min_demand, self.max_demand + 1, size=(count, customers)).astype(np.float64)
            capacity = np.full(count, float(self.capacity))
            if self.base_kind == "cvrp":
                td = pack_td("cvrp", coords, distance, duration, demands, capacity)
            else:
                assert duration is not None
                windows, service = rrnco_time_windows(duration, rng)
                td = pack_td("cvrptw", coords, distance, duration, demands, capacity, windows, service)
        return td.reshape(batch_size) if batch_size != [count] else td


def rrnco_time_windows(duration: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """RRNCO's windows for a batch ``[B, N, N]`` of durations, returned in the durations' units.

    The batched twin of :func:`routelab.data.roads.instances._time_windows`: on ``D / max D``, service U[0.15, 0.18],
    window length U[0.18, 0.20], depot [0, 4.6], open ``d0i + (h_max - 1) * dmax * U``. Since ``dmax <= 1`` after
    normalising, ``h_max >= 3.2``, so every customer opens after the vehicle can arrive from the depot and its
    out-and-back trip ends by ``4.6 - length``: decoding from the depot can always serve any customer, and from a
    customer can always go home, so it never dead-ends.
    """
    b, n1 = duration.shape[:2]
    n = n1 - 1
    unit = _per_instance_max(duration)
    norm = duration / unit[:, None, None]
    service = 0.15 + 0.03 * rng.random((b, n))
    length = 0.18 + 0.02 * rng.random((b, n))
    out_time, back_time = norm[:, 0, 1:], norm[:, 1:, 0]
    longest = np.maximum(out_time, back_time)
    h_max = (TW_HORIZON - service - length) / (longest + 1e-6) - 1
    start = out_time + (h_max - 1) * longest * rng.random((b, n))
    windows = np.zeros((b, n1, 2))
    windows[:, 0, 1] = TW_HORIZON
    windows[:, 1:, 0] = start
    windows[:, 1:, 1] = start + length
    service_all = np.concatenate([np.zeros((b, 1)), service], axis=1)
    return windows * unit[:, None, None], service_all * unit[:, None]


# --------------------------------------------------------------------------------------------------------------------
# Environments
# --------------------------------------------------------------------------------------------------------------------


def _closed_walk_length(matrix: torch.Tensor, actions: torch.Tensor, close_at_depot: bool) -> torch.Tensor:
    """``[B]`` length of the walk ``actions`` on ``matrix``: from and back to node 0 (vrp) or cyclic (tsp)."""
    b = matrix.shape[0]
    if close_at_depot:
        depot = torch.zeros(b, 1, dtype=actions.dtype, device=actions.device)
        path = torch.cat([depot, actions, depot], dim=1)
    else:
        path = torch.cat([actions, actions[:, :1]], dim=1)
    rows = torch.arange(b, device=matrix.device)[:, None]
    return matrix[rows, path[:, :-1], path[:, 1:]].sum(-1)


def _static(td: TensorDict, batch_size: list[int]) -> TensorDict:
    """A new TensorDict holding only ``td``'s instance data (state keys from an earlier rollout are dropped)."""
    data = {key: td.get(key) for key in STATIC_KEYS if key in td.keys()}
    return TensorDict(data, batch_size=batch_size, device=td.device)


def _vrp_state(td: TensorDict, batch_size: list[int]) -> TensorDict:
    """Instance data plus rl4co's CVRP state at the depot (sized from the matrix, not the generator)."""
    out = _static(td, batch_size)
    device = td.device
    n = out["distance_matrix"].shape[-1]
    if "vehicle_capacity" not in out.keys():
        out.set("vehicle_capacity", torch.ones((*batch_size, 1), device=device))
    out.update(
        {
            "current_node": torch.zeros((*batch_size, 1), dtype=torch.long, device=device),
            "used_capacity": torch.zeros((*batch_size, 1), device=device),
            "visited": torch.zeros((*batch_size, n), dtype=torch.uint8, device=device),
        }
    )
    return out


class _RoadEnvMixin:
    """Shape-agnostic specs and start-node selection shared by the three environments.

    rl4co's ``select_start_nodes`` and ``_make_spec`` read ``env.generator.num_loc``, which ties an env to the size
    it was trained at; inference on another size (or with no generator at all) takes the size from the TensorDict.
    """

    name: str
    generator: RoadGenerator | None

    def _init_generator(self, kind: str, generator: RoadGenerator | None, generator_params: dict | None) -> None:
        if generator is None and generator_params:
            generator = RoadGenerator(kind=kind, **generator_params)
        self.generator = generator
        self._make_spec(generator)

    def _make_spec(self, generator: RoadGenerator | None) -> None:
        # Specs are descriptive in rl4co (type checks are off), so they carry no node count.
        self.observation_spec = Composite(shape=())
        self.action_spec = Unbounded(shape=(1,), dtype=torch.int64)
        self.reward_spec = Unbounded(shape=(1,))
        self.done_spec = Unbounded(shape=(1,), dtype=torch.bool)

    def reset(self, td: TensorDict | None = None, batch_size: Any = None) -> TensorDict:
        if (td is None or td.is_empty()) and self.generator is None:
            raise ValueError(f"{type(self).__name__} has no generator: pass instances (instances_to_td) to reset")
        return super().reset(td, batch_size=batch_size)  # type: ignore[misc]

    def select_start_nodes(self, td: TensorDict, num_starts: int) -> torch.Tensor:
        """POMO's starts (rl4co's order: start ``k`` of instance ``b`` at ``k * B + b``), sized from the mask."""
        offset = 0 if self.name == "atsp" else 1  # vrp kinds never start at the depot
        choices = td["action_mask"].shape[-1] - offset
        starts = torch.arange(num_starts, device=td.device).repeat_interleave(td.shape[0])
        return starts % choices + offset


class RoadATSPEnv(_RoadEnvMixin, ATSPEnv):
    """ATSP on ``cost_matrix`` (= normalised road distances); reward = -(closed tour length).

    Reads ``cost_matrix`` (or ``distance_matrix``) and carries the other contract keys; writes ``first_node``,
    ``current_node``, ``i``, ``action_mask`` (and ``reward`` / ``done`` per step), as rl4co's ATSPEnv.
    """

    name = "atsp"

    def __init__(
        self, generator: RoadGenerator | None = None, generator_params: dict | None = None, **kwargs: Any
    ) -> None:
        RL4COEnvBase.__init__(self, **kwargs)  # skip ATSPEnv.__init__, which builds a synthetic ATSPGenerator
        self._init_generator("atsp", generator, generator_params)

    def _reset(self, td: TensorDict | None = None, batch_size: list[int] | None = None) -> TensorDict:
        assert td is not None and batch_size is not None
        out = _static(td, batch_size)
        if "cost_matrix" not in out.keys():
            out.set("cost_matrix", td["distance_matrix"])
        n = out["cost_matrix"].shape[-1]  # ATSPEnv uses generator.num_loc here
        zeros = torch.zeros((*batch_size, 1), dtype=torch.int64, device=td.device)
        out.update(
            {
                "first_node": zeros,
                "current_node": zeros,
                "i": zeros,
                "action_mask": torch.ones((*batch_size, n), dtype=torch.bool, device=td.device),
            }
        )
        return out


class RoadACVRPEnv(_RoadEnvMixin, CVRPEnv):
    """ACVRP: rl4co's CVRP stepping and capacity mask; reward = -(distance_matrix length, depot returns included).

    Reads ``locs`` (depot first, already joined: unlike rl4co there is no separate ``depot`` key), ``demand``,
    ``vehicle_capacity``, ``distance_matrix``; writes ``current_node``, ``used_capacity``, ``visited``,
    ``action_mask`` (and ``reward`` / ``done`` per step).
    """

    name = "cvrp"

    def __init__(
        self, generator: RoadGenerator | None = None, generator_params: dict | None = None, **kwargs: Any
    ) -> None:
        RL4COEnvBase.__init__(self, **kwargs)
        self._init_generator("acvrp", generator, generator_params)

    def _reset(self, td: TensorDict | None = None, batch_size: list[int] | None = None) -> TensorDict:
        assert td is not None and batch_size is not None
        out = _vrp_state(td, batch_size)
        out.set("action_mask", self.get_action_mask(out))
        return out

    def _get_reward(self, td: TensorDict, actions: torch.Tensor) -> torch.Tensor:
        return -_closed_walk_length(td["distance_matrix"], actions, close_at_depot=True)


class RoadACVRPTWEnv(_RoadEnvMixin, CVRPTWEnv):
    """ACVRPTW with road travel times; reward = -(total distance on ``distance_matrix``).

    Time follows the scorer (:mod:`routelab.problems.cvrptw`): a vehicle leaves the depot at its opening time,
    travels ``duration_matrix[current, next]``, waits for the window to open, then serves ``service_time``.
    A customer is masked when its window closes before arrival, or when after serving it the vehicle could not be
    back (``duration_matrix[next, 0]``) by the depot's close. Reads ``locs``, ``demand``, ``vehicle_capacity``,
    ``distance_matrix``, ``duration_matrix``, ``time_windows``, ``service_time`` (``durations`` is kept for rl4co's
    embedding); writes ``current_node``, ``current_time``, ``used_capacity``, ``visited``, ``action_mask``.
    """

    name = "cvrptw"

    def __init__(
        self, generator: RoadGenerator | None = None, generator_params: dict | None = None, **kwargs: Any
    ) -> None:
        RL4COEnvBase.__init__(self, **kwargs)
        self._init_generator("acvrptw", generator, generator_params)

    def _reset(self, td: TensorDict | None = None, batch_size: list[int] | None = None) -> TensorDict:
        assert td is not None and batch_size is not None
        out = _vrp_state(td, batch_size)
        if "service_time" not in out.keys():
            out.set("service_time", td["durations"])
        if "durations" not in out.keys():
            out.set("durations", out["service_time"])
        out.set("current_time", out["time_windows"][..., 0:1, 0].clone())
        out.set("action_mask", self.get_action_mask(out))
        return out

    @staticmethod
    def get_action_mask(td: TensorDict) -> torch.Tensor:
        not_masked = CVRPEnv.get_action_mask(td)
        durations = td["duration_matrix"]
        n = durations.shape[-1]
        row = durations.gather(1, td["current_node"][..., None].expand(-1, 1, n)).squeeze(1)  # [B, N]
        windows = td["time_windows"]
        arrival = td["current_time"] + row
        start = torch.maximum(arrival, windows[..., 0])
        on_time = arrival <= windows[..., 1]
        home_in_time = start + td["service_time"] + durations[..., :, 0] <= windows[..., 0:1, 1]
        feasible = on_time & home_in_time
        # Going home is always allowed: we only ever moved where home stayed reachable, and float rounding of that
        # comparison must not strand a vehicle (CVRPEnv's rule still forbids depot -> depot with work left).
        feasible[..., 0] = True
        return not_masked & feasible

    def _step(self, td: TensorDict) -> TensorDict:
        action = td["action"]
        rows = torch.arange(action.shape[0], device=action.device)
        travel = td["duration_matrix"][rows, td["current_node"].squeeze(-1), action][:, None]
        opens = td["time_windows"][rows, action, 0][:, None]
        service = td["service_time"][rows, action][:, None]
        served = torch.maximum(td["current_time"] + travel, opens) + service
        depot_open = td["time_windows"][..., 0:1, 0]
        td.set("current_time", torch.where(action[:, None] == 0, depot_open, served))
        return CVRPEnv._step(self, td)  # skip CVRPTWEnv._step: Euclidean travel time

    def _get_reward(self, td: TensorDict, actions: torch.Tensor) -> torch.Tensor:
        return -_closed_walk_length(td["distance_matrix"], actions, close_at_depot=True)

    @staticmethod
    def check_solution_validity(td: TensorDict, actions: torch.Tensor) -> None:
        """CVRP checks plus the scorer's timing on ``duration_matrix`` (rl4co's version measures Euclidean)."""
        CVRPEnv.check_solution_validity(td, actions)
        durations, windows, service = td["duration_matrix"], td["time_windows"], td["service_time"]
        b = actions.shape[0]
        rows = torch.arange(b, device=actions.device)
        depot_open, depot_close = windows[:, 0, 0], windows[:, 0, 1]
        time = depot_open.clone()
        current = torch.zeros(b, dtype=torch.long, device=actions.device)
        for step in range(actions.shape[1] + 1):
            nxt = actions[:, step] if step < actions.shape[1] else torch.zeros_like(current)
            arrival = time + durations[rows, current, nxt]
            home = nxt == 0
            assert torch.all(home | (arrival <= windows[rows, nxt, 1] + TIME_SLACK)), "customer served late"
            assert torch.all(~home | (arrival <= depot_close + TIME_SLACK)), "vehicle back after the depot closes"
            served = torch.maximum(arrival, windows[rows, nxt, 0]) + service[rows, nxt]
            time = torch.where(home, depot_open, served)
            current = nxt


ENVS: dict[str, type[RL4COEnvBase]] = {"atsp": RoadATSPEnv, "acvrp": RoadACVRPEnv, "acvrptw": RoadACVRPTWEnv}
"""Road kind -> environment class (shared-format names tsp / cvrp / cvrptw map through :data:`ROAD_KINDS`)."""


def make_env(kind: str, generator: RoadGenerator | None = None, **kwargs: Any) -> RL4COEnvBase:
    """The environment for ``kind`` (atsp / acvrp / acvrptw, or tsp / cvrp / cvrptw)."""
    road = {v: k for k, v in ROAD_KINDS.items()}[_base_kind(kind)]
    return ENVS[road](generator=generator, **kwargs)


# --------------------------------------------------------------------------------------------------------------------
# Conversions for inference
# --------------------------------------------------------------------------------------------------------------------


def instances_to_td(instances: Sequence[Any]) -> TensorDict:
    """Shared-format instances of one kind and size -> the contract TensorDict (with the scales to undo it).

    Coordinates are only a feature: a matrix-only instance gets zeros. A vrp depot must be node 0 (the
    environments' convention). A fleet limit (``num_vehicles``) is not enforced by the environments; the scorer
    reports a solution that uses more routes.
    """
    if not instances:
        raise ValueError("instances_to_td needs at least one instance")
    kind = instances[0].kind
    base = _base_kind(kind)
    n = instances[0].num_nodes
    for inst in instances:
        if inst.kind != kind or inst.num_nodes != n:
            raise ValueError(f"one kind and size per batch: {inst.name} is {inst.kind} with {inst.num_nodes} nodes")
        if base != "tsp" and inst.depot != 0:
            raise ValueError(f"{inst.name}: the depot must be node 0, not {inst.depot}")
    coords = np.stack([np.zeros((n, 2)) if i.coords is None else np.asarray(i.coords, float) for i in instances])
    distance = np.stack([np.asarray(i.distances, dtype=np.float64) for i in instances])
    if base == "tsp":
        return pack_td("tsp", coords, distance)
    demands = np.stack([np.asarray(i.demands, dtype=np.float64)[1:] for i in instances])
    capacity = np.array([float(i.capacity) for i in instances])
    if base == "cvrp":
        return pack_td("cvrp", coords, distance, None, demands, capacity)
    duration = np.stack([np.asarray(i.durations, dtype=np.float64) for i in instances])
    windows = np.stack([np.asarray(i.time_windows, dtype=np.float64) for i in instances])
    service = np.stack([np.asarray(i.service_times, dtype=np.float64) for i in instances])
    return pack_td("cvrptw", coords, distance, duration, demands, capacity, windows, service)


def actions_to_payload(kind: str, actions: torch.Tensor | Sequence[int]) -> dict[str, Any]:
    """One instance's action sequence -> the shared payload.

    tsp: ``{"tour": [...]}`` rotated to start at node 0 (a cycle has no start; 0-first is the usual form).
    cvrp / cvrptw: ``{"routes": [[...], ...]}`` split at depot visits, empty routes (padding zeros) dropped.
    """
    seq = [int(a) for a in (actions.tolist() if isinstance(actions, torch.Tensor) else actions)]
    if _base_kind(kind) == "tsp":
        start = seq.index(0) if 0 in seq else 0
        return {"tour": seq[start:] + seq[:start]}
    routes: list[list[int]] = [[]]
    for node in seq:
        if node == 0:
            routes.append([])
        else:
            routes[-1].append(node)
    return {"routes": [route for route in routes if route]}
