"""Training the GNN-VAE on MILP-labelled small floors (``routelab train gnnvae``).

The pipeline: generate a mixed set of 5-25-robot instances, label it with the ``milp`` solver through the bench
runner (:func:`routelab.coordination.dataset.build_labelled_set`, resumable), hold out a validation share, and fit
the CVAE:

``loss = ranking(posterior ranks) + prior_weight * ranking(prior ranks) + delay_weight * huber(posterior rank,
MILP start / tau, off by default) + kl_weight(epoch) * KL(q(z | graph, MILP solution) || N(0, I))``

where ``ranking`` is the logistic loss on ``rank_b - rank_a`` with the MILP's orientation as the sign, weighted
``1 + flip_weight`` on the conflicts where the MILP disagrees with the base (dynamic FCFS) orders: those few
(about 5%) are all the model can add, and unweighted they drown in the many it only has to keep. The prior
term is the hybrid objective of Sohn et al. (NeurIPS 2015, CVAE + GSNN): the encoder sees the answer, so without
it the decoder learns to copy orientations out of the posterior latent and decodes poorly from the prior, which is
all inference has. The KL weight is warmed up linearly over the first epochs.

After every epoch the run folder gets ``last.pt`` (model, optimiser, history, random states), so ``--resume``
continues an interrupted run; the validation ratio (MILP objective / the objective of the best of
``val_samples`` decoded samples, averaged) is measured every ``val_every`` epochs and the best model so far is
what gets exported, with the whole training record embedded in the checkpoint. Validation decodes the way the
solver does by default (dispatch decoding, :mod:`routelab.coordination.dispatch`), so the epoch exported is the
one that is best at inference; the shipped checkpoint was selected under the earlier static decoding.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from routelab.coordination.features import (
    FEATURE_LAYOUT,
    CoordGraph,
    build_graph,
    merge_graphs,
    merge_solution_features,
    orders_from_rank_batch,
    solution_features,
)
from routelab.coordination.gnnvae import (
    GNNVAE,
    ModelConfig,
    decode_best,
    kl_divergence,
    load_checkpoint,
    ranking_loss,
    save_checkpoint,
)
from routelab.problems.coordination import CoordinationInstance

RUN_STATE = "last.pt"


@dataclass
class TrainConfig:
    """Everything a training run depends on (stored in the record; ``--resume`` checks it did not change)."""

    robots: tuple[int, int] = (5, 25)
    count: int = 600
    time_limit: float = 5.0
    epochs: int = 40
    seed: int = 0
    batch_graphs: int = 16
    lr: float = 3e-3
    kl_weight: float = 0.05
    kl_warmup_epochs: int = 5
    prior_weight: float = 0.5
    flip_weight: float = 1.0
    delay_weight: float = 0.0
    sharpness: float = 2.0
    val_fraction: float = 0.1
    val_samples: int = 32
    val_every: int = 2
    threads: int = 1
    workers: int = 2
    max_train_seconds: float | None = None
    model: ModelConfig = field(default_factory=ModelConfig)

    def check(self) -> None:
        """ValueErrors with the offending setting's name."""
        lo, hi = self.robots
        if lo < 2 or hi < lo:
            raise ValueError(f"robots: expected 2 <= LO <= HI, got {lo}-{hi}")
        for name in ("count", "epochs", "batch_graphs", "val_samples", "val_every", "threads", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.time_limit <= 0 or self.lr <= 0:
            raise ValueError("time_limit and lr must be > 0")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")


@dataclass
class Example:
    """One labelled instance as tensors: the skeleton, the encoder's solution features and the targets."""

    instance: CoordinationInstance
    graph: CoordGraph
    sol_nodes: torch.Tensor
    sol_edges: torch.Tensor
    orders: np.ndarray
    target_rank: np.ndarray
    label_objective: float


def make_examples(
    instances: list[CoordinationInstance], orders: list[np.ndarray], objective: np.ndarray
) -> list[Example]:
    """Build the tensors of every labelled instance (the label's schedule gives the rank targets)."""
    out = []
    for inst, ords, obj in zip(instances, orders, objective.tolist(), strict=True):
        graph = build_graph(inst)
        start, cycle = inst.evaluator.schedule(ords)
        if cycle is not None:  # a scorer-accepted label cannot deadlock; refuse loudly rather than learn from it
            raise ValueError(f"{inst.name}: its label deadlocks, so it is not a usable training target")
        nodes, edges = solution_features(graph, ords, start)
        out.append(Example(inst, graph, nodes, edges, np.asarray(ords), start / graph.tau, float(obj)))
    return out


def batch_loss(
    model: GNNVAE, batch: list[Example], cfg: TrainConfig, kl_weight: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """The CVAE loss of a minibatch of graphs (merged into one disconnected graph) and its parts."""
    graph, _ = merge_graphs([ex.graph for ex in batch])
    nodes, edges = merge_solution_features([(ex.sol_nodes, ex.sol_edges) for ex in batch], [ex.graph for ex in batch])
    orders = np.concatenate([ex.orders for ex in batch])
    mu, logvar = model.encode(graph, nodes, edges)
    z_post = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    z_prior = torch.randn_like(mu)
    both = model.ranks(graph, model.delays(model.context(graph), torch.stack([z_post, z_prior])))
    ranks, prior_ranks = both[0], both[1]
    weights = 1.0 + cfg.flip_weight * (orders != graph.base_orders)
    rank_term = ranking_loss(graph, ranks, orders, cfg.sharpness, weights)
    prior_term = ranking_loss(graph, prior_ranks, orders, cfg.sharpness, weights)
    target = torch.from_numpy(np.concatenate([ex.target_rank for ex in batch]))
    delay_term = F.smooth_l1_loss(ranks, target)
    kl = kl_divergence(mu, logvar)
    loss = rank_term + cfg.prior_weight * prior_term + cfg.delay_weight * delay_term + kl_weight * kl
    with torch.no_grad():
        if graph.num_conflicts:
            predicted = orders_from_rank_batch(graph, both.detach().numpy())
            accuracy, prior_accuracy = (float((row == orders).mean()) for row in predicted)
        else:
            accuracy = prior_accuracy = 1.0
    parts = {
        "loss": float(loss.detach()),
        "rank": float(rank_term.detach()),
        "prior_rank": float(prior_term.detach()),
        "delay": float(delay_term.detach()),
        "kl": float(kl.detach()),
        "accuracy": accuracy,
        "prior_accuracy": prior_accuracy,
    }
    return loss, parts


def validation_ratio(model: GNNVAE, examples: list[Example], samples: int) -> dict[str, float]:
    """Mean and worst ``label objective / decoded objective`` (1 = as good as the MILP label) and the mean for the
    prior-mean sample alone."""
    if not examples:
        return {}
    model.eval()
    ratios, mean_only = [], []
    for ex in examples:
        _, _, value, values = decode_best(model, ex.instance, samples, graph=ex.graph)
        ratios.append(ex.label_objective / value)
        mean_only.append(ex.label_objective / float(values[0]))
    return {
        "val_ratio": float(np.mean(ratios)),
        "val_ratio_min": float(np.min(ratios)),
        "val_ratio_z0": float(np.mean(mean_only)),
    }


def fcfs_ratio(examples: list[Example]) -> float:
    """The same ratio for the best FCFS (planned or dynamic) orders: the bar a learned model has to clear."""
    from routelab.solvers.coordination_heuristics import fcfs_orders

    if not examples:
        return float("nan")
    vals = []
    for ex in examples:
        orders, _ = fcfs_orders(ex.instance, "best")
        vals.append(ex.label_objective / float(ex.instance.evaluator.evaluate(orders)))
    return float(np.mean(vals))


Progress = Callable[[str, int, int, dict[str, Any]], None]
"""``progress(stage, done, total, info)``: stage ``"label"`` (instances) then ``"train"`` (epochs)."""


def train(
    cfg: TrainConfig,
    output: str | Path,
    *,
    data_dir: str | Path,
    run_dir: str | Path,
    resume: bool = False,
    command: str = "",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Label (or reuse labels), train, export the best model to ``output``; returns the training record."""
    cfg.check()
    torch.set_num_threads(cfg.threads)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / RUN_STATE

    from routelab.coordination.dataset import build_labelled_set

    t_label = time.perf_counter()

    def label_progress(done: int, total: int, row: Any) -> None:
        if progress is not None:
            progress("label", done, total, {"last": "" if row is None else f"{row.instance}: {row.status}"})

    labelled = build_labelled_set(
        data_dir,
        robots=cfg.robots,
        count=cfg.count,
        seed=cfg.seed,
        time_limit=cfg.time_limit,
        workers=cfg.workers,
        progress=label_progress,
    )
    label_wall = time.perf_counter() - t_label
    if len(labelled) < 2:
        raise ValueError(f"only {len(labelled)} instance(s) got a feasible MILP label; need at least 2 to train")
    examples = make_examples(labelled.instances, labelled.orders, labelled.objective)
    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(len(examples))
    n_val = round(cfg.val_fraction * len(examples))
    val = [examples[i] for i in sorted(perm[:n_val].tolist())]
    train_set = [examples[i] for i in sorted(perm[n_val:].tolist())]

    torch.manual_seed(cfg.seed)
    model = GNNVAE(cfg.model)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs, eta_min=cfg.lr * 0.05)
    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"val_ratio": -math.inf, "epoch": 0, "state": None}
    start_epoch = 0
    train_wall_before = 0.0
    if resume and state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        if state.get("config") != _config_dict(cfg, epochs=False):
            raise ValueError(f"{state_path}: the run was started with other settings; use another --run-dir")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = state["history"]
        best = state["best"]
        start_epoch = state["epoch"]
        train_wall_before = state["train_wall_s"]
        rng = np.random.default_rng()
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])

    fcfs_val = fcfs_ratio(val)
    t_train = time.perf_counter()
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        kl_weight = cfg.kl_weight * min(1.0, (epoch + 1) / max(cfg.kl_warmup_epochs, 1))
        order = rng.permutation(len(train_set))
        sums: dict[str, float] = {}
        steps = 0
        for lo in range(0, len(order), cfg.batch_graphs):
            batch = [train_set[i] for i in order[lo : lo + cfg.batch_graphs].tolist()]
            loss, parts = batch_loss(model, batch, cfg, kl_weight)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            for key, value in parts.items():
                sums[key] = sums.get(key, 0.0) + value
            steps += 1
        scheduler.step()
        point: dict[str, Any] = {"epoch": epoch + 1, **{k: round(v / steps, 5) for k, v in sums.items()}}
        point["kl_weight"] = round(kl_weight, 5)
        if (epoch + 1) % cfg.val_every == 0 or epoch + 1 == cfg.epochs:
            point.update({k: round(v, 5) for k, v in validation_ratio(model, val, cfg.val_samples).items()})
            if point.get("val_ratio", -math.inf) > best["val_ratio"]:
                best = {
                    "val_ratio": point["val_ratio"],
                    "epoch": epoch + 1,
                    "state": {k: v.detach().clone() for k, v in model.state_dict().items()},
                }
        point["wall_s"] = round(train_wall_before + time.perf_counter() - t_train, 1)
        history.append(point)
        torch.save(
            {
                "config": _config_dict(cfg, epochs=False),
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "history": history,
                "best": best,
                "epoch": epoch + 1,
                "train_wall_s": point["wall_s"],
                "rng": rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(),
            },
            state_path,
        )
        if progress is not None:
            progress("train", epoch + 1, cfg.epochs, point)
        if cfg.max_train_seconds is not None and point["wall_s"] >= cfg.max_train_seconds:
            break

    if best["state"] is not None:
        model.load_state_dict(best["state"])
    final = validation_ratio(model, val, cfg.val_samples)
    record = {
        "command": command,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": _config_dict(cfg, epochs=True),
        "feature_layout": FEATURE_LAYOUT["version"],
        "data": {
            "dataset": labelled.dataset.name,
            "generated": cfg.count,
            "labelled": len(labelled),
            "no_feasible_label": labelled.skipped,
            "proven_optimal": int(labelled.optimal.sum()),
            "train": len(train_set),
            "validation": len(val),
            "label_solver": "milp",
            "label_time_limit_s": cfg.time_limit,
            "label_wall_s": round(label_wall, 1),
        },
        "epochs_run": len(history),
        "best_epoch": best["epoch"],
        "train_wall_s": history[-1]["wall_s"] if history else 0.0,
        "history": history,
        "validation": {**{k: round(v, 5) for k, v in final.items()}, "fcfs_ratio": round(fcfs_val, 5)},
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch": str(torch.__version__),
    }
    save_checkpoint(model, output, record)
    load_checkpoint(output)  # the exported file must load (layout, config and weights agree)
    return record


def _config_dict(cfg: TrainConfig, *, epochs: bool) -> dict[str, Any]:
    """The settings as plain data; without ``epochs`` the ones a resumed run may change are left out."""
    out = asdict(cfg)
    out["robots"] = list(cfg.robots)
    if not epochs:
        for key in ("epochs", "max_train_seconds", "workers", "threads"):
            out.pop(key)
    return out
