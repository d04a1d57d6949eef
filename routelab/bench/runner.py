"""Running a spec: plan the jobs, skip the ones already in the results file, run the rest, append each row.

Backends are generators of rows in completion order, so the runner records a row the moment a job finishes,
whichever backend ran it:

- ``local``: a process pool (``spawn``: workers import only what the job needs, and forking a driver that
  already loaded torch or Ray threads is unsafe). ``workers=1`` runs in-process, which is what a debugger wants.
- ``ray``: the same :func:`~routelab.bench.jobs.run_job` as a Ray task on ``ray.init(address=...)``, or on a
  fresh local Ray instance when ``address`` is None.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from routelab.bench.jobs import Job, ResultRow, blank_row, run_job
from routelab.bench.plan import plan_jobs
from routelab.bench.results import ResultWriter, prepare_results
from routelab.bench.spec import BenchSpec, load_spec

Progress = Callable[[int, int, ResultRow | None], None]
"""``progress(done, total, row)``: called once with ``row=None`` before the first job (``done`` counts the rows
already in the results file) and then after each finished job."""

BACKENDS = ("local", "ray")

WORKER_DIED = "the worker process died while running this job (a crash, or killed for memory)"


def run_spec(
    spec: BenchSpec | str | Path,
    results_path: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: Progress | None = None,
    root: str | Path | None = None,
) -> list[ResultRow]:
    """Run every job of ``spec`` not yet in ``results_path`` and return the rows of all the spec's jobs.

    The returned rows are in plan order and include the ones an earlier (perhaps killed) run recorded.
    ``root`` is the benchmark root (default: $ROUTELAB_BENCHMARKS or ../shared/benchmarks).
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if not isinstance(spec, BenchSpec):
        spec = load_spec(spec)
    jobs = plan_jobs(spec, root)
    return run_jobs(jobs, results_path, backend=backend, workers=workers, address=address, progress=progress)


def run_jobs(
    jobs: Sequence[Job],
    results_path: str | Path,
    *,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: Progress | None = None,
) -> list[ResultRow]:
    """Run the ``jobs`` not yet recorded in ``results_path`` (resume), appending a row as each one finishes;
    returns the rows of all ``jobs`` in their order. Specs and dataset labelling both come through here."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    existing = {row.key: row for row in prepare_results(results_path)}
    _warn_if_stale(jobs, existing, results_path)
    todo = [job for job in jobs if job.key not in existing]
    done = len(jobs) - len(todo)
    if progress is not None:
        progress(done, len(jobs), None)
    new: dict[tuple[str, str, int], ResultRow] = {}
    with ResultWriter(results_path) as writer:
        if todo:
            rows = _run_local(todo, workers) if backend == "local" else _run_ray(todo, workers, address)
            for row in rows:
                writer.write(row)
                new[row.key] = row
                done += 1
                if progress is not None:
                    progress(done, len(jobs), row)
    merged = {**existing, **new}
    return [merged[job.key] for job in jobs if job.key in merged]


def _warn_if_stale(jobs: Sequence[Job], existing: dict[tuple[str, str, int], ResultRow], path: str | Path) -> None:
    """Resuming keeps recorded rows; say so when the spec changed under them (a new time limit, new options)."""
    import json

    stale = 0
    for job in jobs:
        row = existing.get(job.key)
        if row is None:
            continue
        options = json.dumps(job.options, sort_keys=True, default=str)
        if abs(row.time_limit - job.time_limit) > 1e-9 or row.options != options or row.spec != job.spec:
            stale += 1
    if stale:
        warnings.warn(
            f"{path}: {stale} recorded rows were run with another spec name, time limit or solver options than the "
            "spec now gives; they are kept (delete them from the file to re-run those jobs)",
            stacklevel=3,
        )


# -- local process pool ---------------------------------------------------------------------------------
def _run_local(jobs: Sequence[Job], workers: int | None) -> Iterator[ResultRow]:
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        for job in jobs:
            yield run_job(job)
        return
    queue = deque(jobs)
    suspects: set[tuple[str, str, int]] = set()
    while queue:
        # One pool per attempt: a worker that dies (segfault, OOM kill) breaks the whole pool.
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        running: dict[Future[ResultRow], Job] = {}
        try:
            while queue or running:
                # Only as many jobs in flight as workers, so the jobs a broken pool was running are known; while
                # suspects of a crash are re-run, one at a time, so the culprit is found without blaming others.
                while queue and len(running) < (1 if suspects else workers):
                    job = queue.popleft()
                    try:
                        running[pool.submit(run_job, job)] = job
                    except BrokenProcessPool:  # broke since the last wait; its running futures will say so
                        queue.appendleft(job)
                        break
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                crashed = []
                for future in finished:
                    job = running.pop(future)
                    try:
                        row = future.result()
                    except BrokenProcessPool:
                        crashed.append(job)
                        continue
                    suspects.discard(job.key)
                    yield row
                if crashed:
                    in_flight = crashed + list(running.values())
                    running.clear()
                    if len(in_flight) == 1:
                        suspects.discard(in_flight[0].key)
                        yield blank_row(in_flight[0], "error", WORKER_DIED)
                    else:
                        suspects.update(job.key for job in in_flight)
                        queue.extendleft(reversed(in_flight))
                    break
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


# -- ray ------------------------------------------------------------------------------------------------
def _run_ray(jobs: Sequence[Job], workers: int | None, address: str | None) -> Iterator[ResultRow]:
    import ray

    started = not ray.is_initialized()
    if started:
        init: dict[str, Any] = {"address": address, "include_dashboard": False, "log_to_driver": False}
        if address is None and workers is not None:
            init["num_cpus"] = workers
        ray.init(**init)
    try:
        remote = ray.remote(num_cpus=1, max_retries=1)(run_job)  # one retry: a node may be lost, a crash repeats
        capacity = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        queue = deque(jobs)
        running: dict[Any, Job] = {}
        while queue or running:
            # Submit in waves of twice the cluster's CPUs: enough to keep it busy, bounded memory for huge specs.
            while queue and len(running) < 2 * capacity:
                job = queue.popleft()
                running[remote.remote(job)] = job
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                job = running.pop(ref)
                try:
                    yield ray.get(ref)
                except Exception as exc:  # the worker died or the task could not be run: record, carry on
                    yield blank_row(job, "error", f"ray task failed: {type(exc).__name__}: {exc}")
    finally:
        if started:
            ray.shutdown()
