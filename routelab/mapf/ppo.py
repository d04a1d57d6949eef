"""PPO training of the learned Follower (:mod:`routelab.mapf.learned`) in the numba simulator, on CPU.

Why this shape: every agent of every environment is one sample of the same shared policy (parameter sharing, as
in the paper), so a few environments with tens of agents each give thousands of samples per rollout, and one
batched forward pass per environment step serves all of them. The planner and the observation windows are one
numba call per step; torch runs single-threaded.

* **Environments**: ``envs`` simulators with fixed agent counts (``agents``), each episode on a freshly drawn map:
  random obstacle grids, procedural warehouses (shelf blocks and aisles), procedural mazes, and, when the benchmark
  root exists, the public maps named in ``TrainConfig.shared_maps`` read in place (never copied). Starts are
  random free cells of the largest component; goals are POGEMA's uniform component goals.
* **Reward** (the paper's "follow the path" reward): +1 when the agent ends the step on the first cell of the path
  it was given (it advanced along its plan), else 0. The policy is thus rewarded for following, and learns when
  waiting or stepping aside pays off later (discount ``gamma``).
* **PPO**: clipped objective, GAE(``gamma``, ``lam``), value loss, entropy bonus, Adam with a linearly decaying
  learning rate; illegal moves (into obstacles) are masked in both sampling and the loss. Episodes end at the
  horizon as truncations: GAE bootstraps from the critic's value of the final state.
* **Checkpoints**: ``run_dir/last.pt`` every ``checkpoint_every`` iterations (network, optimiser, counters, curve)
  so an interrupted run resumes (``resume=True``; environments restart with new episodes); the exported
  checkpoint holds the network, the planner settings and the training record.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from routelab.mapf.follower import FollowerConfig
from routelab.mapf.learned import (
    FollowerLiteNet,
    LearnedFollowerPolicy,
    NetConfig,
    load_checkpoint,
    masked_logits,
    save_checkpoint,
)
from routelab.mapf.sim import ComponentGoalSource, Simulator

__all__ = ["TrainConfig", "make_training_map", "ppo_update", "train"]


@dataclass
class TrainConfig:
    """Settings of :func:`train` (stored in the checkpoint's training record)."""

    total_steps: int = 10_000_000
    """Agent-steps (samples) to collect in total."""
    time_limit: float | None = None
    """Stop after this many wall seconds (checked between iterations), whatever ``total_steps`` says."""
    agents: tuple[int, ...] = (16, 32, 64, 96)
    """One environment per entry, with that many agents (fixed, so rollout arrays keep their shape)."""
    rollout: int = 32
    """Environment steps per environment per iteration."""
    horizon: int = 256
    """Steps per episode; then a new map is drawn."""
    lr: float = 1e-3
    lr_final: float = 1e-4
    gamma: float = 0.95
    lam: float = 0.95
    clip: float = 0.2
    epochs: int = 3
    minibatch: int = 4096
    ent_coef: float = 0.01
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    obs_radius: int = 5
    channels: int = 8
    hidden: int = 16
    seed: int = 0
    threads: int = 1
    checkpoint_every: int = 10
    shared_maps: tuple[str, ...] = (
        "mapf/maps/random-32-32-10.map",
        "mapf/maps/random-32-32-20.map",
        "mapf/maps/maze-32-32-2.map",
        "mapf/maps/kiva-rhcr.map",
    )
    planner: dict[str, Any] = field(default_factory=dict)
    """Overrides of :class:`FollowerConfig` for the planner (default: its defaults)."""

    def __post_init__(self) -> None:
        if self.total_steps < 1 or self.rollout < 1 or self.horizon < 1 or self.epochs < 1 or self.minibatch < 1:
            raise ValueError("total_steps, rollout, horizon, epochs and minibatch must be positive")
        if not self.agents or min(self.agents) < 1:
            raise ValueError(f"agents must be positive counts, got {self.agents}")
        if not 0 < self.gamma <= 1 or not 0 <= self.lam <= 1:
            raise ValueError("need 0 < gamma <= 1 and 0 <= lam <= 1")


# ---------------------------------------------------------------------------------------------------- maps
def _random_grid(rng: np.random.Generator) -> np.ndarray:
    h, w = (int(x) for x in rng.integers(17, 41, size=2))
    return (rng.random((h, w)) < rng.uniform(0.0, 0.3)).astype(np.uint8)


def _warehouse(rng: np.random.Generator) -> np.ndarray:
    """Shelf blocks (1 row high, ``length`` long) separated by aisles, with a free border for the robots."""
    length = int(rng.integers(4, 11))
    nx, ny = int(rng.integers(2, 5)), int(rng.integers(3, 8))
    gap_r, gap_c, border = int(rng.integers(2, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 5))
    h = border * 2 + ny * (1 + gap_r) + gap_r
    w = border * 2 + nx * (length + gap_c) - gap_c
    grid = np.zeros((h, w), dtype=np.uint8)
    for j in range(ny):
        r = border + gap_r + j * (1 + gap_r)
        for i in range(nx):
            c = border + i * (length + gap_c)
            grid[r, c : c + length] = 1
    return grid


def _maze(rng: np.random.Generator) -> np.ndarray:
    """A depth-first-search maze with corridors ``k`` cells wide (walls 1 cell), some walls knocked out."""
    k = int(rng.integers(1, 3))
    n = int(rng.integers(5, 10))
    size = n * (k + 1) + 1
    grid = np.ones((size, size), dtype=np.uint8)
    seen = np.zeros((n, n), dtype=bool)
    stack = [(0, 0)]
    seen[0, 0] = True

    def carve(i: int, j: int) -> None:
        r, c = 1 + i * (k + 1), 1 + j * (k + 1)
        grid[r : r + k, c : c + k] = 0

    carve(0, 0)
    while stack:
        i, j = stack[-1]
        nbrs = [(i + di, j + dj) for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1))]
        nbrs = [(a, b) for a, b in nbrs if 0 <= a < n and 0 <= b < n and not seen[a, b]]
        if not nbrs:
            stack.pop()
            continue
        a, b = nbrs[int(rng.integers(len(nbrs)))]
        seen[a, b] = True
        carve(a, b)
        r0, c0 = 1 + min(i, a) * (k + 1), 1 + min(j, b) * (k + 1)
        if a != i:
            grid[r0 + k, c0 : c0 + k] = 0
        else:
            grid[r0 : r0 + k, c0 + k] = 0
        stack.append((a, b))
    walls = np.argwhere(grid[1:-1, 1:-1] == 1) + 1
    if len(walls):
        knock = walls[rng.random(len(walls)) < 0.05]
        grid[knock[:, 0], knock[:, 1]] = 0
    return grid


