"""Parameter search for a solver on generated instances, through the bench runner.

A solver's published defaults were tuned on somebody else's instances and machine. ``routelab tune`` lets a
user re-tune on their own instance family without touching the test sets: it generates ``count`` seeded
instances, draws ``trials`` configurations from a grid (the solver's ``tuning_space`` unless the user gives
one; the solver's defaults are always trial 0 so the answer is never worse than doing nothing), runs every
(configuration, instance) job with :func:`routelab.bench.run_spec` (so a killed search resumes from its CSV
and a Ray cluster can run it), and ranks the configurations by their mean gap to a reference solver run in the
same job set (LKH by default for TSP), or to the best any configuration found when there is none.

Random search rather than a finer method: with a handful of parameters and noisy, time-limited objectives, a
few dozen random trials find settings within noise of a grid's best (Bergstra and Bengio, JMLR 2012) and each
trial is an independent job that parallelises without coordination.
"""

from __future__ import annotations

import inspect
import itertools
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routelab.bench.jobs import ResultRow
from routelab.bench.runner import Progress, run_spec
from routelab.bench.spec import BenchSpec, GeneratorRef, InstanceEntry, SolverEntry, TimeLimit
from routelab.problems import gap_percent, objective_sense

Space = Mapping[str, Sequence[Any]]
"""Option name -> the values to try."""


@dataclass(frozen=True)
class Trial:
    """One configuration's outcome over the tuning instances."""

    label: str
    options: dict[str, Any]
    mean_gap: float | None
    """Mean relative gap to the per-instance reference (None when no instance was solved)."""
    solved: int
    """Instances with a feasible solution."""
    mean_objective: float | None
    mean_runtime: float | None


@dataclass(frozen=True)
class TuneResult:
    """Trials best first, and what the gaps were measured against."""

    solver: str
    trials: list[Trial]
    reference: str
    """The reference solver's label, or ``"best found"``."""
    instances: int
    rows: list[ResultRow]

    @property
    def best(self) -> Trial:
        return self.trials[0]


