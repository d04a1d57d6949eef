from __future__ import annotations

from pathlib import Path

import pytest
from bench_helpers import register_test_solvers, write_instances


@pytest.fixture(autouse=True)
def _test_solvers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Register the test solvers for every test, and undo it so the registry others see stays clean."""
    from routelab.solvers import registry

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.delenv("ROUTELAB_BENCHMARKS", raising=False)
    monkeypatch.delenv("BENCH_TEST_DELAY", raising=False)
    register_test_solvers()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A benchmark root holding tsp/t1..t3.json and cvrp/c1.json."""
    base = tmp_path / "benchmarks"
    write_instances(base)
    return base