def _load_shared(names: tuple[str, ...]) -> list[np.ndarray]:
    from routelab.data.mapf_io import read_grid_map
    from routelab.data.root import resolve_root

    root = resolve_root()
    if root is None:
        return []
    grids = []
    for name in names:
        path = root / name
        if path.is_file():
            grids.append(np.asarray(read_grid_map(path).grid, dtype=np.uint8))
    return grids


def make_training_map(rng: np.random.Generator, agents: int, shared: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """A map with room for ``agents`` (at most a third of its largest component) and random starts on it."""
    from scipy import ndimage

    for _ in range(200):
        kind = int(rng.integers(4 if shared else 3))
        grid = (_random_grid, _warehouse, _maze)[kind](rng) if kind < 3 else shared[int(rng.integers(len(shared)))]
        labels, n = ndimage.label(grid == 0)
        if n == 0:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        cells = np.argwhere(labels == sizes.argmax() + 1)
        if len(cells) >= 3 * agents:
            return grid, cells[rng.choice(len(cells), agents, replace=False)]
    raise ValueError(f"could not draw a training map with room for {agents} agents")


# ---------------------------------------------------------------------------------------------------- environments
class _Env:
    """One simulator + planner; keeps the observation of the current state so each state is planned once."""

    def __init__(self, agents: int, cfg: TrainConfig, net: FollowerLiteNet, shared: list[np.ndarray], seed: int):
        self.agents = agents
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        planner = FollowerConfig(obs_radius=cfg.obs_radius, **cfg.planner)
        self.policy = LearnedFollowerPolicy(net=net, planner=planner, seed=seed)
        self.shared = shared
        self.goals_done: list[float] = []
        self._new_episode()

    def _new_episode(self) -> None:
        grid, starts = make_training_map(self.rng, self.agents, self.shared)
        src = ComponentGoalSource(grid, self.agents, seed=int(self.rng.integers(2**31)))
        self.sim = Simulator(grid, starts, src, horizon=self.cfg.horizon)
        self.sim.reset()
        self.state = self.policy.observe(self.sim)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, bool, tuple[np.ndarray, np.ndarray] | None]:
        """Act; returns (rewards, truncated, final (obs, legal) when truncated)."""
        _, _, cur, desired = self.state
        self.sim.step(actions)
        now = self.policy.planner.flat(self.sim.positions)
        reward = ((now == desired) & (desired != cur)).astype(np.float32)
        if self.sim.done:
            self.goals_done.append(float(self.sim.goals_reached.sum()) / self.sim.horizon / self.agents)
            final_obs, final_legal, _, _ = self.policy.observe(self.sim)
            self._new_episode()
            return reward, True, (final_obs, final_legal)
        self.state = self.policy.observe(self.sim)
        return reward, False, None


