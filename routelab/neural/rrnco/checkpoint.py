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


def shipped_checkpoint(problem: str) -> Path:
    """Where the package keeps the checkpoint for ``problem`` (atsp, acvrp, acvrptw)."""
    return CHECKPOINT_DIR / f"rrnco-{problem}.pt"


def save_checkpoint(policy: RRNCOPolicy, path: str | Path, training: dict[str, Any]) -> None:
    """Write ``policy`` (weights and config) plus the ``training`` record (command, data, time, curve)."""
    payload = {
        "format": FORMAT,
        "config": json.dumps(policy.config.as_dict()),
        "training": json.dumps(training),
        "state_dict": {k: v.detach().cpu().clone() for k, v in policy.state_dict().items()},
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    atomic_write(path, lambda handle: handle.write(data))


def load_checkpoint(path: str | Path, problem: str | None = None) -> tuple[RRNCOPolicy, dict[str, Any]]:
    """The policy (in eval mode) and its training record; ``problem`` must match the checkpoint's when given."""
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
    try:
        config = RRNCOConfig(**json.loads(payload["config"]))
        training = json.loads(payload["training"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FormatError(source, "config", "a valid RRNCO config", str(exc)) from None
    if problem is not None and config.problem != problem:
        raise FormatError(source, "problem", f"a checkpoint trained for {problem}", config.problem)
    policy = RRNCOPolicy(config)
    missing, unexpected = policy.load_state_dict(payload["state_dict"], strict=False)
    if missing or unexpected:
        raise FormatError(
            source, "state_dict", "weights matching the config", f"missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    policy.eval()
    return policy, training
