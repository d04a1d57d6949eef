"""RRNCO road environments: the TensorDict contract, the generator's conventions, and rollouts the scorer accepts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rl4co.utils.ops import batchify
from scipy.sparse.csgraph import floyd_warshall
from tensordict import TensorDict

from routelab.data.roads import RoadMatrices, haversine_m
from routelab.data.roads.city import City
from routelab.data.roads.instances import TW_HORIZON, sample_instances
from routelab.neural.rrnco.envs import (
    RoadACVRPEnv,
    RoadACVRPTWEnv,
    RoadATSPEnv,
    RoadGenerator,
    actions_to_payload,
    instances_to_td,
    make_env,
)
from routelab.problems import Solution, check

torch.set_num_threads(1)

KINDS = ["atsp", "acvrp", "acvrptw"]


def make_city(m: int, seed: int, name: str = "Testville") -> City:
    """Random points, asymmetric detours closed by Floyd-Warshall, and one point nothing can reach."""
    rng = np.random.default_rng(seed)
    points = np.array([60.17, 24.94]) + rng.uniform(-0.03, 0.03, (m, 2))
    distance = haversine_m(points[:, None], points[None]) * rng.uniform(1.1, 1.8, (m, m))
    duration = distance / rng.uniform(6.0, 15.0, (m, m))
    for arr in (distance, duration):
        arr[:, -1] = np.inf  # the last point is unreachable: the sampler must stay in the connected pool
        arr[-1, -1] = 0.0
    return City.from_roads(name, RoadMatrices(points, floyd_warshall(distance), floyd_warshall(duration)))


@pytest.fixture(scope="module")
def cities() -> list[City]:
    return [make_city(40, seed, f"c{seed}") for seed in range(3)]


def random_rollout(
    env, td: TensorDict, multistart: bool = False, seed: int = 0
) -> tuple[TensorDict, torch.Tensor, torch.Tensor]:
    """Uniform random feasible actions until done; with ``multistart``, rl4co's POMO start nodes first."""
    gen = torch.Generator().manual_seed(seed)
    td = env.reset(td)
    actions = []
    if multistart:
        num_starts = env.get_num_starts(td)
        first = env.select_start_nodes(td, num_starts)
        td = batchify(td, num_starts)
        td.set("action", first)
        td = env.step(td)["next"]
        actions.append(first)
    for _ in range(10_000):
        if td["done"].all():
            break
        mask = td["action_mask"]
        assert mask.any(-1).all(), "decoding dead-ended"
        action = torch.multinomial(mask.float(), 1, generator=gen).squeeze(-1)
        td.set("action", action)
        td = env.step(td)["next"]
        actions.append(action)
    acts = torch.stack(actions, dim=1)
    return td, acts, env.get_reward(td, acts)  # check_solution is on: rl4co's validity check runs too


