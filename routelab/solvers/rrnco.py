"""``rrnco``: the RRNCO neural constructive solver for ATSP, ACVRP and ACVRPTW on road matrices.

Loads the checkpoint shipped for the instance's problem (or ``checkpoint=``), encodes the instance once and
decodes greedily from every start node (POMO multi-start) under ``augment`` dihedral transforms of the
coordinates, which change only the angle features (the matrices are untouched); the best of all rollouts by the
environment's own reward is returned, and the scorer then rescores it from the instance. ``solve_many`` batches
instances of one size into a single forward pass, which is where a neural constructor is fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from routelab.problems import Solution
from routelab.solvers.base import Stopwatch, ensure_supported, kind_reason
from routelab.solvers.results import scored_solution

PROBLEMS = {"tsp": "atsp", "cvrp": "acvrp", "cvrptw": "acvrptw"}
"""Shared-format kind -> the RRNCO problem (and checkpoint) that solves it."""


class RRNCOSolver:
    """RRNCO policy decoding with multi-start and augmentation.

    Args:
        checkpoint: a checkpoint file (default: the one shipped for the instance's problem).
        augment: dihedral coordinate transforms to decode under (1, 2, 4 or 8).
        starts: start nodes per instance (None: all of them, as POMO).
        threads: torch CPU threads (None: leave torch's setting).
    """

    name = "rrnco"
    model = "rrnco"
    kinds = frozenset(PROBLEMS)
    needs = "an explicit distance matrix (asymmetric allowed), one depot; durations for cvrptw"

    def __init__(
        self, checkpoint: str | None = None, augment: int = 8, starts: int | None = None, threads: int | None = None
    ) -> None:
        if augment not in (1, 2, 4, 8):
            raise ValueError(f"augment must be 1, 2, 4 or 8, got {augment!r}")
        if starts is not None and (int(starts) != starts or starts < 1):
            raise ValueError(f"starts must be a positive integer or None, got {starts!r}")
        self.checkpoint = checkpoint
        self.augment = int(augment)
        self.starts = None if starts is None else int(starts)
        self.threads = threads
        self._policies: dict[str, Any] = {}

    def supports(self, instance: Any) -> str | None:
        reason = kind_reason(self, instance)
        if reason is not None:
            return reason
        if instance.num_nodes < 3:
            return f"rrnco needs at least 3 nodes ({instance.num_nodes})"
        return None

    def _policy(self, problem: str) -> tuple[Any, dict[str, Any]]:
        if problem not in self._policies:
            from routelab.neural.rrnco.checkpoint import load_checkpoint, shipped_checkpoint

            path = self.checkpoint or shipped_checkpoint(problem, self.model)
            self._policies[problem] = load_checkpoint(path, problem, self.model)
        return self._policies[problem]

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        return self.solve_many([instance], time_limit=time_limit, seed=seed)[0]

    def solve_many(self, instances: Sequence[Any], *, time_limit: float | None = None, seed: int = 0) -> list[Solution]:
        """Solve instances of one kind and size in one batch; each solution's runtime is its share of the batch."""
        import torch

        from routelab.neural.rrnco.inference import decode_best

        if not instances:
            return []
        for instance in instances:
            ensure_supported(self, instance)
        kinds = {i.kind for i in instances}
        sizes = {i.num_nodes for i in instances}
        if len(kinds) > 1 or len(sizes) > 1:
            raise ValueError(f"solve_many needs one kind and size per batch, got kinds {kinds} and sizes {sizes}")
        problem = PROBLEMS[instances[0].kind]
        clock = Stopwatch()
        if self.threads:
            torch.set_num_threads(self.threads)
        torch.manual_seed(seed)
        policy, training = self._policy(problem)
        payloads = decode_best(policy, instances, augment=self.augment, starts=self.starts)
        share = clock.elapsed() / len(instances)
        out = []
        for instance, payload in zip(instances, payloads, strict=True):
            stats = {
                "status": "ok",
                "problem": problem,
                "augment": self.augment,
                "batch": len(instances),
                "trained_size": training.get("settings", {}).get("size"),
                "time_limit_ignored": time_limit,
            }
            solution = scored_solution(self.name, instance, payload, clock, stats)
            solution.runtime_s = share
            out.append(solution)
        return out


class MatNetSolver(RRNCOSolver):
    """rl4co's MatNet (Kwon et al. 2021) for ATSP: the neural baseline RRNCO is compared with; same decoding."""

    name = "matnet"
    model = "matnet"
    kinds = frozenset({"tsp"})
    needs = "an explicit distance matrix (asymmetric allowed), at most embed_dim (128) nodes"

    def supports(self, instance: Any) -> str | None:
        reason = super().supports(instance)
        if reason is None and instance.num_nodes > 128:
            return f"MatNet's one-hot column embedding holds at most 128 nodes ({instance.num_nodes})"
        return reason
