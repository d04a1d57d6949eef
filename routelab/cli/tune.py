"""``routelab tune SOLVER``: random search over a solver's options on generated instances (the bench runner)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from routelab.cli.common import (
    UsageError,
    check_runner_options,
    console,
    job_progress,
    one_line_errors,
    parse_options,
    print_table,
)

DEFAULT_REFERENCE = {"tsp": "lkh"}
"""Reference solver per kind when the user names none (others compare against the best configuration)."""


def parse_grid(pairs: list[str] | None) -> dict[str, list[Any]] | None:
    """``["alpha=0,1", "candidates=5,10"]`` -> ``{"alpha": [0, 1], "candidates": [5, 10]}`` (JSON values)."""
    import json

    if not pairs:
        return None
    grid: dict[str, list[Any]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        values = [v.strip() for v in raw.split(",") if v.strip()]
        if not sep or not key or not values:
            raise UsageError(f"--grid {pair!r}: expected KEY=V1,V2,...")
        parsed = []
        for value in values:
            try:
                parsed.append(json.loads(value))
            except json.JSONDecodeError:
                parsed.append(value)
        grid[key] = parsed
    return grid


@one_line_errors
def tune(
    solver: str = typer.Argument(..., help="Solver to tune (e.g. mcts)."),
    kind: str = typer.Option("tsp", "--kind", "-k", help="Kind of the generated instances."),
    size: int = typer.Option(..., "--size", "-n", help="Instance size (cities or customers)."),
    count: int = typer.Option(8, "--count", "-c", help="Generated instances."),
    instance_seed: int = typer.Option(1000, "--instance-seed", help="Generator seed (keep it off your test seeds)."),
    time_limit: float = typer.Option(10.0, "--time-limit", "-t", help="Seconds per job."),
    trials: int = typer.Option(16, "--trials", help="Configurations to try (the defaults included)."),
    grid: list[str] | None = typer.Option(None, "--grid", help="KEY=V1,V2,... values to try (repeatable)."),
    option: list[str] | None = typer.Option(None, "--option", help="Fixed option KEY=VALUE in every trial."),
    reference: str | None = typer.Option(None, "--reference", help="Reference solver (default: lkh for tsp)."),
    no_reference: bool = typer.Option(False, "--no-reference", help="Rank by gap to the best configuration."),
    reference_time: float | None = typer.Option(None, "--reference-time", help="Reference seconds per instance."),
    search_seed: int = typer.Option(0, "--search-seed", help="Seed of the random search."),
    results: Path | None = typer.Option(None, "--results", "-r", help="Resumable results CSV."),
    workers: int | None = typer.Option(None, "--workers", "-w", help="Parallel jobs (default: CPU count)."),
    backend: str = typer.Option("local", "--backend", "-b", help="local (process pool) or ray."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address (ray backend)."),
    top: int = typer.Option(10, "--top", help="Rows of the ranking to print."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the best options as a [[solvers]] TOML."),
) -> None:
    """Search SOLVER's options on generated instances (never a test set) and rank them by gap to a reference.

    Jobs run through the bench runner, so a killed search resumes from --results and --backend ray spreads it
    over a cluster. Example:
    routelab tune mcts --size 500 --count 8 --time-limit 10 --trials 24 --option heatmap=softdist -o best.toml
    """
    from routelab.bench.tune import options_toml
    from routelab.bench.tune import tune as run_tune

    check_runner_options(backend, workers)
    if size < 1 or count < 1 or trials < 1 or time_limit <= 0:
        raise UsageError("--size, --count, --trials and --time-limit must be positive")
    ref = None if no_reference else (reference or DEFAULT_REFERENCE.get(kind))
    out = results or Path("runs") / "tune" / f"{solver}-{kind}{size}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with job_progress(f"tune {solver}") as progress:
            result = run_tune(
                solver,
                out,
                kind=kind,
                size=size,
                count=count,
                instance_seed=instance_seed,
                time_limit=time_limit,
                trials=trials,
                space=parse_grid(grid),
                fixed=parse_options(option),
                search_seed=search_seed,
                reference=ref,
                reference_time_limit=reference_time,
                workers=workers,
                backend=backend,
                address=address,
                progress=progress,
            )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    headers = ["rank", "configuration", f"mean gap to {result.reference}", "solved", "mean objective", "time [s]"]
    rows = [
        [
            str(k + 1),
            t.label,
            "-" if t.mean_gap is None else f"{100 * t.mean_gap:+.3f} %",
            f"{t.solved}/{result.instances}",
            "-" if t.mean_objective is None else f"{t.mean_objective:.6g}",
            "-" if t.mean_runtime is None else f"{t.mean_runtime:.1f}",
        ]
        for k, t in enumerate(result.trials[:top])
    ]
    print_table(f"tune {solver}: {kind}-{size}, {count} instances, {time_limit:g} s per job", headers, rows)
    console.print(f"results: {out}")
    if output is not None:
        best = result.best
        gap = "-" if best.mean_gap is None else f"{100 * best.mean_gap:+.3f} %"
        note = (
            f"routelab tune {solver}: best of {len(result.trials)} configurations on {count} generated {kind}-{size} "
            f"instances (seed {instance_seed}), {time_limit:g} s per job\nmean gap to {result.reference}: {gap}"
        )
        from routelab.problems.documents import atomic_write

        text = options_toml(result, note).encode()
        atomic_write(output, lambda handle: handle.write(text))
        console.print(f"wrote {output}")
