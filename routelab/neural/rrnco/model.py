"""The RRNCO policy (Son et al., "Neural Combinatorial Optimization for Real-World Routing") as an rl4co policy.

Real routing gives a model two kinds of input: node positions, and asymmetric distance and duration matrices that
positions do not determine (one-way streets, speed classes). The architecture combines them at three places:

1. Adaptive node embedding: each node gets a coordinate embedding and a distance embedding built from a sample of
   its matrix row (out-going trips for the row embedding, the column for in-coming trips), drawn with probability
   rising as the trip gets shorter (Gumbel top-k on ``-log d``; the nearest ones, deterministically, in eval
   mode); a learned gate mixes the two per feature (contextual gating), since which one is informative depends on
   the city. Problem features (demand, time windows, depot flag) are added on top.
2. A MatNet-style encoder that keeps a row and a column embedding per node, updated in turn by attention-FREE
   layers (AFT-full, Zhai et al. 2021): ``y_i = sigmoid(q_i) * sum_j w_ij (exp(k_j) * v_j) / sum_j w_ij exp(k_j)``
   with ``w_ij = exp(A_ij)``, linear in the embedding size instead of per-head softmax attention, where ``A`` is a
   neural adaptive bias: each channel (distance, the angle between the two points, and duration for time
   windows) is embedded by a small shared MLP with per-channel scale and FiLM, a softmax gate over channels fuses
   them, and a linear head gives one bias per ordered pair. Column updates use ``A`` transposed.
3. rl4co's attention decoder (context: first/current node, remaining capacity, current time) with an additive
   distance bias on the logits, ``-softplus(w) * d[current, j]``, so the nearest feasible next stops start likely.

Sizing for a CPU: the bias network is computed once per forward pass and shared by every layer (each layer keeps
its own learned strength), because a per-layer ``(B, N, N, C, H)`` tensor dominates memory and time at N = 100.
Everything reads the TensorDict keys of :mod:`routelab.neural.rrnco.envs` ("locs", "distance_matrix",
"duration_matrix", and per kind "demand", "time_windows", "service_time").
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from rl4co.models.common.constructive.autoregressive import AutoregressivePolicy
from rl4co.models.zoo.am.decoder import AttentionModelDecoder
from tensordict import TensorDict
from torch import Tensor, nn

ENV_NAMES = {"atsp": "atsp", "acvrp": "cvrp", "acvrptw": "cvrptw"}
"""Problem -> the rl4co environment name its decoder context follows."""


@dataclass(frozen=True)
class RRNCOConfig:
    """Everything that fixes the network's shape; stored with each checkpoint so it can be rebuilt exactly."""

    problem: str = "atsp"
    embed_dim: int = 64
    num_layers: int = 3
    num_heads: int = 4
    feedforward_dim: int = 128
    bias_dim: int = 16
    sample_k: int = 16
    tanh_clipping: float = 10.0

    def __post_init__(self) -> None:
        if self.problem not in ENV_NAMES:
            raise ValueError(f"problem must be one of {', '.join(ENV_NAMES)}, got {self.problem!r}")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"embed_dim {self.embed_dim} must be a multiple of num_heads {self.num_heads}")

    @property
    def env_name(self) -> str:
        return ENV_NAMES[self.problem]

    @property
    def bias_channels(self) -> int:
        return 3 if self.problem == "acvrptw" else 2

    def as_dict(self) -> dict:
        return asdict(self)


def node_features(td: TensorDict, problem: str) -> Tensor | None:
    """Per-node problem features ``(B, N, F)``: none for ATSP; depot flag and demand (and windows) for VRPs."""
    if problem == "atsp":
        return None
    locs = td["locs"]
    batch, n = locs.shape[:2]
    depot = torch.zeros(batch, n, 1, device=locs.device)
    depot[:, 0] = 1.0
    demand = torch.cat([torch.zeros(batch, 1, device=locs.device), td["demand"]], dim=1).unsqueeze(-1)
    parts = [depot, demand]
    if problem == "acvrptw":
        horizon = td["time_windows"][:, :1, 1:2].clamp_min(1e-6)
        parts += [td["time_windows"] / horizon, td["service_time"].unsqueeze(-1) / horizon]
    return torch.cat(parts, dim=-1)