# -- the generator --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_generator_follows_the_contract(cities: list[City], kind: str) -> None:
    gen = RoadGenerator(cities, kind, 10, seed=1)
    td = gen(6)
    n = 10 if kind == "atsp" else 11
    assert td.batch_size == torch.Size([6])
    assert td["locs"].shape == (6, n, 2) and td["locs"].dtype == torch.float32
    assert td["locs"].min() >= 0 and td["locs"].max() <= 1 + 1e-6
    span = td["locs"].amax(1) - td["locs"].amin(1)
    assert torch.allclose(span.amax(-1), torch.ones(6))  # aspect kept: the larger range is exactly 1
    for key in ("distance_matrix", "duration_matrix"):
        mat = td[key]
        assert mat.shape == (6, n, n) and torch.isfinite(mat).all()  # the unreachable point was never drawn
        assert torch.allclose(mat.amax((1, 2)), torch.ones(6))
        assert torch.all(torch.diagonal(mat, dim1=1, dim2=2) == 0)
    assert td["distance_scale"].shape == (6, 1) and (td["distance_scale"] > 0).all()
    if kind == "atsp":
        assert torch.equal(td["cost_matrix"], td["distance_matrix"])
        return
    demand = td["demand"] * td["capacity_original"]
    assert td["demand"].shape == (6, n - 1)
    assert torch.allclose(demand, demand.round(), atol=1e-4) and demand.min() >= 1 and demand.max() <= 9
    assert torch.equal(td["vehicle_capacity"], torch.ones(6, 1))
    if kind == "acvrp":
        assert torch.equal(td["duration_matrix"], td["distance_matrix"])  # no durations in shared ACVRP
        return
    tw, service, dur = td["time_windows"], td["service_time"], td["duration_matrix"]
    assert torch.equal(td["durations"], service)  # rl4co's name for service times
    assert torch.allclose(tw[:, 0], torch.tensor([0.0, TW_HORIZON]))
    assert service[:, 0].eq(0).all() and service[:, 1:].ge(0.15).all() and service[:, 1:].le(0.18).all()
    length = tw[:, 1:, 1] - tw[:, 1:, 0]
    assert length.ge(0.18 - 1e-6).all() and length.le(0.2 + 1e-6).all()
    # The out-and-back route of every customer is feasible, so decoding never dead-ends.
    arrival = dur[:, 0, 1:]
    assert (arrival <= tw[:, 1:, 1]).all()
    assert (torch.maximum(arrival, tw[:, 1:, 0]) + service[:, 1:] + dur[:, 1:, 0] <= TW_HORIZON).all()


def test_generator_seeding_and_mixing(cities: list[City]) -> None:
    a, b = RoadGenerator(cities, "acvrp", 8, seed=3)(4), RoadGenerator(cities, "acvrp", 8, seed=3)(4)
    assert torch.equal(a["distance_matrix"], b["distance_matrix"]) and torch.equal(a["demand"], b["demand"])
    torch.manual_seed(0)
    c = RoadGenerator(lambda: cities, "acvrp", 8)(4)  # lazy city source, seed from torch's RNG
    torch.manual_seed(0)
    d = RoadGenerator(lambda: cities, "acvrp", 8)(4)
    assert torch.equal(c["distance_matrix"], d["distance_matrix"])
    one_city = RoadGenerator(cities, "atsp", 8, cities_per_batch=1, seed=0)(5)
    scales = RoadGenerator([cities[0]], "atsp", 8, seed=0)(5)["distance_scale"]
    assert one_city["distance_scale"].shape == scales.shape


def test_generator_rejects_cities_too_small(cities: list[City]) -> None:
    with pytest.raises(ValueError, match="mutually reachable"):
        RoadGenerator(cities, "atsp", 100)(2)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("multistart", [False, True])
def test_generated_batches_roll_out_without_dead_ends(cities: list[City], kind: str, multistart: bool) -> None:
    gen = RoadGenerator(cities, kind, 12, seed=2)
    env = make_env(kind, gen)
    _, actions, reward = random_rollout(env, gen(8), multistart=multistart)
    starts = env.get_num_starts(env.reset(gen(1))) if multistart else 1
    assert reward.shape == (8 * starts,) and torch.all(reward < 0)
    if multistart:  # rl4co's order: start k of instance b is row k * B + b, and starts are distinct nodes
        first = actions[:, 0].view(starts, 8)
        offset = 0 if kind == "atsp" else 1
        assert torch.equal(first[:, 0], torch.arange(starts) + offset)


# -- instances <-> TensorDict, checked by the scorer ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("multistart", [False, True])
def test_rollouts_on_sampled_instances_pass_the_scorer(cities: list[City], kind: str, multistart: bool) -> None:
    instances = sample_instances(cities[1], kind, 9, 3, seed=5)
    td = instances_to_td(instances)
    assert torch.allclose(td["distance_scale"][:, 0], torch.tensor([i.distances.max() for i in instances]).float())
    env = make_env(kind)  # no generator: inference only, sizes come from the TensorDict
    td_out, actions, reward = random_rollout(env, td, multistart=multistart, seed=7)
    objective = -reward * td_out["distance_scale"][:, 0]
    for row in range(len(actions)):
        inst = instances[row % len(instances)]
        payload = actions_to_payload(kind, actions[row])
        score = check(inst, Solution(kind=inst.kind, instance=inst.name, solver="random", payload=payload))
        assert score.feasible, score.violations
        assert float(objective[row]) == pytest.approx(score.objective, rel=1e-4)


