"""Real-road travel distance and duration matrices: OSRM, offline OpenStreetMap extracts, procedural cities."""

from routelab.data.roads.matrices import RoadMatrices, RoadProvider, haversine_m

__all__ = ["RoadMatrices", "RoadProvider", "haversine_m"]