class AdaptiveBias(nn.Module):
    """Neural adaptive bias: fuses per-pair channels (distance, angle[, duration]) into one bias per ordered pair."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(channels))
        self.encode = nn.Sequential(nn.Linear(1, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.film_gamma = nn.Parameter(torch.ones(channels, hidden))
        self.film_beta = nn.Parameter(torch.zeros(channels, hidden))
        self.gate = nn.Linear(channels * hidden, channels)
        self.norm = nn.LayerNorm(hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, channels: Tensor) -> Tensor:
        """``channels`` ``(B, N, N, C)`` -> bias ``(B, N, N)``."""
        x = channels * self.log_scale.exp()
        h = self.encode(x.unsqueeze(-1)) * self.film_gamma + self.film_beta  # (B, N, N, C, H)
        weights = torch.softmax(self.gate(h.flatten(-2)), dim=-1)  # (B, N, N, C)
        fused = (weights.unsqueeze(-1) * h).sum(-2)
        return self.out(self.norm(fused)).squeeze(-1)


class AttentionFree(nn.Module):
    """AFT-full with an additive pair bias: rows attend over columns in O(N^2 D) without heads or softmax maps."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, y: Tensor, bias: Tensor) -> Tensor:
        q, k, v = self.q(x), self.k(y), self.v(y)
        w = (bias - bias.amax(-1, keepdim=True)).exp()  # (B, N, M), stabilised per row
        ek = (k - k.amax(1, keepdim=True)).exp()  # (B, M, D), stabilised per feature
        num = w @ (ek * v)
        den = (w @ ek).clamp_min(1e-12)
        return self.out(torch.sigmoid(q) * num / den)


class EncoderBlock(nn.Module):
    """One half-layer: embeddings ``x`` updated from ``y`` under bias ``A`` (residual, norm, feed-forward, norm)."""

    def __init__(self, dim: int, ff_dim: int) -> None:
        super().__init__()
        self.mix = AttentionFree(dim)
        self.strength = nn.Parameter(torch.ones(1))
        self.norm1 = nn.InstanceNorm1d(dim, affine=True)
        self.ff = nn.Sequential(nn.Linear(dim, ff_dim), nn.ReLU(), nn.Linear(ff_dim, dim))
        self.norm2 = nn.InstanceNorm1d(dim, affine=True)

    @staticmethod
    def _norm(norm: nn.Module, x: Tensor) -> Tensor:
        return norm(x.transpose(1, 2)).transpose(1, 2)

    def forward(self, x: Tensor, y: Tensor, bias: Tensor) -> Tensor:
        h = self._norm(self.norm1, x + self.mix(x, y, self.strength * bias))
        return self._norm(self.norm2, h + self.ff(h))


