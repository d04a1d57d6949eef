"""A GNN surrogate of user-equilibrium link flows for one road network (the fitness of the ``ga`` solver).

Why this shape:

- One model per network, as in Madadi & Correia (2024): the graph never changes, only the demand (node
  features) and the link capacities (edge features). A model trained on Sioux Falls is meaningless on another
  network, so a checkpoint carries a *fingerprint* of the base link arrays and the feature layout version, and
  :func:`load_surrogate` refuses any instance whose links differ.
- Node features are the OD rows: for zone ``i`` its origin row ``demand[i, :]`` and destination column
  ``demand[:, i]`` (divided by the mean positive base demand), plus the row and column totals relative to the
  base ones; other nodes get zeros. Edge features are capacity (relative to the base and its change), free-flow
  time, and the base UE flow / capacity, which tells each link how loaded it is before any project.
- Message passing runs both ways along the directed links (a GINE convolution tail -> head and one head -> tail:
  flow on a link depends on the origins upstream and the destinations downstream), each layer followed by an
  edge update from its two end nodes (GINE-style edge states), with residual connections.
- The output is the change of flow relative to the base UE flow, scaled per link by ``max(base flow, 10 % of
  capacity)``: a model that outputs zero predicts the base equilibrium, which is already a good guess, and every
  link's target is of order one. TSTT follows from the flows through the BPR function.
- The graph is fixed, so a batch of B designs is one disjoint union whose edge index is built once and cached:
  a whole GA population (128 designs) is one forward call.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch_geometric.nn import GINEConv

CHECKPOINT_FORMAT = "routelab-ue-gnn/1"
FEATURE_LAYOUT = "ue-gnn-features/1"
"""Bump when the features change: a checkpoint trained on another layout is refused, not silently misread."""
EDGE_FEATURES = 6
NODE_EXTRA = 4
SCALE_CAPACITY_SHARE = 0.1
"""A link's flow scale is ``max(base UE flow, this share of its base capacity)``, so unused links still learn."""
CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"


class SurrogateError(ValueError):
    """A checkpoint that cannot be used: wrong file, another network, another feature layout."""


# -- the network a model belongs to -------------------------------------------------------------------------------
def network_fingerprint(arrays: dict[str, Any], num_nodes: int, num_zones: int, first_thru_node: int) -> str:
    """A short hash of the base network (topology, capacity, free-flow time, BPR parameters).

    Demand is left out on purpose: it is an input of the model. Values are rounded to 9 significant digits so
    that a network read from TNTP and one round-tripped through JSON agree.
    """
    h = hashlib.sha256()
    h.update(f"{int(num_nodes)}/{int(num_zones)}/{int(first_thru_node)}".encode())
    for key in ("tail", "head"):
        h.update(np.ascontiguousarray(arrays[key], dtype=np.int64).tobytes())
    for key in ("capacity", "free_flow_time", "b", "power"):
        values = np.asarray(arrays[key], dtype=np.float64)
        h.update(",".join(f"{v:.9g}" for v in values).encode())
    return h.hexdigest()[:16]


def instance_fingerprint(instance: Any) -> str:
    """The fingerprint of a ``network_design`` instance's base network (no project built)."""
    arrays = {key: getattr(instance, key) for key in ("tail", "head", "capacity", "free_flow_time", "b", "power")}
    return network_fingerprint(arrays, instance.num_nodes, instance.num_zones, instance.first_thru_node)


