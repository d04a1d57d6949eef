"""Training data for the UE surrogate: perturbed demand and capacities, each labelled with UE link flows.

Why these samples: the ``ga`` solver asks the surrogate about lane-addition (and lane-swap) designs anywhere
between an empty plan and the whole budget, at demands near the base one. So each sample draws

- demand elementwise ``U(0.8 d, 1.2 d)`` (issue 6), and
- a design: lanes added to a random subset of links (one more lane = ``capacity / n``, ``n`` in {2, 4}, cost
  ``t0 * capacity``), the subset drawn by walking a random link order up to a random budget share in [0, 1], so
  budgets 0..100 % are all covered; a share of samples (``swap_share``) instead moves ``capacity / n`` between
  the two directions of random two-way roads, the lane-swap variant's designs.

Labels are UE flows solved to ``gap`` (1e-4 is plenty for a surrogate). Labelling runs through the bench runner
(:func:`routelab.bench.label.label_dataset`, local pool or Ray) when that module is present, and in-process
otherwise; either way one function, :func:`label_flows`, does it.

The file is a compressed ``.npz`` with a JSON header (``"routelab": "ue-dataset/1"``): the base network, the
base UE flows, and per sample ``demand`` (float32), ``capacity``, ``flows``, ``tstt``, ``gap``, ``lanes`` (n),
``share`` (budget share or -1 for swaps) and ``selected`` (links changed).
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from routelab.problems import FormatError
from routelab.problems.network_design import NetworkDesignInstance

DATASET_FORMAT = "ue-dataset/1"
NETWORK_DIR = "network_design/tntp"
LABELLERS = ("bench", "inline")

Progress = Callable[[int, int], None]


def resolve_network(net: str | Path) -> Path:
    """A ``*_net.tntp`` path from a file path or a network folder name under the benchmark root
    (``SiouxFalls``, ``Eastern-Massachusetts``)."""
    from routelab.data.root import resolve_root

    given = Path(net).expanduser()
    if given.is_file():
        return given
    if given.is_dir():
        found = sorted(given.glob("*_net.tntp"))
        if found:
            return found[0]
    root = resolve_root()
    if root is not None:
        folder = root / NETWORK_DIR / str(net)
        found = sorted(folder.glob("*_net.tntp")) if folder.is_dir() else []
        if found:
            return found[0]
        known = sorted(p.name for p in (root / NETWORK_DIR).glob("*") if p.is_dir())
        raise FileNotFoundError(f"--net {net}: not a file and not a network under {root / NETWORK_DIR} ({known})")
    raise FileNotFoundError(f"--net {net}: not a file, and no benchmark root ($ROUTELAB_BENCHMARKS) is set")


def load_network(net: str | Path) -> NetworkDesignInstance:
    """The base network of ``net``: a TNTP network (see :func:`resolve_network`) or a ``network_design`` instance
    file (.json / .npz), whose own projects are ignored by the surrogate."""
    given = Path(net).expanduser()
    if given.is_file() and given.suffix.lower() in (".json", ".npz"):
        from routelab.data.readers import read_instances

        instance = read_instances(given)[0]
        if instance.kind != "network_design":
            raise FormatError(str(net), "kind", "a network_design instance", instance.kind)
        return instance
    from routelab.data.tntp import read_tntp_instance

    return read_tntp_instance(resolve_network(net))


def opposite_links(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """``opp[a]`` = the link head -> tail of link ``a``, or -1 (the lane-swap partner)."""
    where = {(int(u), int(v)): a for a, (u, v) in enumerate(zip(tail, head, strict=True))}
    return np.array([where.get((int(v), int(u)), -1) for u, v in zip(tail, head, strict=True)], dtype=np.int64)


def sample_designs(
    base: NetworkDesignInstance, count: int, seed: int, *, swap_share: float = 0.2, demand_spread: float = 0.2
) -> dict[str, np.ndarray]:
    """``count`` perturbed (demand, capacity) pairs of the base network (see the module doc)."""
    if count < 1:
        raise ValueError(f"count: expected at least 1 sample, got {count}")
    if not 0 <= swap_share <= 1 or not 0 <= demand_spread < 1:
        raise ValueError("swap_share must lie in [0, 1] and demand_spread in [0, 1)")
    rng = np.random.default_rng(seed)
    m, z = base.num_links, base.num_zones
    cost = base.free_flow_time * base.capacity
    total = float(cost.sum())
    opp = opposite_links(base.tail, base.head)
    two_way = np.flatnonzero(opp >= 0)
    demand = np.empty((count, z, z), dtype=np.float32)
    capacity = np.empty((count, m))
    lanes = np.empty(count, dtype=np.int64)
    share = np.empty(count)
    selected = np.zeros((count, m), dtype=bool)
    for s in range(count):
        demand[s] = base.demand * rng.uniform(1 - demand_spread, 1 + demand_spread, size=(z, z))
        n = int(rng.choice([2, 4]))
        cap = base.capacity.copy()
        if two_way.size and rng.random() < swap_share:
            k = int(rng.integers(1, max(2, two_way.size // 2) + 1))
            for a in rng.choice(two_way, size=k, replace=False):
                moved = base.capacity[a] / n
                if cap[a] - moved > 0.05 * base.capacity[a]:
                    cap[a] -= moved
                    cap[opp[a]] += moved
                    selected[s, a] = selected[s, opp[a]] = True
            share[s] = -1.0
        else:
            target = rng.uniform(0.0, 1.0) * total
            spent = 0.0
            for a in rng.permutation(m):
                if spent + cost[a] <= target:
                    spent += cost[a]
                    cap[a] += base.capacity[a] / n
                    selected[s, a] = True
            share[s] = spent / total if total > 0 else 0.0
        capacity[s] = cap
        lanes[s] = n
    return {"demand": demand, "capacity": capacity, "lanes": lanes, "share": share, "selected": selected}


def sample_instances(base: NetworkDesignInstance, designs: dict[str, np.ndarray], gap: float) -> list[Any]:
    """One plain UE instance (no projects) per sample, named ``{network}-ue-{k}``."""
    data = base.to_data()
    out = []
    for k in range(len(designs["capacity"])):
        fields = dict(data, capacity=designs["capacity"][k], demand=designs["demand"][k].astype(np.float64))
        fields.update(projects=[], budget=0.0, ue_gap=gap)
        out.append(NetworkDesignInstance.from_data(f"{base.name}-ue-{k:06d}", fields, {"source": "ue-dataset"}))
    return out


def label_flows(
    instances: list[Any],
    *,
    gap: float,
    work_dir: str | Path | None = None,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: Progress | None = None,
    labeller: str = "bench",
) -> tuple[np.ndarray, np.ndarray, str]:
    """UE flows and measured gaps of every instance, and how they were labelled.

    ``labeller="bench"``: through :func:`routelab.bench.label.label_dataset` (solver ``ue``: resumable, local pool
    or Ray; each job also re-scores its solution and writes a solution document, which costs more than a 5-10 ms
    Sioux Falls / EMA UE itself). ``"inline"``: solved in this process, no runner, the quick path on a busy
    machine (and the fallback when the bench labelling module is absent).
    """
    if labeller not in LABELLERS:
        raise ValueError(f"labeller: expected one of {', '.join(LABELLERS)}, got {labeller!r}")
    label_dataset = None
    if labeller == "bench":
        try:
            from routelab.bench.label import label_dataset
        except ImportError:
            label_dataset = None
    if label_dataset is not None:
        from routelab.data.readers import write_instances

        work = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="ue-labels-"))
        work.mkdir(parents=True, exist_ok=True)
        dataset = work / "instances.npz"
        if not dataset.exists():
            write_instances(instances, dataset)

        def relay(done: int, total: int, *_: Any) -> None:
            if progress is not None:
                progress(done, total)

        labels = label_dataset(
            dataset,
            "ue",
            options={"gap": gap},
            time_limit=600.0,
            out_dir=work,
            backend=backend,
            workers=workers,
            address=address,
            progress=relay,
            instances=instances,
        )
        flows, gaps = [], []
        for label in labels:
            payload = label.solution.payload if label.solution is not None else {}
            if not label.ok or "flows" not in payload:
                raise RuntimeError(f"labelling {label.name} failed: {label.row.status} {label.row.message}")
            flows.append(np.asarray(payload["flows"], dtype=np.float64))
            gaps.append(float(label.solution.stats.get("gap", math.nan)))
        return np.stack(flows), np.asarray(gaps), f"bench runner ({backend})"
    flows_list, gap_list = [], []
    for k, inst in enumerate(instances):
        result = inst.solve_ue((), gap=gap)
        flows_list.append(result.flows)
        gap_list.append(result.gap)
        if progress is not None:
            progress(k + 1, len(instances))
    return np.stack(flows_list), np.asarray(gap_list), "in-process"


def _net_file(net: str | Path) -> str:
    given = Path(net).expanduser()
    if given.is_file() and given.suffix.lower() in (".json", ".npz"):
        return given.name
    return resolve_network(net).name


def tstt_of(base: NetworkDesignInstance, capacity: np.ndarray, flows: np.ndarray) -> np.ndarray:
    times = base.free_flow_time * (1.0 + base.b * (flows / np.maximum(capacity, 1e-12)) ** base.power)
    return (flows * times).sum(axis=-1)


def make_ue_dataset(
    net: str | Path,
    count: int,
    seed: int,
    output: str | Path,
    *,
    gap: float = 1e-4,
    swap_share: float = 0.2,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: Progress | None = None,
    labeller: str = "bench",
) -> dict[str, Any]:
    """Sample, label and save a UE dataset; returns its header."""
    from routelab.traffic.surrogate import instance_fingerprint

    start = time.perf_counter()
    base = load_network(net)
    base_ue = base.solve_ue((), gap=1e-6)
    designs = sample_designs(base, count, seed, swap_share=swap_share)
    instances = sample_instances(base, designs, gap)
    work = Path(output).with_suffix(".labels")
    flows, gaps, how = label_flows(
        instances,
        gap=gap,
        work_dir=work,
        backend=backend,
        workers=workers,
        address=address,
        progress=progress,
        labeller=labeller,
    )
    header = {
        "routelab": DATASET_FORMAT,
        "network": base.name,
        "net_file": _net_file(net),
        "fingerprint": instance_fingerprint(base),
        "num_nodes": base.num_nodes,
        "num_zones": base.num_zones,
        "num_links": base.num_links,
        "count": int(count),
        "seed": int(seed),
        "gap": float(gap),
        "swap_share": float(swap_share),
        "demand_spread": 0.2,
        "labelled_by": how,
        "seconds": round(time.perf_counter() - start, 2),
    }
    arrays = {key: designs[key] for key in designs}
    arrays.update(flows=flows, gap=gaps, tstt=tstt_of(base, designs["capacity"], flows))
    network = {key: np.asarray(value) for key, value in base.to_data().items() if isinstance(value, np.ndarray)}
    network.pop("demand")
    save_ue_dataset(output, header, network, base.demand, base_ue.flows, arrays)
    return header


def save_ue_dataset(
    path: str | Path,
    header: dict[str, Any],
    network: dict[str, np.ndarray],
    base_demand: np.ndarray,
    base_flow: np.ndarray,
    arrays: dict[str, np.ndarray],
) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = {f"net_{k}": v for k, v in network.items()}
    blob.update({f"sample_{k}": v for k, v in arrays.items()})
    with open(path, "wb") as handle:
        np.savez_compressed(
            handle, header=np.array(json.dumps(header)), base_demand=base_demand, base_flow=base_flow, **blob
        )


def load_ue_dataset(path: str | Path) -> dict[str, Any]:
    """``{"header", "network" (link arrays), "base_demand", "base_flow", "samples" {...}}``; clear errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such UE dataset")
    try:
        with np.load(path, allow_pickle=False) as data:
            files = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise FormatError(str(path), "file", "a UE dataset .npz (routelab generate ue-dataset)", str(exc)) from None
    if "header" not in files:
        raise FormatError(str(path), "header", f"a {DATASET_FORMAT} header", "missing")
    header = json.loads(str(files["header"]))
    if header.get("routelab") != DATASET_FORMAT:
        raise FormatError(str(path), "routelab", DATASET_FORMAT, header.get("routelab"))
    for key in ("base_demand", "base_flow", "sample_demand", "sample_capacity", "sample_flows", "net_tail"):
        if key not in files:
            raise FormatError(str(path), key, "an array of the UE dataset", "missing")
    return {
        "header": header,
        "network": {k[4:]: v for k, v in files.items() if k.startswith("net_")},
        "base_demand": files["base_demand"],
        "base_flow": files["base_flow"],
        "samples": {k[7:]: v for k, v in files.items() if k.startswith("sample_")},
    }
