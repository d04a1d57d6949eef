"""MILP-labelled ``coordination`` training sets for the GNN-VAE, made through the bench runner.

One mixed dataset holds every robot count of a range: instance ``j`` has ``sizes[j % S]`` robots and is instance
``j // S`` of the generator's run for that size, so the first ``M`` instances of a set of ``N`` are exactly the set
of ``M``. That keeps labelling resumable even when a rerun asks for a different count (the runner's resume key is
the instance name, and the saved solution files are numbered by position, which must not move).

Labels come from :func:`routelab.bench.coordination_labels.label_coordination` (a process pool or Ray, one row per
instance appended as it finishes), so an interrupted labelling run loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routelab.problems.coordination import CoordinationInstance


@dataclass(frozen=True)
class LabelledSet:
    """Instances with feasible labels: ``orders[b]`` (and ``modes[b]``) per instance, the labeller's objective,
    lower bound and whether it was proven optimal; ``skipped`` counts instances without a feasible label."""

    instances: list[CoordinationInstance]
    orders: list[np.ndarray]
    modes: list[np.ndarray]
    objective: np.ndarray
    lower_bound: np.ndarray
    optimal: np.ndarray
    skipped: int
    dataset: Path

    def __len__(self) -> int:
        return len(self.instances)


def parse_robot_range(text: str) -> tuple[int, int]:
    """``"5-25"`` -> ``(5, 25)``; ``"10"`` -> ``(10, 10)``. A ValueError names what is wrong."""
    parts = text.replace(" ", "").split("-")
    try:
        lo, hi = (int(parts[0]), int(parts[-1])) if len(parts) in (1, 2) else (0, -1)
    except ValueError:
        raise ValueError(f"robots {text!r}: expected N or LO-HI (for example 5-25)") from None
    if len(parts) not in (1, 2) or lo < 2 or hi < lo:
        raise ValueError(f"robots {text!r}: expected N or LO-HI with 2 <= LO <= HI (for example 5-25)")
    return lo, hi


def mixed_instances(lo: int, hi: int, count: int, seed: int, **options: Any) -> list[CoordinationInstance]:
    """``count`` generated instances cycling through ``lo..hi`` robots (prefix-stable, see the module doc)."""
    from routelab.data.coordination_gen import generate_coordination

    sizes = list(range(lo, hi + 1))
    per_size = -(-count // len(sizes))
    runs = {size: generate_coordination(size, min(per_size, count), seed, **options) for size in sizes}
    return [runs[sizes[j % len(sizes)]][j // len(sizes)] for j in range(count)]


def build_labelled_set(
    data_dir: str | Path,
    *,
    robots: tuple[int, int],
    count: int,
    seed: int,
    time_limit: float,
    workers: int | None = 2,
    backend: str = "local",
    progress: Any = None,
    generator_options: dict[str, Any] | None = None,
) -> LabelledSet:
    """Generate (once) and MILP-label (resumably) the training set under ``data_dir``; returns the usable part.

    Files: ``data_dir/coord-R{lo}-{hi}-s{seed}.npz`` (instances), ``.labels/`` (the runner's CSV and solution
    files) and ``.labels.npz`` (label arrays). A rerun with the same arguments costs nothing; one with a smaller
    ``count`` uses the labels of the first ``count`` instances, one with a larger count labels only the new ones.
    """
    from routelab.bench.coordination_labels import label_coordination, read_labels
    from routelab.data.readers import read_instances, write_instances

    lo, hi = robots
    if count < 1:
        raise ValueError(f"count must be positive, got {count}")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    dataset = data_dir / f"coord-R{lo}-{hi}-s{seed}.npz"
    instances = read_instances(dataset) if dataset.exists() else []
    if len(instances) >= count:
        instances = instances[:count]
    else:
        instances = mixed_instances(lo, hi, count, seed, **(generator_options or {}))
        write_instances(instances, dataset)
    labels_file = label_coordination(
        dataset,
        "milp",
        time_limit=time_limit,
        workers=workers,
        backend=backend,
        progress=progress,
        instances=instances,
    )
    labels = read_labels(labels_file)
    keep = np.flatnonzero(labels["feasible"])
    offsets = labels["conflict_offsets"]
    return LabelledSet(
        instances=[instances[b] for b in keep.tolist()],
        orders=[labels["orders"][offsets[b] : offsets[b + 1]].astype(np.int64) for b in keep.tolist()],
        modes=[labels["modes"][offsets[b] : offsets[b + 1]].astype(np.int64) for b in keep.tolist()],
        objective=labels["objective"][keep],
        lower_bound=labels["lower_bound"][keep],
        optimal=labels["optimal"][keep],
        skipped=len(instances) - len(keep),
        dataset=dataset,
    )
