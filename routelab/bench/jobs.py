"""One benchmark job: (instance, solver, seed, time limit) -> one :class:`ResultRow`.

A :class:`Job` is plain picklable data that names its instance by file (or generator) instead of carrying
it, so the same job runs in-process, in a local process pool or on a remote Ray worker. :func:`run_job` never
raises for a solver's failure: crashes become ``status="error"`` rows, refusals ``"unsupported"`` rows, and the
objective is always the one :func:`routelab.problems.check` recomputes, never the solver's claim.
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from routelab.bench.spec import ROOT_ENV, GeneratorRef
from routelab.problems import FormatError, Solution, check, gap_percent, load_dataset, load_instance, objective_sense

STATUSES = ("ok", "infeasible", "no_solution", "unsupported", "error")
"""``ok``: feasible solution; ``infeasible``: a solution the scorer rejects; ``no_solution``: the solver gave
up without one; ``unsupported``: ``supports()`` said no (the reason is in ``message``); ``error``: it raised."""


@dataclass(frozen=True)
class InstanceRef:
    """Where a job finds its instance: entry ``index`` of a file, or of a generator's output.

    ``relpath`` (the path under the benchmark root) lets a worker whose root is mounted elsewhere find the
    file through its own $ROUTELAB_BENCHMARKS; ``name``, ``kind`` and ``n`` are known at planning time so the
    resume key and the time limit never need the worker.
    """

    name: str
    kind: str
    n: int | None
    index: int = 0
    path: str | None = None
    relpath: str | None = None
    generator: GeneratorRef | None = None

    @property
    def source(self) -> str:
        if self.generator is not None:
            g = self.generator
            return f"generate(kind={g.kind}, size={g.size}, count={g.count}, seed={g.seed})[{self.index}]"
        return f"{self.relpath or self.path}#{self.index}"


@dataclass(frozen=True)
class Job:
    """Everything a worker needs; ``solver_target`` (``module:Class``) lets a fresh worker process resolve a
    solver that the driver registered at run time."""

    spec: str
    instance: InstanceRef
    solver: str
    solver_name: str
    solver_target: str
    options: dict[str, Any]
    seed: int
    time_limit: float
    reference: float | None = None
    solution_path: str | None = None
    """Where the worker saves the solution document (labelling keeps solutions; leaderboards keep rows only)."""

    @property
    def key(self) -> tuple[str, str, int]:
        """The resume key: a results file holds at most one row per key."""
        return (self.instance.name, self.solver, self.seed)


@dataclass
class ResultRow:
    """One line of a results CSV; the field order is the column order."""

    spec: str
    instance: str
    kind: str
    n: int | None
    solver: str
    solver_name: str
    options: str
    seed: int
    time_limit: float
    status: str
    objective: float | None = None
    solver_objective: float | None = None
    feasible: bool = False
    violations: int = 0
    first_violation: str = ""
    runtime_s: float | None = None
    reference: float | None = None
    gap_to_reference: float | None = None
    stats: str = ""
    message: str = ""
    source: str = ""
    hostname: str = ""
    timestamp: str = ""

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.instance, self.solver, self.seed)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(ResultRow))


# -- loading instances ----------------------------------------------------------------------------------
def read_file_instances(path: str | Path, limit: int | None = None) -> list[Any]:
    """The instances in ``path`` (the first ``limit`` of a multi-instance file): the shared format directly,
    anything else through the data readers."""
    path = Path(path)
    if path.suffix == ".json":
        return [load_instance(path)]
    if path.suffix == ".npz":
        try:
            return [load_instance(path)]
        except FormatError as exc:
            if exc.field != "routelab":
                raise
            return _cached_dataset(path)[:limit]
    from routelab.data.readers import read_instances  # lazy: bench must not need every reader to import

    return list(read_instances(path, limit=limit))


_DATASET_CACHE: dict[tuple[str, int, int], list[Any]] = {}


def _cached_dataset(path: Path) -> list[Any]:
    """A batched dataset read once per worker process: labelling runs one job per instance of one file, and
    reading the whole file for every job would make labelling N instances cost N^2."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if key not in _DATASET_CACHE:
        _DATASET_CACHE.clear()  # one dataset at a time: bounded memory
        _DATASET_CACHE[key] = load_dataset(path)
    return _DATASET_CACHE[key]


def generate_instances(ref: GeneratorRef) -> list[Any]:
    from routelab.data.generate import generate  # lazy, as above

    return list(generate(ref.kind, ref.size, ref.count, ref.seed, **ref.options))