def test_tw_conversion_keeps_minutes_in_normalised_units(cities: list[City]) -> None:
    inst = sample_instances(cities[0], "acvrptw", 6, 1, seed=2)[0]
    td = instances_to_td([inst])
    unit = inst.meta["duration_unit_min"]
    assert float(td["duration_scale"]) == pytest.approx(unit)
    assert np.allclose(td["time_windows"][0].numpy() * unit, inst.time_windows, rtol=1e-5)
    assert np.allclose(td["service_time"][0].numpy() * unit, inst.service_times, rtol=1e-5)
    assert torch.equal(td["durations"], td["service_time"])


def test_tw_mask_forbids_late_and_stranded_customers() -> None:
    """Hand-made: customer 1 closes before we can arrive, customer 2 cannot be served and still get home."""
    dur = torch.tensor([[0.0, 0.5, 0.2, 0.1], [0.5, 0.0, 0.3, 0.3], [0.2, 0.3, 0.0, 1.0], [0.1, 0.3, 1.0, 0.0]])
    td = TensorDict(
        {
            "locs": torch.rand(1, 4, 2),
            "distance_matrix": dur[None],
            "duration_matrix": dur[None],
            "demand": torch.full((1, 3), 0.1),
            "vehicle_capacity": torch.ones(1, 1),
            "time_windows": torch.tensor([[[0.0, 1.0], [0.0, 0.4], [0.0, 1.0], [0.0, 1.0]]]),
            "service_time": torch.tensor([[0.0, 0.1, 0.85, 0.1]]),
        },
        batch_size=[1],
    )
    env = RoadACVRPTWEnv()
    mask = env.reset(td)["action_mask"][0].tolist()
    # depot (just left it, work remains), 1 late (0.5 > 0.4), 2 home at 0.2 + 0.85 + 0.2 > 1, 3 fine
    assert mask == [False, False, False, True]


def test_actions_to_payload() -> None:
    assert actions_to_payload("tsp", torch.tensor([2, 0, 1])) == {"tour": [0, 1, 2]}
    assert actions_to_payload("acvrp", torch.tensor([3, 1, 0, 2, 0, 0])) == {"routes": [[3, 1], [2]]}
    assert actions_to_payload("cvrptw", [0, 2, 0]) == {"routes": [[2]]}


def test_env_without_generator_needs_data() -> None:
    for env_cls in (RoadATSPEnv, RoadACVRPEnv, RoadACVRPTWEnv):
        with pytest.raises(ValueError, match="no generator"):
            env_cls().reset(batch_size=[2])


def test_rl4co_policy_multistart_decodes_feasible_solutions(cities: list[City]) -> None:
    """An untrained rl4co AttentionModel policy (and MatNet on ATSP) reads the contract keys and decodes."""
    from rl4co.models import AttentionModelPolicy, MatNetPolicy

    torch.manual_seed(0)
    for kind in KINDS:
        instances = sample_instances(cities[2], kind, 7, 2, seed=1)
        env = make_env(kind)
        policies = [AttentionModelPolicy(env_name=env.name, embed_dim=16, num_encoder_layers=1, num_heads=2)]
        if kind == "atsp":
            policies.append(MatNetPolicy(env_name="atsp"))
        for policy in policies:
            td = env.reset(instances_to_td(instances))
            out = policy(td, env, decode_type="multistart_greedy", return_actions=True)
            objective = -out["reward"] * td["distance_scale"][:, 0].repeat(env.get_num_starts(td))
            for row, acts in enumerate(out["actions"]):
                inst = instances[row % len(instances)]
                payload = actions_to_payload(kind, acts)
                score = check(inst, Solution(kind=inst.kind, instance=inst.name, solver="am", payload=payload))
                assert score.feasible, score.violations
                assert float(objective[row]) == pytest.approx(score.objective, rel=1e-4)
