"""RouteLab: combinatorial optimisation and routing solvers behind one format, one scorer and one CLI."""

__version__ = "0.1.0"
