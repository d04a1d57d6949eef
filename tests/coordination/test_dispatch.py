"""Dispatch decoding (routelab.coordination.dispatch): deadlock-free whatever the holds, dynamic FCFS at zero holds,
and the decoding the GNN-VAE uses by default."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from routelab.coordination.dispatch import dispatch_ranks
from routelab.coordination.features import build_graph, orders_from_rank_batch
from routelab.coordination.gnnvae import GNNVAE, HOLD_WINDOW, ModelConfig, decode_best, decode_ranks, dispatch_holds
from routelab.data.coordination_gen import generate_coordination
from routelab.problems.coordination import score
from routelab.solvers.coordination_heuristics import fcfs_dynamic


def test_zero_holds_are_dynamic_fcfs(varied_floors: Callable[..., list]) -> None:
    """All holds zero replays dynamic FCFS exactly: the base stays a point of the decoder's output space."""
    for inst in varied_floors(12, seed=21, max_robots=35):
        graph = build_graph(inst)
        ranks = dispatch_ranks(inst, np.zeros(inst.num_intervals))
        np.testing.assert_array_equal(orders_from_rank_batch(graph, ranks)[0], fcfs_dynamic(inst), err_msg=inst.name)


def test_arbitrary_holds_never_deadlock(varied_floors: Callable[..., list]) -> None:
    """The guarantee is the dispatch's, not the model's: random, huge, negative and non-finite holds alike give
    ranks that grow along every robot (a permutation of the intervals) and orders the scorer accepts."""
    rng = np.random.default_rng(8)
    for inst in varied_floors(15, seed=4, max_robots=35):
        n = inst.num_intervals
        holds = np.concatenate(
            [
                rng.uniform(0.0, 0.5, size=(3, n)),
                rng.exponential(5.0, size=(2, n)),
                rng.choice([0.0, -3.0, 1e9, np.inf, -np.inf, np.nan], size=(3, n)),
            ]
        )
        ranks = dispatch_ranks(inst, holds)
        robot = inst.intervals["robot"]
        same = robot[1:] == robot[:-1]
        assert (np.diff(ranks, axis=1)[:, same] > 0).all(), inst.name
        np.testing.assert_array_equal(np.sort(ranks, axis=1), np.tile(np.arange(n, dtype=np.float64), (len(holds), 1)))
        batch = orders_from_rank_batch(build_graph(inst), ranks)
        assert np.isfinite(inst.evaluator.evaluate(batch)).all(), inst.name
        for row in batch[::3]:
            assert score(inst, {"orders": row}).feasible, inst.name


def test_holds_are_squashed_below_the_window_and_shapes_are_checked() -> None:
    inst = generate_coordination(10, 1, 3)[0]
    graph = build_graph(inst)
    holds = dispatch_holds(graph, np.array([[0.0, 0.5, 3.0, 1e12, np.nan, np.inf]]))
    assert (holds >= 0).all() and (holds < HOLD_WINDOW * graph.tau).all()
    assert holds[0, 0] == 0.0 and np.all(np.diff(holds[0, :4]) > 0)  # monotone: the decoder's preference is kept
    with pytest.raises(ValueError, match="intervals"):
        dispatch_ranks(inst, np.zeros((2, inst.num_intervals + 1)))
    with pytest.raises(ValueError, match="decode"):
        decode_ranks(inst, graph, np.zeros((1, inst.num_intervals)), "sideways")


def test_both_decodings_of_an_untrained_model_are_feasible(varied_floors: Callable[..., list]) -> None:
    """Exaggerated random weights, both decodings: every sample is scored (finite), the best is the minimum."""
    for k, inst in enumerate(varied_floors(6, seed=9, max_robots=35)):
        torch.manual_seed(k)
        model = GNNVAE(ModelConfig(hidden=8, latent=3)).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(4.0)
        for decode in ("dispatch", "static"):
            _, _, value, values = decode_best(model, inst, samples=6, seed=k, decode=decode, temperature=2.0)
            assert np.isfinite(values).all() and value == pytest.approx(values.min()), (inst.name, decode)
    with pytest.raises(ValueError, match="decode"):
        decode_best(GNNVAE().eval(), inst, samples=2, decode="sideways")
