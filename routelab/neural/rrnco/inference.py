"""Decoding a trained policy on shared-format instances: multi-start greedy under coordinate augmentations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from rl4co.data.transforms import StateAugmentation
from rl4co.utils.ops import unbatchify

from routelab.neural.rrnco.envs import actions_to_payload, instances_to_td, make_env


@torch.no_grad()
def decode_best(policy: Any, instances: Sequence[Any], *, augment: int = 8, starts: int | None = None) -> list[dict]:
    """The best rollout per instance (by the environment's reward) over ``augment`` x ``starts`` greedy decodings.

    All instances must share a kind and a size: they are stacked into one batch and encoded once per augmentation.
    """
    kind = instances[0].kind
    env = make_env(kind)
    td = env.reset(instances_to_td(instances))
    n_starts = env.get_num_starts(td)
    if starts is not None:
        n_starts = min(n_starts, starts)
    if augment > 1:
        td = StateAugmentation(num_augment=augment)(td)
    policy.eval()
    out = policy(td, env, phase="test", decode_type="multistart_greedy", num_starts=n_starts, return_actions=True)
    reward = unbatchify(out["reward"], (augment, n_starts)).reshape(len(instances), -1)
    actions = unbatchify(out["actions"], (augment, n_starts))
    actions = actions.reshape(len(instances), augment * n_starts, -1)
    best = reward.argmax(dim=1)
    return [actions_to_payload(kind, actions[b, best[b]]) for b in range(len(instances))]
