"""Training RRNCO with rl4co: REINFORCE with POMO's shared baseline on instances sampled from training cities.

Training cities are procedural (:mod:`routelab.data.roads.synthetic`, seeds from ``city_seed``) so that every real
extract (the built-in Helsinki one included) stays held out for evaluation. A run directory keeps Lightning's
checkpoints (``last.ckpt``: ``resume=True`` continues from it) and its CSV metrics; at the end the policy is
exported as a small routelab checkpoint (:mod:`routelab.neural.rrnco.checkpoint`) with the training record: the
settings, the cities, wall time and the validation curve. ``init`` starts from an earlier export, which is how
the curriculum (n = 20, then 50, then 100) is run.
"""

from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from routelab.neural.rrnco.model import count_parameters


@dataclass(frozen=True)
class TrainSettings:
    """One training stage; ``as_dict`` goes into the exported checkpoint."""

    problem: str = "atsp"
    model: str = "rrnco"
    size: int = 20
    epochs: int = 10
    batch_size: int = 64
    steps_per_epoch: int = 50
    val_size: int = 32
    lr: float = 3e-4
    cities: int = 16
    city_points: int = 400
    city_seed: int = 0
    seed: int = 0
    threads: int | None = None
    accelerator: str = "cpu"
    """Lightning's accelerator: "cpu" here; "gpu" (or "auto") on a machine with one."""
    init: str | None = None
    resume: bool = False
    run_dir: str = "runs/train-rrnco"
    output: str | None = None
    config: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def training_cities(count: int, points: int, seed: int) -> list[Any]:
    """``count`` procedural cities with ``points`` road points each (fewer when a city is smaller)."""
    from routelab.data.roads.city import City
    from routelab.data.roads.synthetic import synthetic_city

    cities = []
    for k in range(count):
        graph = synthetic_city(seed + k).largest_strongly_connected()
        rng = np.random.default_rng([seed, k])
        roads = graph.matrices(graph.sample_points(min(points, graph.n_nodes), rng))
        cities.append(City.from_roads(f"synthetic-{seed + k}", roads))
    return cities


def make_training_env(problem: str, size: int, cities: list[Any]) -> Any:
    """The rl4co environment of ``problem`` whose generator samples instances of ``size`` (cities for ATSP,
    customers for the VRPs, as everywhere in routelab) from ``cities``."""
    from routelab.neural.rrnco.envs import RoadGenerator, make_env

    return make_env(problem, RoadGenerator(cities, problem, size))


def train(settings: TrainSettings, progress: bool = True) -> Path:
    """Run one training stage and export the policy; returns the exported checkpoint's path."""
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.loggers import CSVLogger
    from rl4co.models import POMO
    from rl4co.utils import RL4COTrainer

    from routelab.neural.rrnco.checkpoint import build_policy, load_checkpoint, save_checkpoint, shipped_checkpoint

    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(settings.seed)
    started = time.perf_counter()
    run_dir = Path(settings.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    cities = training_cities(settings.cities, settings.city_points, settings.city_seed)
    env = make_training_env(settings.problem, settings.size, cities)
    earlier: list[dict[str, Any]] = []
    if settings.init:
        policy, previous = load_checkpoint(settings.init, settings.problem, settings.model)
        earlier = [*previous.get("earlier_stages", []), {k: v for k, v in previous.items() if k != "earlier_stages"}]
        policy.train()
    else:
        policy = build_policy(settings.model, {"problem": settings.problem, **settings.config})
    model = POMO(
        env,
        policy,
        batch_size=settings.batch_size,
        val_batch_size=settings.val_size,
        test_batch_size=settings.val_size,
        train_data_size=settings.batch_size * settings.steps_per_epoch,
        val_data_size=settings.val_size,
        optimizer_kwargs={"lr": settings.lr},
        num_augment=1,  # validation decodes every start but no augmentations: cheap enough to run each epoch
    )
    last = run_dir / "last.ckpt"
    trainer = RL4COTrainer(
        max_epochs=settings.epochs,
        accelerator=settings.accelerator,
        devices=1,
        default_root_dir=str(run_dir),
        logger=CSVLogger(str(run_dir), name="", version=""),
        # save_top_k=1 without a monitor keeps the latest epoch; with save_top_k=0 Lightning writes last.ckpt
        # only when training ends, so a killed run could not resume
        callbacks=[ModelCheckpoint(dirpath=str(run_dir), save_last=True, save_top_k=1, every_n_epochs=1)],
        enable_progress_bar=progress,
        precision="32-true",  # rl4co's default is 16-mixed, which Lightning turns into slow bf16 on CPU
        log_every_n_steps=max(1, settings.steps_per_epoch // 5),
        gradient_clip_val=1.0,
        reload_dataloaders_every_n_epochs=1,
    )
    trainer.fit(model, ckpt_path=str(last) if settings.resume and last.exists() else None)
    curve = read_curve(run_dir / "metrics.csv")
    out = Path(settings.output) if settings.output else shipped_checkpoint(settings.problem, settings.model)
    record = {
        "settings": settings.as_dict(),
        "parameters": count_parameters(policy),
        "cities": [c.name for c in cities],
        "wall_s": round(time.perf_counter() - started, 1),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "curve": curve,
        "earlier_stages": earlier,  # the curriculum so far: each stage's record, oldest first
    }
    save_checkpoint(policy, out, record)
    return out


def read_curve(path: Path) -> list[dict[str, float]]:
    """(epoch, validation reward) pairs from Lightning's CSV log; empty when nothing was validated."""
    if not path.exists():
        return []
    curve = []
    with path.open() as handle:
        for row in csv.DictReader(handle):
            value = row.get("val/reward") or row.get("val/max_aug_reward")
            if value:
                curve.append({"epoch": int(float(row.get("epoch") or 0)), "val_reward": float(value)})
    return curve
