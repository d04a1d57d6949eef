"""What every command shares: one-line errors instead of tracebacks, and rich output."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from routelab.problems import FormatError
from routelab.solvers import UnsupportedInstance

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])


class UsageError(ValueError):
    """A bad command-line value that the library cannot see (e.g. a malformed --option)."""


def check_runner_options(backend: str, workers: int | None) -> None:
    """The --backend and --workers of every command that goes through the bench runner (run, label, tune)."""
    from routelab.bench.runner import BACKENDS

    if backend not in BACKENDS:
        raise UsageError(f"--backend {backend!r}: expected one of {', '.join(BACKENDS)}")
    if workers is not None and workers < 1:
        raise UsageError(f"--workers {workers}: expected a positive number")


def one_line_errors(func: F) -> F:
    """Turn expected failures (bad files, unknown solvers, bad options) into ``error: ...`` and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (FormatError, UnsupportedInstance, UsageError, FileNotFoundError) as exc:
            err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyError as exc:  # unknown solver names come out of the registry as KeyError
            err_console.print(f"[red]error:[/red] {exc.args[0] if exc.args else exc}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
    """``["first_solution=savings", "threads=2"]`` -> ``{"first_solution": "savings", "threads": 2}``."""
    import json

    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--option {pair!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def fmt_number(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.1f}"


def pick_instance(path: Any, index: int) -> Any:
    """Instance ``index`` of a file (most files hold one; TSP test sets and datasets hold many)."""
    from routelab.data.readers import read_instances
    from routelab.problems import FormatError

    instances = read_instances(path)
    if not 0 <= index < len(instances):
        raise FormatError(str(path), "--index", f"an index in 0..{len(instances) - 1}", index)
    return instances[index]


def print_table(title: str, headers: list[str], rows: list[list[str]]) -> None:
    """A rich table of plain text: cells are escaped, so a label like ``mcts[alpha=0]`` is not read as markup."""
    from rich.markup import escape

    table = Table(title=escape(title))
    for header in headers:
        table.add_column(escape(header))
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


def report_violations(score: Any) -> None:
    """Print the scorer's violations and exit 1 when the solution is infeasible (solve and check agree)."""
    for message in score.violations:
        console.print(f"[red]violation:[/red] {message}", highlight=False)
    if not score.feasible:
        raise typer.Exit(1)


@contextmanager
def job_progress(title: str) -> Iterator[Callable[[int, int, Any], None]]:
    """A progress bar for bench jobs; yields the ``progress(done, total, row)`` callback the runner takes."""
    from rich.markup import escape
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[last]}"))
    with Progress(TextColumn(f"[bold]{escape(title)}"), *columns, console=console) as bar:
        task = bar.add_task(title, total=None, last="planning...")

        def progress(done: int, total: int, row: Any) -> None:
            last = "" if row is None else escape(f"{row.instance} {row.solver}: {row.status}")
            bar.update(task, completed=done, total=total, last=last)

        yield progress


def describe_size(instance: Any) -> str:
    """ "100 nodes" for routing, "128 agents" for MAPF: what a status line says about an instance's size."""
    if hasattr(instance, "num_nodes"):
        return f"{instance.num_nodes} nodes"
    if hasattr(instance, "num_agents"):
        return f"{instance.num_agents} agents"
    return instance.kind
