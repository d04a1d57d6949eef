from __future__ import annotations

from pathlib import Path

import pytest
from bench_helpers import write_spec

from routelab.bench import ROOT_ENV, load_spec, plan_jobs, resolve_root
from routelab.bench.spec import TimeLimit
from routelab.problems import FormatError

FULL = """
name = "tiny"
description = "two tsp files and one cvrp file"
time_limit = 2
seeds = [0, 1]

[[instances]]
glob = "tsp/*.json"
references = { t1 = 300.0, t2 = 350.5 }

[[instances]]
glob = "cvrp/*.json"
references = { file = "cvrp/bks.csv", key = "instance", value = "bks" }

[[solvers]]
name = "nearest"

[[solvers]]
name = "nearest"
label = "nearest-per-node"
time_limit = 1
time_limit_per_node = 0.5
"""


def error_of(tmp_path: Path, text: str) -> FormatError:
    with pytest.raises(FormatError) as info:
        load_spec(write_spec(tmp_path / "spec.toml", text))
    return info.value


def test_full_spec_parses(tmp_path: Path) -> None:
    spec = load_spec(write_spec(tmp_path / "spec.toml", FULL))
    assert spec.name == "tiny"
    assert spec.seeds == (0, 1)
    assert spec.time_limit == TimeLimit(2.0, 0.0)
    assert [s.label for s in spec.solvers] == ["nearest", "nearest-per-node"]
    assert spec.time_limit_for(spec.solvers[1]) == TimeLimit(1.0, 0.5)
    assert spec.instances[0].references.inline == {"t1": 300.0, "t2": 350.5}
    assert spec.instances[1].references.file == "cvrp/bks.csv"


def test_plan_expands_globs_references_and_time_limits(tmp_path: Path, root: Path) -> None:
    (root / "cvrp" / "bks.csv").write_text("instance,bks\nc1,400\nother,\n")
    spec = load_spec(write_spec(tmp_path / "spec.toml", FULL))
    jobs = plan_jobs(spec, root)
    assert len(jobs) == 4 * 2 * 2
    assert [j.instance.name for j in jobs[::4]] == ["t1", "t2", "t3", "c1"]
    by_key = {j.key: j for j in jobs}
    assert by_key[("t1", "nearest", 0)].reference == 300.0
    assert by_key[("t3", "nearest", 0)].reference is None
    assert by_key[("c1", "nearest", 1)].reference == 400.0
    assert by_key[("t2", "nearest", 0)].time_limit == 2.0
    assert by_key[("t2", "nearest-per-node", 0)].time_limit == 1.0 + 0.5 * 10
    assert by_key[("t1", "nearest", 0)].instance.relpath == "tsp/t1.json"
    assert by_key[("t1", "nearest", 0)].solver_target == "routelab.solvers.nearest:NearestNeighbourSolver"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ('name = "x"\ntime_limit = 1\nseed = [1]\n', "seed"),
        ('time_limit = 1\n[[instances]]\nglob="*"\n[[solvers]]\nname="nearest"\n', "name"),
        ('name = "x"\n[[instances]]\nglob="*"\n[[solvers]]\nname="nearest"\n', "time_limit"),
        ('name = "x"\ntime_limit = "fast"\n', "time_limit"),
        ('name = "x"\ntime_limit = 1\nseeds = [1, 1]\n', "seeds"),
        ('name = "x"\ntime_limit = 1\n[[solvers]]\nname="nearest"\n', "instances"),
        ('name = "x"\ntime_limit = 1\n[[instances]]\nglob="*"\n', "solvers"),
        ('name = "x"\ntime_limit = 1\n[[instances]]\nglob="*"\ngenerator={kind="tsp",size=5}\n', "instances[0]"),
        ('name = "x"\ntime_limit = 1\n[[instances]]\ngenerator={kind="tsp"}\n', "instances[0].generator.size"),
        ('name = "x"\ntime_limit = 1\n[[instances]]\nglob="*"\nreferences={a="b"}\n', "instances[0].references.a"),
        ('name = "x"\ntime_limit = 1\n[[instances]]\nglob="*"\n[[solvers]]\nname="nope"\n', "solvers[0].name"),
        (
            'name = "x"\ntime_limit = 1\n[[instances]]\nglob="*"\n[[solvers]]\nname="nearest"\n'
            '[[solvers]]\nname="nearest"\n',
            "solvers[1].label",
        ),
        (
            'name = "x"\ntime_limit = 1\n[[instances]]\nglob="*"\n[[solvers]]\nname="nearest"\noption={}\n',
            "solvers[0].option",
        ),
        ('name = "x"\ntime_limit = [1\n', "file"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, text: str, field: str) -> None:
    err = error_of(tmp_path, text)
    assert err.field == field
    assert str(err).startswith(str(tmp_path / "spec.toml"))


