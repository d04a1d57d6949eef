"""``routelab bench run`` and ``routelab bench report``: specs in, resumable CSV rows and leaderboards out."""

from __future__ import annotations

from pathlib import Path

import typer

from routelab.cli.common import check_runner_options, console, job_progress, one_line_errors, print_table

bench_app = typer.Typer(help="Run benchmark specs and turn their results into leaderboards.", no_args_is_help=True)


def default_results(spec_path: Path) -> Path:
    """Results sit beside the spec: leaderboards/tsplib.toml -> leaderboards/results/tsplib.csv."""
    return spec_path.parent / "results" / f"{spec_path.stem}.csv"


def print_boards(rows: list, *, per_instance: bool = False, baseline: str | None = None) -> None:
    """The summary table of each spec in ``rows`` (after the per-instance table when asked for)."""
    from routelab.bench import instance_rows, leaderboards, summary_rows

    for board in leaderboards(rows, baseline=baseline):
        if per_instance:
            print_table(f"{board.spec}: per instance", *instance_rows(board))
        print_table(f"{board.spec}: summary", *summary_rows(board))


@bench_app.command("run")
@one_line_errors
def run(
    spec: Path = typer.Argument(..., help="Benchmark spec (TOML)."),
    results: Path | None = typer.Option(None, "--results", "-r", help="Results CSV (default: results/<spec>.csv)."),
    backend: str = typer.Option("local", "--backend", "-b", help="local (process pool) or ray."),
    workers: int | None = typer.Option(None, "--workers", "-w", help="Parallel jobs (default: CPU count)."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address (ray backend)."),
    root: Path | None = typer.Option(None, "--root", help="Benchmark root (else $ROUTELAB_BENCHMARKS)."),
    instances: bool = typer.Option(False, "--instances", help="Also print the per-instance table."),
) -> None:
    """Run every (instance, solver, seed) job of SPEC, appending a row per finished job; rerun to resume.

    Example: routelab bench run leaderboards/tsplib.toml --workers 2
    """
    from routelab.bench import load_spec, run_spec

    check_runner_options(backend, workers)
    loaded = load_spec(spec)
    out = results or default_results(spec)
    with job_progress(loaded.name) as progress:
        rows = run_spec(loaded, out, backend=backend, workers=workers, address=address, progress=progress, root=root)
    console.print(f"results: {out} ({len(rows)} rows)")
    print_boards(rows, per_instance=instances)


@bench_app.command("report")
@one_line_errors
def report(
    results: list[Path] = typer.Argument(..., help="One or more results CSVs."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Markdown file to write."),
    title: str = typer.Option("Leaderboard", "--title", help="Report title."),
    machine: str | None = typer.Option(None, "--machine", help="A line describing the machine and its limits."),
    baseline: str | None = typer.Option(None, "--baseline", help="Solver label to compare against (ortools)."),
) -> None:
    """Print the leaderboard of results CSVs and optionally write it as markdown.

    Example: routelab bench report leaderboards/results/solomon.csv -o leaderboards/solomon.md
    """
    from routelab.bench import read_results, write_report

    for path in results:
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such results file")
    print_boards(read_results(results), baseline=baseline)
    if output is not None:
        write_report(results, output, title=title, machine_note=machine, baseline=baseline)
        console.print(f"wrote {output}")


@bench_app.command("label")
@one_line_errors
def label(
    dataset: Path = typer.Argument(..., help="A batched .npz dataset, a folder of instances or any instance file."),
    solver: str = typer.Option(..., "--solver", "-s", help="The solver whose solutions are the labels (milp, ue)."),
    output: Path = typer.Option(..., "--output", "-o", help="Folder for labels.csv and solutions/."),
    time_limit: float = typer.Option(60.0, "--time-limit", "-t", help="Seconds per instance."),
    option: list[str] | None = typer.Option(None, "--option", help="Solver option KEY=VALUE (repeatable)."),
    seed: int = typer.Option(0, "--seed", help="Solver seed."),
    backend: str = typer.Option("local", "--backend", "-b", help="local (process pool) or ray."),
    workers: int | None = typer.Option(None, "--workers", "-w", help="Parallel jobs (default: CPU count)."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address (ray backend)."),
) -> None:
    """Label a dataset: solve each instance with SOLVER through the bench runner, keeping every solution.

    Rerun to resume. Example: routelab bench label coord25.npz --solver milp -t 30 -o coord25-labels --workers 2
    """
    from routelab.bench import label_dataset
    from routelab.cli.common import parse_options

    check_runner_options(backend, workers)
    with job_progress(f"label {dataset.name} with {solver}") as progress:
        labels = label_dataset(
            dataset,
            solver,
            time_limit=time_limit,
            out_dir=output,
            options=parse_options(option),
            seed=seed,
            backend=backend,
            workers=workers,
            address=address,
            progress=progress,
        )
    good = sum(item.ok for item in labels)
    console.print(f"{good}/{len(labels)} instances labelled (feasible); rows in {output / 'labels.csv'}")
