"""Shared fixtures of the coordination model tests: one torch thread, and varied small floors."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pytest
import torch

from routelab.data.coordination_gen import generate_coordination
from routelab.problems.coordination import CoordinationInstance


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One thread, as the solver and the training use (and the shared CI box has two cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_varied_floors(count: int, seed: int, max_robots: int = 30) -> list[CoordinationInstance]:
    """``count`` small floors of 2..``max_robots`` robots cycling through the generator's harder options: release
    times, safety distances, following and crowding, so a property is checked beyond the default floor."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        options: dict = {}
        if k % 3 == 1:
            options["release_spread"] = 5.0
        if k % 4 == 2:
            options["safety_distance"] = 1.5
        if k % 2 == 1:
            options["follow_gap"] = 0.4
        if k % 5 == 4:
            options["cells_per_robot"] = 5.0
        out.append(generate_coordination(int(rng.integers(2, max_robots + 1)), 1, seed * 100 + k, **options)[0])
    return out


@pytest.fixture
def varied_floors() -> Callable[..., list[CoordinationInstance]]:
    """:func:`make_varied_floors` for the tests."""
    return make_varied_floors
