"""What the routing kinds (tsp, cvrp, cvrptw) share: nodes with coordinates and/or a full length matrix.

A matrix may be asymmetric, which is how ATSP, ACVRP and ACVRPTW are expressed: they are these same kinds
with ``rounding = "matrix"``. Coordinate instances never store their matrix; it is derived on demand (and
cached) so that a 10,000-city TSP costs 160 kB, not 800 MB, until a solver really asks for all of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from routelab.problems.distances import ROUNDINGS, edge_lengths, pairwise
from routelab.problems.errors import FormatError
from routelab.problems.validate import as_array, check_nonnegative, check_shape


@dataclass(frozen=True, eq=False, kw_only=True)
class RoutingInstance:
    """Base of the routing instances: a name, node coordinates and/or an explicit length matrix.

    Attributes:
        name: instance name, as in the source file.
        coords: ``(n, 2)`` coordinates, or None for a matrix-only instance.
        distance_matrix: explicit ``(n, n)`` lengths (``rounding == "matrix"``), else None.
        rounding: the source's length convention, see :mod:`routelab.problems.distances`.
        meta: free-form provenance (source format, generator seed, ...); never used for scoring.
    """

    kind: ClassVar[str] = ""
    name: str
    coords: np.ndarray | None = None
    distance_matrix: np.ndarray | None = None
    rounding: str = "exact"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._validate_nodes(self.name)

    # -- geometry --------------------------------------------------------------------------------
    @property
    def num_nodes(self) -> int:
        if self.distance_matrix is not None:
            return int(self.distance_matrix.shape[0])
        assert self.coords is not None
        return int(self.coords.shape[0])

    @cached_property
    def distances(self) -> np.ndarray:
        """The full ``(n, n)`` float64 length matrix (computed once from coordinates if not explicit)."""
        if self.distance_matrix is not None:
            return self.distance_matrix
        assert self.coords is not None
        return pairwise(self.coords, self.rounding)

    @property
    def is_symmetric(self) -> bool:
        if self.distance_matrix is None:
            return True
        return bool(np.allclose(self.distance_matrix, self.distance_matrix.T, rtol=0, atol=1e-9))

    def arc_lengths(self, i: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Lengths of the arcs ``i[k] -> j[k]`` without building the full matrix for coordinate instances."""
        i = np.asarray(i, dtype=np.int64)
        j = np.asarray(j, dtype=np.int64)
        if self.distance_matrix is not None:
            return self.distance_matrix[i, j]
        if "distances" in self.__dict__:
            return self.__dict__["distances"][i, j]
        assert self.coords is not None
        return edge_lengths(self.coords, self.rounding, i, j)

    # -- validation ------------------------------------------------------------------------------
    def _validate_nodes(self, source: str) -> None:
        if self.rounding not in ROUNDINGS:
            raise FormatError(source, "rounding", f"one of {', '.join(ROUNDINGS)}", self.rounding)
        if self.coords is not None:
            coords = as_array(source, "coords", self.coords, ndim=2)
            if coords.shape[1] != 2:
                raise FormatError(source, "coords", "shape (n, 2)", f"shape {coords.shape}")
            object.__setattr__(self, "coords", coords)
        if self.distance_matrix is not None:
            matrix = as_array(source, "distance_matrix", self.distance_matrix, ndim=2)
            if matrix.shape[0] != matrix.shape[1]:
                raise FormatError(source, "distance_matrix", "a square (n, n) matrix", f"shape {matrix.shape}")
            check_nonnegative(source, "distance_matrix", matrix)
            if self.coords is not None:
                check_shape(source, "coords", self.coords, (matrix.shape[0], 2))
            if self.rounding != "matrix":
                raise FormatError(source, "rounding", "'matrix' when distance_matrix is given", self.rounding)
            object.__setattr__(self, "distance_matrix", matrix)
        else:
            if self.coords is None:
                raise FormatError(source, "coords", "coordinates or a distance_matrix", "neither")
            if self.rounding == "matrix":
                raise FormatError(source, "distance_matrix", "a matrix when rounding is 'matrix'", "none")
        if self.num_nodes < 2:
            raise FormatError(source, "coords", "at least 2 nodes", self.num_nodes)

    # -- serialisation ---------------------------------------------------------------------------
    def node_fields(self) -> dict[str, Any]:
        """The geometry part of the ``data`` block (arrays left as numpy; the writer converts)."""
        out: dict[str, Any] = {"rounding": self.rounding}
        if self.coords is not None:
            out["coords"] = self.coords
        if self.distance_matrix is not None:
            out["distance_matrix"] = self.distance_matrix
        return out

    def to_data(self) -> dict[str, Any]:
        """The kind-specific ``data`` block of the shared format."""
        return self.node_fields()

    @classmethod
    def node_kwargs(cls, data: dict[str, Any]) -> dict[str, Any]:
        return {
            "coords": data.get("coords"),
            "distance_matrix": data.get("distance_matrix"),
            "rounding": data.get("rounding", "matrix" if data.get("distance_matrix") is not None else "exact"),
        }
