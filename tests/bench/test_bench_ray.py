"""The ray backend runs the same jobs as the local one and records the same rows.

Ray 2.60 no longer has ``local_mode``; this starts a real local Ray instance with two CPUs (about 8 s).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_helpers import comparable, write_spec

from routelab.bench import read_results, run_spec

pytest.importorskip("ray")

SPEC = """
name = "ray-tiny"
time_limit = 1
seeds = [0, 1]

[[instances]]
glob = "tsp/t[12].json"
references = { t1 = 250.0 }

[[instances]]
glob = "cvrp/*.json"

[[solvers]]
name = "nearest"
"""


def test_ray_backend_matches_local(tmp_path: Path, root: Path) -> None:
    spec = write_spec(tmp_path / "spec.toml", SPEC)
    local = run_spec(spec, tmp_path / "local.csv", workers=1, root=root)
    calls = []
    ray_rows = run_spec(
        spec, tmp_path / "ray.csv", backend="ray", workers=2, root=root, progress=lambda *a: calls.append(a)
    )
    assert len(local) == 6
    assert [comparable(r) for r in ray_rows] == [comparable(r) for r in local]
    recorded = {r.key: comparable(r) for r in read_results(tmp_path / "ray.csv")}
    assert recorded == {r.key: comparable(r) for r in local}
    assert calls[-1][:2] == (6, 6)
    import ray

    assert not ray.is_initialized(), "the runner shuts down the Ray instance it started"