# ---------------------------------------------------------------------------------------------------- PPO
def ppo_update(
    net: FollowerLiteNet,
    opt: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    cfg: TrainConfig,
    gen: torch.Generator,
) -> dict[str, float]:
    """``cfg.epochs`` passes of clipped PPO over ``batch`` (obs, legal, act, logp, adv, ret); returns mean losses."""
    n = batch["obs"].shape[0]
    adv = batch["adv"]
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    stats = {"pi_loss": 0.0, "v_loss": 0.0, "entropy": 0.0, "clip_frac": 0.0}
    count = 0
    for _ in range(cfg.epochs):
        perm = torch.randperm(n, generator=gen)
        for s in range(0, n, cfg.minibatch):
            idx = perm[s : s + cfg.minibatch]
            logits, value = net(batch["obs"][idx])
            logits = masked_logits(logits, batch["legal"][idx])
            logp_all = torch.log_softmax(logits, -1)
            logp = logp_all.gather(1, batch["act"][idx].unsqueeze(1)).squeeze(1)
            ratio = torch.exp(logp - batch["logp"][idx])
            a = adv[idx]
            pi_loss = -torch.min(ratio * a, torch.clamp(ratio, 1 - cfg.clip, 1 + cfg.clip) * a).mean()
            v_loss = 0.5 * (value - batch["ret"][idx]).pow(2).mean()
            probs = logp_all.exp()
            entropy = -(probs * torch.where(probs > 0, logp_all, torch.zeros_like(logp_all))).sum(-1).mean()
            loss = pi_loss + cfg.vf_coef * v_loss - cfg.ent_coef * entropy
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm)
            opt.step()
            stats["pi_loss"] += pi_loss.item()
            stats["v_loss"] += v_loss.item()
            stats["entropy"] += entropy.item()
            stats["clip_frac"] += float(((ratio - 1).abs() > cfg.clip).float().mean())
            count += 1
    return {k: v / max(count, 1) for k, v in stats.items()}


