import numpy as np
import pytest

from routelab.problems import CVRPInstance, CVRPTWInstance, FormatError, Solution, check


def line_cvrp(**overrides) -> CVRPInstance:
    """Depot at 0 and customers on a line at x = 1..4, demands 3 each, capacity 6."""
    kwargs = {
        "name": "line",
        "coords": [[0, 0], [1, 0], [2, 0], [3, 0], [4, 0]],
        "demands": [0, 3, 3, 3, 3],
        "capacity": 6,
    }
    kwargs.update(overrides)
    return CVRPInstance(**kwargs)


def routes_solution(routes, kind="cvrp", name="line") -> Solution:
    return Solution(kind=kind, instance=name, solver="test", payload={"routes": routes})


def test_feasible_routes_cost_depot_to_depot():
    score = check(line_cvrp(), routes_solution([[1, 2], [3, 4]]))
    assert score.feasible
    assert score.objective == pytest.approx(4 + 8)
    assert score.details["routes"] == 2


def test_capacity_violation_message():
    score = check(line_cvrp(), routes_solution([[1, 2, 3], [4]]))
    assert not score.feasible
    assert "route 1 carries 9 > capacity 6" in score.violations


def test_visits_and_depot_and_fleet():
    score = check(line_cvrp(num_vehicles=1), routes_solution([[1, 1], [0, 3], [4]]))
    text = "\n".join(score.violations)
    assert "customer 1 visited 2 times" in text
    assert "route 2: contains the depot" in text
    assert "customer 2 never visited" in text
    assert "3 routes used > 1 vehicles available" in text


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"demands": [0, -1, 3, 3, 3]}, "demands"),
        ({"demands": [0, 3, 3]}, "demands"),
        ({"demands": [2, 3, 3, 3, 3]}, "demands"),
        ({"demands": [0, 7, 3, 3, 3]}, "demands"),
        ({"capacity": 0}, "capacity"),
        ({"depot": 9}, "depot"),
        ({"num_vehicles": 0}, "num_vehicles"),
    ],
)
def test_bad_fleet_fields(overrides, field):
    with pytest.raises(FormatError, match=field):
        line_cvrp(**overrides)


def windowed(**overrides) -> CVRPTWInstance:
    kwargs = {
        "name": "tw",
        "coords": [[0, 0], [10, 0], [20, 0]],
        "demands": [0, 1, 1],
        "capacity": 10,
        "time_windows": [[0, 100], [0, 15], [0, 25]],
        "service_times": [0, 5, 5],
        "rounding": "trunc1",
    }
    kwargs.update(overrides)
    return CVRPTWInstance(**kwargs)


def test_time_windows_wait_and_lateness():
    inst = windowed()
    ok = check(inst, routes_solution([[1, 2]], "cvrptw", "tw"))
    assert ok.feasible and ok.objective == pytest.approx(40)
    # 2 first: served at 20, back to 1 at 35 > 15.
    late = check(inst, routes_solution([[2, 1]], "cvrptw", "tw"))
    assert "route 1: customer 1 served at 35 after its window closes at 15" in late.violations


def test_waiting_for_a_window_to_open_is_not_late():
    inst = windowed(time_windows=[[0, 100], [30, 40], [0, 100]])
    score = check(inst, routes_solution([[1, 2]], "cvrptw", "tw"))
    assert score.feasible
    assert score.details["total_duration"] == pytest.approx(30 + 5 + 10 + 5 + 20)


def test_depot_closing_time_is_enforced():
    inst = windowed(time_windows=[[0, 30], [0, 15], [0, 25]])
    score = check(inst, routes_solution([[1, 2]], "cvrptw", "tw"))
    assert "route 1 returns to the depot at 50 after it closes at 30" in score.violations


def test_duration_matrix_drives_time_not_distance():
    dist = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=float)
    dur = dist * 100
    inst = windowed(coords=None, distance_matrix=dist, rounding="matrix", duration_matrix=dur)
    score = check(inst, routes_solution([[1, 2]], "cvrptw", "tw"))
    assert score.objective == 3
    assert "route 1: customer 1 served at 100 after its window closes at 15" in score.violations


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"time_windows": [[0, 100], [20, 10], [0, 25]]}, "time_windows"),
        ({"time_windows": [[0, 100], [0, 15]]}, "time_windows"),
        ({"service_times": [0, -5, 5]}, "service_times"),
        ({"duration_matrix": [[0, 1], [1, 0]]}, "duration_matrix"),
    ],
)
def test_bad_time_fields(overrides, field):
    with pytest.raises(FormatError, match=field):
        windowed(**overrides)
