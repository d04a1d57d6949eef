"""Throughput and seconds per episode of :class:`routelab.mapf.follower.FollowerPolicy` (lifelong MAPF).

    .venv/bin/python benchmarks/mapf_follower.py [--episodes 1] [--steps 256] [--seed 0]
    .venv/bin/python benchmarks/mapf_follower.py --map kiva-rhcr.map --agents 128 [--w-static 1 --w-dynamic 1]
    .venv/bin/python benchmarks/mapf_follower.py --instances --map kiva-rhcr.map --agents 32 --episodes 3 [--learned]
    .venv/bin/python benchmarks/mapf_follower.py --first-version --instances ...   # the first rule-based config

Default: random-32-32-10 with 64 agents and the RHCR warehouse (kiva-rhcr, 33x46) with 128 agents, 256 steps,
:class:`~routelab.mapf.ComponentGoalSource` goals, starts drawn uniformly (seeded) from the largest free component.
Throughput = goals reached / steps (POGEMA's ``avg_throughput``). Seconds per episode is ``Episode.wall_time``
(simulator + policy) after a warm-up episode that loads/compiles the numba kernels; the static penalty is computed
once per map and cached by the policy, and its time is reported separately.

``--instances`` runs the leaderboard's episodes instead (``routelab.data.mapf_io.make_instance``: random starts,
kiva endpoint goals on the warehouse, seeds ``seed .. seed + episodes - 1``), which is what
leaderboards/lifelong-mapf.toml measures. ``--learned`` runs the shipped learned policy
(:mod:`routelab.mapf.learned`); ``--first-version`` the first rule-based configuration (greedy avoidance,
``w_agents`` 10, static/dynamic weights 1, per-step congestion fractions) for before/after comparisons.

Published Follower on the warehouse with 128 agents (POGEMA benchmark, ../shared/benchmarks/mapf/README.md):
throughput 3.151, 3.39 s per episode (learned policy, different hardware).

The map readers are private to this script on purpose (two tiny formats; the maps stay in place under
../shared/benchmarks/mapf/maps).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import ndimage

from routelab.data.mapf_io import make_instance
from routelab.mapf import ComponentGoalSource, Simulator
from routelab.mapf.episode import run_episode
from routelab.mapf.follower import FollowerConfig, FollowerPolicy, static_penalty
from routelab.mapf.learned import LearnedFollowerPolicy

MAPS = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "mapf" / "maps"
PUBLISHED = {
    ("kiva-rhcr.map", 32): (1.127, 1.79),
    ("kiva-rhcr.map", 64): (1.957, 2.22),
    ("kiva-rhcr.map", 96): (2.613, 2.81),
    ("kiva-rhcr.map", 128): (3.151, 3.39),
    ("kiva-rhcr.map", 160): (3.599, 3.98),
    ("kiva-rhcr.map", 192): (3.937, 5.16),
}
FIRST_VERSION = {"avoidance": "greedy", "w_agents": 10.0, "w_static": 1.0, "w_dynamic": 1.0, "dynamic_per_step": True}
"""The first rule-based configuration (before the diagnosis in docs/solvers/lifelong-mapf.md)."""


def read_map(path: Path) -> np.ndarray:
    """(H, W) uint8 grid, 1 = blocked, from a MovingAI ``.map`` or an RHCR ``rows,cols`` map."""
    lines = path.read_text().splitlines()
    if lines[0].startswith("type"):
        h = int(lines[1].split()[1])
        rows = lines[4 : 4 + h]
        return np.array([[0 if ch in ".G" else 1 for ch in row] for row in rows], dtype=np.uint8)
    h, w = (int(x) for x in lines[0].split(","))
    rows = lines[4 : 4 + h]
    grid = np.array([[0 if ch in ".er" else 1 for ch in row[:w]] for row in rows], dtype=np.uint8)
    assert grid.shape == (h, w), grid.shape
    return grid


def random_starts(grid: np.ndarray, n: int, seed: int) -> np.ndarray:
    labels, _ = ndimage.label(grid == 0)
    biggest = np.bincount(labels.ravel())[1:].argmax() + 1
    cells = np.argwhere(labels == biggest)
    rng = np.random.default_rng(seed)
    return cells[rng.choice(len(cells), n, replace=False)]


def run(
    map_name: str,
    agents: int,
    steps: int,
    episodes: int,
    seed: int,
    cfg: FollowerConfig,
    instances: bool = False,
    learned: bool = False,
) -> None:
    grid = read_map(MAPS / map_name)
    t0 = time.perf_counter()
    static_penalty(grid, cfg.static_exact_cells, cfg.static_sources, cfg.seed)
    t_static = time.perf_counter() - t0
    policy = LearnedFollowerPolicy(seed=seed) if learned else FollowerPolicy(cfg)
    warm = Simulator(grid, random_starts(grid, agents, seed), ComponentGoalSource(grid, agents, seed), horizon=4)
    warm.run(policy)  # numba compile / cache load + static penalty of this map
    thr, wall = [], []
    for e in range(episodes):
        if instances:
            inst = make_instance(MAPS / map_name, agents=agents, horizon=steps, seed=seed + e)
            _, ep = run_episode(inst, policy)
        else:
            starts = random_starts(grid, agents, seed + e)
            sim = Simulator(grid, starts, ComponentGoalSource(grid, agents, seed + e), horizon=steps)
            ep = sim.run(policy)
        thr.append(ep.throughput)
        wall.append(ep.wall_time)
    line = (
        f"{map_name:24s} {grid.shape[0]}x{grid.shape[1]} agents {agents:4d} steps {steps}: "
        f"throughput {np.mean(thr):.3f} (+-{np.std(thr):.3f}, {episodes} ep)  {np.mean(wall):.2f} s/episode  "
        f"static {t_static:.2f} s"
    )
    if learned:
        line += "  [learned policy]"
    pub = PUBLISHED.get((map_name, agents))
    if pub and steps == 256:
        line += f"   [published Follower: {pub[0]:.3f}, {pub[1]:.2f} s]"
    print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--map", action="append", help="map file name under the shared maps folder (repeatable)")
    ap.add_argument("--agents", type=int, action="append", help="agents per map (repeatable, paired with --map)")
    ap.add_argument("--steps", type=int, default=256)
    ap.add_argument("--episodes", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--w-static", type=float, default=FollowerConfig.w_static)
    ap.add_argument("--w-dynamic", type=float, default=FollowerConfig.w_dynamic)
    ap.add_argument("--sidestep-prob", type=float, default=FollowerConfig.sidestep_prob)
    ap.add_argument("--w-agents", type=float, default=FollowerConfig.w_agents)
    ap.add_argument("--patience", type=int, default=FollowerConfig.patience)
    ap.add_argument("--obs-radius", type=int, default=FollowerConfig.obs_radius)
    ap.add_argument("--avoidance", choices=["pibt", "greedy"], default=FollowerConfig.avoidance)
    ap.add_argument("--replan-every", type=int, default=FollowerConfig.replan_every)
    ap.add_argument("--dynamic-per-step", action="store_true")
    ap.add_argument("--first-version", action="store_true", help="the first rule-based configuration")
    ap.add_argument("--instances", action="store_true", help="the leaderboard's episodes (endpoint goals)")
    ap.add_argument("--learned", action="store_true", help="the shipped learned policy")
    args = ap.parse_args()
    maps = args.map or ["random-32-32-10.map", "kiva-rhcr.map"]
    agents = args.agents or ([64, 128] if not args.map else [64] * len(maps))
    if len(agents) == 1:
        agents = agents * len(maps)
    cfg = FollowerConfig(
        obs_radius=args.obs_radius,
        w_static=args.w_static,
        w_dynamic=args.w_dynamic,
        sidestep_prob=args.sidestep_prob,
        w_agents=args.w_agents,
        patience=args.patience,
        avoidance=args.avoidance,
        replan_every=args.replan_every,
        dynamic_per_step=args.dynamic_per_step,
        seed=args.seed,
    )
    if args.first_version:
        cfg = replace(cfg, **FIRST_VERSION)
    print(f"config: {cfg}")
    for m, a in zip(maps, agents, strict=True):
        run(m, a, args.steps, args.episodes, args.seed, cfg, args.instances, args.learned)


if __name__ == "__main__":
    main()