def _gae(
    rew: np.ndarray, val: np.ndarray, done: np.ndarray, boot: np.ndarray, last_v: np.ndarray, gamma: float, lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """GAE over (T, A) arrays; ``done[t]`` marks a truncation after step ``t``, bootstrapped with ``boot[t]``."""
    t_len = rew.shape[0]
    adv = np.zeros_like(rew)
    nxt = np.zeros(rew.shape[1], dtype=np.float32)
    for t in range(t_len - 1, -1, -1):
        if done[t]:
            next_v = boot[t]
            nxt = np.zeros_like(nxt)
        else:
            next_v = val[t + 1] if t + 1 < t_len else last_v
        delta = rew[t] + gamma * next_v - val[t]
        nxt = delta + gamma * lam * nxt
        adv[t] = nxt
    return adv, adv + val


def train(
    cfg: TrainConfig,
    output: str | Path,
    run_dir: str | Path = "runs/train-follower",
    resume: bool = False,
    command: str = "",
    progress: Callable[[int, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train with PPO until ``total_steps`` samples (or ``time_limit``); export to ``output``; return the record."""
    torch.set_num_threads(max(1, int(cfg.threads)))
    torch.manual_seed(cfg.seed)
    run_dir = Path(run_dir)
    last = run_dir / "last.pt"
    net = FollowerLiteNet(NetConfig(obs_radius=cfg.obs_radius, channels=cfg.channels, hidden=cfg.hidden))
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    steps, iteration, wall_before = 0, 0, 0.0
    curve: list[dict[str, float]] = []
    if resume:
        if not last.is_file():
            raise FileNotFoundError(f"{last}: nothing to resume (no last.pt in --run-dir)")
        net, doc = load_checkpoint(last)
        if asdict(net.cfg) != asdict(NetConfig(cfg.obs_radius, cfg.channels, cfg.hidden)):
            raise ValueError(f"{last}: architecture {asdict(net.cfg)} differs from the requested one")
        net.train()
        opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
        opt.load_state_dict(doc["optimizer"])
        steps, iteration = int(doc["steps"]), int(doc["iteration"])
        wall_before, curve = float(doc["wall_s"]), list(doc["training"].get("curve", []))
    planner_cfg = FollowerConfig(obs_radius=cfg.obs_radius, **cfg.planner)
    shared = _load_shared(cfg.shared_maps)
    envs = [_Env(n, cfg, net, shared, cfg.seed * 1000 + iteration * 17 + i) for i, n in enumerate(cfg.agents)]
    gen = torch.Generator().manual_seed(cfg.seed + iteration)
    t0 = time.perf_counter()

    def record() -> dict[str, Any]:
        return {
            "command": command,
            "config": asdict(cfg),
            "steps": steps,
            "iterations": iteration,
            "wall_s": round(wall_before + time.perf_counter() - t0, 1),
            "params": net.n_params(),
            "shared_maps_used": len(shared),
            "curve": curve,
        }

    def save(path: Path, with_opt: bool) -> None:
        extra = {"steps": steps, "iteration": iteration, "wall_s": wall_before + time.perf_counter() - t0}
        if with_opt:
            extra["optimizer"] = opt.state_dict()
        save_checkpoint(path, net, planner_cfg, record(), extra)

    while steps < cfg.total_steps:
        if cfg.time_limit is not None and wall_before + time.perf_counter() - t0 >= cfg.time_limit:
            break
        frac = min(1.0, steps / cfg.total_steps)
        for grp in opt.param_groups:
            grp["lr"] = cfg.lr + (cfg.lr_final - cfg.lr) * frac
        net.eval()
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "legal", "act", "logp", "adv", "ret")}
        rew_sum, rew_n = 0.0, 0
        for env in envs:
            a, t_len = env.agents, cfg.rollout
            side = 2 * cfg.obs_radius + 1
            obs = np.empty((t_len, a, 3, side, side), dtype=np.float32)
            legal = np.empty((t_len, a, 5), dtype=bool)
            act = np.empty((t_len, a), dtype=np.int64)
            logp = np.empty((t_len, a), dtype=np.float32)
            val = np.empty((t_len, a), dtype=np.float32)
            rew = np.empty((t_len, a), dtype=np.float32)
            done = np.zeros(t_len, dtype=bool)
            boot = np.zeros((t_len, a), dtype=np.float32)
            with torch.inference_mode():
                for t in range(t_len):
                    o, lg, _, _ = env.state
                    logits, v = net(torch.from_numpy(o))
                    logits = masked_logits(logits, torch.from_numpy(lg))
                    dist = torch.distributions.Categorical(logits=logits)
                    ac = dist.sample()
                    obs[t], legal[t], act[t] = o, lg, ac.numpy()
                    logp[t], val[t] = dist.log_prob(ac).numpy(), v.numpy()
                    r, truncated, final = env.step(act[t])
                    rew[t] = r
                    if truncated:
                        assert final is not None
                        done[t] = True
                        boot[t] = net(torch.from_numpy(final[0]))[1].numpy()
                last_v = net(torch.from_numpy(env.state[0]))[1].numpy()
            adv, ret = _gae(rew, val, done, boot, last_v, cfg.gamma, cfg.lam)
            for k, arr in (("obs", obs), ("legal", legal), ("act", act), ("logp", logp), ("adv", adv), ("ret", ret)):
                parts[k].append(arr.reshape(t_len * a, *arr.shape[2:]))
            rew_sum += float(rew.sum())
            rew_n += rew.size
        batch = {k: torch.from_numpy(np.concatenate(v)) for k, v in parts.items()}
        net.train()
        stats = ppo_update(net, opt, batch, cfg, gen)
        steps += rew_n
        iteration += 1
        recent = [g for env in envs for g in env.goals_done[-4:]]
        point = {
            "steps": steps,
            "wall_s": round(wall_before + time.perf_counter() - t0, 1),
            "reward": round(rew_sum / max(rew_n, 1), 4),
            "goals_per_agent_step": round(float(np.mean(recent)), 4) if recent else math.nan,
            **{k: round(v, 4) for k, v in stats.items()},
        }
        curve.append(point)
        if progress is not None:
            progress(iteration, point)
        if iteration % cfg.checkpoint_every == 0:
            save(last, with_opt=True)
    save(last, with_opt=True)
    save(Path(output), with_opt=False)
    return record()
