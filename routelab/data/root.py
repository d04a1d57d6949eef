"""Where public benchmark files live: the benchmark root, shared by leaderboard specs and generators.

Specs and generator options name benchmark files relative to a root that users set, so nothing public is
copied into the repository: ``--root``, else $ROUTELAB_BENCHMARKS, else ``../shared/benchmarks`` beside the
current directory or the checkout (the layout the project is developed in).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "ROUTELAB_BENCHMARKS"
"""Environment variable naming the benchmark root (the folder globs are relative to)."""


def resolve_root(explicit: str | Path | None = None) -> Path | None:
    """The benchmark root: ``explicit``, else $ROUTELAB_BENCHMARKS, else ``../shared/benchmarks`` beside the
    current directory or the repository. None when nothing exists."""
    if explicit is not None:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).expanduser().resolve()
    repo = Path(__file__).resolve().parents[2]
    for base in (Path.cwd(), repo):
        candidate = (base / ".." / "shared" / "benchmarks").resolve()
        if candidate.is_dir():
            return candidate
    return None


def benchmark_file(path: str | Path) -> Path:
    """``path`` as given when it exists, else relative to the benchmark root (where it may still be missing)."""
    given = Path(path).expanduser()
    if given.exists() or given.is_absolute():
        return given
    root = resolve_root()
    return root / given if root is not None else given