def test_glob_matching_nothing_names_field_and_root(tmp_path: Path, root: Path) -> None:
    spec = load_spec(write_spec(tmp_path / "spec.toml", FULL.replace("tsp/*.json", "tsp/*.tsp")))
    with pytest.raises(FormatError) as info:
        plan_jobs(spec, root)
    assert info.value.field == "instances[0].glob"
    assert "tsp/*.tsp" in str(info.value)
    assert str(root) in str(info.value)


def test_reference_column_missing(tmp_path: Path, root: Path) -> None:
    (root / "cvrp" / "bks.csv").write_text("instance,best\nc1,400\n")
    spec = load_spec(write_spec(tmp_path / "spec.toml", FULL))
    with pytest.raises(FormatError) as info:
        plan_jobs(spec, root)
    assert info.value.field == "instances[1].references.value"
    assert "instance, best" in str(info.value)


def test_bad_solver_options_fail_at_planning(tmp_path: Path, root: Path) -> None:
    text = 'name = "x"\ntime_limit = 1\n[[instances]]\nglob = "tsp/t1.json"\n'
    text += '[[solvers]]\nname = "optioned"\noptions = { strenght = 2 }\n'
    with pytest.raises(FormatError) as info:
        plan_jobs(load_spec(write_spec(tmp_path / "spec.toml", text)), root)
    assert info.value.field == "solvers[0].options"
    assert "strenght" in str(info.value)


def test_duplicate_instance_names_are_rejected(tmp_path: Path, root: Path) -> None:
    text = 'name = "x"\ntime_limit = 1\n[[instances]]\nglob = "tsp/t1.json"\n[[instances]]\nglob = "tsp/t*.json"\n'
    text += '[[solvers]]\nname = "nearest"\n'
    with pytest.raises(FormatError) as info:
        plan_jobs(load_spec(write_spec(tmp_path / "spec.toml", text)), root)
    assert info.value.field == "instances[1]"
    assert "'t1'" in str(info.value)


def test_limit_takes_the_first_instances(tmp_path: Path, root: Path) -> None:
    text = 'name = "x"\ntime_limit = 1\n[[instances]]\nglob = "tsp/*.json"\nlimit = 2\n[[solvers]]\nname = "nearest"\n'
    jobs = plan_jobs(load_spec(write_spec(tmp_path / "spec.toml", text)), root)
    assert [j.instance.name for j in jobs] == ["t1", "t2"]


def test_root_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ROOT_ENV, str(tmp_path / "from-env"))
    assert resolve_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_root() == tmp_path / "from-env"
    monkeypatch.delenv(ROOT_ENV)
    monkeypatch.chdir(tmp_path)
    (tmp_path.parent / "shared" / "benchmarks").mkdir(parents=True, exist_ok=True)
    assert resolve_root() == (tmp_path.parent / "shared" / "benchmarks").resolve()


def test_an_instance_entry_sets_its_own_time_limit(tmp_path: Path, root: Path) -> None:
    text = FULL.replace('glob = "tsp/*.json"\n', 'glob = "tsp/*.json"\ntime_limit = 7\n')
    spec = load_spec(write_spec(tmp_path / "spec.toml", text))
    assert spec.instances[0].time_limit == TimeLimit(7.0, 0.0)
    assert spec.instances[1].time_limit is None
    (root / "cvrp" / "bks.csv").write_text("instance,bks\nc1,400\n")
    limits = {(j.instance.name, j.solver): j.time_limit for j in plan_jobs(spec, root)}
    assert limits[("t1", "nearest")] == 7.0  # the entry's limit replaces the spec's
    assert limits[("c1", "nearest")] == 2.0
    assert limits[("t1", "nearest-per-node")] == 1.0 + 0.5 * 8  # a solver's own limit still wins
    bad = error_of(tmp_path, FULL.replace('glob = "tsp/*.json"\n', 'glob = "tsp/*.json"\ntime_limit = "long"\n'))
    assert bad.field == "instances[0].time_limit"


def test_an_instance_group_becomes_its_own_board(tmp_path: Path, root: Path) -> None:
    text = FULL.replace('glob = "tsp/*.json"\n', 'glob = "tsp/*.json"\ngroup = "small"\n')
    (root / "cvrp" / "bks.csv").write_text("instance,bks\nc1,400\n")
    jobs = plan_jobs(load_spec(write_spec(tmp_path / "spec.toml", text)), root)
    assert {j.spec for j in jobs if j.instance.kind == "tsp"} == {"tiny/small"}
    assert {j.spec for j in jobs if j.instance.kind == "cvrp"} == {"tiny"}
    bad = error_of(tmp_path, FULL.replace('glob = "tsp/*.json"\n', 'glob = "tsp/*.json"\ngroup = "a/b"\n'))
    assert bad.field == "instances[0].group"
