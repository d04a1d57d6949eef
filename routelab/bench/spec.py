"""The benchmark spec: one TOML file naming instances, solvers, seeds and time limits (see docs/benchmarks.md).

Parsing only checks the document's shape, so a typo ("seed" for "seeds", a string time limit) fails in
milliseconds with the field's name; what needs the benchmark files (globs, reference tables, solver options)
is checked when the spec is expanded into jobs (:mod:`routelab.bench.plan`).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routelab.data.root import ROOT_ENV as ROOT_ENV  # re-exported: specs and plans use them from here
from routelab.data.root import resolve_root as resolve_root
from routelab.problems import FormatError

_TOP_KEYS = {"name", "description", "time_limit", "time_limit_per_node", "seeds", "instances", "solvers"}
_INSTANCE_KEYS = {"glob", "generator", "references", "limit", "time_limit", "time_limit_per_node", "group"}
_GENERATOR_KEYS = {"kind", "size", "count", "seed"}
_SOLVER_KEYS = {"name", "label", "options", "time_limit", "time_limit_per_node"}


@dataclass(frozen=True)
class TimeLimit:
    """``seconds + per_node * n``: a fixed budget, one that grows with the instance, or both."""

    seconds: float = 0.0
    per_node: float = 0.0

    def for_size(self, n: int | None) -> float:
        """The limit for an instance of ``n`` nodes; ``n`` is needed only when ``per_node`` is set."""
        if self.per_node and n is None:
            raise ValueError("time_limit_per_node needs an instance size, and this instance has no num_nodes")
        return float(self.seconds + self.per_node * (n or 0))


@dataclass(frozen=True)
class GeneratorRef:
    """``routelab.data.generate.generate(kind, size, count, seed, **options)``; the jobs regenerate it."""

    kind: str
    size: int
    count: int
    seed: int
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReferenceSource:
    """Optimal or best-known values: a CSV column pair under the root, or an inline ``{name = value}`` table."""

    file: str | None = None
    key: str = "instance"
    value: str = "bks"
    inline: dict[str, float] | None = None


@dataclass(frozen=True)
class InstanceEntry:
    """One ``[[instances]]`` entry: files matched by ``glob`` (relative to the root) or a generator."""

    position: int
    glob: str | None = None
    generator: GeneratorRef | None = None
    references: ReferenceSource | None = None
    limit: int | None = None
    time_limit: TimeLimit | None = None
    """This entry's budget (a board that mixes sizes gives each its own); a solver's own limit still wins."""
    group: str | None = None
    """Rows of this entry are reported as their own board, ``<spec name>/<group>`` (e.g. one per size)."""

    def board(self, spec_name: str) -> str:
        """The name this entry's rows carry in the results' ``spec`` column."""
        return f"{spec_name}/{self.group}" if self.group else spec_name

    @property
    def field(self) -> str:
        return f"instances[{self.position}]"


@dataclass(frozen=True)
class SolverEntry:
    """One ``[[solvers]]`` entry; ``label`` is what tables and the resume key show (defaults to ``name``)."""

    position: int
    name: str
    label: str
    options: dict[str, Any] = field(default_factory=dict)
    time_limit: TimeLimit | None = None

    @property
    def field(self) -> str:
        return f"solvers[{self.position}]"


@dataclass(frozen=True)
class BenchSpec:
    """A parsed benchmark spec; ``source`` is the file it came from (for error messages)."""

    name: str
    source: str
    time_limit: TimeLimit
    seeds: tuple[int, ...]
    instances: tuple[InstanceEntry, ...]
    solvers: tuple[SolverEntry, ...]
    description: str = ""

    def time_limit_for(self, solver: SolverEntry, entry: InstanceEntry | None = None) -> TimeLimit:
        """The solver's own limit, else the instance entry's, else the spec's (each replaces both fields)."""
        return solver.time_limit or (entry.time_limit if entry is not None else None) or self.time_limit


