"""The UE surrogate on a tiny grid: shapes, a few training steps, checkpoints and their refusal elsewhere."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from routelab.data.readers import write_instance
from routelab.problems.network_design import NetworkDesignInstance
from routelab.traffic.surrogate import (
    FlowSurrogate,
    SurrogateError,
    load_surrogate,
    network_base,
    parameter_count,
)
from routelab.traffic.surrogate_train import TrainSettings, _Batches, train_surrogate
from routelab.traffic.ue_dataset import load_ue_dataset, make_ue_dataset, sample_designs, sample_instances


def grid(name: str = "grid", capacity: float = 10.0) -> NetworkDesignInstance:
    """A 3 x 3 grid of two-way roads; the four corners are zones."""
    coords = [(r, c) for r in range(3) for c in range(3)]
    index = {rc: k for k, rc in enumerate(coords)}
    corners = [(0, 0), (0, 2), (2, 0), (2, 2)]
    order = corners + [rc for rc in coords if rc not in corners]  # zones first
    number = {rc: order.index(rc) for rc in coords}
    tail, head = [], []
    for r, c in coords:
        for dr, dc in ((0, 1), (1, 0)):
            if (r + dr, c + dc) in index:
                a, b = number[(r, c)], number[(r + dr, c + dc)]
                tail += [a, b]
                head += [b, a]
    m = len(tail)
    rng = np.random.default_rng(1)
    demand = rng.uniform(2.0, 6.0, size=(4, 4))
    np.fill_diagonal(demand, 0.0)
    return NetworkDesignInstance(
        name=name,
        num_nodes=9,
        num_zones=4,
        tail=np.array(tail),
        head=np.array(head),
        capacity=np.full(m, capacity),
        length=np.ones(m),
        free_flow_time=1.0 + rng.uniform(0, 1, m),
        b=np.full(m, 0.15),
        power=np.full(m, 4.0),
        demand=demand,
        ue_gap=1e-6,
    )


def labelled(instance: NetworkDesignInstance, count: int) -> dict[str, np.ndarray]:
    designs = sample_designs(instance, count, seed=0)
    flows = np.stack([inst.solve_ue((), gap=1e-6).flows for inst in sample_instances(instance, designs, 1e-6)])
    times = instance.free_flow_time * (1 + instance.b * (flows / designs["capacity"]) ** instance.power)
    return {**designs, "flows": flows, "tstt": (flows * times).sum(axis=1)}


def test_forward_shapes_and_batched_tstt() -> None:
    instance = grid()
    surrogate = FlowSurrogate.fresh(network_base(instance), hidden=16, layers=2)
    capacity = np.tile(instance.capacity, (5, 1)) * np.linspace(1.0, 1.5, 5)[:, None]
    flows = surrogate.predict_flows(instance.demand, capacity)
    assert flows.shape == (5, instance.num_links) and np.all(flows >= 0)
    assert surrogate.predict_tstt(instance.demand, capacity).shape == (5,)
    assert 1_000 < parameter_count(surrogate.model) < 50_000


def test_a_few_training_steps_reduce_the_loss() -> None:
    torch.manual_seed(0)
    instance = grid()
    surrogate = FlowSurrogate.fresh(network_base(instance), hidden=16, layers=2)
    batches = _Batches(surrogate, labelled(instance, 24))
    idx = torch.arange(24)
    optimiser = torch.optim.Adam(surrogate.model.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss, _ = batches.loss(surrogate, idx, 1.0)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        first = float(loss.detach()) if first is None else first
    assert float(batches.loss(surrogate, idx, 1.0)[0].detach()) < 0.9 * first


def test_checkpoint_round_trip_and_refusals(tmp_path: Path) -> None:
    instance = grid()
    surrogate = FlowSurrogate.fresh(network_base(instance), hidden=16, layers=2)
    path = surrogate.save(tmp_path / "grid.pt", {"note": "test"})
    loaded = load_surrogate(path)
    assert loaded.record == {"note": "test"}
    capacity = instance.capacity * 1.2
    assert np.allclose(
        loaded.predict_flows(instance.demand, capacity), surrogate.predict_flows(instance.demand, capacity)
    )
    assert loaded.check_instance(instance) is None
    other = replace(grid("other"), capacity=instance.capacity * 2)
    assert "fingerprint" in loaded.check_instance(other)
    with pytest.raises(SurrogateError, match="format"):
        torch.save({"format": "something else"}, tmp_path / "bad.pt")
        load_surrogate(tmp_path / "bad.pt")
    blob = torch.load(path, weights_only=True)
    blob["feature_layout"] = "ue-gnn-features/0"
    torch.save(blob, tmp_path / "old.pt")
    with pytest.raises(SurrogateError, match="feature_layout"):
        load_surrogate(tmp_path / "old.pt")
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    with pytest.raises(SurrogateError, match="readable"):
        load_surrogate(tmp_path / "junk.pt")


def test_dataset_and_training_end_to_end(tmp_path: Path) -> None:
    """``make_ue_dataset`` through the bench runner in-process (workers=1), then a 3-epoch training run."""
    net = tmp_path / "grid.json"
    write_instance(grid(), net)
    header = make_ue_dataset(net, 30, 0, tmp_path / "grid-ue.npz", workers=1)
    data = load_ue_dataset(tmp_path / "grid-ue.npz")
    assert header["count"] == 30 and data["samples"]["flows"].shape == (30, 24)
    assert (data["samples"]["share"] >= -1).all() and data["samples"]["selected"].any()
    settings = TrainSettings(
        net=str(net), dataset=str(tmp_path / "grid-ue.npz"), output=str(tmp_path / "g.pt"), epochs=3, hidden=16
    )
    record = train_surrogate(settings)
    assert record["epochs_run"] == 3 and set(record["test"]) >= {"flow_mape", "tstt_mape", "flow_r2"}
    assert load_surrogate(tmp_path / "g.pt").record["dataset"]["network"] == "grid"
    wrong = TrainSettings(net=str(tmp_path / "other.json"), dataset=settings.dataset, output=str(tmp_path / "x.pt"))
    write_instance(replace(grid("other"), capacity=np.full(24, 20.0)), tmp_path / "other.json")
    with pytest.raises(ValueError, match="fingerprint"):
        train_surrogate(wrong)