def configurations(
    space: Space,
    trials: int,
    seed: int,
    fixed: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """``trials`` distinct configurations of ``space``: the empty one (the solver's defaults) first, then a
    seeded random sample of the grid without replacement (the whole grid when it is smaller).

    ``fixed`` options are added to every configuration and removed from the space. Options equal to the
    solver's ``defaults`` are dropped, so a sampled point that spells out the defaults is not run twice.
    """
    fixed = dict(fixed or {})
    defaults = dict(defaults or {})
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    keys = sorted(k for k in space if k not in fixed)
    for key in keys:
        if not space[key]:
            raise ValueError(f"the tuning space gives no values for {key!r}")
    out: list[dict[str, Any]] = [dict(fixed)]
    seen = {trial_label("", fixed)}
    rng = random.Random(seed)

    def add(values: Sequence[Any]) -> None:
        config = {k: v for k, v in zip(keys, values, strict=True) if k not in defaults or defaults[k] != v}
        config.update(fixed)
        label = trial_label("", config)
        if label not in seen:
            seen.add(label)
            out.append(config)

    grid_size = math.prod(len(space[k]) for k in keys) if keys else 0
    if grid_size <= 4096:
        points = list(itertools.product(*(space[k] for k in keys))) if keys else []
        rng.shuffle(points)
        for values in points:
            if len(out) >= trials:
                break
            add(values)
    else:
        for _ in range(100 * trials):
            if len(out) >= trials:
                break
            add([rng.choice(list(space[k])) for k in keys])
    return out


def trial_label(solver: str, options: Mapping[str, Any]) -> str:
    """A stable label (the resume key) naming every option of a configuration, sorted by name."""
    if not options:
        return f"{solver}[defaults]"
    return f"{solver}[" + ",".join(f"{k}={options[k]}" for k in sorted(options)) + "]"


def tuning_spec(
    solver: str,
    configs: Sequence[Mapping[str, Any]],
    *,
    kind: str,
    size: int,
    count: int,
    instance_seed: int,
    time_limit: float,
    generator_options: Mapping[str, Any] | None = None,
    reference: str | None = None,
    reference_options: Mapping[str, Any] | None = None,
    reference_time_limit: float | None = None,
    seeds: Sequence[int] = (0,),
) -> BenchSpec:
    """The bench spec that runs every configuration (and the reference) on the generated instances."""
    if size < 1 or count < 1:
        raise ValueError(f"size and count must be positive, got size={size}, count={count}")
    if time_limit <= 0:
        raise ValueError(f"time_limit must be positive, got {time_limit}")
    options = dict(generator_options or {})
    generator = GeneratorRef(kind=kind, size=size, count=count, seed=instance_seed, options=options)
    entries: list[SolverEntry] = []
    labels: set[str] = set()
    for options in configs:
        label = trial_label(solver, options)
        if label not in labels:
            labels.add(label)
            entries.append(SolverEntry(position=len(entries), name=solver, label=label, options=dict(options)))
    if reference is not None:
        limit = TimeLimit(seconds=reference_time_limit) if reference_time_limit else None
        entries.append(
            SolverEntry(
                position=len(entries),
                name=reference,
                label=f"reference:{reference}",
                options=dict(reference_options or {}),
                time_limit=limit,
            )
        )
    return BenchSpec(
        name=f"tune-{solver}-{kind}{size}",
        source=f"routelab tune {solver}",
        time_limit=TimeLimit(seconds=float(time_limit)),
        seeds=tuple(seeds),
        instances=(InstanceEntry(position=0, generator=generator),),
        solvers=tuple(entries),
        description=f"tuning {solver} on {count} generated {kind} instances of size {size}",
    )


def rank_trials(rows: Sequence[ResultRow], spec: BenchSpec, solver: str) -> TuneResult:
    """Mean gap of each configuration to the reference (or the best found) per (instance, seed), best first.

    A configuration that failed an instance another solved is ranked behind every configuration that solved
    all of them: a fast but unreliable setting must not win on the instances it happened to finish.
    """
    reference_label = next((s.label for s in spec.solvers if s.label.startswith("reference:")), None)
    sense = objective_sense(rows[0].kind) if rows else "min"
    by_job: dict[tuple[str, int], dict[str, ResultRow]] = {}
    for row in rows:
        by_job.setdefault((row.instance, row.seed), {})[row.solver] = row
    targets: dict[tuple[str, int], float] = {}
    for key, group in by_job.items():
        feasible = [r.objective for r in group.values() if r.feasible and r.objective is not None]
        ref = group.get(reference_label) if reference_label else None
        if ref is not None and ref.feasible and ref.objective is not None:
            targets[key] = float(ref.objective)
        elif feasible:
            targets[key] = float(min(feasible) if sense == "min" else max(feasible))
    trials = []
    for entry in spec.solvers:
        if entry.label == reference_label:
            continue
        gaps, objectives, runtimes = [], [], []
        for key, group in by_job.items():
            row = group.get(entry.label)
            if row is None or not row.feasible or row.objective is None or key not in targets:
                continue
            target = targets[key]
            gap = gap_percent(row.objective, target, sense)
            gaps.append(gap / 100.0 if gap is not None else 0.0)
            objectives.append(row.objective)
            if row.runtime_s is not None:
                runtimes.append(row.runtime_s)
        trials.append(
            Trial(
                label=entry.label,
                options=dict(entry.options),
                mean_gap=sum(gaps) / len(gaps) if gaps else None,
                solved=len(gaps),
                mean_objective=sum(objectives) / len(objectives) if objectives else None,
                mean_runtime=sum(runtimes) / len(runtimes) if runtimes else None,
            )
        )
    most = max((t.solved for t in trials), default=0)
    trials.sort(key=lambda t: (t.solved < most, math.inf if t.mean_gap is None else t.mean_gap, t.label))
    return TuneResult(
        solver=solver,
        trials=trials,
        reference=reference_label or "best found",
        instances=len(by_job),
        rows=list(rows),
    )


def tune(
    solver: str,
    results: str | Path,
    *,
    kind: str,
    size: int,
    count: int = 8,
    instance_seed: int = 1000,
    time_limit: float = 10.0,
    trials: int = 16,
    space: Space | None = None,
    fixed: Mapping[str, Any] | None = None,
    search_seed: int = 0,
    reference: str | None = None,
    reference_options: Mapping[str, Any] | None = None,
    reference_time_limit: float | None = None,
    generator_options: Mapping[str, Any] | None = None,
    workers: int | None = None,
    backend: str = "local",
    address: str | None = None,
    progress: Progress | None = None,
) -> TuneResult:
    """Search ``solver``'s options on generated instances; see the module docstring.

    ``space`` defaults to the solver class's ``tuning_space``; ``results`` is the resumable CSV of the jobs.
    """
    from routelab.solvers.registry import solver_class

    cls = solver_class(solver)
    if space is None:
        space = getattr(cls, "tuning_space", None)
        if not space:
            raise ValueError(f"solver {solver!r} declares no tuning_space; give the values to try with --grid")
    configs = configurations(space, trials, search_seed, fixed, defaults=_defaults(cls))
    spec = tuning_spec(
        solver,
        configs,
        kind=kind,
        size=size,
        count=count,
        instance_seed=instance_seed,
        time_limit=time_limit,
        generator_options=generator_options,
        reference=reference,
        reference_options=reference_options,
        reference_time_limit=reference_time_limit,
    )
    rows = run_spec(spec, results, backend=backend, workers=workers, address=address, progress=progress)
    return rank_trials(rows, spec, solver)


def _defaults(cls: type) -> dict[str, Any]:
    """The keyword defaults of a solver's constructor (what an empty configuration means)."""
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def options_toml(result: TuneResult, note: str) -> str:
    """The best configuration as a ``[[solvers]]`` table to paste into a bench spec."""
    best = result.best
    values = ", ".join(f"{k} = {_toml_value(v)}" for k, v in sorted(best.options.items()))
    lines = [f"# {line}" for line in note.splitlines()]
    lines += ["[[solvers]]", f'name = "{result.solver}"', f'label = "{result.solver}-tuned"']
    lines.append(f"options = {{ {values} }}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
