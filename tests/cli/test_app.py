import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from routelab.cli.app import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def cvrptw_file(tmp_path: Path) -> Path:
    path = tmp_path / "tw.json"
    result = invoke("generate", "cvrptw", "--size", 12, "--seed", 3, "-o", path)
    assert result.exit_code == 0, result.output
    return path


def test_solve_then_check_agree(tmp_path: Path, cvrptw_file: Path):
    out = tmp_path / "sol.json"
    result = invoke("solve", cvrptw_file, "--solver", "nearest", "-o", out)
    assert result.exit_code == 0, result.output
    claimed = json.loads(out.read_text())["objective"]
    checked = invoke("check", cvrptw_file, out)
    assert checked.exit_code == 0, checked.output
    assert "feasible" in checked.output
    assert f"{claimed:.6g}" in checked.output


def test_check_reports_violations_and_exits_1(tmp_path: Path, cvrptw_file: Path):
    out = tmp_path / "sol.json"
    assert invoke("solve", cvrptw_file, "--solver", "nearest", "-o", out).exit_code == 0
    doc = json.loads(out.read_text())
    everything = [c for route in doc["routes"] for c in route]
    doc["routes"] = [everything, [everything[0]]]  # one giant route, one customer twice
    out.write_text(json.dumps(doc))
    result = invoke("check", cvrptw_file, out)
    assert result.exit_code == 1
    assert "infeasible" in result.output
    assert f"customer {doc['routes'][1][0]} visited 2 times" in result.output
    assert "> capacity" in result.output


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"routelab": "instance/1", "kind": "knapsack", "name": "x", "data": {}}))
    result = invoke("solve", bad, "--solver", "nearest")
    assert result.exit_code == 2
    assert "bad.json: kind: expected one of" in result.output
    assert "Traceback" not in result.output


def test_unknown_solver_and_bad_option(cvrptw_file: Path):
    result = invoke("solve", cvrptw_file, "--solver", "nope")
    assert result.exit_code == 2 and "unknown solver 'nope'" in result.output
    result = invoke("solve", cvrptw_file, "--solver", "nearest", "--option", "garbage")
    assert result.exit_code == 2 and "KEY=VALUE" in result.output


def test_missing_file(tmp_path: Path):
    result = invoke("check", tmp_path / "none.json", tmp_path / "none.sol.json")
    assert result.exit_code == 2
    assert "none.json" in result.output


def test_convert_round_trip(tmp_path: Path, cvrptw_file: Path):
    npz = tmp_path / "tw.npz"
    back = tmp_path / "back.json"
    assert invoke("convert", cvrptw_file, npz).exit_code == 0
    assert invoke("convert", npz, back).exit_code == 0
    assert json.loads(back.read_text()) == json.loads(cvrptw_file.read_text())


def test_generate_dataset(tmp_path: Path):
    out = tmp_path / "d.npz"
    result = invoke("generate", "tsp", "--size", 20, "--count", 5, "--seed", 1, "-o", out)
    assert result.exit_code == 0, result.output
    from routelab.problems import load_dataset

    assert [inst.num_nodes for inst in load_dataset(out)] == [20] * 5


def test_plot_writes_a_png(tmp_path: Path, cvrptw_file: Path):
    sol = tmp_path / "sol.json"
    assert invoke("solve", cvrptw_file, "--solver", "nearest", "-o", sol).exit_code == 0
    png = tmp_path / "p.png"
    result = invoke("plot", cvrptw_file, sol, "-o", png)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_solvers_lists_the_baselines():
    result = invoke("solvers")
    assert result.exit_code == 0
    for name in ("ortools", "milp", "lkh", "nearest"):
        assert name in result.output