class RRNCOEncoder(nn.Module):
    """Adaptive node embedding + row/column attention-free layers; returns one embedding per node."""

    def __init__(self, config: RRNCOConfig) -> None:
        super().__init__()
        self.config = config
        d = config.embed_dim
        self.coord_embed = nn.Linear(2, d)
        self.row_dist_embed = nn.Linear(config.sample_k, d)
        self.col_dist_embed = nn.Linear(config.sample_k, d)
        self.gate = nn.Linear(2 * d, d)
        features = {"atsp": 0, "acvrp": 2, "acvrptw": 5}[config.problem]
        self.feature_embed = nn.Linear(features, d) if features else None
        self.bias = AdaptiveBias(config.bias_channels, config.bias_dim)
        self.row_blocks = nn.ModuleList(EncoderBlock(d, config.feedforward_dim) for _ in range(config.num_layers))
        self.col_blocks = nn.ModuleList(EncoderBlock(d, config.feedforward_dim) for _ in range(config.num_layers))
        self.combine = nn.Linear(2 * d, d)

    def _sampled_distances(self, dist: Tensor, embed: nn.Linear) -> Tensor:
        """Embed ``k`` entries of each row of ``dist``, short trips more likely (all nearest ones in eval mode)."""
        n = dist.shape[-1]
        k = self.config.sample_k
        scores = -torch.log(dist + 1e-6)
        eye = torch.eye(n, dtype=torch.bool, device=dist.device)
        scores = scores.masked_fill(eye, -math.inf)
        if self.training:
            gumbel = -torch.log(-torch.log(torch.rand_like(scores).clamp(1e-9, 1 - 1e-9)))
            scores = scores + gumbel
        take = min(k, n - 1)
        idx = scores.topk(take, dim=-1).indices
        picked = torch.gather(dist, -1, idx).sort(dim=-1).values
        if take < k:  # tiny instances: pad with the farthest sampled trip
            picked = torch.cat([picked, picked[..., -1:].expand(*picked.shape[:-1], k - take)], dim=-1)
        return embed(picked)

    def _gated(self, coord: Tensor, dist: Tensor) -> Tensor:
        g = torch.sigmoid(self.gate(torch.cat([coord, dist], dim=-1)))
        return g * coord + (1 - g) * dist

    def forward(self, td: TensorDict) -> tuple[Tensor, Tensor]:
        locs, dist = td["locs"], td["distance_matrix"]
        coord = self.coord_embed(locs)
        row = self._gated(coord, self._sampled_distances(dist, self.row_dist_embed))
        col = self._gated(coord, self._sampled_distances(dist.transpose(1, 2), self.col_dist_embed))
        feats = node_features(td, self.config.problem)
        if self.feature_embed is not None and feats is not None:
            extra = self.feature_embed(feats)
            row, col = row + extra, col + extra
        diff = locs.unsqueeze(2) - locs.unsqueeze(1)
        channels = [dist, torch.atan2(diff[..., 1], diff[..., 0]) / math.pi]
        if self.config.problem == "acvrptw":
            channels.append(td["duration_matrix"])
        bias = self.bias(torch.stack(channels, dim=-1))
        bias_t = bias.transpose(1, 2)
        for row_block, col_block in zip(self.row_blocks, self.col_blocks, strict=True):
            row, col = row_block(row, col, bias), col_block(col, row, bias_t)
        h = self.combine(torch.cat([row, col], dim=-1))
        return h, coord


class RRNCODecoder(AttentionModelDecoder):
    """rl4co's attention decoder plus a learned distance bias from the current node to every candidate."""

    def __init__(self, config: RRNCOConfig) -> None:
        super().__init__(
            embed_dim=config.embed_dim, num_heads=config.num_heads, env_name=config.env_name, use_graph_context=False
        )
        self.distance_weight = nn.Parameter(torch.zeros(1))

    def forward(self, td: TensorDict, cached, num_starts: int = 0) -> tuple[Tensor, Tensor]:
        dist = td["distance_matrix"]
        current = td["current_node"].reshape(-1)
        rows = dist.reshape(-1, *dist.shape[-2:])[torch.arange(current.numel(), device=dist.device), current]
        logits, mask = super().forward(td, cached, num_starts)
        n = rows.shape[-1]
        return logits - F.softplus(self.distance_weight) * math.log(n) * rows.view_as(logits), mask


class RRNCOPolicy(AutoregressivePolicy):
    """The whole policy; ``config`` alone rebuilds it (see :func:`load_policy`)."""

    def __init__(self, config: RRNCOConfig | None = None, **kwargs) -> None:
        config = config or RRNCOConfig()
        super().__init__(
            encoder=RRNCOEncoder(config),
            decoder=RRNCODecoder(config),
            env_name=config.env_name,
            tanh_clipping=config.tanh_clipping,
            **kwargs,
        )
        self.config = config
        self.routelab_model = "rrnco"
        self.routelab_config = config.as_dict()


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
