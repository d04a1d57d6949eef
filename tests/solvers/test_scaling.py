"""The integer scaling policy shared by OR-Tools, LKH and PyVRP: factors per convention and safe rounding."""

from __future__ import annotations

import numpy as np
import pytest

from routelab.problems import CVRPInstance, CVRPTWInstance, TSPInstance
from routelab.solvers.scaling import (
    MAX_SCALED_ARC,
    integer_loads,
    length_scale,
    round_down,
    round_up,
    time_scale,
)


def test_length_factor_per_rounding_convention() -> None:
    coords = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 7.0]])
    assert length_scale(TSPInstance(name="n", coords=coords, rounding="nint")) == 1
    assert length_scale(TSPInstance(name="t", coords=coords, rounding="trunc1")) == 10
    unit = TSPInstance(name="u", coords=coords / 10, rounding="exact")  # longest arc ~0.72
    assert length_scale(unit) == 10**6
    assert length_scale(unit) * 0.72 <= MAX_SCALED_ARC
    km = TSPInstance(name="k", coords=coords * 1000, rounding="exact")  # longest arc ~7,100
    assert length_scale(km) == 100
    integral = TSPInstance(name="m", distance_matrix=np.array([[0, 5], [7, 0]]), rounding="matrix")
    assert length_scale(integral) == 1


def test_conservative_rounding_keeps_exact_grid_values_and_never_errs_towards_feasibility() -> None:
    assert round_up(np.array([47.4]), 10)[0] == 474  # 47.4 * 10 = 473.99999999999994 in floats
    assert round_down(np.array([0.3]), 10)[0] == 3
    assert round_up(np.array([1.234]), 10)[0] == 13
    assert round_down(np.array([1.239]), 10)[0] == 12


def test_time_factor_follows_durations_and_loads_scale_only_when_fractional() -> None:
    coords = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 7.0]])
    common = dict(
        coords=coords,
        demands=[0, 1, 2],
        capacity=3,
        time_windows=[[0, 100], [0, 50], [0, 50]],
        service_times=[0, 1, 1],
    )
    solomon = CVRPTWInstance(name="s", rounding="trunc1", **common)
    assert time_scale(solomon, length_scale(solomon)) == 10
    durations = np.array([[0, 1.5, 2], [1.5, 0, 3], [2, 3, 0.0]])
    timed = CVRPTWInstance(name="d", rounding="trunc1", duration_matrix=durations, **common)
    assert time_scale(timed, 10) == 10**5
    assert integer_loads(solomon)[2] == 1
    fractional = CVRPInstance(name="f", coords=coords, demands=[0, 0.5, 1.25], capacity=2.5)
    demands, capacity, factor = integer_loads(fractional)
    assert factor > 1 and capacity == 2.5 * factor and list(demands) == [0, 0.5 * factor, 1.25 * factor]


@pytest.mark.parametrize("bad", [0, -3, 2.5, "10", True])
def test_scale_option_must_be_a_positive_integer(bad):
    from routelab.solvers.scaling import checked_scale

    with pytest.raises(ValueError, match="scale must be a positive integer"):
        checked_scale(bad)


def test_scale_option_passes_integers_and_none():
    from routelab.solvers.scaling import checked_scale

    assert checked_scale(None) is None
    assert checked_scale(100) == 100
    assert checked_scale(1000.0) == 1000
