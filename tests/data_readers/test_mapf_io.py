"""Lifelong MAPF readers: MovingAI .map/.scen, RHCR kiva maps, POGEMA strings, and the instance builder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from routelab.data import instance_differences
from routelab.data.mapf_io import (
    GridMap,
    make_instance,
    parse_pogema_grid,
    read_grid_map,
    read_kiva_map,
    read_movingai_map,
    read_movingai_scen,
)
from routelab.problems import FormatError, LifelongMAPFInstance, load_instance, save_instance, score_payload

MAPF = Path(__file__).resolve().parents[2].parent / "shared" / "benchmarks" / "mapf"
needs_shared = pytest.mark.skipif(not MAPF.is_dir(), reason="../shared/benchmarks/mapf is not present")


@pytest.fixture
def mapf(fixtures: Path) -> Path:
    return fixtures / "mapf"


# -- MovingAI ----------------------------------------------------------------------------------------
def test_movingai_map_cells(mapf: Path):
    m = read_movingai_map(mapf / "tiny.map")
    # ..@.. / .G@S. / ..T.. / W....  (G and S free; @, T, W blocked)
    assert m.name == "tiny" and m.grid.shape == (4, 5) and m.grid.dtype == np.uint8
    assert m.grid.tolist() == [
        [0, 0, 1, 0, 0],
        [0, 0, 1, 0, 0],
        [0, 0, 1, 0, 0],
        [1, 0, 0, 0, 0],
    ]


@pytest.mark.parametrize(
    ("file", "message"),
    [
        ("bad_char.map", r"line 5: expected map cells from '.GS@OTW', got 'X' at column 2"),
        ("short_row.map", r"line 6: expected a map row of 3 cells, got 2 cells"),
        ("missing_row.map", r"map: expected 3 rows, got 2 rows"),
    ],
)
def test_movingai_map_errors(mapf: Path, file: str, message: str):
    with pytest.raises(FormatError, match=message):
        read_movingai_map(mapf / file)


def test_movingai_map_header_errors():
    from routelab.data.mapf_io import parse_movingai_map

    with pytest.raises(FormatError, match="type: expected 'octile'"):
        parse_movingai_map("type hex\nheight 1\nwidth 1\nmap\n.\n")
    with pytest.raises(FormatError, match="width: expected a 'width' header line"):
        parse_movingai_map("type octile\nheight 1\nmap\n.\n")


def test_movingai_scen_x_is_column_y_is_row(mapf: Path):
    m = read_movingai_map(mapf / "tiny.map")
    scen = read_movingai_scen(mapf / "tiny.scen", m)
    assert scen.starts.tolist() == [[0, 0], [0, 4], [3, 1]]
    assert scen.goals.tolist() == [[3, 4], [2, 0], [1, 3]]
    assert (scen.width, scen.height, scen.map_name) == (5, 4, "tiny.map")
    assert scen.optimal[2] == pytest.approx(4.41421356)


def test_scen_for_another_map_size_names_the_line(mapf: Path):
    m = read_movingai_map(mapf / "tiny.map")
    with pytest.raises(FormatError, match=r"wrong_size\.scen: line 3: expected the map size 5 x 4 .*got 32 x 32"):
        read_movingai_scen(mapf / "wrong_size.scen", m)
    with pytest.raises(FormatError, match=r"line 2: expected a start on a free cell"):
        read_movingai_scen(mapf / "start_on_obstacle.scen", m)
    with pytest.raises(FormatError, match=r"line 1: expected 'version 1'"):
        read_movingai_scen(mapf / "tiny.map")


# -- RHCR kiva --------------------------------------------------------------------------------------
def test_kiva_map(mapf: Path):
    m = read_kiva_map(mapf / "kiva_tiny.map")
    assert m.grid.tolist() == [
        [0, 0, 0, 0, 0],
        [0, 1, 0, 1, 0],
        [0, 1, 0, 1, 0],
        [0, 0, 0, 0, 0],
    ]
    assert m.endpoints.tolist() == [[1, 2], [2, 2], [3, 3]]
    assert m.homes.tolist() == [[1, 0], [1, 4]]
    assert m.meta["max_time"] == 100


def test_kiva_errors(mapf: Path):
    with pytest.raises(FormatError, match=r"line 2 \(endpoints\): expected 3 \(the 'e' cells\), got 4"):
        read_kiva_map(mapf / "kiva_bad_endpoints.map")
    with pytest.raises(FormatError, match=r"line 7: expected kiva cells from '.@er', got 'x' at column 2"):
        read_kiva_map(mapf / "kiva_bad_char.map")


# -- POGEMA -----------------------------------------------------------------------------------------
def test_pogema_grid(mapf: Path):
    m = parse_pogema_grid("""
        ..#.
        .##.
    """)
    assert m.grid.tolist() == [[0, 0, 1, 0], [0, 1, 1, 0]]
    assert read_grid_map(mapf / "tiny.pogema").grid.shape == (3, 4)
    with pytest.raises(FormatError, match=r"line 2: expected a row of 4 cells"):
        read_grid_map(mapf / "ragged.pogema")
    with pytest.raises(FormatError, match=r"cells '\.' or '#'"):
        parse_pogema_grid("..@.")


def test_read_grid_map_dispatches_on_content(mapf: Path):
    assert read_grid_map(mapf / "tiny.map").meta["source"] == "movingai"
    assert read_grid_map(mapf / "kiva_tiny.map").meta["source"] == "rhcr-kiva"


# -- building instances -----------------------------------------------------------------------------
def test_random_starts_are_seeded_distinct_and_free(mapf: Path):
    m = read_movingai_map(mapf / "tiny.map")
    a = make_instance(m, agents=5, horizon=16, seed=3)
    b = make_instance(mapf / "tiny.map", agents=5, horizon=16, seed=3)
    assert instance_differences(a, b) == []
    assert a.goal_mode == "component" and a.goal_seed == 3 and a.name == "tiny-a5-h16-s3"
    assert len({tuple(s) for s in a.starts.tolist()}) == 5
    assert all(m.grid[r, c] == 0 for r, c in a.starts.tolist())
    assert not np.array_equal(make_instance(m, agents=5, horizon=16, seed=4).starts, a.starts)
    with pytest.raises(FormatError, match="agents: expected at most 16"):
        make_instance(m, agents=17, horizon=16)


def test_scen_starts(mapf: Path):
    inst = make_instance(mapf / "tiny.map", agents=2, horizon=8, starts="scen", scen=mapf / "tiny.scen")
    assert inst.starts.tolist() == [[0, 0], [0, 4]]
    with pytest.raises(FormatError, match="at most 3"):
        make_instance(mapf / "tiny.map", agents=4, horizon=8, starts="scen", scen=mapf / "tiny.scen")
    with pytest.raises(FormatError, match="scen"):
        make_instance(mapf / "tiny.map", agents=2, horizon=8, starts="scen")


def test_kiva_homes_and_endpoint_goals(mapf: Path):
    inst = make_instance(mapf / "kiva_tiny.map", agents=2, horizon=8, starts="homes")
    assert inst.starts.tolist() == [[1, 0], [1, 4]]
    assert inst.goal_mode == "endpoints"
    goals = {tuple(g) for g in inst.goal_sequence(0, 30).tolist()}
    assert goals == {(1, 2), (2, 2), (3, 3)}
    one = make_instance(mapf / "kiva_tiny.map", agents=1, horizon=8, starts="homes", seed=1)
    assert one.starts.tolist()[0] in ([1, 0], [1, 4])
    with pytest.raises(FormatError, match="robot home"):
        make_instance(mapf / "tiny.map", agents=1, horizon=8, starts="homes")
    with pytest.raises(FormatError, match="horizon"):
        make_instance(mapf / "kiva_tiny.map", agents=1, horizon=0, starts="homes")


def test_built_instance_round_trips(tmp_path: Path, mapf: Path):
    inst = make_instance(mapf / "kiva_tiny.map", agents=2, horizon=8, starts="homes")
    save_instance(inst, tmp_path / "k.json")
    assert instance_differences(inst, load_instance(tmp_path / "k.json")) == []


# -- the shared benchmark files, read in place --------------------------------------------------------
@needs_shared
def test_shared_kiva_warehouse():
    m = read_grid_map(MAPF / "maps" / "kiva-rhcr.map")
    assert m.grid.shape == (33, 46) and len(m.endpoints) == 480 and len(m.homes) == 192
    inst = make_instance(m, agents=192, horizon=256, starts="homes")
    waiting = np.repeat(inst.starts[:, None, :], 257, axis=1)
    s = score_payload(inst, {"paths": waiting})
    assert s.feasible and s.objective == 0.0


@needs_shared
@pytest.mark.parametrize("name", ["random-32-32-10", "den520d"])
def test_shared_movingai_map_and_scen(name: str):
    m = read_movingai_map(MAPF / "maps" / f"{name}.map")
    scen = read_movingai_scen(MAPF / "scen" / f"{name}-random-1.scen", m)
    assert scen.map_name == f"{name}.map" and (scen.width, scen.height) == (m.width, m.height)
    inst = make_instance(m, agents=50, horizon=512, starts="scen", scen=scen)
    assert isinstance(inst, LifelongMAPFInstance) and inst.num_agents == 50
    assert np.array_equal(inst.starts, scen.starts[:50])


@needs_shared
def test_shared_maps_all_read():
    for path in sorted((MAPF / "maps").glob("*.map")):
        m = read_grid_map(path)
        assert isinstance(m, GridMap) and (m.grid == 0).any()
