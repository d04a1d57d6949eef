"""Learned Follower (FollowerLite-like): a tiny CNN that turns the planned path into a move, trained with PPO.

The published Follower (Skrynnik et al., AAAI 2024) splits every agent's decision in two: the heuristic
sub-goal decider (per-agent A* on static + congestion costs, :class:`routelab.mapf.follower.FollowerPlanner`) and a
learned local policy that follows that path while avoiding the other agents, seeing only a ``(2r+1)^2`` window.
This module is that second part:

* **Observation** (:func:`observe`), per agent, ``(3, 2r+1, 2r+1)`` float32 centred on the agent: channel 0 the
  obstacles (the map's outside counts as obstacle, like POGEMA's padding), channel 1 the other agents, channel 2
  the agent's own planned path (the cells of the A* path inside the window, goal included). These are
  FollowerLite's inputs; nothing else (no other agents' paths, no communication), so the policy stays
  decentralised.
* **Network** (:class:`FollowerLiteNet`): two 3x3 convolutions and a small MLP, ~3 K parameters (FollowerLite had
  3.7 K), an actor head over ``{wait, up, down, left, right}`` and a value head. Moves into obstacles are masked
  out, so the policy never asks for an illegal move; the simulator resolves the rest (soft collisions).
* **Inference** (:class:`LearnedFollowerPolicy`): one numba call plans all agents and extracts all windows, then
  one batched forward pass decides all moves, single-threaded torch on CPU.

Checkpoints are ``torch.save`` dictionaries (``format``, ``arch``, ``planner``, ``state_dict``, ``training``);
:func:`load_checkpoint` refuses a file of another format or architecture with a one-line reason. The shipped
checkpoint (``routelab/mapf/checkpoints/follower_lite.pt``) was trained by ``routelab train follower`` (see
:mod:`routelab.mapf.ppo`); its training record is embedded under ``training``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numba import njit
from torch import nn

from routelab.mapf.follower import FollowerConfig, FollowerPlanner

__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_CHECKPOINT",
    "FollowerLiteNet",
    "LearnedFollowerPolicy",
    "NetConfig",
    "load_checkpoint",
    "observe",
    "save_checkpoint",
]

CHECKPOINT_FORMAT = "routelab-follower-lite/1"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "follower_lite.pt"
N_CHANNELS = 3


# ---------------------------------------------------------------------------------------------------- observation
@njit(cache=True)
def _observe(
    blocked: np.ndarray,
    occ: np.ndarray,
    width2: int,
    radius: int,
    cur: np.ndarray,
    path_obs: np.ndarray,
    out: np.ndarray,
    legal: np.ndarray,
) -> None:
    """Fill ``out`` (A, 3, S, S) and the legal-action mask ``legal`` (A, 5) from the padded flat grid."""
    n_agents = cur.shape[0]
    height2 = blocked.size // width2
    side = 2 * radius + 1
    for a in range(n_agents):
        r0, c0 = cur[a] // width2, cur[a] % width2
        for i in range(side):
            r = r0 - radius + i
            for j in range(side):
                c = c0 - radius + j
                if r < 0 or r >= height2 or c < 0 or c >= width2:
                    out[a, 0, i, j] = 1.0
                    out[a, 1, i, j] = 0.0
                else:
                    v = r * width2 + c
                    out[a, 0, i, j] = 1.0 if blocked[v] != 0 else 0.0
                    b = occ[v]
                    out[a, 1, i, j] = 1.0 if (b >= 0 and b != a) else 0.0
                out[a, 2, i, j] = path_obs[a, i, j]
        me = cur[a]
        legal[a, 0] = True
        legal[a, 1] = blocked[me - width2] == 0
        legal[a, 2] = blocked[me + width2] == 0
        legal[a, 3] = blocked[me - 1] == 0
        legal[a, 4] = blocked[me + 1] == 0


def observe(planner: FollowerPlanner, cur: np.ndarray, path_obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, 3, S, S) float32 observations and (A, 5) bool legal moves, after ``planner.plan(cur, goal, path_obs)``
    (which marks the agents in ``planner.occ`` and the paths in ``path_obs``)."""
    a, side = len(cur), path_obs.shape[1]
    out = np.empty((a, N_CHANNELS, side, side), dtype=np.float32)
    legal = np.empty((a, 5), dtype=np.bool_)
    _observe(planner.blocked, planner.occ, planner.width2, (side - 1) // 2, cur, path_obs, out, legal)
    return out, legal


# ---------------------------------------------------------------------------------------------------- network
@dataclass(frozen=True)
class NetConfig:
    """Architecture of :class:`FollowerLiteNet` (stored in checkpoints and checked on load)."""

    obs_radius: int = 5
    channels: int = 8
    hidden: int = 16


class FollowerLiteNet(nn.Module):
    """conv3x3 -> conv3x3 (stride 2) -> linear -> {5 logits, value}; ~3 K parameters at the defaults."""

    def __init__(self, cfg: NetConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or NetConfig()
        side = 2 * self.cfg.obs_radius + 1
        if side < 5:
            raise ValueError(f"obs_radius must be >= 2 for the network, got {self.cfg.obs_radius}")
        ch = self.cfg.channels
        self.conv1 = nn.Conv2d(N_CHANNELS, ch, 3)
        self.conv2 = nn.Conv2d(ch, ch, 3, stride=2)
        s2 = (side - 2 - 3) // 2 + 1
        self.fc = nn.Linear(ch * s2 * s2, self.cfg.hidden)
        self.pi = nn.Linear(self.cfg.hidden, 5)
        self.v = nn.Linear(self.cfg.hidden, 1)
        nn.init.orthogonal_(self.pi.weight, 0.01)
        nn.init.zeros_(self.pi.bias)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.relu(self.conv1(obs))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.fc(x.flatten(1)))
        return self.pi(x), self.v(x).squeeze(-1)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def masked_logits(logits: torch.Tensor, legal: torch.Tensor) -> torch.Tensor:
    """Illegal moves (into obstacles) get a very low logit, so they are never sampled nor chosen."""
    return logits.masked_fill(~legal, -1e9)


# ---------------------------------------------------------------------------------------------------- checkpoints
_PLANNER_KEYS = ("obs_radius", "w_static", "w_dynamic", "dynamic_per_step", "w_flow", "w_oneway")


def save_checkpoint(
    path: str | Path,
    net: FollowerLiteNet,
    planner: FollowerConfig,
    training: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``net`` with its architecture, the planner settings it was trained with and the training record."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "format": CHECKPOINT_FORMAT,
        "arch": asdict(net.cfg),
        "planner": {k: getattr(planner, k) for k in _PLANNER_KEYS},
        "state_dict": net.state_dict(),
        "training": training or {},
        **(extra or {}),
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(doc, tmp)
    tmp.replace(path)  # atomic: an interrupted save never leaves a half-written checkpoint


def load_checkpoint(path: str | Path) -> tuple[FollowerLiteNet, dict[str, Any]]:
    """The network and the whole checkpoint dictionary; a ``ValueError`` naming the file for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such follower checkpoint (train one with `routelab train follower`)")
    try:
        doc = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # any unreadable file gets the same one-line reason
        raise ValueError(f"{path}: not a torch checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != CHECKPOINT_FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"{path}: expected a {CHECKPOINT_FORMAT!r} checkpoint, got format {got!r}")
    known = {f.name for f in fields(NetConfig)}
    arch = doc.get("arch", {})
    if not isinstance(arch, dict) or set(arch) - known:
        raise ValueError(f"{path}: unknown architecture fields {sorted(set(arch) - known)}")
    net = FollowerLiteNet(NetConfig(**arch))
    try:
        net.load_state_dict(doc["state_dict"])
    except (RuntimeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{path}: weights do not match architecture {arch}: {first}") from None
    net.eval()
    return net, doc


# ---------------------------------------------------------------------------------------------------- policy
class LearnedFollowerPolicy:
    """Follower planner + the learned avoidance network as a ``policy(sim) -> actions`` callable.

    ``checkpoint``: a path, or ``None`` for the shipped one; ``net``: use this network instead (training, tests).
    The planner settings (radius, cost weights) come from the checkpoint (or ``planner``), so the network sees
    paths planned the way it was trained. Moves are sampled from the policy (seeded by ``seed``, so episodes
    repeat); ``deterministic`` picks the most likely move instead, which loses 5-15 % throughput on the warehouse
    because two agents facing each other then make the same choice every step.
    """

    def __init__(
        self,
        checkpoint: str | Path | None = None,
        *,
        net: FollowerLiteNet | None = None,
        planner: FollowerConfig | None = None,
        seed: int = 0,
        deterministic: bool = False,
        threads: int | None = 1,
    ) -> None:
        if net is None:
            net, doc = load_checkpoint(checkpoint or DEFAULT_CHECKPOINT)
            planner_opts = doc.get("planner", {})
        else:
            planner_opts = {"obs_radius": net.cfg.obs_radius}
        self.net = net
        self.config = replace(planner, seed=seed) if planner is not None else FollowerConfig(seed=seed, **planner_opts)
        if self.config.obs_radius != net.cfg.obs_radius:
            raise ValueError(f"planner radius {self.config.obs_radius} != network radius {net.cfg.obs_radius}")
        self.planner = FollowerPlanner(self.config)
        self.deterministic = deterministic
        self.threads = threads
        self._gen = torch.Generator().manual_seed(seed)
        self._sim_id: int | None = None

    def reset(self, sim: Any) -> None:
        self.planner.reset(np.asarray(sim.grid), int(sim.num_agents))
        side = 2 * self.config.obs_radius + 1
        self._path_obs = np.zeros((int(sim.num_agents), side, side), dtype=np.uint8)
        self._gen = torch.Generator().manual_seed(self.config.seed)
        self._sim_id = id(sim)

    def observe(self, sim: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Plan all agents and extract their windows: ``(obs, legal, cur, desired)``."""
        if self._sim_id != id(sim) or sim.t == 0:
            self.reset(sim)
        p = self.planner
        cur = p.flat(sim.positions)
        p.plan(cur, p.flat(sim.goals), self._path_obs)
        obs, legal = observe(p, cur, self._path_obs)
        desired = p.desired.copy()
        p.occ[cur] = -1  # the per-step marks; nothing was claimed
        return obs, legal, cur, desired

    def __call__(self, sim: Any) -> np.ndarray:
        obs, legal, _, _ = self.observe(sim)
        prev = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            with torch.inference_mode():
                logits, _ = self.net(torch.from_numpy(obs))
                logits = masked_logits(logits, torch.from_numpy(legal))
                if self.deterministic:
                    act = logits.argmax(-1)
                else:
                    act = torch.multinomial(torch.softmax(logits, -1), 1, generator=self._gen).squeeze(-1)
        finally:
            if self.threads:
                torch.set_num_threads(prev)
        return act.numpy().astype(np.int64)
