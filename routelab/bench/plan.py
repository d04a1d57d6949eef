"""Expanding a spec into jobs: globs under the benchmark root, generators, reference values, time limits.

Planning reads every instance once in the driver. That costs seconds at most and buys three things: a broken
file or an unmatched glob fails before hours of solving, the resume key (the instance's own name) is known
before any job runs, and per-node time limits are fixed in the plan rather than computed on each worker.
"""

from __future__ import annotations

import csv
import glob as globlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from routelab.bench.jobs import InstanceRef, Job, generate_instances, read_file_instances
from routelab.bench.spec import ROOT_ENV, BenchSpec, InstanceEntry, ReferenceSource, SolverEntry, resolve_root
from routelab.problems import FormatError


def plan_jobs(spec: BenchSpec, root: str | Path | None = None) -> list[Job]:
    """Every (instance, solver, seed) job of ``spec``, instance-major, in a stable order."""
    base = resolve_root(root)
    refs: list[tuple[InstanceRef, float | None, InstanceEntry]] = []
    seen: dict[str, str] = {}
    for entry in spec.instances:
        for ref, reference in _expand(spec, entry, base):
            if ref.name in seen:
                raise FormatError(
                    spec.source,
                    entry.field,
                    "distinct instance names (the name is the resume key)",
                    f"{ref.name!r} from both {seen[ref.name]} and {ref.source}",
                )
            seen[ref.name] = ref.source
            refs.append((ref, reference, entry))
    targets = {solver.label: _solver_target(spec, solver) for solver in spec.solvers}
    jobs = []
    for ref, reference, entry in refs:
        for solver in spec.solvers:
            try:
                limit = spec.time_limit_for(solver, entry).for_size(ref.n)
            except ValueError as exc:
                raise FormatError(spec.source, f"{solver.field}.time_limit_per_node", str(exc), ref.name) from None
            for seed in spec.seeds:
                jobs.append(
                    Job(
                        spec=entry.board(spec.name),
                        instance=ref,
                        solver=solver.label,
                        solver_name=solver.name,
                        solver_target=targets[solver.label],
                        options=dict(solver.options),
                        seed=seed,
                        time_limit=limit,
                        reference=reference,
                    )
                )
    return jobs


def _solver_target(spec: BenchSpec, solver: SolverEntry) -> str:
    """Build the solver once in the driver, so a bad option fails now instead of as N error rows."""
    from routelab.solvers.registry import get_solver, solver_class

    try:
        cls = solver_class(solver.name)
        get_solver(solver.name, **solver.options)
    except TypeError as exc:
        raise FormatError(
            spec.source, f"{solver.field}.options", f"options that {solver.name} accepts", str(exc)
        ) from None
    except (ImportError, AttributeError) as exc:
        raise FormatError(
            spec.source, f"{solver.field}.name", f"an importable solver ({solver.name})", str(exc)
        ) from None
    return f"{cls.__module__}:{cls.__qualname__}"


def _size(instance: Any) -> int | None:
    """Nodes for routing and networks, robots/agents for coordination and MAPF: what per-node time limits scale
    with and what tables group by."""
    n = getattr(instance, "num_nodes", None)
    if n is None:
        n = getattr(instance, "num_agents", None)
    return int(n) if n is not None else None


def _expand(spec: BenchSpec, entry: InstanceEntry, root: Path | None) -> Iterable[tuple[InstanceRef, float | None]]:
    references = _load_references(spec, entry, root) if entry.references else {}
    refs: list[tuple[InstanceRef, str | None]] = []
    if entry.generator is not None:
        try:
            instances = generate_instances(entry.generator)
        except ImportError as exc:
            raise FormatError(spec.source, f"{entry.field}.generator", "routelab.data.generate", str(exc)) from None
        except (TypeError, ValueError) as exc:
            raise FormatError(
                spec.source, f"{entry.field}.generator", "arguments the generator accepts", str(exc)
            ) from None
        for k, inst in enumerate(instances):
            refs.append((InstanceRef(inst.name, inst.kind, _size(inst), k, generator=entry.generator), None))
    else:
        for path in _glob(spec, entry, root):
            instances = read_file_instances(path)
            stem = path.stem if len(instances) == 1 else None
            relpath = _relative(path, root)
            for k, inst in enumerate(instances):
                ref = InstanceRef(inst.name, inst.kind, _size(inst), k, path=str(path), relpath=relpath)
                refs.append((ref, stem))
    if entry.limit is not None:
        refs = refs[: entry.limit]
    for ref, stem in refs:
        value = references.get(ref.name)
        if value is None and stem is not None:
            value = references.get(stem)
        yield ref, value


def _relative(path: Path, root: Path | None) -> str | None:
    if root is None:
        return None
    try:
        return str(path.relative_to(root))
    except ValueError:
        return None


def _glob(spec: BenchSpec, entry: InstanceEntry, root: Path | None) -> list[Path]:
    assert entry.glob is not None
    where = f"{entry.field}.glob"
    if Path(entry.glob).is_absolute():
        pattern = entry.glob
    elif root is None:
        raise FormatError(
            spec.source, where, f"a benchmark root to resolve {entry.glob!r} (pass --root or set {ROOT_ENV})", "none"
        )
    else:
        pattern = str(root / entry.glob)
    matches = sorted(Path(p) for p in globlib.glob(pattern, recursive=True) if Path(p).is_file())
    if not matches:
        raise FormatError(spec.source, where, f"at least one file matching {entry.glob!r} under root {root}", "none")
    return matches


def _load_references(spec: BenchSpec, entry: InstanceEntry, root: Path | None) -> dict[str, float]:
    ref: ReferenceSource | None = entry.references
    assert ref is not None
    if ref.inline is not None:
        return dict(ref.inline)
    assert ref.file is not None
    where = f"{entry.field}.references.file"
    path = Path(ref.file)
    if not path.is_absolute():
        if root is None:
            raise FormatError(spec.source, where, f"a benchmark root to resolve {ref.file!r}", "none")
        path = root / path
    if not path.is_file():
        raise FormatError(spec.source, where, f"an existing CSV under root {root}", ref.file)
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        for field_name, column in (("key", ref.key), ("value", ref.value)):
            if column not in columns:
                raise FormatError(
                    spec.source,
                    f"{entry.field}.references.{field_name}",
                    f"a column of {path} ({', '.join(columns)})",
                    column,
                )
        out: dict[str, float] = {}
        for line, record in enumerate(reader, start=2):
            raw = (record.get(ref.value) or "").strip()
            if not raw:
                continue
            try:
                out[(record.get(ref.key) or "").strip()] = float(raw)
            except ValueError:
                raise FormatError(str(path), f"{ref.value} on line {line}", "a number", raw) from None
    return out