# -- reading --------------------------------------------------------------------------------------------
def load_spec(path: str | Path) -> BenchSpec:
    """Read and validate a TOML spec; every problem is a FormatError naming the file and the field."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise FormatError(str(path), "file", "an existing benchmark spec (.toml)", "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(str(path), "file", "a readable UTF-8 TOML file", str(exc)) from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormatError(str(path), "file", "valid TOML", str(exc)) from None
    return parse_spec(doc, str(path))


def parse_spec(doc: dict[str, Any], source: str) -> BenchSpec:
    """Validate a spec document (the TOML as a dict) coming from ``source``."""
    _no_unknown_keys(source, "", doc, _TOP_KEYS)
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise FormatError(source, "name", "a non-empty string naming the benchmark", name if name else "missing")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise FormatError(source, "description", "a string", description)
    time_limit = _time_limit(source, "", doc, required=True)
    assert time_limit is not None
    seeds = _seeds(source, doc.get("seeds", [0]))
    instances = _list_of_tables(source, "instances", doc.get("instances"))
    instance_entries = tuple(_instance(source, k, e) for k, e in enumerate(instances))
    solvers = _list_of_tables(source, "solvers", doc.get("solvers"))
    solver_entries = tuple(_solver(source, k, s) for k, s in enumerate(solvers))
    labels: dict[str, int] = {}
    for entry in solver_entries:
        if entry.label in labels:
            raise FormatError(
                source,
                f"{entry.field}.label",
                f"a label distinct from solvers[{labels[entry.label]}] (set `label` to tell them apart)",
                entry.label,
            )
        labels[entry.label] = entry.position
    return BenchSpec(
        name=name.strip(),
        source=source,
        time_limit=time_limit,
        seeds=seeds,
        instances=instance_entries,
        solvers=solver_entries,
        description=description,
    )


# -- field checks ---------------------------------------------------------------------------------------
def _where(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _no_unknown_keys(source: str, prefix: str, table: dict[str, Any], allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise FormatError(source, _where(prefix, key), f"one of the keys {', '.join(sorted(allowed))}", key)


def _number(source: str, where: str, value: Any, *, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FormatError(source, where, "a number of seconds", value)
    if value < minimum:
        raise FormatError(source, where, f"a number >= {minimum}", value)
    return float(value)


def _integer(source: str, where: str, value: Any, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise FormatError(source, where, "an integer", value)
    if value < minimum:
        raise FormatError(source, where, f"an integer >= {minimum}", value)
    return value


def _time_limit(source: str, prefix: str, table: dict[str, Any], *, required: bool) -> TimeLimit | None:
    has_fixed = "time_limit" in table
    has_per_node = "time_limit_per_node" in table
    if not has_fixed and not has_per_node:
        if required:
            raise FormatError(
                source,
                "time_limit",
                "seconds per job (and/or time_limit_per_node), so solvers compete fairly",
                "missing",
            )
        return None
    seconds = _number(source, _where(prefix, "time_limit"), table.get("time_limit", 0))
    per_node = _number(source, _where(prefix, "time_limit_per_node"), table.get("time_limit_per_node", 0))
    if seconds == 0 and per_node == 0:
        raise FormatError(source, _where(prefix, "time_limit"), "a positive time limit", 0)
    return TimeLimit(seconds, per_node)


def _seeds(source: str, value: Any) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise FormatError(source, "seeds", "a non-empty list of integers", value)
    seeds = tuple(_integer(source, f"seeds[{k}]", s, minimum=0) for k, s in enumerate(value))
    if len(set(seeds)) != len(seeds):
        raise FormatError(source, "seeds", "distinct seeds", list(seeds))
    return seeds


def _list_of_tables(source: str, key: str, value: Any) -> list[dict[str, Any]]:
    if value is None:
        raise FormatError(source, key, f"at least one [[{key}]] table", "missing")
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        raise FormatError(source, key, f"at least one [[{key}]] table", value)
    return value


def _instance(source: str, k: int, table: dict[str, Any]) -> InstanceEntry:
    prefix = f"instances[{k}]"
    _no_unknown_keys(source, prefix, table, _INSTANCE_KEYS)
    pattern = table.get("glob")
    generator = table.get("generator")
    if (pattern is None) == (generator is None):
        raise FormatError(source, prefix, "exactly one of `glob` or `generator`", sorted(table))
    if pattern is not None and (not isinstance(pattern, str) or not pattern.strip()):
        raise FormatError(source, f"{prefix}.glob", "a glob relative to the benchmark root", pattern)
    limit = table.get("limit")
    if limit is not None:
        limit = _integer(source, f"{prefix}.limit", limit, minimum=1)
    return InstanceEntry(
        position=k,
        glob=pattern.strip() if pattern is not None else None,
        generator=_generator(source, f"{prefix}.generator", generator) if generator is not None else None,
        references=_references(source, f"{prefix}.references", table["references"]) if "references" in table else None,
        limit=limit,
        time_limit=_time_limit(source, prefix, table, required=False),
        group=_group(source, prefix, table.get("group")),
    )


def _group(source: str, prefix: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or "/" in value:
        raise FormatError(source, f"{prefix}.group", "a non-empty name without '/'", value)
    return value.strip()


def _generator(source: str, where: str, table: Any) -> GeneratorRef:
    if not isinstance(table, dict):
        raise FormatError(source, where, "a table {kind, size, count, seed}", table)
    for key in sorted(_GENERATOR_KEYS - {"seed", "count"}):
        if key not in table:
            raise FormatError(source, f"{where}.{key}", "a value", "missing")
    kind = table["kind"]
    if not isinstance(kind, str) or not kind:
        raise FormatError(source, f"{where}.kind", "a problem kind such as 'tsp'", kind)
    return GeneratorRef(
        kind=kind,
        size=_integer(source, f"{where}.size", table["size"], minimum=2),
        count=_integer(source, f"{where}.count", table.get("count", 1), minimum=1),
        seed=_integer(source, f"{where}.seed", table.get("seed", 0), minimum=0),
        options={k: v for k, v in table.items() if k not in _GENERATOR_KEYS},
    )


def _references(source: str, where: str, table: Any) -> ReferenceSource:
    if not isinstance(table, dict):
        raise FormatError(source, where, "{file, key, value} or an inline {instance = value} table", table)
    if "file" in table:
        _no_unknown_keys(source, where, table, {"file", "key", "value"})
        for key in ("file", "key", "value"):
            if not isinstance(table.get(key), str) or not table[key]:
                raise FormatError(source, f"{where}.{key}", "a string", table.get(key, "missing"))
        return ReferenceSource(file=table["file"], key=table["key"], value=table["value"])
    inline: dict[str, float] = {}
    for name, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise FormatError(source, f"{where}.{name}", "a reference objective (a number)", value)
        inline[name] = float(value)
    return ReferenceSource(inline=inline)


def _solver(source: str, k: int, table: dict[str, Any]) -> SolverEntry:
    from routelab.solvers.registry import solver_names

    prefix = f"solvers[{k}]"
    _no_unknown_keys(source, prefix, table, _SOLVER_KEYS)
    name = table.get("name")
    if not isinstance(name, str) or name not in solver_names():
        raise FormatError(source, f"{prefix}.name", f"a registered solver ({', '.join(solver_names())})", name)
    label = table.get("label", name)
    if not isinstance(label, str) or not label.strip():
        raise FormatError(source, f"{prefix}.label", "a non-empty display name", label)
    options = table.get("options", {})
    if not isinstance(options, dict):
        raise FormatError(source, f"{prefix}.options", "a table of solver options", options)
    return SolverEntry(
        position=k,
        name=name,
        label=label.strip(),
        options=dict(options),
        time_limit=_time_limit(source, prefix, table, required=False),
    )
