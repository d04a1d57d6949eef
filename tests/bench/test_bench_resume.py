"""A run killed with SIGKILL mid-way resumes with nothing lost or repeated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench_helpers import write_spec

from routelab.bench import read_results, run_spec

HERE = Path(__file__).resolve().parent

SPEC = """
name = "resume"
time_limit = 1
seeds = [0, 1, 2, 3, 4]

[[instances]]
glob = "tsp/*.json"

[[instances]]
glob = "cvrp/*.json"

[[solvers]]
name = "slow"
"""

SCRIPT = """
import sys
sys.path.insert(0, {here!r})
from bench_helpers import register_test_solvers
from routelab.bench import run_spec
register_test_solvers()
run_spec({spec!r}, {out!r}, workers=2, root={root!r})
"""


def complete_lines(path: Path) -> list[bytes]:
    data = path.read_bytes() if path.exists() else b""
    return data[: data.rfind(b"\n") + 1].splitlines(keepends=True)


def test_killed_run_resumes_exactly_once(tmp_path: Path, root: Path) -> None:
    spec = write_spec(tmp_path / "spec.toml", SPEC)
    out = tmp_path / "results.csv"
    total = 4 * 5
    code = SCRIPT.format(here=str(HERE), spec=str(spec), out=str(out), root=str(root))
    env = {**os.environ, "BENCH_TEST_DELAY": "0.25"}
    # A session of its own, so the kill takes the pool's worker processes too (and nothing else).
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(complete_lines(out)) < 1 + 5:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the run wrote no rows"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    before = complete_lines(out)
    done_before = len(before) - 1
    assert 5 <= done_before < total, f"kill came too late: {done_before} of {total} rows"

    rows = run_spec(spec, out, workers=1, root=root)  # no delay here: $BENCH_TEST_DELAY is unset

    assert len(rows) == total
    final = complete_lines(out)
    assert final[: len(before)] == before, "rows written before the kill changed"
    assert len(final) == 1 + total
    keys = [r.key for r in read_results(out)]
    assert len(keys) == len(set(keys)) == total
    assert {r.status for r in rows} == {"ok"}
