"""Learned Follower (:mod:`routelab.mapf.learned`, :mod:`routelab.mapf.ppo`): observations, PPO, checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from routelab.mapf import MOVES, ComponentGoalSource, Simulator
from routelab.mapf.follower import FollowerConfig, FollowerPlanner
from routelab.mapf.learned import (
    CHECKPOINT_FORMAT,
    DEFAULT_CHECKPOINT,
    FollowerLiteNet,
    LearnedFollowerPolicy,
    NetConfig,
    load_checkpoint,
    observe,
    save_checkpoint,
)
from routelab.mapf.ppo import TrainConfig, make_training_map, train


def _corridor() -> np.ndarray:
    grid = np.ones((5, 12), dtype=np.uint8)
    grid[2, :] = 0  # a 1-wide corridor ...
    grid[1:4, 5] = 0  # ... with one passing bay
    return grid


def test_observation_channels_and_legal_moves() -> None:
    grid = _corridor()
    planner = FollowerPlanner(FollowerConfig(obs_radius=3))
    planner.reset(grid, 2)
    cur = planner.flat(np.array([[2, 0], [2, 2]]))
    goal = planner.flat(np.array([[2, 4], [2, 11]]))
    path_obs = np.zeros((2, 7, 7), dtype=np.uint8)
    planner.plan(cur, goal, path_obs)
    obs, legal = observe(planner, cur, path_obs)
    planner.occ[cur] = -1
    assert obs.shape == (2, 3, 7, 7) and obs.dtype == np.float32
    assert legal.shape == (2, 5)
    c = 3  # the centre of the 7x7 window
    # agent 0 at (2, 0): the map's outside (column -1) and the walls above/below are obstacles
    assert obs[0, 0, c, c - 1] == 1 and obs[0, 0, c - 1, c] == 1 and obs[0, 0, c, c] == 0
    assert obs[0, 1, c, c + 2] == 1 and obs[0, 1, c, c] == 0  # agent 1 two cells to the right, not itself
    assert obs[0, 2, c, c + 1] == 1 and obs[0, 2, c, c + 3] == 1  # its path runs right along the corridor
    assert legal[0].tolist() == [True, False, False, False, True]  # wait or right only
    assert planner.desired[0] == cur[0] + 1


def test_policy_never_requests_moves_into_walls_and_is_seeded() -> None:
    grid = _corridor()
    starts = np.array([[2, 0], [2, 11], [2, 3], [2, 8]])
    torch.manual_seed(0)
    net = FollowerLiteNet(NetConfig(obs_radius=3))
    bad: list[int] = []
    for deterministic in (True, False):
        policy = LearnedFollowerPolicy(net=net, seed=1, deterministic=deterministic)

        def checked(s: Simulator, policy: LearnedFollowerPolicy = policy) -> np.ndarray:
            acts = policy(s)
            assert acts.shape == (4,) and acts.dtype == np.int64
            tgt = np.asarray(s.positions) + MOVES[acts]
            inside = (tgt[:, 0] >= 0) & (tgt[:, 0] < 5) & (tgt[:, 1] >= 0) & (tgt[:, 1] < 12)
            bad.extend(np.flatnonzero(~inside).tolist())
            bad.extend(np.flatnonzero(grid[tgt[inside, 0], tgt[inside, 1]] == 1).tolist())
            return acts

        sim = Simulator(grid, starts, ComponentGoalSource(grid, 4, seed=2), horizon=30)
        first = sim.run(checked)
        assert np.array_equal(sim.run(checked).trajectory, first.trajectory)  # same seed, same episode
    assert bad == []


def test_a_few_ppo_iterations_change_the_weights_and_resume(tmp_path: Path) -> None:
    cfg = TrainConfig(total_steps=400, agents=(4, 6), rollout=20, horizon=30, epochs=2, minibatch=64, shared_maps=())
    out = tmp_path / "lite.pt"
    torch.manual_seed(cfg.seed)
    init = FollowerLiteNet(NetConfig(obs_radius=cfg.obs_radius, channels=cfg.channels, hidden=cfg.hidden))
    points: list[dict] = []
    record = train(cfg, out, run_dir=tmp_path / "run", progress=lambda i, p: points.append(p))
    assert record["steps"] >= 400 and record["iterations"] == len(points) == len(record["curve"]) >= 2
    net, doc = load_checkpoint(out)
    assert doc["training"]["steps"] == record["steps"] and "optimizer" not in doc
    pairs = zip(init.state_dict().values(), net.state_dict().values(), strict=True)
    assert any(not torch.equal(a, b) for a, b in pairs)
    cfg.total_steps = 600
    again = train(cfg, out, run_dir=tmp_path / "run", resume=True)
    assert again["steps"] >= 600 and again["iterations"] > record["iterations"]
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(cfg, out, run_dir=tmp_path / "empty", resume=True)


def test_checkpoint_round_trip_and_clear_errors(tmp_path: Path) -> None:
    torch.manual_seed(3)
    net = FollowerLiteNet(NetConfig(obs_radius=4, channels=4, hidden=8))
    path = tmp_path / "a.pt"
    save_checkpoint(path, net, FollowerConfig(obs_radius=4), {"steps": 7})
    back, doc = load_checkpoint(path)
    x = torch.rand(5, 3, 9, 9)
    assert torch.allclose(net(x)[0], back(x)[0]) and doc["training"]["steps"] == 7
    assert doc["planner"]["obs_radius"] == 4
    # weights of another architecture under this one's name
    doc["arch"]["channels"] = 8
    torch.save(doc, tmp_path / "mismatch.pt")
    with pytest.raises(ValueError, match="do not match architecture"):
        load_checkpoint(tmp_path / "mismatch.pt")
    torch.save({"format": "something-else/1"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match=CHECKPOINT_FORMAT):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="not a torch checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="routelab train follower"):
        load_checkpoint(tmp_path / "missing.pt")


def test_training_maps_have_room_and_the_shipped_checkpoint_loads() -> None:
    rng = np.random.default_rng(0)
    for agents in (4, 32):
        grid, starts = make_training_map(rng, agents, [])
        assert len(starts) == agents and (grid[starts[:, 0], starts[:, 1]] == 0).all()
    assert DEFAULT_CHECKPOINT.is_file(), "the learned follower checkpoint must ship with the package"
    net, doc = load_checkpoint(DEFAULT_CHECKPOINT)
    assert 1_000 <= net.n_params() <= 10_000  # FollowerLite-sized
    assert doc["training"]["steps"] > 0 and doc["training"]["command"].startswith("routelab train follower")
