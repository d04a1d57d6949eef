"""Labelled ``coordination`` datasets: MILP (or any solver's) passing orders next to the instances, for training.

``routelab generate coordination --size N --count C --seed S --label milp -o data.npz`` writes three things:

- ``data.npz``: the instances, a batched ``dataset/1`` file (:func:`routelab.problems.load_dataset`);
- ``data.labels/``: the labelling run of :func:`routelab.bench.label.label_dataset` (``labels.csv`` with one
  row per instance, and ``solutions/000000.json`` ...): rerunning the command resumes it;
- ``data.labels.npz``: the labels as arrays, what a trainer reads (:func:`read_labels`):

  ============== ============ =================================================================================
  key            shape        meaning
  ============== ============ =================================================================================
  orders         (sum C_b,)   int8, instance ``b``'s orders at ``conflict_offsets[b]:conflict_offsets[b+1]``,
                              in the instance's canonical conflict order (``instance.conflicts``); -1 where no
                              feasible label exists
  modes          (sum C_b,)   int8 following modes (0 unless the solver used following)
  conflict_offsets (B + 1,)   int64
  objective      (B,)         float64 scorer's mean completion time (NaN without a feasible label)
  lower_bound    (B,)         float64 the solver's proven bound (NaN when it reported none)
  optimal        (B,)         bool, the solver proved optimality (``stats.status == "optimal"``)
  feasible       (B,)         bool, the scorer accepted the label
  runtime_s      (B,)         float64
  __header__     JSON         ``{"routelab": "labels/1", "kind", "dataset", "solver", "options", "time_limit",
                              "names": [...], "status": [...]}``
  ============== ============ =================================================================================
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from routelab.problems import FormatError, atomic_write

LABELS_VERSION = "labels/1"


def label_paths(dataset: str | Path) -> tuple[Path, Path]:
    """The run folder and the label arrays beside ``dataset`` (``X.npz`` -> ``X.labels/``, ``X.labels.npz``)."""
    path = Path(dataset)
    stem = path.with_suffix("") if path.suffix else path
    return stem.parent / f"{stem.name}.labels", stem.parent / f"{stem.name}.labels.npz"


def label_coordination(
    dataset: str | Path,
    solver: str = "milp",
    *,
    time_limit: float,
    options: dict[str, Any] | None = None,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: Any = None,
    instances: Sequence[Any] | None = None,
) -> Path:
    """Label every instance of ``dataset`` through the bench runner and write the label arrays; returns their path."""
    from routelab.bench.label import label_dataset
    from routelab.data.readers import read_instances

    run_dir, out = label_paths(dataset)
    loaded = list(instances) if instances is not None else read_instances(dataset)
    kinds = {inst.kind for inst in loaded}
    if kinds != {"coordination"}:
        raise FormatError(str(dataset), "kind", "coordination instances", sorted(kinds))
    labels = label_dataset(
        dataset,
        solver,
        time_limit=time_limit,
        out_dir=run_dir,
        options=options,
        backend=backend,
        workers=workers,
        address=address,
        progress=progress,
        instances=loaded,
    )
    counts = np.array([inst.num_conflicts for inst in loaded], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    orders = np.full(int(offsets[-1]), -1, dtype=np.int8)
    modes = np.zeros(int(offsets[-1]), dtype=np.int8)
    objective = np.full(len(loaded), np.nan)
    lower = np.full(len(loaded), np.nan)
    optimal = np.zeros(len(loaded), dtype=bool)
    feasible = np.zeros(len(loaded), dtype=bool)
    runtime = np.full(len(loaded), np.nan)
    status: list[str] = []
    for b, label in enumerate(labels):
        status.append(label.row.status)
        runtime[b] = label.row.runtime_s if label.row.runtime_s is not None else np.nan
        sol = label.solution
        if not label.ok or sol is None:
            continue
        got = np.asarray(sol.payload["orders"], dtype=np.int8)
        if len(got) != counts[b]:
            continue
        orders[offsets[b] : offsets[b + 1]] = got
        if sol.payload.get("modes") is not None:
            modes[offsets[b] : offsets[b + 1]] = np.asarray(sol.payload["modes"], dtype=np.int8)
        feasible[b] = True
        objective[b] = float(label.objective) if label.objective is not None else np.nan
        lb = sol.stats.get("lower_bound")
        lower[b] = float(lb) if isinstance(lb, (int, float)) and math.isfinite(lb) else np.nan
        optimal[b] = sol.stats.get("status") == "optimal"
    header = {
        "routelab": LABELS_VERSION,
        "kind": "coordination",
        "dataset": Path(dataset).name,
        "solver": solver,
        "options": options or {},
        "time_limit": time_limit,
        "names": [inst.name for inst in loaded],
        "status": status,
    }
    arrays = {
        "orders": orders,
        "modes": modes,
        "conflict_offsets": offsets,
        "objective": objective,
        "lower_bound": lower,
        "optimal": optimal,
        "feasible": feasible,
        "runtime_s": runtime,
    }

    def write(handle: Any) -> None:
        np.savez_compressed(handle, __header__=np.array(json.dumps(header)), **arrays)

    atomic_write(out, write)
    return out


def read_labels(path: str | Path) -> dict[str, Any]:
    """The label arrays of :func:`label_coordination` plus ``header``; ``orders_of(b)`` slices one instance."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise FormatError(str(path), "file", "an existing labels file", "no such file") from None
    header = json.loads(str(data.pop("__header__", "{}")))
    if header.get("routelab") != LABELS_VERSION:
        raise FormatError(str(path), "routelab", f"the format tag {LABELS_VERSION!r}", header.get("routelab"))
    offsets = data["conflict_offsets"]
    data["header"] = header
    data["orders_of"] = lambda b: data["orders"][offsets[b] : offsets[b + 1]]
    return data
