"""Labelling a dataset: one solver job per instance through the bench runner, keeping every solution.

Training data for the learned solvers (MILP passing orders, UE link flows) is made the same way leaderboards
are: plain :class:`~routelab.bench.jobs.Job` objects run by the local process pool or a Ray cluster, each
finished job appended to a results CSV so that an interrupted labelling run resumes where it stopped. The one
difference is that a labelling job also saves its solution document (atomically) under ``out_dir/solutions``,
because the label is the solution, not just its objective. The row keeps the scorer's verdict, so a label the
scorer rejects is never mistaken for ground truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routelab.bench.jobs import InstanceRef, Job, ResultRow, read_file_instances
from routelab.bench.runner import Progress, run_jobs
from routelab.problems import FormatError, Solution
from routelab.problems.documents import load_solution

RESULTS_NAME = "labels.csv"
SOLUTIONS_DIR = "solutions"


@dataclass(frozen=True)
class Label:
    """The outcome of labelling one instance: the row the runner recorded and, when it exists, the solution.

    ``ok`` is True only for a solution the scorer accepted as feasible; ``objective`` is the scorer's.
    """

    index: int
    name: str
    row: ResultRow
    solution: Solution | None

    @property
    def ok(self) -> bool:
        return self.row.status == "ok" and self.solution is not None

    @property
    def objective(self) -> float | None:
        return self.row.objective


def label_jobs(
    dataset: str | Path,
    solver: str,
    *,
    time_limit: float,
    out_dir: str | Path,
    options: dict[str, Any] | None = None,
    seed: int = 0,
    instances: Sequence[Any] | None = None,
) -> list[Job]:
    """One job per instance of ``dataset`` (a batched ``.npz``, a folder or any readable file), each saving its
    solution to ``out_dir/solutions/<index>.json``. ``instances`` skips re-reading the file when the caller has
    it loaded already."""
    from routelab.solvers.registry import get_solver, solver_class

    path = Path(dataset).resolve()
    if not path.exists():
        raise FormatError(str(dataset), "dataset", "an existing dataset file or folder", "missing")
    if time_limit <= 0:
        raise ValueError(f"time_limit: expected a positive number of seconds, got {time_limit!r}")
    options = dict(options or {})
    cls = solver_class(solver)  # KeyError names the known solvers
    get_solver(solver, **options)  # a bad option fails here, once, not as N error rows
    target = f"{cls.__module__}:{cls.__qualname__}"
    loaded = list(instances) if instances is not None else read_file_instances(path)
    if not loaded:
        raise FormatError(str(dataset), "dataset", "at least one instance", "none")
    solutions = Path(out_dir) / SOLUTIONS_DIR
    solutions.mkdir(parents=True, exist_ok=True)
    jobs = []
    for k, instance in enumerate(loaded):
        ref = InstanceRef(
            name=instance.name, kind=instance.kind, n=getattr(instance, "num_nodes", None), index=k, path=str(path)
        )
        jobs.append(
            Job(
                spec=f"label:{path.name}",
                instance=ref,
                solver=solver,
                solver_name=solver,
                solver_target=target,
                options=options,
                seed=seed,
                time_limit=float(time_limit),
                solution_path=str(solutions / f"{k:06d}.json"),
            )
        )
    names = [job.instance.name for job in jobs]
    if len(set(names)) != len(names):
        raise FormatError(str(dataset), "names", "distinct instance names (the name is the resume key)", "repeats")
    return jobs


def label_dataset(
    dataset: str | Path,
    solver: str,
    *,
    time_limit: float,
    out_dir: str | Path,
    options: dict[str, Any] | None = None,
    seed: int = 0,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: Progress | None = None,
    instances: Sequence[Any] | None = None,
) -> list[Label]:
    """Solve every instance of ``dataset`` with ``solver`` through the bench runner and return the labels in
    dataset order. Rerunning with the same ``out_dir`` resumes: finished instances are not solved again.

    Example: ``label_dataset("coord25.npz", "milp", time_limit=30, out_dir="coord25-labels", workers=2)``.
    """
    jobs = label_jobs(
        dataset, solver, time_limit=time_limit, out_dir=out_dir, options=options, seed=seed, instances=instances
    )
    rows = run_jobs(
        jobs, Path(out_dir) / RESULTS_NAME, backend=backend, workers=workers, address=address, progress=progress
    )
    by_key = {row.key: row for row in rows}
    labels = []
    for job in jobs:
        row = by_key[job.key]
        assert job.solution_path is not None
        solution_file = Path(job.solution_path)
        solution = load_solution(solution_file) if solution_file.exists() and row.status == "ok" else None
        labels.append(Label(index=job.instance.index, name=job.instance.name, row=row, solution=solution))
    return labels
