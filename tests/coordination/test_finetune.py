"""Policy-gradient fine-tuning of the GNN-VAE (``routelab train gnnvae --finetune``): the noisy policy decodes
deadlock-free, the feature skip and zero noise keep old checkpoints decoding as before, the warm start learns the
shortest-remaining-travel order, a tiny run exports a loadable checkpoint with its record, and the shipped
checkpoint carries that record."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import torch
from typer.testing import CliRunner

from routelab.cli.app import app
from routelab.coordination import finetune as ft
from routelab.coordination.features import build_graph
from routelab.coordination.gnnvae import (
    GNNVAE,
    ModelConfig,
    decode_best,
    load_checkpoint,
    save_checkpoint,
)
from routelab.data.coordination_gen import generate_coordination

TINY = {
    "robots": (4, 7),
    "steps": 6,
    "samples": 4,
    "warm_steps": 4,
    "val_every": 3,
    "val_sizes": (6,),
    "val_count": 1,
    "val_samples": 4,
}


def test_noisy_policy_decodes_deadlock_free_and_zero_noise_is_the_old_decoding() -> None:
    torch.manual_seed(0)
    model = GNNVAE(ModelConfig(hidden=8, latent=2)).eval()
    graph = build_graph(generate_coordination(12, 1, 3)[0])
    quiet = model.sample_delays(graph, 6, generator=torch.Generator().manual_seed(1))
    z = torch.randn((6, graph.num_nodes, 2), generator=torch.Generator().manual_seed(1))
    z[0] = 0.0
    with torch.no_grad():
        expected = torch.nn.functional.softplus(model.delay_logits(model.context(graph), z)).double().numpy()
    np.testing.assert_allclose(quiet, expected, rtol=1e-6)  # output_noise 0: exactly the CVAE's samples

    model.config = ModelConfig(hidden=8, latent=2, output_noise=2.0)
    noisy = model.sample_delays(graph, 6, generator=torch.Generator().manual_seed(1))
    np.testing.assert_allclose(noisy[0], quiet[0], rtol=1e-6)  # sample 0 stays the prior mean, noise-free
    assert np.abs(noisy[1:] - quiet[1:]).max() > 0.1
    for seed, inst in enumerate(generate_coordination(15, 4, 5)):
        _, _, _, values = decode_best(model, inst, 8, seed=seed)
        assert np.isfinite(values).all()


def test_feature_skip_starts_as_the_same_model_and_round_trips(tmp_path) -> None:
    torch.manual_seed(2)
    model = GNNVAE(ModelConfig(hidden=8, latent=2)).eval()
    grown = ft.with_feature_skip(model).eval()
    assert grown.config.skip_features and grown.mix_features is not None
    graph = build_graph(generate_coordination(10, 1, 4)[0])
    a = model.sample_delays(graph, 3, generator=torch.Generator().manual_seed(0))
    b = grown.sample_delays(graph, 3, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    with torch.no_grad():
        grown.mix_features.weight.fill_(0.3)
    loaded, _ = load_checkpoint(save_checkpoint(grown, tmp_path / "g.pt"))
    c = loaded.sample_delays(graph, 3, generator=torch.Generator().manual_seed(0))
    np.testing.assert_allclose(c, grown.sample_delays(graph, 3, generator=torch.Generator().manual_seed(0)))
    assert np.abs(c - a).max() > 1e-3  # the skip is used once it is non-zero


def test_checkpoint_without_the_new_config_fields_still_loads(tmp_path) -> None:
    """A CVAE checkpoint written before the fine-tuning (no output_noise, no skip_features) keeps decoding."""
    torch.manual_seed(3)
    model = GNNVAE(ModelConfig(hidden=8, latent=2)).eval()
    path = save_checkpoint(model, tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["config"] = {k: v for k, v in asdict(model.config).items() if k not in ("output_noise", "skip_features")}
    torch.save(payload, path)
    loaded, _ = load_checkpoint(path)
    assert loaded.config.output_noise == 0.0 and not loaded.config.skip_features


def test_warm_start_orders_intervals_by_remaining_travel() -> None:
    torch.manual_seed(0)
    model = ft.with_feature_skip(GNNVAE(ModelConfig(hidden=8, latent=2)))
    cfg = ft.FinetuneConfig(**{**TINY, "robots": (5, 12), "warm_steps": 200})
    losses = ft.warm_start(model, cfg, np.random.default_rng(0))
    assert losses[-1] < losses[0]
    graph = build_graph(generate_coordination(10, 1, 77)[0])
    with torch.no_grad():
        out = model.delay_logits(model.context(graph), torch.zeros(1, graph.num_nodes, 2))[0].numpy()
    target = ft.srt_target(graph, cfg.warm_scale, cfg.warm_bias).numpy()
    assert np.corrcoef(out, target)[0, 1] > 0.9


def test_training_seeds_avoid_the_evaluation_seeds() -> None:
    cfg = ft.FinetuneConfig()
    seeds = {ft.train_seed(cfg, step) for step in range(-cfg.warm_steps, 20_000)}
    assert not seeds & ft.RESERVED_SEEDS and ft.VAL_SEED not in seeds


def test_tiny_finetune_exports_a_loadable_checkpoint_with_its_record(tmp_path) -> None:
    torch.manual_seed(1)
    init = save_checkpoint(GNNVAE(ModelConfig(hidden=8, latent=2)), tmp_path / "init.pt", {"best_epoch": 5})
    cfg = ft.FinetuneConfig(**TINY)
    record = ft.finetune_checkpoint(init, tmp_path / "out.pt", cfg, command="test")
    model, stored = load_checkpoint(tmp_path / "out.pt")
    assert stored["best_epoch"] == 5 and stored["finetune"]["command"] == "test"
    assert record["steps_run"] == 6 and [p["step"] for p in record["history"]] == [0, 3, 6]
    assert model.config.skip_features and cfg.min_noise <= model.config.output_noise <= cfg.max_noise
    inst = generate_coordination(8, 1, 123)[0]
    _, _, _, values = decode_best(model, inst, 6)
    assert np.isfinite(values).all()


def test_cli_finetune_and_its_refusal(tmp_path, monkeypatch) -> None:
    small = {k: v for k, v in TINY.items() if k not in ("robots", "steps", "samples")}
    real = ft.FinetuneConfig
    monkeypatch.setattr(ft, "FinetuneConfig", lambda **kw: real(**{**small, **kw}))
    init = save_checkpoint(GNNVAE(ModelConfig(hidden=8, latent=2)), tmp_path / "init.pt")
    out = tmp_path / "ft.pt"
    args = ["train", "gnnvae", "--finetune", "--robots", "4-6", "--steps", "3", "--samples", "3"]
    result = CliRunner().invoke(app, [*args, "--init", str(init), "-o", str(out)])
    assert result.exit_code == 0, result.output
    _, record = load_checkpoint(out)
    assert record["finetune"]["command"].startswith("routelab train gnnvae --finetune --robots 4-6 --steps 3")
    result = CliRunner().invoke(app, [*args[:-1], "1", "--init", str(init), "-o", str(tmp_path / "x.pt")])
    assert result.exit_code != 0 and "samples >= 2" in result.output


def test_shipped_checkpoint_is_the_fine_tuned_policy() -> None:
    model, record = load_checkpoint()
    assert model.config.skip_features and model.config.output_noise > 0
    tuned = record["finetune"]
    assert tuned["steps_run"] >= 1 and tuned["history"][0]["step"] == 0
    assert tuned["best_val_best_pct"] < 0  # its learned samples beat dynamic FCFS on the validation floors