def _resolve_path(ref: InstanceRef) -> Path:
    assert ref.path is not None
    path = Path(ref.path)
    root = os.environ.get(ROOT_ENV)
    if not path.exists() and root and ref.relpath:
        return Path(root) / ref.relpath
    return path


def load_job_instance(ref: InstanceRef) -> Any:
    """The instance a job names, checked against the name planned for it (a file may change under a run)."""
    if ref.generator is not None:
        instances = generate_instances(ref.generator)
    else:
        instances = read_file_instances(_resolve_path(ref), limit=ref.index + 1)
    if ref.index >= len(instances):
        raise ValueError(f"{ref.source}: holds {len(instances)} instances now, fewer than when the run was planned")
    instance = instances[ref.index]
    if instance.name != ref.name:
        raise ValueError(f"{ref.source}: is named {instance.name!r} now, the plan expected {ref.name!r}")
    return instance


# -- running --------------------------------------------------------------------------------------------
def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _one_line(text: str) -> str:
    """CSV rows stay one physical line each, which is what makes a torn last line detectable on resume."""
    return " | ".join(part.strip() for part in str(text).splitlines() if part.strip())


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def blank_row(job: Job, status: str, message: str = "") -> ResultRow:
    """A row for ``job`` with nothing measured yet (also the row for a job whose worker died)."""
    return ResultRow(
        spec=job.spec,
        instance=job.instance.name,
        kind=job.instance.kind,
        n=job.instance.n,
        solver=job.solver,
        solver_name=job.solver_name,
        options=json.dumps(job.options, sort_keys=True, default=str),
        seed=job.seed,
        time_limit=job.time_limit,
        status=status,
        reference=job.reference,
        message=_one_line(message),
        source=job.instance.source,
        hostname=socket.gethostname(),
        timestamp=_now(),
    )


def _resolve_solver(job: Job) -> Any:
    from routelab.solvers.registry import get_solver, register, solver_class

    try:
        cls = solver_class(job.solver_name)
        known = f"{cls.__module__}:{cls.__qualname__}"
    except (KeyError, ImportError, AttributeError):
        known = None
    if known != job.solver_target:  # a fresh worker does not know what the driver registered at run time
        register(job.solver_name, job.solver_target)
    return get_solver(job.solver_name, **job.options)


def run_job(job: Job) -> ResultRow:
    """Load the instance, solve it and score the solution independently; never raises for solver failures."""
    row = blank_row(job, "error")
    try:
        instance = load_job_instance(job.instance)
        solver = _resolve_solver(job)
        reason = solver.supports(instance)
        if reason is not None:
            row.status, row.message = "unsupported", _one_line(reason)
            return row
        start = time.perf_counter()
        solution = solver.solve(instance, time_limit=job.time_limit, seed=job.seed)
        row.runtime_s = time.perf_counter() - start
        if job.solution_path is not None:
            from routelab.problems.documents import save_solution

            save_solution(solution, job.solution_path)  # atomic: a killed worker leaves no half-written label
        _score_into(row, instance, solution, job.reference)
    except Exception as exc:  # a job reports its failure as data so the other jobs carry on
        from routelab.solvers.base import UnsupportedInstance

        row.status = "unsupported" if isinstance(exc, UnsupportedInstance) else "error"
        row.message = _one_line(f"{type(exc).__name__}: {exc}")
    row.timestamp = _now()
    return row


def _score_into(row: ResultRow, instance: Any, solution: Solution, reference: float | None) -> None:
    row.solver_objective = _finite(solution.objective)
    row.stats = _one_line(json.dumps(solution.stats or {}, sort_keys=True, default=str))
    if not solution.found and not any(solution.payload.values()):
        row.status = "no_solution"
        return
    try:
        score = check(instance, solution, source=f"{row.solver} solution")
    except FormatError as exc:
        if not solution.found:
            row.status, row.message = "no_solution", _one_line(str(exc))
            return
        row.status, row.violations, row.first_violation = "infeasible", 1, _one_line(str(exc))
        return
    row.objective = _finite(score.objective)
    row.feasible = bool(score.feasible)
    if score.violations:
        row.violations = score.violation_count
        row.first_violation = _one_line(score.violations[0])
    row.status = "ok" if score.feasible else "infeasible"
    if score.feasible and reference and row.objective is not None:
        row.gap_to_reference = gap_percent(row.objective, reference, objective_sense(row.kind))
