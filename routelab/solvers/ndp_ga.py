"""``ga`` and ``ga-ue``: a genetic algorithm over project selections for road network design.

Why a GA with a surrogate (Madadi & Correia 2024): the upper level is a 0/1 choice over projects whose value is
only known through a user equilibrium, and exact methods (SORB) need hours. A GA needs many evaluations but no
gradients; a GNN surrogate scores a whole population in one batched forward call, so thousands of designs are
looked at per second, and only the final few are re-scored with the exact UE. ``ga-ue`` runs the very same GA
with exact UE fitness (loose gap, cached), which is the honest comparison of what the surrogate buys.

The chromosome is a binary vector over the projects. Each child is made budget-feasible by *repair*: drop the
selected project with the worst benefit/cost ratio until the plan fits, then *fill*: add unselected projects in
a random order while they fit (an unspent budget is almost never better). Benefit of a project = TSTT of the
empty plan minus TSTT with that project alone, measured once by the fitness itself. Tournament selection,
uniform crossover, bit-flip mutation and elitism; the loop stops at the time limit (60 s by default) with time
kept for the exact re-scoring of the top-k distinct plans, of which the best feasible one is returned.

``ga`` spends the last ``polish`` share of its search time (default 0.25; 0 gives the pure surrogate GA) on an
*exact polish*: the same GA with exact UE fitness (gap 1e-3), started from the surrogate search's best plans. The
surrogate finds the right region cheaply but its ~1-2 % TSTT error cannot rank plans that differ by less than
that; a few thousand exact evaluations around its best plans can.

The surrogate sees capacities only, so ``ga`` takes add_lane and swap_lane projects (any mix) on the network its
checkpoint was trained on; new_link projects change the graph and need ``ga-ue``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from routelab.problems import Solution
from routelab.solvers.base import Stopwatch, ensure_supported, kind_reason
from routelab.solvers.results import scored_solution

DEFAULT_TIME_LIMIT = 60.0
Fitness = Callable[[np.ndarray], np.ndarray]


def capacity_deltas(instance: Any) -> np.ndarray:
    """``(projects, links)``: the capacity change each project makes (add_lane / swap_lane only)."""
    delta = np.zeros((instance.num_projects, instance.num_links))
    for k, p in enumerate(instance.projects):
        if p["type"] == "add_lane":
            delta[k, p["link"]] += p["capacity"]
        elif p["type"] == "swap_lane":
            delta[k, p["from_link"]] -= p["capacity"]
            delta[k, p["to_link"]] += p["capacity"]
        else:
            raise ValueError(f"project {k} is a {p['type']}: the surrogate handles capacity changes only")
    return delta


class GeneticSearch:
    """The GA proper, independent of how a population is scored (``fitness``: ``(P, n) bool -> (P,) TSTT``)."""

    def __init__(
        self,
        costs: np.ndarray,
        budget: float,
        fitness: Fitness,
        rng: np.random.Generator,
        *,
        population: int = 128,
        elite: int = 4,
        tournament: int = 3,
        crossover: float = 0.9,
        mutation: float | None = None,
    ) -> None:
        self.costs = np.asarray(costs, dtype=np.float64)
        self.budget = float(budget) * (1 + 1e-9)
        self.fitness = fitness
        self.rng = rng
        self.size = max(4, int(population))
        self.elite = max(1, min(int(elite), self.size - 1))
        self.tournament = max(2, int(tournament))
        self.crossover = float(crossover)
        n = len(self.costs)
        self.mutation = float(mutation) if mutation is not None else min(0.5, 2.0 / max(n, 1))
        self.cache: dict[bytes, float] = {}
        self.evaluations = 0
        self.generations = 0
        self.ratio = np.zeros(n)

    # -- scoring with a cache ---------------------------------------------------------------------------------
    def score(self, pop: np.ndarray) -> np.ndarray:
        """TSTT of each row; rows seen before are not scored again (the cache matters for ``ga-ue``)."""
        keys = [row.tobytes() for row in pop]
        todo = [i for i, key in enumerate(keys) if key not in self.cache]
        unique: dict[bytes, int] = {}
        for i in todo:
            unique.setdefault(keys[i], i)
        if unique:
            rows = np.array([pop[i] for i in unique.values()])
            values = self.fitness(rows)
            self.evaluations += len(rows)
            for key, value in zip(unique, values, strict=True):
                self.cache[key] = float(value)
        return np.array([self.cache[key] for key in keys])

    def measure_benefits(self) -> None:
        """Benefit/cost of each project alone (empty plan and one plan per project, one fitness call)."""
        n = len(self.costs)
        rows = np.vstack([np.zeros((1, n), dtype=bool), np.eye(n, dtype=bool)])
        values = self.score(rows)
        benefit = values[0] - values[1:]
        self.ratio = benefit / np.maximum(self.costs, 1e-12)

    # -- budget ------------------------------------------------------------------------------------------------
    def repair(self, child: np.ndarray, fill: bool = True) -> np.ndarray:
        """Drop the worst benefit/cost projects until the plan fits; then add random ones while they fit."""
        spent = float(self.costs[child].sum())
        if spent > self.budget:
            chosen = np.flatnonzero(child)
            for k in chosen[np.argsort(self.ratio[chosen])]:
                child[k] = False
                spent -= self.costs[k]
                if spent <= self.budget:
                    break
        if fill:
            for k in self.rng.permutation(np.flatnonzero(~child)):
                if spent + self.costs[k] <= self.budget:
                    child[k] = True
                    spent += self.costs[k]
        return child

    def greedy(self) -> np.ndarray:
        """The benefit/cost greedy plan (seeds the population)."""
        child = np.zeros(len(self.costs), dtype=bool)
        spent = 0.0
        for k in np.argsort(-self.ratio):
            if self.ratio[k] > 0 and spent + self.costs[k] <= self.budget:
                child[k] = True
                spent += self.costs[k]
        return child

    # -- the loop ----------------------------------------------------------------------------------------------
    def run(self, deadline: float, max_generations: int | None = None, initial: np.ndarray | None = None) -> None:
        """Evolve until ``deadline``; ``initial`` (plans, e.g. another search's best) replaces the greedy + random
        start and the benefit measurement (``ratio`` must then be set)."""
        n = len(self.costs)
        if initial is None:
            self.measure_benefits()
            pop = [self.greedy()]
        else:
            pop = [self.repair(np.array(row, dtype=bool), fill=False) for row in initial[: self.size]]
        while len(pop) < self.size:
            pop.append(self.repair(np.zeros(n, dtype=bool)))
        population = np.array(pop)
        fit = self.score(population)
        while time.perf_counter() < deadline and (max_generations is None or self.generations < max_generations):
            order = np.argsort(fit)
            children = [population[i].copy() for i in order[: self.elite]]
            while len(children) < self.size:
                a, b = self._pick(fit), self._pick(fit)
                if self.rng.random() < self.crossover:
                    mask = self.rng.random(n) < 0.5
                    child = np.where(mask, population[a], population[b])
                else:
                    child = population[a].copy()
                flips = self.rng.random(n) < self.mutation
                child = self.repair(child ^ flips)
                children.append(child)
            population = np.array(children)
            fit = self.score(population)
            self.generations += 1

    def _pick(self, fit: np.ndarray) -> int:
        entrants = self.rng.integers(0, len(fit), size=self.tournament)
        return int(entrants[np.argmin(fit[entrants])])

    def best(self, k: int) -> list[tuple[np.ndarray, float]]:
        """The ``k`` best distinct feasible plans seen (by fitness)."""
        ranked = sorted(self.cache.items(), key=lambda item: item[1])
        out = []
        for key, value in ranked:
            row = np.frombuffer(key, dtype=bool).copy()
            if float(self.costs[row].sum()) <= self.budget:
                out.append((row, value))
            if len(out) >= k:
                break
        return out


class _GABase:
    kinds = frozenset({"network_design"})

    def __init__(
        self,
        *,
        population: int = 128,
        elite: int = 4,
        tournament: int = 3,
        crossover: float = 0.9,
        mutation: float | None = None,
        top_k: int = 8,
        generations: int | None = None,
        polish: float = 0.0,
    ) -> None:
        if int(population) < 4 or int(top_k) < 1:
            raise ValueError("population must be at least 4 and top_k at least 1")
        if not 0 <= float(polish) < 1:
            raise ValueError(f"polish: expected a share of the time limit in [0, 1), got {polish!r}")
        self.polish = float(polish)
        if not 0 <= float(crossover) <= 1 or (mutation is not None and not 0 <= float(mutation) <= 1):
            raise ValueError("crossover and mutation are probabilities in [0, 1]")
        self.params = {
            "population": int(population),
            "elite": int(elite),
            "tournament": int(tournament),
            "crossover": float(crossover),
            "mutation": None if mutation is None else float(mutation),
        }
        self.top_k = int(top_k)
        self.generations = None if generations is None else int(generations)

    def _fitness(self, instance: Any) -> tuple[Fitness, dict[str, Any]]:
        raise NotImplementedError

    def _base_reason(self, instance: Any) -> str | None:
        reason = kind_reason(self, instance)  # type: ignore[arg-type]
        if reason is None and instance.num_projects == 0:
            reason = "the instance has no candidate projects"
        return reason

    def solve(self, instance: Any, *, time_limit: float | None = None, seed: int = 0) -> Solution:
        ensure_supported(self, instance)  # type: ignore[arg-type]
        clock = Stopwatch()
        limit = DEFAULT_TIME_LIMIT if time_limit is None else float(time_limit)
        rng = np.random.default_rng(seed)
        fitness, info = self._fitness(instance)
        costs = np.array([p["cost"] for p in instance.projects])
        search = GeneticSearch(costs, instance.budget, fitness, rng, **self.params)
        # Keep time for the exact re-scoring: top_k UE solves at the instance's gap, measured on the empty plan.
        # (a loose warm-up first: numba compiles on the first solve of a process, which is no measure of a solve)
        instance.solve_ue((), gap=0.5)
        probe = time.perf_counter()
        instance.solve_ue((), gap=instance.ue_gap)
        ue_seconds = time.perf_counter() - probe
        phases = 2 if self.polish > 0 else 1
        reserve = min(0.3 * limit, phases * 1.5 * self.top_k * ue_seconds + 0.5)
        left = max(0.0, limit - clock.elapsed() - reserve)
        search.run(time.perf_counter() + left * (1 - self.polish), self.generations)
        stopped = "generations" if self.generations is not None and search.generations >= self.generations else "time"
        candidates = search.best(self.top_k)
        polish_stats: dict[str, Any] = {}
        if self.polish > 0:
            # Exact polish: the same GA, exact UE fitness (gap 1e-3), started from the surrogate's best plans.
            exact_search = GeneticSearch(costs, instance.budget, ue_fitness(instance, 1e-3), rng, **self.params)
            exact_search.ratio = search.ratio
            start = np.array([row for row, _ in search.best(exact_search.size)])
            exact_search.run(time.perf_counter() + max(0.0, limit - clock.elapsed() - reserve), self.generations, start)
            candidates = exact_search.best(self.top_k) + candidates
            polish_stats = {
                "polish_generations": exact_search.generations,
                "polish_evaluations": exact_search.evaluations,
            }
        rescored = []
        seen: set[bytes] = set()
        for row, predicted in candidates:
            if row.tobytes() in seen:
                continue
            seen.add(row.tobytes())
            plan = np.flatnonzero(row).tolist()
            exact = instance.solve_ue(plan, gap=instance.ue_gap).tstt
            rescored.append((exact, predicted, plan))
            if clock.elapsed() > limit and len(rescored) >= 1:
                break
        exact, predicted, plan = min(rescored, key=lambda item: item[0])
        stats = {
            "status": f"stopped by {stopped} limit",
            **polish_stats,
            "generations": search.generations,
            "evaluations": search.evaluations,
            "fitness_tstt": predicted,
            "exact_tstt": exact,
            "rescored": [{"fitness": p, "exact": e} for e, p, _ in rescored],
            "plan_cost": instance.plan_cost(plan),
            "budget": instance.budget,
            "seed": seed,
            **info,
        }
        return scored_solution(self.name, instance, {"projects": plan}, clock, stats)  # type: ignore[attr-defined]


class SurrogateGASolver(_GABase):
    """``ga``: GA whose fitness is one batched GNN forward call per generation.

    Options: ``checkpoint`` (a ``.pt`` from ``routelab train ue-gnn``; default: the shipped checkpoint whose
    network fingerprint matches the instance), ``population`` (128), ``elite``, ``tournament``, ``crossover``,
    ``mutation`` (default 2 / projects), ``top_k`` (8 plans re-scored exactly), ``generations`` (cap per phase),
    ``polish`` (share of the search time for the exact-fitness polish, default 0.25; 0: surrogate only).
    """

    name = "ga"
    needs = "torch + torch-geometric and a UE surrogate checkpoint of the instance's network (shipped: SF, EMA)"

    def __init__(self, *, checkpoint: str | None = None, polish: float = 0.25, **options: Any) -> None:
        super().__init__(polish=polish, **options)
        self.checkpoint = None if checkpoint is None else Path(checkpoint)
        self._loaded: dict[Path, Any] = {}

    def _checkpoint_for(self, instance: Any) -> tuple[Path | None, str | None]:
        from routelab.traffic.surrogate import find_checkpoint

        if self.checkpoint is not None:
            return self.checkpoint, None
        path, known = find_checkpoint(instance)
        if path is None:
            return None, (
                f"no shipped UE surrogate matches {instance.name}'s network (shipped: {known}); train one with "
                "`routelab train ue-gnn` and pass --option checkpoint=PATH, or use ga-ue"
            )
        return path, None

    def _surrogate(self, path: Path) -> Any:
        from routelab.traffic.surrogate import load_surrogate

        if path not in self._loaded:
            self._loaded[path] = load_surrogate(path)
        return self._loaded[path]

    def supports(self, instance: Any) -> str | None:
        reason = self._base_reason(instance)
        if reason is not None:
            return reason
        kinds = {p["type"] for p in instance.projects}
        if "new_link" in kinds:
            return "new_link projects change the graph, which the surrogate cannot see (use ga-ue)"
        path, reason = self._checkpoint_for(instance)
        if reason is not None or path is None:
            return reason
        from routelab.traffic.surrogate import SurrogateError

        try:
            surrogate = self._surrogate(path)
        except SurrogateError as exc:
            return str(exc)
        return surrogate.check_instance(instance)

    def _fitness(self, instance: Any) -> tuple[Fitness, dict[str, Any]]:
        import torch

        torch.set_num_threads(1)
        path, _ = self._checkpoint_for(instance)
        assert path is not None
        surrogate = self._surrogate(path)
        delta = capacity_deltas(instance)
        base_cap = np.asarray(instance.capacity, dtype=np.float64)
        demand = np.asarray(instance.demand, dtype=np.float64)
        info: dict[str, Any] = {"fitness": "gnn", "checkpoint": path.name, "forward_calls": 0}

        def fitness(pop: np.ndarray) -> np.ndarray:
            info["forward_calls"] += 1
            capacity = np.maximum(base_cap + pop.astype(np.float64) @ delta, 1e-6)
            return surrogate.predict_tstt(demand, capacity)

        return fitness, info


class UEGASolver(_GABase):
    """``ga-ue``: the same GA with exact UE fitness (each new plan solved to ``gap``, default 1e-3).

    Options as ``ga`` (no checkpoint) plus ``gap``. Works with every project type, on any network.
    """

    name = "ga-ue"
    needs = "nothing (numba UE per plan; slow on large networks)"

    def __init__(self, *, gap: float = 1e-3, **options: Any) -> None:
        super().__init__(**options)
        if not 0 < float(gap) < 1:
            raise ValueError(f"gap: expected a relative gap in (0, 1), got {gap!r}")
        self.gap = float(gap)

    def supports(self, instance: Any) -> str | None:
        return self._base_reason(instance)

    def _fitness(self, instance: Any) -> tuple[Fitness, dict[str, Any]]:
        return ue_fitness(instance, self.gap), {"fitness": f"ue (gap {self.gap:g})"}


def ue_fitness(instance: Any, gap: float) -> Fitness:
    """Exact fitness: the UE TSTT of each plan, solved to ``gap``."""

    def fitness(pop: np.ndarray) -> np.ndarray:
        out = np.empty(len(pop))
        for i, row in enumerate(pop):
            plan = np.flatnonzero(row).tolist()
            try:
                out[i] = instance.solve_ue(plan, gap=gap).tstt
            except ValueError:  # a swap that empties a link: not a plan anyone should pick
                out[i] = math.inf
        return out

    return fitness
