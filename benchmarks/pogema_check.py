"""Cross-check :mod:`routelab.mapf.sim` against POGEMA step by step.

POGEMA 1.4 pins ``pydantic<=1.9.1`` and ``gymnasium==0.28.1``, so it lives in its own virtualenv::

    python3 -m venv /tmp/pogema-venv && /tmp/pogema-venv/bin/pip install pogema
    .venv/bin/python benchmarks/pogema_check.py [--pogema-python /tmp/pogema-venv/bin/python]

For each scenario the same map and a fixed random action sequence go through POGEMA (``on_target="restart"``,
``collision_system="soft"``, run in a subprocess that answers in JSON) and through our :class:`Simulator`; positions,
goals and goal counts are compared after every step. Two goal modes are checked:

* ``generated``: POGEMA places starts/targets from its seed and draws new goals itself; we copy its starts and
  initial targets and use :class:`ComponentGoalSource` with the same seed (which mirrors POGEMA's random streams).
* ``sequences``: explicit starts and goal sequences (``agents_xy`` / ``targets_xy``) vs :class:`SequenceGoalSource`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import numpy as np

from routelab.mapf import ComponentGoalSource, SequenceGoalSource, Simulator

POGEMA_SIDE = r"""
import json, sys, warnings
warnings.filterwarnings("ignore")
import numpy as np
from pogema import pogema_v0, GridConfig

job = json.load(sys.stdin)
kw = dict(map=job["grid"], seed=job["seed"], num_agents=job["num_agents"], on_target="restart",
          collision_system="soft", max_episode_steps=job["horizon"], obs_radius=2)
if job.get("starts") is not None:
    kw.update(agents_xy=job["starts"], targets_xy=job["sequences"])
env = pogema_v0(grid_config=GridConfig(**kw))
env.reset(seed=job["seed"])
g = env.unwrapped.grid
out = {"starts": [list(map(int, p)) for p in g.get_agents_xy(ignore_borders=True)],
       "goals0": [list(map(int, p)) for p in g.get_targets_xy(ignore_borders=True)],
       "pos": [], "goals": [], "rewards": []}
for acts in job["actions"]:
    _, rew, _, _, _ = env.step(list(acts))
    out["pos"].append([list(map(int, p)) for p in g.get_agents_xy(ignore_borders=True)])
    out["goals"].append([list(map(int, p)) for p in g.get_targets_xy(ignore_borders=True)])
    out["rewards"].append([float(r) for r in rew])
json.dump(out, sys.stdout)
"""


def _random_map(rng: np.random.Generator, size: int, density: float) -> np.ndarray:
    return (rng.random((size, size)) < density).astype(np.uint8)


def _run_pogema(python: str, job: dict) -> dict:
    proc = subprocess.run([python, "-c", POGEMA_SIDE], input=json.dumps(job), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout)


def check(python: str, size: int, density: float, num_agents: int, horizon: int, seed: int, mode: str) -> dict:
    """Run one scenario through both simulators and return a summary with the first mismatch (if any)."""
    rng = np.random.default_rng(seed)
    grid = _random_map(rng, size, density)
    # bias towards moves: collisions, chains and swaps are what we want to exercise
    actions = rng.choice(5, size=(horizon, num_agents), p=[0.1, 0.225, 0.225, 0.225, 0.225])
    job = {
        "grid": grid.tolist(),
        "seed": seed,
        "num_agents": num_agents,
        "horizon": horizon,
        "actions": actions.tolist(),
    }
    if mode == "sequences":
        free = np.argwhere(grid == 0)
        starts = free[rng.choice(len(free), num_agents, replace=False)]
        seqs = [free[rng.integers(len(free), size=horizon + 2)] for _ in range(num_agents)]
        for a, s in enumerate(seqs):  # POGEMA frees start/target cells anyway; keep goals != start for clarity
            s[0] = s[0] if (s[0] != starts[a]).any() else s[1]
        job["starts"] = starts.tolist()
        job["sequences"] = [s.tolist() for s in seqs]
    pog = _run_pogema(python, job)

    starts = np.array(pog["starts"])
    goals0 = np.array(pog["goals0"])
    if mode == "sequences":
        source = SequenceGoalSource(job["sequences"])
    else:
        source = ComponentGoalSource(grid, num_agents, seed=seed)
    sim = Simulator(grid, starts, source, horizon, goals=goals0)
    first_mismatch = None
    for t in range(horizon):
        sim.step(actions[t])
        if not np.array_equal(sim.positions, np.array(pog["pos"][t])):
            bad = np.nonzero((sim.positions != np.array(pog["pos"][t])).any(axis=1))[0]
            first_mismatch = f"positions differ at step {t + 1} for agents {bad[:10].tolist()}"
            break
        if not np.array_equal(sim.goals, np.array(pog["goals"][t])):
            bad = np.nonzero((sim.goals != np.array(pog["goals"][t])).any(axis=1))[0]
            first_mismatch = f"goals differ at step {t + 1} for agents {bad[:10].tolist()}"
            break
    pog_counts = np.array(pog["rewards"]).sum(axis=0).astype(int)
    counts_equal = first_mismatch is None and np.array_equal(pog_counts, sim.goals_reached)
    traj = sim.trajectory
    moved = int((traj[1:] != traj[:-1]).any(axis=2).sum())
    return {
        "mode": mode,
        "size": size,
        "density": density,
        "agents": num_agents,
        "horizon": horizon,
        "seed": seed,
        "match": first_mismatch is None and counts_equal,
        "first_mismatch": first_mismatch,
        "goals_ours": int(sim.goals_reached.sum()),
        "goals_pogema": int(pog_counts.sum()),
        "moves": moved,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pogema-python", default="/tmp/pogema-venv/bin/python")
    ap.add_argument("--seeds", type=int, default=5)
    args = ap.parse_args()
    # POGEMA's own placement needs two free cells per agent in one component, so "generated" is less dense
    scenarios = {
        "generated": [(6, 0.1, 8, 60), (8, 0.2, 14, 80), (16, 0.1, 80, 80), (32, 0.1, 300, 40)],
        "sequences": [(5, 0.0, 20, 60), (8, 0.2, 35, 80), (16, 0.1, 160, 80), (32, 0.1, 500, 40)],
    }
    ok = True
    t0 = time.perf_counter()
    for mode, cases in scenarios.items():
        for size, density, agents, horizon in cases:
            for seed in range(args.seeds):
                res = check(args.pogema_python, size, density, agents, horizon, seed, mode)
                ok &= res["match"]
                print(json.dumps(res))
    print(f"ALL MATCH: {ok}  ({time.perf_counter() - t0:.1f}s)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