@dataclass(frozen=True, eq=False)
class NetworkBase:
    """What the features are measured against: the base network and its UE at the base demand."""

    name: str
    fingerprint: str
    num_nodes: int
    num_zones: int
    tail: np.ndarray
    head: np.ndarray
    capacity: np.ndarray
    free_flow_time: np.ndarray
    b: np.ndarray
    power: np.ndarray
    demand: np.ndarray
    base_flow: np.ndarray

    @property
    def num_links(self) -> int:
        return len(self.tail)

    @property
    def node_features(self) -> int:
        return 2 * self.num_zones + NODE_EXTRA

    def flow_scale(self) -> np.ndarray:
        return np.maximum(self.base_flow, SCALE_CAPACITY_SHARE * self.capacity)

    def demand_scale(self) -> float:
        positive = self.demand[self.demand > 0]
        return float(positive.mean()) if positive.size else 1.0

    def to_record(self) -> dict[str, Any]:
        """Plain lists and numbers only, so ``torch.load(weights_only=True)`` can read the checkpoint."""
        out: dict[str, Any] = {"name": self.name, "fingerprint": self.fingerprint}
        out.update({"num_nodes": int(self.num_nodes), "num_zones": int(self.num_zones)})
        for key in ("tail", "head"):
            out[key] = [int(v) for v in getattr(self, key)]
        for key in ("capacity", "free_flow_time", "b", "power", "base_flow"):
            out[key] = [float(v) for v in getattr(self, key)]
        out["demand"] = [[float(v) for v in row] for row in self.demand]
        return out

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> NetworkBase:
        return cls(
            name=str(record["name"]),
            fingerprint=str(record["fingerprint"]),
            num_nodes=int(record["num_nodes"]),
            num_zones=int(record["num_zones"]),
            tail=np.asarray(record["tail"], dtype=np.int64),
            head=np.asarray(record["head"], dtype=np.int64),
            capacity=np.asarray(record["capacity"], dtype=np.float64),
            free_flow_time=np.asarray(record["free_flow_time"], dtype=np.float64),
            b=np.asarray(record["b"], dtype=np.float64),
            power=np.asarray(record["power"], dtype=np.float64),
            demand=np.asarray(record["demand"], dtype=np.float64),
            base_flow=np.asarray(record["base_flow"], dtype=np.float64),
        )


def network_base(instance: Any, base_flow: np.ndarray | None = None, *, gap: float = 1e-5) -> NetworkBase:
    """The :class:`NetworkBase` of an instance (its base UE solved to ``gap`` unless given)."""
    if base_flow is None:
        base_flow = instance.solve_ue((), gap=gap).flows
    return NetworkBase(
        name=instance.name,
        fingerprint=instance_fingerprint(instance),
        num_nodes=instance.num_nodes,
        num_zones=instance.num_zones,
        tail=np.asarray(instance.tail, dtype=np.int64),
        head=np.asarray(instance.head, dtype=np.int64),
        capacity=np.asarray(instance.capacity, dtype=np.float64),
        free_flow_time=np.asarray(instance.free_flow_time, dtype=np.float64),
        b=np.asarray(instance.b, dtype=np.float64),
        power=np.asarray(instance.power, dtype=np.float64),
        demand=np.asarray(instance.demand, dtype=np.float64),
        base_flow=np.asarray(base_flow, dtype=np.float64),
    )


# -- features -----------------------------------------------------------------------------------------------------
def node_features(base: NetworkBase, demand: np.ndarray) -> np.ndarray:
    """``(B, num_nodes, 2 Z + 4)`` float32 from ``(B, Z, Z)`` (or one ``(Z, Z)``) demand matrices."""
    demand = np.asarray(demand, dtype=np.float64)
    if demand.ndim == 2:
        demand = demand[None]
    count, z = demand.shape[0], base.num_zones
    if demand.shape[1:] != (z, z):
        raise SurrogateError(f"demand: expected ({z}, {z}) matrices for {base.name}, got {demand.shape[1:]}")
    scale = base.demand_scale()
    rows0 = np.maximum(base.demand.sum(axis=1), 1e-9)
    cols0 = np.maximum(base.demand.sum(axis=0), 1e-9)
    out = np.zeros((count, base.num_nodes, 2 * z + NODE_EXTRA), dtype=np.float32)
    out[:, :z, :z] = demand / scale
    out[:, :z, z : 2 * z] = np.transpose(demand, (0, 2, 1)) / scale
    out[:, :z, 2 * z] = demand.sum(axis=2) / rows0
    out[:, :z, 2 * z + 1] = demand.sum(axis=1) / cols0
    out[:, :z, 2 * z + 2] = 1.0  # zone flag
    out[:, :, 2 * z + 3] = demand.sum(axis=(1, 2))[:, None] / max(base.demand.sum(), 1e-9)
    return out


