"""One dispatch point for every instance and solution file the CLI accepts, chosen by extension (and content).

Reading:
    ``.json`` / ``.npz``   the shared format (an ``.npz`` may be a single instance or a batched dataset)
    ``.tsp`` / ``.atsp``   TSPLIB
    ``.vrp``               VRPLIB (CVRP, VRPTW)
    ``.txt``               Solomon VRPTW when it has Solomon's VEHICLE/CUSTOMER headers, else the TSP test-set
                           format (one instance per line)
    ``*_net.tntp``         a TNTP road network with the sibling ``*_trips.tntp`` (a ``network_design`` instance
                           without projects); other ``.tntp`` files are not instances
    a folder               every readable file in it, sorted by name (not recursive)
Writing: the same extensions; many instances go to a batched ``.npz``, a test-set ``.txt`` (tsp) or a folder
(a path without an extension) of one ``.json`` each. Solutions: ``.json`` (shared), ``.sol`` (VRPLIB),
``.tour`` (TSPLIB). Every write is atomic.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from routelab.data.solomon import looks_like_solomon, read_solomon, write_solomon
from routelab.data.tntp import is_tntp_net, read_tntp_instance
from routelab.data.tsp_testset import read_tsp_testset, write_tsp_testset
from routelab.data.tsplib import read_tsplib, read_tsplib_tour, write_tsplib, write_tsplib_tour
from routelab.data.vrplib_io import read_vrplib, read_vrplib_solution, write_vrplib, write_vrplib_solution
from routelab.problems import (
    FormatError,
    Solution,
    load_dataset,
    load_instance,
    load_solution,
    save_dataset,
    save_instance,
    save_solution,
)
from routelab.problems.documents import DATASET_VERSION, HEADER_KEY

INSTANCE_SUFFIXES: tuple[str, ...] = (".json", ".npz", ".tsp", ".atsp", ".vrp", ".txt", ".tntp")
SOLUTION_SUFFIXES: tuple[str, ...] = (".json", ".sol", ".tour")


def _is_dataset(path: Path) -> bool:
    """Peek at an ``.npz`` header; on any trouble say no and let ``load_instance`` report the real error."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(str(archive[HEADER_KEY]))
    except Exception:
        return False
    return isinstance(header, dict) and header.get("routelab") == DATASET_VERSION


def _read_txt(path: Path, limit: int | None) -> list[Any]:
    try:
        with path.open() as handle:
            head = handle.read(4096)
    except (OSError, UnicodeDecodeError) as exc:
        raise FormatError(str(path), "file", "a readable text file", str(exc)) from None
    if looks_like_solomon(head):
        return [read_solomon(path)]
    return read_tsp_testset(path, limit)


def read_instances(path: str | Path, *, limit: int | None = None) -> list[Any]:
    """Every instance in ``path`` (a file or a folder); ``limit`` keeps the first few of a multi-instance file."""
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p
            for p in path.iterdir()
            if p.is_file() and p.suffix.lower() in INSTANCE_SUFFIXES and (p.suffix.lower() != ".tntp" or is_tntp_net(p))
        )
        if not files:
            raise FormatError(str(path), "folder", f"instance files ({', '.join(INSTANCE_SUFFIXES)})", "none")
        out = [inst for f in files for inst in read_instances(f)]
        return out if limit is None else out[:limit]
    if not path.exists():
        raise FormatError(str(path), "file", "an existing file", "no such file")
    suffix = path.suffix.lower()
    if suffix == ".json":
        out = [load_instance(path)]
    elif suffix == ".npz":
        out = load_dataset(path) if _is_dataset(path) else [load_instance(path)]
    elif suffix in (".tsp", ".atsp"):
        out = [read_tsplib(path)]
    elif suffix == ".vrp":
        out = [read_vrplib(path)]
    elif suffix == ".txt":
        out = _read_txt(path, limit)
    elif suffix == ".tntp":
        if not is_tntp_net(path):
            raise FormatError(str(path), "file", "a *_net.tntp network (its *_trips.tntp is read alongside)", path.name)
        out = [read_tntp_instance(path)]
    else:
        raise FormatError(
            str(path), "extension", f"one of {', '.join(INSTANCE_SUFFIXES)} or a folder", suffix or "none"
        )
    return out if limit is None else out[:limit]


def read_instance(path: str | Path) -> Any:
    """The one instance in ``path``; a file holding several is a FormatError (use :func:`read_instances`)."""
    instances = read_instances(path)
    if len(instances) != 1:
        raise FormatError(str(path), "instances", "exactly one instance", f"{len(instances)} instances")
    return instances[0]


