"""The benchmark runner: (instance x solver x seed) jobs from a TOML spec, run on a local process pool or a Ray
cluster, appended row by row to a results CSV (so a killed run resumes), and turned into markdown leaderboards.

Typical use::

    from routelab.bench import load_spec, run_spec, write_report
    rows = run_spec(load_spec("leaderboards/tsplib.toml"), "leaderboards/tsplib.csv", workers=8)
    write_report(["leaderboards/tsplib.csv"], "leaderboards/tsplib.md", title="TSPLIB")
"""

from routelab.bench.jobs import COLUMNS, STATUSES, InstanceRef, Job, ResultRow, run_job
from routelab.bench.label import Label, label_dataset
from routelab.bench.plan import plan_jobs
from routelab.bench.report import (
    Leaderboard,
    instance_rows,
    leaderboards,
    render_markdown,
    summary_rows,
    write_report,
)
from routelab.bench.results import ResultWriter, prepare_results, read_results
from routelab.bench.runner import BACKENDS, Progress, run_jobs, run_spec
from routelab.bench.spec import ROOT_ENV, BenchSpec, load_spec, parse_spec, resolve_root

__all__ = [
    "BACKENDS",
    "COLUMNS",
    "ROOT_ENV",
    "STATUSES",
    "BenchSpec",
    "InstanceRef",
    "Job",
    "Label",
    "Leaderboard",
    "Progress",
    "ResultRow",
    "ResultWriter",
    "instance_rows",
    "label_dataset",
    "leaderboards",
    "load_spec",
    "parse_spec",
    "plan_jobs",
    "prepare_results",
    "read_results",
    "render_markdown",
    "resolve_root",
    "run_job",
    "run_jobs",
    "run_spec",
    "summary_rows",
    "write_report",
]