def edge_features(base: NetworkBase, capacity: np.ndarray) -> np.ndarray:
    """``(B, num_links, 6)`` float32 from ``(B, m)`` (or one ``(m,)``) capacity vectors."""
    capacity = np.asarray(capacity, dtype=np.float64)
    if capacity.ndim == 1:
        capacity = capacity[None]
    if capacity.shape[1] != base.num_links:
        raise SurrogateError(f"capacity: expected {base.num_links} links for {base.name}, got {capacity.shape[1]}")
    cap0 = np.maximum(base.capacity, 1e-9)
    ratio = capacity / cap0
    out = np.empty((capacity.shape[0], base.num_links, EDGE_FEATURES), dtype=np.float32)
    out[..., 0] = ratio
    out[..., 1] = ratio - 1.0
    out[..., 2] = np.log(cap0 / cap0.mean())
    out[..., 3] = base.free_flow_time / max(base.free_flow_time.mean(), 1e-9)
    out[..., 4] = base.base_flow / cap0
    out[..., 5] = base.base_flow / capacity.clip(1e-9)
    return out


# -- the model ----------------------------------------------------------------------------------------------------
def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.SiLU(), nn.Linear(hidden, outputs))


class _Layer(nn.Module):
    """GINE convolutions tail -> head and head -> tail, then an edge update from both end nodes."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.forward_conv = GINEConv(_mlp(hidden, hidden, hidden), train_eps=True, edge_dim=hidden)
        self.backward_conv = GINEConv(_mlp(hidden, hidden, hidden), train_eps=True, edge_dim=hidden)
        self.node_norm = nn.LayerNorm(hidden)
        self.edge_update = _mlp(3 * hidden, hidden, hidden)
        self.edge_norm = nn.LayerNorm(hidden)

    def forward(self, h: torch.Tensor, e: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        src, dst = index[0], index[1]
        both = self.forward_conv(h, index, e) + self.backward_conv(h, index.flip(0), e)
        h = self.node_norm(h + both)
        e = self.edge_norm(e + self.edge_update(torch.cat([h[src], h[dst], e], dim=-1)))
        return h, e


class FlowGNN(nn.Module):
    """Predicts ``(flow - base flow) / scale`` per link for a batch of designs on one fixed network."""

    def __init__(self, node_in: int, hidden: int = 64, layers: int = 4) -> None:
        super().__init__()
        self.config = {"node_in": int(node_in), "hidden": int(hidden), "layers": int(layers)}
        self.node_encoder = _mlp(node_in, hidden, hidden)
        self.edge_encoder = _mlp(EDGE_FEATURES, hidden, hidden)
        self.layers = nn.ModuleList(_Layer(hidden) for _ in range(layers))
        self.readout = _mlp(3 * hidden + EDGE_FEATURES, hidden, 1)
        self._index_cache: dict[tuple[int, int], torch.Tensor] = {}

    def batched_index(self, tail: torch.Tensor, head: torch.Tensor, num_nodes: int, batch: int) -> torch.Tensor:
        """The edge index of ``batch`` disjoint copies of the network, cached per batch size."""
        key = (batch, num_nodes)
        index = self._index_cache.get(key)
        if index is None or index.shape[1] != batch * len(tail):
            offsets = (torch.arange(batch, dtype=torch.long) * num_nodes).repeat_interleave(len(tail))
            index = torch.stack([tail.repeat(batch) + offsets, head.repeat(batch) + offsets])
            self._index_cache[key] = index
        return index

    def forward(self, nodes: torch.Tensor, edges: torch.Tensor, tail: torch.Tensor, head: torch.Tensor) -> torch.Tensor:
        """``nodes (B, N, F)``, ``edges (B, m, 6)`` -> ``(B, m)`` scaled flow changes."""
        batch, num_nodes, _ = nodes.shape
        m = edges.shape[1]
        index = self.batched_index(tail, head, num_nodes, batch)
        h = self.node_encoder(nodes.reshape(batch * num_nodes, -1))
        e_in = edges.reshape(batch * m, -1)
        e = self.edge_encoder(e_in)
        for layer in self.layers:
            h, e = layer(h, e, index)
        out = self.readout(torch.cat([h[index[0]], h[index[1]], e, e_in], dim=-1))
        return out.reshape(batch, m)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# -- the surrogate: model + base + conversion to flows and TSTT ----------------------------------------------------
class FlowSurrogate:
    """A trained (or fresh) :class:`FlowGNN` bound to its network; numpy in, numpy out."""

    def __init__(self, base: NetworkBase, model: FlowGNN, record: dict[str, Any] | None = None) -> None:
        if model.config["node_in"] != base.node_features:
            raise SurrogateError(
                f"the model expects {model.config['node_in']} node features, {base.name} has {base.node_features}"
            )
        self.base = base
        self.model = model
        self.record = record or {}
        self._tail = torch.as_tensor(base.tail, dtype=torch.long)
        self._head = torch.as_tensor(base.head, dtype=torch.long)
        self._scale = base.flow_scale()

    @classmethod
    def fresh(cls, base: NetworkBase, *, hidden: int = 64, layers: int = 4, seed: int = 0) -> FlowSurrogate:
        torch.manual_seed(seed)
        return cls(base, FlowGNN(base.node_features, hidden, layers))

    def tensors(self, demand: np.ndarray, capacity: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        nodes = node_features(self.base, demand)
        edges = edge_features(self.base, capacity)
        if nodes.shape[0] == 1 and edges.shape[0] > 1:
            nodes = np.broadcast_to(nodes, (edges.shape[0], *nodes.shape[1:]))
        if nodes.shape[0] != edges.shape[0]:
            raise SurrogateError(f"{nodes.shape[0]} demand matrices for {edges.shape[0]} capacity vectors")
        return torch.from_numpy(np.ascontiguousarray(nodes)), torch.from_numpy(edges)

    def raw(self, nodes: torch.Tensor, edges: torch.Tensor) -> torch.Tensor:
        return self.model(nodes, edges, self._tail, self._head)

    def to_flows(self, raw: np.ndarray) -> np.ndarray:
        return np.maximum(self.base.base_flow + raw * self._scale, 0.0)

    def target(self, flows: np.ndarray) -> np.ndarray:
        """The training target of UE ``flows``: the scaled change from the base flows."""
        return (np.asarray(flows, dtype=np.float64) - self.base.base_flow) / self._scale

    @torch.no_grad()
    def predict_flows(self, demand: np.ndarray, capacity: np.ndarray) -> np.ndarray:
        """``(B, m)`` link flows for a batch of capacity vectors (one demand matrix or one per design)."""
        self.model.eval()
        nodes, edges = self.tensors(demand, capacity)
        return self.to_flows(self.raw(nodes, edges).double().numpy())

    def tstt(self, flows: np.ndarray, capacity: np.ndarray) -> np.ndarray:
        """TSTT ``sum x t0 (1 + b (x/c)^p)`` of each row of flows under the matching capacities."""
        base = self.base
        capacity = np.broadcast_to(np.asarray(capacity, dtype=np.float64), flows.shape)
        times = base.free_flow_time * (1.0 + base.b * (flows / np.maximum(capacity, 1e-12)) ** base.power)
        return (flows * times).sum(axis=-1)

    def predict_tstt(self, demand: np.ndarray, capacity: np.ndarray) -> np.ndarray:
        """``(B,)`` surrogate TSTT: one batched forward call for the whole batch."""
        capacity = np.asarray(capacity, dtype=np.float64)
        if capacity.ndim == 1:
            capacity = capacity[None]
        return self.tstt(self.predict_flows(demand, capacity), capacity)

    # -- checkpoints ----------------------------------------------------------------------------------------------
    def save(self, path: str | Path, record: dict[str, Any] | None = None) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if record is not None:
            self.record = record
        state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        blob = {
            "format": CHECKPOINT_FORMAT,
            "feature_layout": FEATURE_LAYOUT,
            "config": dict(self.model.config),
            "network": self.base.to_record(),
            "record": self.record,
            "state_dict": state,
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(blob, tmp)
        tmp.replace(path)
        return path

    def check_instance(self, instance: Any) -> str | None:
        """None when the instance's base network is the one this model was trained on, else why not."""
        if instance.num_zones != self.base.num_zones or instance.num_links != self.base.num_links:
            return (
                f"the surrogate was trained on {self.base.name} ({self.base.num_zones} zones, {self.base.num_links}"
                f" links), not {instance.name} ({instance.num_zones} zones, {instance.num_links} links)"
            )
        fingerprint = instance_fingerprint(instance)
        if fingerprint != self.base.fingerprint:
            return (
                f"the surrogate was trained on network {self.base.name} (fingerprint {self.base.fingerprint}); "
                f"{instance.name}'s base links differ (fingerprint {fingerprint})"
            )
        return None


