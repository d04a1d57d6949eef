"""The Solver protocol every solver family implements, and helpers for building their results."""

from __future__ import annotations

import time
from typing import Any, Protocol, runtime_checkable

from routelab.problems import Solution


@runtime_checkable
class Solver(Protocol):
    """A solver of one or more problem kinds.

    ``supports`` answers None when the solver can take the instance, else a short reason ("needs symmetric
    costs", "more than 60 nodes"), so the bench runner can skip a job instead of failing it. ``solve`` must
    honour ``time_limit`` (seconds, None = the solver's own default) and be deterministic for a given seed
    where the underlying tool allows it.
    """

    name: str
    kinds: frozenset[str]
    needs: str

    def supports(self, instance: Any) -> str | None: ...

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution: ...


class UnsupportedInstance(ValueError):
    """Raised by ``solve`` when ``supports`` says no; the message is the reason."""


def kind_reason(solver: Solver, instance: Any) -> str | None:
    """The common first check of ``supports``: is the instance's kind one the solver handles."""
    if instance.kind not in solver.kinds:
        return f"{solver.name} solves {', '.join(sorted(solver.kinds))}, not {instance.kind}"
    return None


def size_reason(solver: Solver, instance: Any, max_nodes: int) -> str | None:
    """``kind_reason`` plus a node limit, the check of solvers whose memory grows with the full matrix."""
    reason = kind_reason(solver, instance)
    if reason is None and instance.num_nodes > max_nodes:
        reason = f"more than {max_nodes} nodes ({instance.num_nodes})"
    return reason


def ensure_supported(solver: Solver, instance: Any) -> None:
    reason = solver.supports(instance)
    if reason is not None:
        raise UnsupportedInstance(f"{solver.name} cannot solve {instance.name}: {reason}")


class Stopwatch:
    """Wall-clock time since construction; solvers report it as ``runtime_s``."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def remaining(self, time_limit: float | None) -> float | None:
        return None if time_limit is None else max(0.0, time_limit - self.elapsed())
