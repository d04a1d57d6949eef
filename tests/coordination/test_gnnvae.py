"""The GNN-VAE: deadlock-free by construction (untrained weights included), batched decoding, a learning signal,
and checkpoints that refuse another feature layout."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from routelab.coordination.features import (
    FEATURE_LAYOUT,
    build_graph,
    merge_graphs,
    orders_from_rank_batch,
    rank_from_delays,
)
from routelab.coordination.gnnvae import (
    GNNVAE,
    CheckpointError,
    ModelConfig,
    decode_best,
    load_checkpoint,
    save_checkpoint,
)
from routelab.coordination.train import TrainConfig, batch_loss, make_examples
from routelab.data.coordination_gen import generate_coordination
from routelab.problems import check
from routelab.problems.coordination import parse_payload, score
from routelab.solvers.coordination_heuristics import fcfs_dynamic


def test_untrained_decoding_never_deadlocks(varied_floors: Callable[..., list]) -> None:
    """Random weights, 20 random instances, 8 samples each: the scorer finds no cycle, 100% of the time."""
    decoded = 0
    for k, inst in enumerate(varied_floors(20, seed=11, max_robots=30)):
        torch.manual_seed(k)
        model = GNNVAE(ModelConfig(hidden=8, latent=3)).eval()
        with torch.no_grad():  # exaggerate the weights so that increments span orders of magnitude
            for p in model.parameters():
                p.mul_(float(np.random.default_rng(k).uniform(0.5, 6.0)))
        graph = build_graph(inst)
        batch = orders_from_rank_batch(graph, model.sample_ranks(graph, 8, generator=torch.Generator().manual_seed(k)))
        for row in batch:
            verdict = score(inst, {"orders": row})
            assert verdict.feasible, (inst.name, verdict.violations[:1])
            decoded += 1
        orders, modes, value, values = decode_best(model, inst, samples=8, seed=k, graph=graph)
        assert np.isfinite(values).all(), inst.name
        payload = {"orders": orders.tolist(), **({"modes": modes.tolist()} if modes is not None else {})}
        verdict = score(inst, parse_payload(inst.name, payload))
        assert verdict.feasible and verdict.objective == pytest.approx(value)
    assert decoded == 160


def test_arbitrary_monotone_ranks_never_deadlock(varied_floors: Callable[..., list]) -> None:
    """The guarantee is the rank construction's, not the model's: random, zero and huge increments alike."""
    rng = np.random.default_rng(3)
    for inst in varied_floors(15, seed=5, max_robots=30):
        graph = build_graph(inst)
        extra = np.concatenate(
            [
                rng.exponential(1.0, size=(4, graph.num_nodes)),
                np.zeros((1, graph.num_nodes)),
                rng.choice([0.0, 1e-12, 1e9], size=(3, graph.num_nodes)),
            ]
        )
        ranks = rank_from_delays(graph, extra)
        robot = inst.intervals["robot"]
        same = robot[1:] == robot[:-1]
        assert (np.diff(ranks, axis=1)[:, same] >= 0).all()
        values = inst.evaluator.evaluate(orders_from_rank_batch(graph, ranks))
        assert np.isfinite(values).all()


def test_batched_decode_shapes_and_prior_mean() -> None:
    inst = generate_coordination(12, 1, 2)[0]
    graph = build_graph(inst)
    torch.manual_seed(0)
    model = GNNVAE().eval()
    ranks = model.sample_ranks(graph, 16, generator=torch.Generator().manual_seed(1))
    other = model.sample_ranks(graph, 5, generator=torch.Generator().manual_seed(2))
    assert ranks.shape == (16, inst.num_intervals) and ranks.dtype == np.float64
    assert orders_from_rank_batch(graph, ranks).shape == (16, inst.num_conflicts)
    np.testing.assert_allclose(ranks[0], other[0])  # sample 0 is the prior mean: the same whatever the seed
    assert not np.allclose(ranks[1], other[1])
    assert graph.x.shape == (inst.num_intervals, len(FEATURE_LAYOUT["node"]))
    assert graph.edge_attr.shape[1] == len(FEATURE_LAYOUT["edge"])
    with pytest.raises(ValueError, match="samples"):
        model.sample_ranks(graph, 0)


def test_a_few_training_steps_reduce_the_loss() -> None:
    instances = [generate_coordination(r, 1, 40 + r)[0] for r in (5, 6, 7, 8)]
    orders = [fcfs_dynamic(inst).astype(np.int64) for inst in instances]
    objective = np.array([inst.evaluator.evaluate(o) for inst, o in zip(instances, orders, strict=True)])
    examples = make_examples(instances, orders, objective)
    torch.manual_seed(0)
    model = GNNVAE(ModelConfig(hidden=16, latent=2))
    cfg = TrainConfig()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        loss, parts = batch_loss(model, examples, cfg, kl_weight=0.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(parts["rank"] + cfg.delay_weight * parts["delay"])
    assert losses[-1] < 0.7 * losses[0]


def test_merged_graphs_keep_every_conflict() -> None:
    instances = [generate_coordination(r, 1, r)[0] for r in (4, 9)]
    graphs = [build_graph(inst) for inst in instances]
    merged, offsets = merge_graphs(graphs)
    assert merged.num_nodes == sum(g.num_nodes for g in graphs)
    assert merged.num_conflicts == sum(g.num_conflicts for g in graphs)
    assert merged.edge_index.shape[1] == sum(g.edge_index.shape[1] for g in graphs)
    np.testing.assert_array_equal(merged.conf_a[graphs[0].num_conflicts :], graphs[1].conf_a + offsets[1])


def test_checkpoint_round_trip_and_layout_refusal(tmp_path) -> None:
    torch.manual_seed(4)
    model = GNNVAE(ModelConfig(hidden=8, latent=2)).eval()
    path = save_checkpoint(model, tmp_path / "m.pt", {"epochs_run": 3})
    loaded, record = load_checkpoint(path)
    assert record == {"epochs_run": 3} and loaded.config == model.config
    graph = build_graph(generate_coordination(6, 1, 0)[0])
    a = model.sample_ranks(graph, 4, generator=torch.Generator().manual_seed(0))
    b = loaded.sample_ranks(graph, 4, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(a, b)

    payload = torch.load(path, weights_only=True)
    payload["layout"] = {**payload["layout"], "version": "coord-graph/0", "node": payload["layout"]["node"][:-1]}
    torch.save(payload, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match=r"feature layout 'coord-graph/0' \(node features differ"):
        load_checkpoint(tmp_path / "old.pt")
    payload["format"] = "something-else/1"
    torch.save(payload, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="checkpoint format 'something-else/1'"):
        load_checkpoint(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.pt")
    with pytest.raises(CheckpointError, match="no such"):
        load_checkpoint(tmp_path / "missing.pt")


def test_following_modes_are_used_and_accepted() -> None:
    inst = generate_coordination(15, 1, 8, follow_gap=0.3, cells_per_robot=5.0)[0]
    assert inst.conflicts["followable"].any()
    torch.manual_seed(0)
    orders, modes, value, _ = decode_best(GNNVAE().eval(), inst, samples=4)
    assert modes is not None and modes.sum() > 0
    from routelab.problems import Solution

    sol = Solution(
        kind="coordination",
        instance=inst.name,
        solver="gnnvae",
        payload={"orders": orders.tolist(), "modes": modes.tolist()},
        objective=value,
        feasible=True,
        runtime_s=0.0,
        stats={},
    )
    verdict = check(inst, sol)
    assert verdict.feasible and verdict.objective == pytest.approx(value)
    assert value <= inst.evaluator.evaluate(orders) + 1e-9  # following never hurts
