"""The GNN-VAE of Meng et al. (ICRA 2025) for passing orders: a CVAE whose decoder outputs a rank per interval.

- **Encoder** ``q(z | graph, solution)``: GATv2 layers over the coordination graph whose messages carry the
  solution's orientation of every conflict and whose nodes carry the solution's delays; a Gaussian per interval
  node (``latent`` dimensions).
- **Decoder** ``p(orders | graph, z)``: GATv2 layers over the skeleton (precedence plus undirected conflict
  messages, no solution) give a context per interval, computed once per instance; each of the ``K`` latent
  samples joins it in a small per-node MLP (its context half shared by all samples) that outputs a non-negative
  *delay* per interval, so ``K`` samples cost one GNN pass.
- **Ranks**: ``rank_i = base_i + max over the robot's intervals j <= i of delay_j``, where ``base_i`` is the
  interval's start in the dynamic-FCFS schedule in units of tau (the decoder learns where the MILP departs from
  that dispatch rule, as "hold this robot back by ``delay`` from here on"); this is what training fits. It never
  decreases along a robot, so orienting every conflict from the lower ``(rank, index)`` to the higher one yields an
  acyclic dependency graph: **no decoded solution can deadlock**, whatever the weights (see
  :func:`routelab.coordination.features.orders_from_rank_batch`).
- **Decoding** (:func:`decode_ranks`): by default not those static ranks but *dispatch* ranks: dynamic FCFS
  replayed with each interval's delay, squashed below half a travel time (:func:`dispatch_holds`), as a hold on
  its dispatch key, the dispatch position being the rank (:mod:`routelab.coordination.dispatch`; deadlock-free by
  the same rank argument). Why: the static ranks go stale as soon as a sample departs from the base (everything
  downstream still assumes the base schedule) and the learned delays are whole travel times that grow with the
  floor, so from 25 robots the static samples lost to dynamic FCFS, by 15 % at 250 robots; dispatched, the same
  samples beat it by about 1 % from 50 to 250 robots. ``decode="static"`` keeps the original decoding.
- **Following modes**: when following is enabled, every followable conflict is driven in following mode. That is
  not learned because it needs no learning: a follow gap no larger than the full wait only shortens an edge of the
  dependency graph, and a longest path never grows when an edge weight shrinks, so for any orders that choice is
  optimal (where the gap would be longer than the wait, following is never chosen).

Training (:mod:`routelab.coordination.train`) maximises the ELBO with the reconstruction term written as a pairwise
ranking loss: a logistic loss on ``rank_b - rank_a`` for every conflict with the MILP's orientation as the sign,
plus the same loss for a prior sample (the CVAE/GSNN hybrid); an optional regression of the ranks on the MILP
schedule's start times is off by default.

Measured honestly (docs/solvers/coordination.md, "GNN-VAE"): with dispatch decoding the CVAE checkpoint's samples
alone beat dynamic FCFS by 0.5-1.3 % at 25-250 robots, but random holds through the same decoder did about as well:
it had learned little about the tie decisions. The shipped checkpoint is therefore fine-tuned on the dispatch
objective (:mod:`routelab.coordination.finetune`: a shortest-remaining-travel warm start, then REINFORCE), which
adds a raw-feature skip into the output MLP (``config.skip_features``) and Gaussian noise on the decoder's output
(``config.output_noise``); on held-out floors its samples beat random holds by 0.3 points on average (most of it
from the warm start; the policy-gradient phase did not measurably add to it).

Checkpoints are ``torch.save`` dictionaries (``format``, ``layout``, ``config``, ``state_dict``, ``training``);
:func:`load_checkpoint` refuses another format or a different feature layout with a one-line reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.nn import GATv2Conv

from routelab.coordination.features import (
    EDGE_FEATURES,
    FEATURE_LAYOUT,
    MAX_DELAY,
    NODE_FEATURES,
    ROBOT_STRIDE,
    SOLUTION_EDGE_FEATURES,
    SOLUTION_NODE_FEATURES,
    CoordGraph,
    build_graph,
    orders_from_rank_batch,
    rank_from_delays,
)
from routelab.problems.coordination import CoordinationInstance

CHECKPOINT_FORMAT = "routelab-gnnvae/1"
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "gnnvae.pt"
INITIAL_DELAY_BIAS = -4.0
HOLD_WINDOW = 0.5
"""Largest hold of dispatch decoding, in travel times (tau): below one, so on unit-time floors a hold only breaks
ties between robots ready at the same moment (see :func:`dispatch_holds`)."""
DECODINGS = ("dispatch", "static")
"""How learned delays become ranks (:func:`decode_ranks`)."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used by this code (another format, another feature layout, a broken file)."""


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the model; stored in the checkpoint so that it rebuilds the same network."""

    hidden: int = 16
    heads: int = 1
    encoder_layers: int = 2
    decoder_layers: int = 3
    latent: int = 4
    mix_hidden: int = 16
    output_noise: float = 0.0
    """Standard deviation of Gaussian noise added to the decoder's pre-softplus output of every sample but the
    prior mean (0: none, as in checkpoints trained only as a CVAE). The policy-gradient fine-tuning
    (:mod:`routelab.coordination.finetune`) trains the decoder as a Gaussian policy over these outputs and stores
    its final noise here, so inference samples exactly the policy that was trained."""
    skip_features: bool = False
    """Also feed the raw node features straight into the per-node output MLP (a linear skip past the message
    passing, zero at initialisation). Added for the fine-tuning: the dispatch tie-breaks that matter are simple
    functions of local features (remaining travel, say) that three LayerNorm'd GATv2 layers blur; checkpoints
    without it keep their architecture."""


class GATStack(nn.Module):
    """``layers`` residual GATv2 layers with message features (heads averaged), LayerNorm after each."""

    def __init__(self, in_dim: int, edge_dim: int, hidden: int, heads: int, layers: int) -> None:
        super().__init__()
        self.embed = nn.Linear(in_dim, hidden)
        self.convs = nn.ModuleList(
            GATv2Conv(hidden, hidden, heads=heads, concat=False, edge_dim=edge_dim, add_self_loops=False)
            for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.embed(x))
        for conv, norm in zip(self.convs, self.norms, strict=True):
            h = norm(h + F.relu(conv(h, edge_index, edge_attr)))
        return h


class GNNVAE(nn.Module):
    """Encoder, decoder and the rank parametrisation (see the module doc)."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        cfg = config or ModelConfig()
        self.config = cfg
        n_in, e_in = len(NODE_FEATURES), len(EDGE_FEATURES)
        self.encoder = GATStack(
            n_in + len(SOLUTION_NODE_FEATURES),
            e_in + len(SOLUTION_EDGE_FEATURES),
            cfg.hidden,
            cfg.heads,
            cfg.encoder_layers,
        )
        self.to_latent = nn.Linear(cfg.hidden, 2 * cfg.latent)
        self.decoder = GATStack(n_in, e_in, cfg.hidden, cfg.heads, cfg.decoder_layers)
        self.mix_context = nn.Linear(cfg.hidden, cfg.mix_hidden)
        self.mix_latent = nn.Linear(cfg.latent, cfg.mix_hidden, bias=False)
        self.mix_out = nn.Linear(cfg.mix_hidden, 1)
        self.mix_features = nn.Linear(n_in, cfg.mix_hidden, bias=False) if cfg.skip_features else None
        if self.mix_features is not None:
            nn.init.zeros_(self.mix_features.weight)
        # Start with delays near zero (softplus(-4) = 0.018): an untrained decoder then reproduces the base orders
        # and training only has to learn where to depart from them, instead of first unlearning random holds.
        nn.init.constant_(self.mix_out.bias, INITIAL_DELAY_BIAS)

    # -- the two halves -------------------------------------------------------------------------------
    def encode(
        self, graph: CoordGraph, sol_nodes: torch.Tensor, sol_edges: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``q(z | graph, solution)``: per-node mean and log-variance, ``(N, latent)`` each."""
        h = self.encoder(
            torch.cat([graph.x, sol_nodes], dim=1), graph.edge_index, torch.cat([graph.edge_attr, sol_edges], dim=1)
        )
        mu, logvar = self.to_latent(h).chunk(2, dim=1)
        return mu, logvar.clamp(-8.0, 8.0)

    def context(self, graph: CoordGraph) -> torch.Tensor:
        """The decoder's latent-free part, computed once however many samples are decoded: ``(N, hidden)``, with the
        raw node features appended (``(N, hidden + F)``) when the model has the feature skip."""
        h = self.decoder(graph.x, graph.edge_index, graph.edge_attr)
        if self.mix_features is not None:
            h = torch.cat([h, graph.x], dim=1)
        return h

    def delays(self, context: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Non-negative delays ``(K, N)`` for latent samples ``z`` ``(K, N, latent)``.

        The latent enters after the message passing, through a per-node MLP whose context half is shared by all
        samples: decoding ``K`` samples costs one GNN pass plus ``K`` small matrix products, which is what keeps
        a 250-robot floor (10^5 conflicts) within the time budget. Samples stay coherent along each robot because
        a rank holds the running maximum of the delays.
        """
        return F.softplus(self.delay_logits(context, z))

    def delay_logits(self, context: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The pre-softplus outputs ``(K, N)`` of :meth:`delays`: the mean of the fine-tuned Gaussian policy."""
        pre = self.mix_context(context[:, : self.config.hidden])
        if self.mix_features is not None:
            pre = pre + self.mix_features(context[:, self.config.hidden :])
        g = F.relu(pre.unsqueeze(0) + self.mix_latent(z))  # (K, N, m)
        return self.mix_out(g).squeeze(2)

    # -- ranks -----------------------------------------------------------------------------------------
    @staticmethod
    def ranks(graph: CoordGraph, delays: torch.Tensor) -> torch.Tensor:
        """``base_rank`` plus the per-robot running maximum of ``delays`` (``(K, N)``, float64, differentiable)."""
        shift = torch.from_numpy(graph.robot * ROBOT_STRIDE).unsqueeze(0)
        running = torch.cummax(delays.to(torch.float64).clamp(0.0, MAX_DELAY) + shift, dim=1).values - shift
        return torch.from_numpy(graph.base_rank).unsqueeze(0) + running.clamp(min=0.0)

    def reconstruct(
        self, graph: CoordGraph, sol_nodes: torch.Tensor, sol_edges: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One posterior sample's ranks ``(N,)`` (reparameterised) with the posterior's ``mu`` and ``logvar``."""
        mu, logvar = self.encode(graph, sol_nodes, sol_edges)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        delays = self.delays(self.context(graph), z.unsqueeze(0))
        return self.ranks(graph, delays)[0], mu, logvar

    @torch.no_grad()
    def sample_delays(
        self, graph: CoordGraph, samples: int, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> np.ndarray:
        """``(K, N)`` float64 delays of ``K`` prior samples decoded in one batch; sample 0 is the prior mean.

        ``temperature`` scales the latent noise and the output noise (1 = the prior and the policy the model was
        trained with). With ``config.output_noise`` > 0 every sample but the first also gets Gaussian noise on its
        pre-softplus outputs, applied in float64 so that distinct noisy outputs stay distinct holds.
        """
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        z = torch.randn((samples, graph.num_nodes, self.config.latent), generator=generator) * float(temperature)
        z[0] = 0.0
        context = self.context(graph)
        noise = float(self.config.output_noise) * float(temperature)
        if noise <= 0.0:
            return self.delays(context, z).to(torch.float64).numpy()
        eps = torch.randn((samples, graph.num_nodes), generator=generator, dtype=torch.float64) * noise
        eps[0] = 0.0
        return F.softplus(self.delay_logits(context, z).to(torch.float64) + eps).numpy()

    @torch.no_grad()
    def sample_ranks(self, graph: CoordGraph, samples: int, generator: torch.Generator | None = None) -> np.ndarray:
        """``(K, N)`` float64 *static* ranks of ``K`` prior samples (base + running max of the delays)."""
        delays = self.sample_delays(graph, samples, generator)
        return self.ranks(graph, torch.from_numpy(delays)).numpy()


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(q || N(0, I))`` per node, summed over latent dimensions, averaged over nodes."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1).mean()


def ranking_loss(
    graph: CoordGraph, ranks: torch.Tensor, orders: np.ndarray, sharpness: float = 2.0, weights: Any = None
) -> torch.Tensor:
    """Logistic loss on ``rank_b - rank_a`` with the label's sign (+ when ``a`` goes first), a (weighted) mean over
    conflicts."""
    if graph.num_conflicts == 0:
        return ranks.sum() * 0.0
    sign = torch.from_numpy(np.where(np.asarray(orders) == 0, 1.0, -1.0))
    diff = ranks[torch.from_numpy(graph.conf_b)] - ranks[torch.from_numpy(graph.conf_a)]
    loss = F.softplus(-sharpness * sign * diff)
    if weights is None:
        return loss.mean()
    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    return (loss * w).sum() / w.sum()


# -- inference ---------------------------------------------------------------------------------------------
def following_modes(instance: CoordinationInstance, orders: np.ndarray) -> np.ndarray | None:
    """Following wherever it is allowed and no slower than waiting (optimal for any orders, see the module doc);
    None when the instance has no followable conflict. ``orders`` may be ``(C,)`` or ``(K, C)``."""
    ev = instance.evaluator
    if instance.follow_gap is None or not ev.followable.any():
        return None
    helps = np.where(orders == 0, ev.f_ab <= ev.w_ab, ev.f_ba <= ev.w_ba)
    return (ev.followable & helps).astype(np.int8)


def dispatch_holds(graph: CoordGraph, delays: np.ndarray) -> np.ndarray:
    """Holds of dispatch decoding in the instance's time units: ``HOLD_WINDOW * tau * d / (1 + d)``.

    The squash keeps every hold below :data:`HOLD_WINDOW` travel times whatever the delay, so a sample only reorders
    robots that can go within that window of each other and never parks one (the delays of this checkpoint are
    whole travel times and grow with the floor, see :mod:`routelab.coordination.dispatch`); it is monotone, so the
    decoder's preference between two ready intervals is kept.
    """
    d = np.clip(np.nan_to_num(np.asarray(delays, dtype=np.float64)), 0.0, MAX_DELAY)
    return HOLD_WINDOW * graph.tau * d / (1.0 + d)


def decode_ranks(
    instance: CoordinationInstance, graph: CoordGraph, delays: np.ndarray, decode: str = "dispatch"
) -> np.ndarray:
    """``(K, N)`` ranks of ``(K, N)`` learned delays, by ``decode``: ``"dispatch"`` (dynamic FCFS with the delays as
    squashed holds, :func:`routelab.coordination.dispatch.dispatch_ranks`) or ``"static"`` (base + running max,
    :func:`routelab.coordination.features.rank_from_delays`). Both grow along every robot, so
    :func:`routelab.coordination.features.orders_from_rank_batch` never deadlocks on them."""
    if decode == "dispatch":
        from routelab.coordination.dispatch import dispatch_ranks

        return dispatch_ranks(instance, dispatch_holds(graph, delays))
    if decode == "static":
        return rank_from_delays(graph, delays)
    raise ValueError(f"decode must be one of {', '.join(DECODINGS)}, got {decode!r}")


def decode_best(
    model: GNNVAE,
    instance: CoordinationInstance,
    samples: int,
    seed: int = 0,
    graph: CoordGraph | None = None,
    include_base: bool = False,
    decode: str = "dispatch",
    temperature: float = 1.0,
) -> tuple[np.ndarray, np.ndarray | None, float, np.ndarray]:
    """Decode ``samples`` latent samples in one batch, score all with the batch evaluator, keep the best.

    ``decode`` picks how delays become ranks (:func:`decode_ranks`; ``"dispatch"`` by default because the static
    ranks go stale on large floors). ``include_base`` adds the base schedule's own orders (dynamic FCFS: all delays
    zero, a point of the decoder's output space under both decodings) as candidate 0, so the answer is never worse
    than the base; the objectives returned then have ``samples + 1`` entries. Returns ``(orders, modes, objective,
    all_objectives)``; every decoded order is deadlock-free by construction, so ``all_objectives`` is finite
    throughout (the tests check exactly that).
    """
    if decode not in DECODINGS:
        raise ValueError(f"decode must be one of {', '.join(DECODINGS)}, got {decode!r}")
    graph = graph if graph is not None else build_graph(instance)
    gen = torch.Generator().manual_seed(int(seed))
    delays = model.sample_delays(graph, samples, generator=gen, temperature=temperature)
    ranks = decode_ranks(instance, graph, delays, decode)
    if include_base:  # all delays zero: the base schedule's ranks, a point of the decoder's output space
        ranks = np.concatenate([graph.base_rank[None, :], ranks])
    batch = orders_from_rank_batch(graph, ranks)
    modes = following_modes(instance, batch)
    values = np.atleast_1d(instance.evaluator.evaluate(batch, modes))
    best = int(np.argmin(values))
    return batch[best], None if modes is None else modes[best], float(values[best]), values


# -- checkpoints ---------------------------------------------------------------------------------------------
def save_checkpoint(model: GNNVAE, path: str | Path, training: dict[str, Any] | None = None) -> Path:
    """Write the model with its feature layout and training record (atomically)."""
    from routelab.problems import atomic_write

    path = Path(path)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "layout": FEATURE_LAYOUT,
        "config": asdict(model.config),
        "state_dict": {k: v.detach().clone() for k, v in model.state_dict().items()},
        "training": training or {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda handle: torch.save(payload, handle))
    return path


def load_checkpoint(path: str | Path | None = None) -> tuple[GNNVAE, dict[str, Any]]:
    """The model of ``path`` (default: the shipped checkpoint) and its training record; refuses a mismatch."""
    path = Path(path) if path is not None else DEFAULT_CHECKPOINT
    if not path.exists():
        hint = " (train one with `routelab train gnnvae`)" if path == DEFAULT_CHECKPOINT else ""
        raise CheckpointError(f"{path}: no such GNN-VAE checkpoint{hint}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated file, a pickle of something else
        raise CheckpointError(f"{path}: not a readable GNN-VAE checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        got = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"{path}: checkpoint format {got!r}, expected {CHECKPOINT_FORMAT!r}")
    layout = payload.get("layout")
    if layout != FEATURE_LAYOUT:
        got = layout.get("version") if isinstance(layout, dict) else layout
        diff = _layout_difference(layout)
        raise CheckpointError(
            f"{path}: trained on feature layout {got!r}{diff}, this code builds {FEATURE_LAYOUT['version']!r}; "
            "retrain it with `routelab train gnnvae`"
        )
    try:
        model = GNNVAE(ModelConfig(**payload["config"]))
        model.load_state_dict(payload["state_dict"])
    except (TypeError, KeyError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: weights do not fit the GNN-VAE architecture ({exc})") from None
    model.eval()
    return model, dict(payload.get("training") or {})


def _layout_difference(layout: Any) -> str:
    """`` (node features differ: ...)``: which part of a stored layout disagrees, for the refusal message."""
    if not isinstance(layout, dict):
        return ""
    for key in ("node", "edge", "solution_node", "solution_edge"):
        if layout.get(key) != FEATURE_LAYOUT[key]:
            have = layout.get(key) or []
            return f" ({key} features differ: {len(have)} stored, {len(FEATURE_LAYOUT[key])} now)"
    return ""
