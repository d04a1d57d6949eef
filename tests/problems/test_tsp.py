import numpy as np
import pytest

from routelab.problems import FormatError, Solution, TSPInstance, check


def square() -> TSPInstance:
    return TSPInstance(name="square", coords=[[0, 0], [0, 3], [4, 3], [4, 0]], rounding="exact")


def solution(tour: list[int], name: str = "square") -> Solution:
    return Solution(kind="tsp", instance=name, solver="test", payload={"tour": tour}, objective=0.0)


def test_tour_length_is_recomputed_not_trusted():
    score = check(square(), solution([0, 1, 2, 3]))
    assert score.feasible
    assert score.objective == pytest.approx(14.0)
    crossing = check(square(), solution([0, 2, 1, 3]))
    assert crossing.objective == pytest.approx(18.0)


def test_repeated_and_missing_cities_are_named():
    score = check(square(), solution([0, 1, 1, 3]))
    assert not score.feasible
    assert "city 1 visited 2 times" in score.violations
    assert "city 2 never visited" in score.violations
    assert score.cost == float("inf")


def test_unknown_city_is_reported():
    score = check(square(), solution([0, 1, 2, 7]))
    assert any("city 7 does not exist" in v for v in score.violations)


def test_asymmetric_matrix_uses_arc_direction():
    matrix = np.array([[0, 1, 9], [9, 0, 1], [1, 9, 0]], dtype=float)
    inst = TSPInstance(name="atsp", distance_matrix=matrix, rounding="matrix")
    assert not inst.is_symmetric
    assert check(inst, solution([0, 1, 2], "atsp")).objective == 3
    assert check(inst, solution([0, 2, 1], "atsp")).objective == 27


def test_solution_for_another_instance_is_refused():
    with pytest.raises(FormatError, match="instance"):
        check(square(), solution([0, 1, 2, 3], name="other"))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"coords": [[0, 0], [1, 1]], "rounding": "fancy"}, "rounding"),
        ({"coords": [[0, 0, 0], [1, 1, 1]]}, "coords"),
        ({"distance_matrix": [[0, 1, 2], [1, 0, 2]], "rounding": "matrix"}, "distance_matrix"),
        ({"distance_matrix": [[0, -1], [1, 0]], "rounding": "matrix"}, "distance_matrix"),
        ({"distance_matrix": [[0, 1], [1, 0]], "rounding": "nint"}, "rounding"),
        ({}, "coords"),
        ({"coords": [[0, 0], [float("nan"), 1]]}, "coords"),
    ],
)
def test_bad_geometry_names_the_field(kwargs, field):
    with pytest.raises(FormatError, match=field):
        TSPInstance(name="bad", **kwargs)


def test_violation_count_covers_unlisted_violations():
    inst = TSPInstance(name="many", coords=np.random.default_rng(0).random((40, 2)))
    score = check(inst, Solution(kind="tsp", instance="many", solver="t", payload={"tour": [0]}))
    assert score.violation_count == 39
    assert len(score.violations) == 21 and score.violations[-1] == "... and 19 more violations"