def test_bench_run_and_report(tmp_path: Path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(
        'name = "tiny"\ntime_limit = 1\nseeds = [0, 1]\n'
        '[[instances]]\ngenerator = { kind = "cvrp", size = 8, count = 2, seed = 5 }\n'
        '[[solvers]]\nname = "nearest"\n'
    )
    csv = tmp_path / "tiny.csv"
    result = invoke("bench", "run", spec, "--results", csv, "--workers", 1)
    assert result.exit_code == 0, result.output
    assert len(csv.read_text().strip().splitlines()) == 1 + 4
    md = tmp_path / "tiny.md"
    result = invoke("bench", "report", csv, "-o", md)
    assert result.exit_code == 0, result.output
    assert "## tiny" in md.read_text()


def test_bench_bad_backend(tmp_path: Path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(
        'name = "t"\ntime_limit = 1\n[[instances]]\ngenerator = { kind = "tsp", size = 5, count = 1, seed = 0 }\n'
        '[[solvers]]\nname = "nearest"\n'
    )
    result = invoke("bench", "run", spec, "--backend", "slurm")
    assert result.exit_code == 2 and "--backend" in result.output


def test_tune_writes_a_spec_table(tmp_path: Path):
    import tomllib

    from routelab.bench import read_results

    best = tmp_path / "best.toml"
    result = invoke(
        "tune", "mcts", "--size", 12, "--count", 2, "--trials", 3, "--time-limit", 0.2, "--workers", 1,
        "--grid", "candidates=3,5", "--grid", "max_depth=4", "--option", "max_chains=50", "--no-reference",
        "-r", tmp_path / "tune.csv", "-o", best,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "tune mcts: tsp-12" in result.output
    labels = {row.solver for row in read_results([tmp_path / "tune.csv"])}
    assert labels == {"mcts[max_chains=50]", "mcts[candidates=3,max_chains=50,max_depth=4]",
                      "mcts[candidates=5,max_chains=50,max_depth=4]"}  # fmt: skip
    doc = tomllib.loads(best.read_text())
    (entry,) = doc["solvers"]
    assert entry["name"] == "mcts"
    # the winner is one of the three trials: the defaults (only the fixed option) or a grid point
    assert entry["options"] in (
        {"max_chains": 50},
        {"max_chains": 50, "candidates": 3, "max_depth": 4},
        {"max_chains": 50, "candidates": 5, "max_depth": 4},
    )


def test_tune_bad_grid_and_untunable_solver(tmp_path: Path):
    bad = invoke("tune", "mcts", "--size", 10, "--grid", "candidates", "-r", tmp_path / "t.csv")
    assert bad.exit_code == 2
    assert "KEY=V1,V2" in bad.output
    untunable = invoke("tune", "nearest", "--size", 10, "--count", 1, "-r", tmp_path / "t.csv")
    assert untunable.exit_code == 2
    assert "--grid" in untunable.output


def test_generate_city_matrices_and_road_instances(tmp_path: Path):
    city = tmp_path / "Synth_data.npz"
    made = invoke("generate", "city-matrices", "--synthetic", 3, "--points", 60, "--name", "Synth", "-o", city)
    assert made.exit_code == 0, made.output
    out = tmp_path / "acvrp.npz"
    result = invoke("generate", "acvrp", "--city", city, "--size", 10, "--count", 3, "--seed", 7, "-o", out)
    assert result.exit_code == 0, result.output
    from routelab.problems import load_dataset

    instances = load_dataset(out)
    assert [i.name for i in instances] == [f"acvrp10-Synth-s7-{k}" for k in range(3)]
    assert all(i.kind == "cvrp" and not i.is_symmetric for i in instances)


def test_generate_road_kinds_need_a_city(tmp_path: Path):
    result = invoke("generate", "atsp", "--size", 10, "-o", tmp_path / "x.npz")
    assert result.exit_code == 2
    assert "--city" in result.output
    both = invoke("generate", "city-matrices", "--synthetic", 1, "--builtin", "helsinki", "-o", tmp_path / "c.npz")
    assert both.exit_code == 2
    assert "exactly one of" in both.output
    assert not (tmp_path / "c.npz").exists()
