"""The lifelong MAPF drawings: the animated GIF, the static PNG, the goal timeline and the ``plot`` command."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from routelab.bench.mapf_plots import animate_episode, goal_timeline, plot_mapf
from routelab.cli.app import app
from routelab.problems import FormatError, LifelongMAPFInstance, Solution, save_instance, save_solution, score_payload

HORIZON = 6


@pytest.fixture
def instance() -> LifelongMAPFInstance:
    """6x6 with a two-cell wall; agent 0 goes out and back (2 goals), agents 1 and 2 have one goal each."""
    grid = np.zeros((6, 6), dtype=np.uint8)
    grid[2, 2:4] = 1
    return LifelongMAPFInstance(
        name="tiny",
        grid=grid,
        starts=[[0, 0], [5, 5], [0, 5]],
        horizon=HORIZON,
        goals=[[[0, 2], [0, 0]], [[5, 3]], [[3, 5]]],
    )


@pytest.fixture
def solution(instance: LifelongMAPFInstance) -> Solution:
    paths = [
        [[0, 0], [0, 1], [0, 2], [0, 1], [0, 0], [0, 0], [0, 0]],  # reaches (0,2) at t=2 and (0,0) at t=4
        [[5, 5], [5, 4], [5, 3], [5, 3], [5, 3], [5, 3], [5, 3]],  # reaches (5,3) at t=2
        [[0, 5], [1, 5], [2, 5], [3, 5], [3, 5], [3, 5], [3, 5]],  # reaches (3,5) at t=3
    ]
    score = score_payload(instance, {"paths": paths})
    assert score.feasible and score.details["goals"] == 4
    return Solution(
        kind="lifelong_mapf",
        instance="tiny",
        solver="hand",
        payload={"paths": paths},
        objective=score.objective,
        feasible=True,
    )


def test_goal_timeline_follows_the_scorer(instance: LifelongMAPFInstance, solution: Solution):
    goals, reached = goal_timeline(instance, np.array(solution.payload["paths"]))
    assert reached.tolist() == [0, 0, 2, 3, 4, 4, 4]  # agrees with the scorer's 4 goals
    # Frame t shows the goal active during step t: the reach frame shows the agent on its square.
    assert [tuple(g) for g in goals[:, 0]] == [(0, 2)] * 3 + [(0, 0)] * 2 + [(-1, -1)] * 2
    assert [tuple(g) for g in goals[:, 1]] == [(5, 3)] * 3 + [(-1, -1)] * 4


def test_gif_has_one_frame_per_step(tmp_path: Path, instance: LifelongMAPFInstance, solution: Solution):
    from PIL import Image

    out = tmp_path / "episode.gif"
    assert animate_episode(instance, solution, out, dpi=40) == HORIZON + 1
    assert out.read_bytes()[:6] in (b"GIF87a", b"GIF89a")
    with Image.open(out) as im:
        assert im.n_frames == HORIZON + 1
    short = tmp_path / "short.gif"
    animate_episode(instance, solution, short, max_steps=2, trail=0, dpi=40)
    with Image.open(short) as im:
        assert im.n_frames == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["episode.gif", "short.gif"]  # no temp files left


def test_static_png_with_and_without_solution(tmp_path: Path, instance: LifelongMAPFInstance, solution: Solution):
    for name, sol in (("map.png", None), ("paths.png", solution)):
        plot_mapf(instance, sol, tmp_path / name, dpi=40)
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_output_and_ragged_paths_are_refused(tmp_path: Path, instance: LifelongMAPFInstance, solution: Solution):
    with pytest.raises(FormatError, match=r"a \.gif or \.mp4"):
        animate_episode(instance, solution, tmp_path / "x.avi")
    ragged = {"paths": [p[:3] if a == 0 else p for a, p in enumerate(solution.payload["paths"])]}
    with pytest.raises(FormatError, match="equal length"):
        animate_episode(instance, ragged, tmp_path / "x.gif")


def test_cli_plot_animates_and_needs_a_solution(
    tmp_path: Path, instance: LifelongMAPFInstance, solution: Solution, monkeypatch: pytest.MonkeyPatch
):
    import routelab.bench.mapf_plots as mapf_plots

    inst_file, sol_file = tmp_path / "tiny.json", tmp_path / "tiny.sol.json"
    save_instance(instance, inst_file)
    save_solution(solution, sol_file)
    runner = CliRunner()

    result = runner.invoke(app, ["plot", str(inst_file), "-o", str(tmp_path / "a.gif")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "needs a solution" in lines[0]
    assert not (tmp_path / "a.gif").exists()

    real = mapf_plots.animate_episode
    monkeypatch.setattr(mapf_plots, "animate_episode", lambda *a, **k: real(*a, **{**k, "dpi": 40}))
    result = runner.invoke(app, ["plot", str(inst_file), str(sol_file), "-o", str(tmp_path / "a.gif")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "a.gif").read_bytes()[:4] == b"GIF8"
    result = runner.invoke(app, ["plot", str(inst_file), "-o", str(tmp_path / "map.png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "map.png").read_bytes()[:4] == b"\x89PNG"