def read_solution(path: str | Path, instance: Any) -> Solution:
    """A solution for ``instance`` from ``.json`` (shared), ``.sol`` (VRPLIB) or ``.tour`` (TSPLIB)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return load_solution(path)
    if suffix == ".sol":
        return read_vrplib_solution(path, instance)
    if suffix == ".tour":
        return read_tsplib_tour(path, instance)
    raise FormatError(str(path), "extension", f"one of {', '.join(SOLUTION_SUFFIXES)}", suffix or "none")


def write_solution(solution: Solution, path: str | Path) -> None:
    """Write ``solution`` as ``.json`` (shared), ``.sol`` (VRPLIB) or ``.tour`` (TSPLIB)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        save_solution(solution, path)
    elif suffix == ".sol":
        write_vrplib_solution(solution, path)
    elif suffix == ".tour":
        write_tsplib_tour(solution, path)
    else:
        raise FormatError(str(path), "extension", f"one of {', '.join(SOLUTION_SUFFIXES)}", suffix or "none")


def _single(instances: Sequence[Any], path: Path) -> Any:
    if len(instances) != 1:
        raise FormatError(
            str(path), "instances", f"one instance for {path.suffix} (use .npz or a folder for many)", len(instances)
        )
    return instances[0]


def _file_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.+" else "_" for c in name) or "instance"


def write_instances(instances: Sequence[Any], path: str | Path) -> None:
    """Write instances in the format ``path``'s extension names; a path without extension is a folder."""
    path = Path(path)
    if not instances:
        raise ValueError("nothing to write: no instances")
    suffix = path.suffix.lower()
    if path.is_dir() or not suffix:
        names = [_file_name(inst.name) for inst in instances]
        if len(set(names)) != len(names):
            raise FormatError(str(path), "names", "distinct instance names (one file each)", "duplicates")
        for inst, name in zip(instances, names, strict=True):
            save_instance(inst, path / f"{name}.json")
    elif suffix == ".json":
        save_instance(_single(instances, path), path)
    elif suffix == ".npz":
        if len(instances) == 1:
            save_instance(instances[0], path)
        else:
            try:
                save_dataset(instances, path)
            except ValueError as exc:
                raise FormatError(str(path), "instances", "one kind and size for a batched .npz", str(exc)) from None
    elif suffix in (".tsp", ".atsp"):
        write_tsplib(_single(instances, path), path)
    elif suffix == ".vrp":
        write_vrplib(_single(instances, path), path)
    elif suffix == ".txt":
        kinds = {inst.kind for inst in instances}
        if kinds == {"tsp"}:
            write_tsp_testset(instances, path)
        elif kinds == {"cvrptw"}:
            write_solomon(_single(instances, path), path)
        else:
            raise FormatError(str(path), "kind", "tsp (test-set lines) or one cvrptw (Solomon) for .txt", sorted(kinds))
    else:
        raise FormatError(str(path), "extension", f"one of {', '.join(INSTANCE_SUFFIXES)} or a folder", suffix)


def write_instance(instance: Any, path: str | Path) -> None:
    """Write one instance (format by extension, see :func:`write_instances`)."""
    write_instances([instance], path)


def instance_differences(a: Any, b: Any) -> list[str]:
    """What differs between two instances (kind, name, meta, every data field with dtype); [] when identical.

    The check behind "round trips are lossless": arrays must match exactly, not approximately.
    """
    diffs = [
        f"{key}: {getattr(a, key)!r} != {getattr(b, key)!r}"
        for key in ("kind", "name")
        if getattr(a, key) != getattr(b, key)
    ]
    if json.dumps(a.meta, sort_keys=True, default=str) != json.dumps(b.meta, sort_keys=True, default=str):
        diffs.append(f"meta: {a.meta!r} != {b.meta!r}")
    data_a, data_b = a.to_data(), b.to_data()
    for key in sorted(set(data_a) | set(data_b)):
        va, vb = data_a.get(key), data_b.get(key)
        if isinstance(va, np.ndarray) or isinstance(vb, np.ndarray):
            if not (isinstance(va, np.ndarray) and isinstance(vb, np.ndarray)):
                diffs.append(f"data.{key}: array on one side only")
            elif va.dtype != vb.dtype or va.shape != vb.shape or not np.array_equal(va, vb):
                diffs.append(f"data.{key}: {va.dtype}{va.shape} != {vb.dtype}{vb.shape} or values differ")
        elif va != vb or type(va) is not type(vb):
            diffs.append(f"data.{key}: {va!r} != {vb!r}")
    return diffs


def convert(in_path: str | Path, out_path: str | Path) -> int:
    """Read every instance of ``in_path`` and write them to ``out_path``; returns how many were converted."""
    instances = read_instances(in_path)
    write_instances(instances, out_path)
    return len(instances)


def convert_solution(in_path: str | Path, out_path: str | Path, instance: Any) -> Solution:
    """Re-write a solution of ``instance`` in another format (``.sol`` <-> ``.json`` <-> ``.tour``)."""
    solution = read_solution(in_path, instance)
    write_solution(solution, out_path)
    return solution
