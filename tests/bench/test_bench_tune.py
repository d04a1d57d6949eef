"""routelab.bench.tune: configurations, ranking, and a whole resumable search through the runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from routelab.bench import read_results
from routelab.bench.jobs import ResultRow
from routelab.bench.tune import configurations, options_toml, rank_trials, trial_label, tune, tuning_spec


def test_configurations_start_with_defaults_and_are_distinct():
    space = {"a": (1, 2, 3), "b": ("x", "y")}
    configs = configurations(space, 5, seed=7)
    assert configs[0] == {}
    assert len(configs) == 5
    assert len({tuple(sorted(c.items())) for c in configs}) == 5
    assert configs == configurations(space, 5, seed=7)
    assert configurations(space, 50, seed=7)[1:] != [] and len(configurations(space, 50, seed=7)) == 7


def test_fixed_options_leave_the_space_and_join_every_trial():
    configs = configurations({"a": (1, 2), "heatmap": ("zero", "softdist")}, 10, seed=0, fixed={"heatmap": "zero"})
    assert configs[0] == {"heatmap": "zero"}
    assert all(c["heatmap"] == "zero" for c in configs)
    assert len(configs) == 3


def test_large_spaces_are_sampled_without_enumerating():
    space = {f"p{k}": tuple(range(10)) for k in range(6)}  # a million points
    configs = configurations(space, 20, seed=1)
    assert len({tuple(sorted(c.items())) for c in configs}) == 20


def test_bad_spaces_are_refused():
    with pytest.raises(ValueError, match="'a'"):
        configurations({"a": ()}, 3, seed=0)
    with pytest.raises(ValueError, match="trials"):
        configurations({"a": (1,)}, 0, seed=0)


def test_labels_are_stable_and_name_every_option():
    assert trial_label("mcts", {}) == "mcts[defaults]"
    assert trial_label("mcts", {"beta": 10, "alpha": 0}) == trial_label("mcts", {"alpha": 0, "beta": 10})
    assert trial_label("mcts", {"beta": 10, "alpha": 0}) == "mcts[alpha=0,beta=10]"


def _row(instance: str, solver: str, objective: float | None) -> ResultRow:
    feasible = objective is not None
    return ResultRow(
        spec="s", instance=instance, kind="tsp", n=5, solver=solver, solver_name="x", options="{}", seed=0,
        time_limit=1.0, status="ok" if feasible else "no_solution", objective=objective, feasible=feasible,
        runtime_s=0.5,
    )  # fmt: skip


def test_ranking_uses_the_reference_and_puts_unreliable_trials_last():
    spec = tuning_spec(
        "x", [{}, {"a": 1}, {"a": 2}], kind="tsp", size=5, count=2, instance_seed=0, time_limit=1.0, reference="lkh"
    )
    labels = [s.label for s in spec.solvers]
    assert labels == ["x[defaults]", "x[a=1]", "x[a=2]", "reference:lkh"]
    rows = [
        _row("i0", "reference:lkh", 100.0),
        _row("i1", "reference:lkh", 200.0),
        _row("i0", "x[defaults]", 110.0),
        _row("i1", "x[defaults]", 220.0),
        _row("i0", "x[a=1]", 101.0),
        _row("i1", "x[a=1]", 202.0),
        _row("i0", "x[a=2]", 100.0),  # best gap, but it failed i1
        _row("i1", "x[a=2]", None),
    ]
    result = rank_trials(rows, spec, "x")
    assert [t.label for t in result.trials] == ["x[a=1]", "x[defaults]", "x[a=2]"]
    assert result.best.mean_gap == pytest.approx(0.01)
    assert result.trials[1].mean_gap == pytest.approx(0.10)
    assert result.trials[2].solved == 1
    assert result.reference == "reference:lkh"


def test_without_a_reference_gaps_are_to_the_best_found():
    spec = tuning_spec("x", [{}, {"a": 1}], kind="tsp", size=5, count=1, instance_seed=0, time_limit=1.0)
    rows = [_row("i0", "x[defaults]", 120.0), _row("i0", "x[a=1]", 100.0)]
    result = rank_trials(rows, spec, "x")
    assert result.reference == "best found"
    assert [t.mean_gap for t in result.trials] == [0.0, pytest.approx(0.2)]


def test_tune_runs_through_the_bench_runner_and_resumes(tmp_path: Path):
    results = tmp_path / "tune.csv"
    result = tune("shuffle", results, kind="tsp", size=15, count=3, time_limit=1.0, trials=4, workers=1)
    # The space holds two configurations: the defaults (shuffle=True) and shuffle=False.
    assert [t.options for t in result.trials] == [{"shuffle": False}, {}]
    assert result.best.mean_gap == 0.0
    assert result.trials[1].mean_gap > 0.1
    assert result.reference == "best found"
    rows = read_results([results])
    assert len(rows) == 6
    again = tune("shuffle", results, kind="tsp", size=15, count=3, time_limit=1.0, trials=4, workers=1)
    assert len(read_results([results])) == 6  # nothing ran twice
    assert again.trials == result.trials
    text = options_toml(result, "a note\non two lines")
    assert text.startswith("# a note\n# on two lines\n[[solvers]]\n")
    assert "options = { shuffle = false }" in text


def test_tune_with_a_reference_solver(tmp_path: Path):
    result = tune(
        "shuffle", tmp_path / "t.csv", kind="tsp", size=12, count=2, time_limit=1.0, trials=2, workers=1,
        reference="nearest",
    )  # fmt: skip
    assert result.reference == "reference:nearest"
    assert result.best.options == {"shuffle": False}
    assert result.best.mean_gap == pytest.approx(0.0)


def test_a_solver_without_a_space_needs_a_grid(tmp_path: Path):
    with pytest.raises(ValueError, match="tuning_space"):
        tune("nearest", tmp_path / "t.csv", kind="tsp", size=10, count=1, time_limit=1.0)
