"""RRNCO checkpoints: the network's config, its weights and how it was trained, in one small file.

Shipped checkpoints live in ``routelab/neural/checkpoints/rrnco-<problem>.pt``. They are plain ``torch.save``
dictionaries of tensors and JSON text, loaded with ``weights_only=True`` so opening one never runs code.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import torch

from routelab.neural.rrnco.model import RRNCOConfig, RRNCOPolicy
from routelab.problems import FormatError, atomic_write

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
FORMAT = "routelab-rrnco/1"


MODELS = ("rrnco", "matnet")
"""The policies a checkpoint can hold: RRNCO, and rl4co's MatNet (ATSP) as the neural baseline."""


def shipped_checkpoint(problem: str, model: str = "rrnco") -> Path:
    """Where the package keeps the ``model`` checkpoint for ``problem`` (atsp, acvrp, acvrptw)."""
    return CHECKPOINT_DIR / f"{model}-{problem}.pt"


def build_policy(model: str, config: dict[str, Any]) -> Any:
    """A fresh policy of ``model`` from its config (``problem`` plus shape settings)."""
    if model == "rrnco":
        return RRNCOPolicy(RRNCOConfig(**config))
    if model == "matnet":
        import logging

        from rl4co.models.zoo.matnet.policy import MatNetPolicy

        # MatNetPolicy forwards its own settings to its parent too, which logs them as "unused kwargs".
        logging.getLogger("rl4co.models.common.constructive.base").setLevel(logging.CRITICAL)
        settings = {"problem": "atsp", "embed_dim": 128, "num_layers": 3, "num_heads": 8, **config}
        if settings["problem"] != "atsp":
            raise ValueError(f"rl4co's MatNet solves ATSP only here, not {settings['problem']}")
        policy = MatNetPolicy(
            env_name="atsp",
            embed_dim=settings["embed_dim"],
            num_encoder_layers=settings["num_layers"],
            num_heads=settings["num_heads"],
            normalization="instance",
            tanh_clipping=10.0,
        )
        policy.routelab_model, policy.routelab_config = "matnet", settings
        return policy
    raise ValueError(f"unknown model {model!r}; expected one of {', '.join(MODELS)}")


def save_checkpoint(policy: Any, path: str | Path, training: dict[str, Any]) -> None:
    """Write ``policy`` (weights and config) plus the ``training`` record (command, data, time, curve)."""
    payload = {
        "format": FORMAT,
        "model": policy.routelab_model,
        "config": json.dumps(policy.routelab_config),
        "training": json.dumps(training),
        "state_dict": {k: v.detach().cpu().clone() for k, v in policy.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    atomic_write(path, lambda handle: handle.write(data))


def load_checkpoint(
    path: str | Path, problem: str | None = None, model: str | None = None
) -> tuple[Any, dict[str, Any]]:
    """The policy (in eval mode) and its training record; ``problem`` and ``model`` must match when given."""
    source = str(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FormatError(source, "file", "an RRNCO checkpoint (.pt)", "no such file") from None
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        raise FormatError(source, "file", "an RRNCO checkpoint written by routelab train rrnco", str(exc)) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise FormatError(source, "format", FORMAT, got)
    kind = payload.get("model", "rrnco")
    if model is not None and kind != model:
        raise FormatError(source, "model", f"a {model} checkpoint", kind)
    try:
        config = json.loads(payload["config"])
        training = json.loads(payload["training"])
        policy = build_policy(kind, config)
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(source, "config", f"a valid {kind} config", str(exc)) from None
    if problem is not None and config.get("problem") != problem:
        raise FormatError(source, "problem", f"a checkpoint trained for {problem}", config.get("problem"))
    missing, unexpected = policy.load_state_dict(payload["state_dict"], strict=False)
    if missing or unexpected:
        raise FormatError(
            source, "state_dict", "weights matching the config", f"missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    policy.eval()
    return policy, training
