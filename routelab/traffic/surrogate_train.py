"""Training the UE surrogate of one network on a UE dataset (``routelab train ue-gnn``).

Why this loop: the GA only needs TSTT, but TSTT is a sum over links of a steep (power 4) function of flow, so the
loss is the link-level error (the scaled flow change, every link of order one) plus a relative-TSTT term that
keeps the sum honest. CPU-only by design (one thread, fixed graph, ~100K parameters); the learning rate follows a
cosine over whichever runs out first, the epochs or the wall-clock budget, so a time-boxed run still anneals. The
best epoch on the validation split is written to the checkpoint after every epoch (an interrupted run leaves a
usable file), and the held-out test split is scored once at the end. The whole training record (command, data,
wall time, curve, test metrics) is embedded in the checkpoint.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from routelab.traffic.surrogate import (
    FEATURE_LAYOUT,
    FlowSurrogate,
    flow_metrics,
    network_base,
    parameter_count,
)
from routelab.traffic.ue_dataset import load_network, load_ue_dataset

EpochProgress = Callable[[int, int, dict[str, float]], None]


@dataclass
class TrainSettings:
    """Everything a run depends on; recorded in the checkpoint."""

    net: str
    dataset: str
    output: str
    epochs: int = 200
    minutes: float = 20.0
    batch_size: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-5
    hidden: int = 64
    layers: int = 4
    tstt_weight: float = 10.0
    val_share: float = 0.1
    test_share: float = 0.1
    seed: int = 0
    threads: int = 1
    command: str = ""


def _split(count: int, settings: TrainSettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.random.default_rng(settings.seed).permutation(count)
    n_test = max(1, round(count * settings.test_share))
    n_val = max(1, round(count * settings.val_share))
    if count - n_test - n_val < 1:
        raise ValueError(f"dataset: {count} samples are too few for a train/validation/test split")
    return order[n_test + n_val :], order[n_test : n_test + n_val], order[:n_test]


class _Batches:
    """All samples as tensors (features computed once) and the pieces of the loss."""

    def __init__(self, surrogate: FlowSurrogate, samples: dict[str, np.ndarray]) -> None:
        self.nodes, self.edges = surrogate.tensors(samples["demand"], samples["capacity"])
        self.target = torch.from_numpy(surrogate.target(samples["flows"]).astype(np.float32))
        self.capacity = torch.from_numpy(np.asarray(samples["capacity"], dtype=np.float32))
        self.tstt = torch.from_numpy(np.asarray(samples["tstt"], dtype=np.float64))
        base = surrogate.base
        self.base_flow = torch.from_numpy(base.base_flow.astype(np.float32))
        self.scale = torch.from_numpy(base.flow_scale().astype(np.float32))
        self.fft = torch.from_numpy(base.free_flow_time.astype(np.float32))
        self.b = torch.from_numpy(base.b.astype(np.float32))
        self.power = torch.from_numpy(base.power.astype(np.float32))

    def tstt_of(self, raw: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        flows = torch.relu(self.base_flow + raw * self.scale)
        times = self.fft * (1.0 + self.b * (flows / self.capacity[idx]) ** self.power)
        return (flows.double() * times.double()).sum(dim=-1)

    def loss(self, surrogate: FlowSurrogate, idx: torch.Tensor, tstt_weight: float) -> tuple[torch.Tensor, float]:
        """Scaled-flow MSE + ``tstt_weight`` x squared log TSTT ratio (the log keeps an early overshoot of the
        power-4 BPR from swamping the flow term)."""
        raw = surrogate.raw(self.nodes[idx], self.edges[idx])
        flow_loss = torch.mean((raw - self.target[idx]) ** 2)
        log_ratio = torch.log(self.tstt_of(raw, idx).clamp_min(1e-9) / self.tstt[idx])
        mape = float(torch.mean(torch.expm1(log_ratio.detach()).abs()))
        return flow_loss + tstt_weight * torch.mean(log_ratio**2).float(), mape


@torch.no_grad()
def evaluate(surrogate: FlowSurrogate, samples: dict[str, np.ndarray], idx: np.ndarray) -> dict[str, float]:
    """Flow MAPE / R^2 and TSTT MAPE / R^2 of the surrogate on the samples ``idx``."""
    pred_flows, pred_tstt = [], []
    for start in range(0, len(idx), 256):
        chunk = idx[start : start + 256]
        flows = surrogate.predict_flows(samples["demand"][chunk], samples["capacity"][chunk])
        pred_flows.append(flows)
        pred_tstt.append(surrogate.tstt(flows, samples["capacity"][chunk]))
    return flow_metrics(
        samples["flows"][idx], np.concatenate(pred_flows), samples["tstt"][idx], np.concatenate(pred_tstt)
    )


def train_surrogate(settings: TrainSettings, progress: EpochProgress | None = None) -> dict[str, Any]:
    """Train, checkpoint the best validation epoch to ``settings.output``, and return the training record."""
    torch.set_num_threads(max(1, settings.threads))
    torch.manual_seed(settings.seed)
    start = time.perf_counter()
    data = load_ue_dataset(settings.dataset)
    header = data["header"]
    instance = load_network(settings.net)
    base = network_base(instance, data["base_flow"])
    if header.get("fingerprint") != base.fingerprint:
        raise ValueError(
            f"{settings.dataset}: the dataset was made on {header.get('network')} (fingerprint "
            f"{header.get('fingerprint')}), not on --net {settings.net} ({instance.name}, {base.fingerprint})"
        )
    if not np.allclose(data["base_demand"], instance.demand):
        raise ValueError(f"{settings.dataset}: base_demand differs from {instance.name}'s trips file")
    samples = data["samples"]
    samples["tstt"] = np.asarray(samples["tstt"], dtype=np.float64)
    train_idx, val_idx, test_idx = _split(len(samples["flows"]), settings)
    surrogate = FlowSurrogate.fresh(base, hidden=settings.hidden, layers=settings.layers, seed=settings.seed)
    model = surrogate.model
    batches = _Batches(surrogate, samples)
    optimiser = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    budget = settings.minutes * 60.0
    curve: list[dict[str, float]] = []
    best: tuple[float, dict[str, torch.Tensor]] | None = None
    rng = np.random.default_rng(settings.seed + 1)
    record: dict[str, Any] = {
        "settings": asdict(settings),
        "dataset": header,
        "feature_layout": FEATURE_LAYOUT,
        "parameters": parameter_count(model),
        "samples": {"train": len(train_idx), "val": len(val_idx), "test": len(test_idx)},
        "torch": str(torch.__version__),
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}, {settings.threads} thread(s)",
    }
    epoch = 0
    for epoch in range(1, settings.epochs + 1):
        model.train()
        losses, rels = [], []
        order = rng.permutation(train_idx)
        for start_b in range(0, len(order), settings.batch_size):
            done = max((epoch - 1) / settings.epochs, (time.perf_counter() - start) / budget)
            for group in optimiser.param_groups:
                group["lr"] = settings.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(done, 1.0))))
            idx = torch.from_numpy(order[start_b : start_b + settings.batch_size])
            loss, rel = batches.loss(surrogate, idx, settings.tstt_weight * min(1.0, 10 * done))
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            losses.append(loss.item())
            rels.append(rel)
        model.eval()
        val = evaluate(surrogate, samples, val_idx)
        point = {
            "epoch": epoch,
            "seconds": round(time.perf_counter() - start, 1),
            "train_loss": float(np.mean(losses)),
            "train_tstt_mape": float(np.mean(rels)),
            **{f"val_{k}": v for k, v in val.items()},
        }
        curve.append(point)
        score = val["tstt_mape"] + 0.1 * val["flow_mape"]
        if best is None or score < best[0]:
            best = (score, {k: v.detach().clone() for k, v in model.state_dict().items()})
            record.update(curve=curve, best_epoch=epoch, wall_seconds=point["seconds"])
            surrogate.save(settings.output, record)
        if progress is not None:
            progress(epoch, settings.epochs, point)
        if time.perf_counter() - start >= budget:
            break
    assert best is not None
    model.load_state_dict(best[1])
    test = evaluate(surrogate, samples, test_idx)
    record.update(
        curve=curve,
        epochs_run=epoch,
        wall_seconds=round(time.perf_counter() - start, 1),
        test=test,
        val=evaluate(surrogate, samples, val_idx),
    )
    surrogate.save(settings.output, record)
    return record


def save_record_markdown(record: dict[str, Any], path: str | Path | None = None) -> str:
    """A short markdown summary of a training record (for the docs)."""
    t = record.get("test", {})
    lines = [
        f"- network: {record['dataset']['network']} (fingerprint {record['dataset']['fingerprint']})",
        f"- command: `{record['settings'].get('command', '')}`",
        f"- data: {record['dataset']['count']} samples (train {record['samples']['train']}, val "
        f"{record['samples']['val']}, test {record['samples']['test']}), labelled by {record['dataset']['labelled_by']}"
        f" at gap {record['dataset']['gap']} in {record['dataset']['seconds']} s",
        f"- model: {record['parameters']} parameters; {record.get('epochs_run')} epochs,"
        f" best {record.get('best_epoch')}; wall {record.get('wall_seconds')} s on {record['machine']}",
        f"- test: link-flow MAPE {t.get('flow_mape', math.nan):.2%}, link-flow R^2 {t.get('flow_r2', math.nan):.4f},"
        f" TSTT MAPE {t.get('tstt_mape', math.nan):.2%}, TSTT R^2 {t.get('tstt_r2', math.nan):.4f}",
    ]
    text = "\n".join(lines) + "\n"
    if path is not None:
        Path(path).write_text(text)
    return text
