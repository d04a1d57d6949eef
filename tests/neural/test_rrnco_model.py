"""The RRNCO policy, its checkpoints, the training entry point and the ``rrnco`` solver, all at toy sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_rrnco_envs import make_city

from routelab.data.roads.instances import sample_instances
from routelab.neural.rrnco.checkpoint import load_checkpoint, save_checkpoint
from routelab.neural.rrnco.envs import RoadGenerator, make_env
from routelab.neural.rrnco.model import RRNCOConfig, RRNCOPolicy
from routelab.problems import FormatError, check
from routelab.solvers import get_solver

torch.set_num_threads(1)
SMALL = {"embed_dim": 16, "num_layers": 1, "num_heads": 2, "feedforward_dim": 32, "bias_dim": 4, "sample_k": 4}


@pytest.fixture(scope="module")
def city():
    return make_city(40, 0)


@pytest.mark.parametrize("problem", ["atsp", "acvrp", "acvrptw"])
def test_policy_trains_a_step_and_decodes_every_start(problem: str, city):
    torch.manual_seed(0)
    env = make_env(problem, RoadGenerator([city], problem, 8))
    td = env.reset(batch_size=[4])
    policy = RRNCOPolicy(RRNCOConfig(problem=problem, **SMALL))
    starts = env.get_num_starts(td)
    out = policy(td.clone(), env, phase="train", decode_type="multistart_sampling", num_starts=starts)
    assert out["reward"].shape == (4 * starts,)
    loss = -(out["reward"] - out["reward"].mean()).detach() @ out["log_likelihood"]
    loss.backward()
    grads = [p.grad for p in policy.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    # the bias network and the decoder's distance weight are part of the computation graph
    assert policy.encoder.bias.out.weight.grad is not None
    assert policy.decoder.distance_weight.grad is not None


def test_the_encoder_reads_the_matrix_not_only_positions(city):
    torch.manual_seed(0)
    env = make_env("atsp", RoadGenerator([city], "atsp", 8))
    td = env.reset(batch_size=[2])
    policy = RRNCOPolicy(RRNCOConfig(problem="atsp", **SMALL)).eval()
    h, _ = policy.encoder(td)
    other = td.clone()
    other["distance_matrix"] = other["distance_matrix"].transpose(1, 2).contiguous()
    h2, _ = policy.encoder(other)
    assert not torch.allclose(h, h2)  # reversing every trip changes the embedding: asymmetry is seen


def test_checkpoint_round_trip_and_errors(tmp_path: Path):
    policy = RRNCOPolicy(RRNCOConfig(problem="acvrp", **SMALL))
    path = tmp_path / "acvrp.pt"
    save_checkpoint(policy, path, {"settings": {"size": 8}})
    back, record = load_checkpoint(path, "acvrp")
    assert record == {"settings": {"size": 8}} and back.config == policy.config
    for a, b in zip(policy.state_dict().values(), back.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(FormatError, match="trained for acvrptw"):
        load_checkpoint(path, "acvrptw")
    with pytest.raises(FormatError, match="no such file"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(FormatError, match=r"junk\.pt"):
        load_checkpoint(tmp_path / "junk.pt")


@pytest.mark.parametrize(("problem", "kind"), [("atsp", "atsp"), ("acvrp", "acvrp"), ("acvrptw", "acvrptw")])
def test_solver_returns_feasible_solutions_in_batches(tmp_path: Path, city, problem: str, kind: str):
    path = tmp_path / f"{problem}.pt"
    torch.manual_seed(1)
    save_checkpoint(RRNCOPolicy(RRNCOConfig(problem=problem, **SMALL)), path, {"settings": {"size": 8}})
    instances = sample_instances(city, kind, 8, 3, seed=2)
    solver = get_solver("rrnco", checkpoint=str(path), augment=2)
    solutions = solver.solve_many(instances)
    for inst, sol in zip(instances, solutions, strict=True):
        score = check(inst, sol)
        assert score.feasible, score.violations
        assert sol.objective == pytest.approx(score.objective)
    single = solver.solve(instances[0])
    assert single.objective == pytest.approx(solutions[0].objective)  # batching does not change the answer


def test_solver_refuses_a_checkpoint_of_another_problem(tmp_path: Path, city):
    path = tmp_path / "atsp.pt"
    save_checkpoint(RRNCOPolicy(RRNCOConfig(problem="atsp", **SMALL)), path, {})
    (inst,) = sample_instances(city, "acvrp", 6, 1, seed=0)
    with pytest.raises(FormatError, match="trained for acvrp"):
        get_solver("rrnco", checkpoint=str(path)).solve(inst)


def test_train_exports_a_checkpoint_with_its_record(tmp_path: Path):
    from routelab.neural.rrnco.train import TrainSettings, train

    out = tmp_path / "trained.pt"
    settings = TrainSettings(
        problem="acvrp", size=6, epochs=1, steps_per_epoch=2, batch_size=4, val_size=4, cities=1, city_points=30,
        run_dir=str(tmp_path / "run"), output=str(out), config=SMALL, threads=1,
    )  # fmt: skip
    assert train(settings, progress=False) == out
    _, record = load_checkpoint(out, "acvrp")
    assert record["settings"]["size"] == 6 and record["cities"] == ["synthetic-0"]
    assert record["wall_s"] > 0 and record["parameters"] > 0
    assert (tmp_path / "run" / "last.ckpt").exists()


def test_matnet_baseline_checkpoint_and_solver(tmp_path: Path, city):
    from routelab.neural.rrnco.checkpoint import build_policy

    path = tmp_path / "matnet.pt"
    save_checkpoint(build_policy("matnet", {"embed_dim": 16, "num_layers": 1, "num_heads": 2}), path, {})
    instances = sample_instances(city, "atsp", 8, 2, seed=3)
    solver = get_solver("matnet", checkpoint=str(path), augment=2)
    for inst, sol in zip(instances, solver.solve_many(instances), strict=True):
        assert check(inst, sol).feasible
    with pytest.raises(FormatError, match="a rrnco checkpoint"):
        get_solver("rrnco", checkpoint=str(path)).solve(instances[0])
    with pytest.raises(ValueError, match="ATSP only"):
        build_policy("matnet", {"problem": "acvrp"})