def load_surrogate(path: str | Path) -> FlowSurrogate:
    """Read a checkpoint written by :meth:`FlowSurrogate.save`; anything else is a :class:`SurrogateError`."""
    path = Path(path)
    if not path.is_file():
        raise SurrogateError(f"{path}: no such checkpoint")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise SurrogateError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(blob, dict) or blob.get("format") != CHECKPOINT_FORMAT:
        got = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise SurrogateError(f"{path}: format: expected {CHECKPOINT_FORMAT!r}, got {got!r}")
    if blob.get("feature_layout") != FEATURE_LAYOUT:
        raise SurrogateError(
            f"{path}: feature_layout: expected {FEATURE_LAYOUT!r}, got {blob.get('feature_layout')!r}"
            " (retrain with `routelab train ue-gnn`)"
        )
    try:
        base = NetworkBase.from_record(blob["network"])
        config = blob["config"]
        model = FlowGNN(int(config["node_in"]), int(config["hidden"]), int(config["layers"]))
        model.load_state_dict(blob["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise SurrogateError(f"{path}: damaged checkpoint ({type(exc).__name__}: {exc})") from None
    model.eval()
    return FlowSurrogate(base, model, blob.get("record") or {})


def shipped_checkpoints() -> list[Path]:
    return sorted(CHECKPOINT_DIR.glob("*.pt"))


def find_checkpoint(instance: Any) -> tuple[Path | None, str]:
    """The shipped checkpoint whose network fingerprint matches the instance, or None and the networks known."""
    fingerprint = instance_fingerprint(instance)
    known = []
    for path in shipped_checkpoints():
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            network = blob["network"]
        except Exception:
            continue
        known.append(f"{network['name']} ({network['fingerprint']})")
        if network.get("fingerprint") == fingerprint and blob.get("feature_layout") == FEATURE_LAYOUT:
            return path, ""
    return None, ", ".join(known) or "none"


def flow_metrics(true: np.ndarray, pred: np.ndarray, true_tstt: np.ndarray, pred_tstt: np.ndarray) -> dict[str, float]:
    """Link-flow MAPE (links carrying at least 1 % of the mean flow: MAPE is undefined at zero flow), link-flow
    R^2 (pooled over all links and samples), TSTT MAPE and TSTT R^2."""
    true, pred = np.asarray(true, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    mask = true >= 0.01 * max(true.mean(), 1e-12)
    mape = float(np.mean(np.abs(pred[mask] - true[mask]) / true[mask])) if mask.any() else math.nan
    ss_tot = float(((true - true.mean()) ** 2).sum())
    r2 = 1.0 - float(((pred - true) ** 2).sum()) / ss_tot if ss_tot > 0 else math.nan
    t_tot = float(((true_tstt - true_tstt.mean()) ** 2).sum())
    t_r2 = 1.0 - float(((pred_tstt - true_tstt) ** 2).sum()) / t_tot if t_tot > 0 else math.nan
    t_mape = float(np.mean(np.abs(pred_tstt - true_tstt) / np.maximum(true_tstt, 1e-12)))
    return {"flow_mape": mape, "flow_r2": r2, "tstt_mape": t_mape, "tstt_r2": t_r2}
