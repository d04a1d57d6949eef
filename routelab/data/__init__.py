"""Outside formats (TSPLIB, VRPLIB, Solomon, the TSP test sets), converters and seeded instance generators.

Everything here turns files into the shared instances of :mod:`routelab.problems` and back; bad input is a
:class:`routelab.problems.FormatError` naming the file and the field. The CLI uses :mod:`routelab.data.readers`.
"""

from routelab.data.generate import CVRP_CAPACITIES, GeneratorOptions, cvrp_capacity, generate
from routelab.data.readers import (
    convert,
    convert_solution,
    instance_differences,
    read_instance,
    read_instances,
    read_solution,
    write_instance,
    write_instances,
    write_solution,
)
from routelab.data.solomon import read_solomon, write_solomon
from routelab.data.tsp_testset import read_tsp_testset, read_tsp_testset_with_tours, write_tsp_testset
from routelab.data.tsplib import read_tsplib, read_tsplib_tour, write_tsplib, write_tsplib_tour
from routelab.data.vrplib_io import read_vrplib, read_vrplib_solution, write_vrplib, write_vrplib_solution

__all__ = [
    "CVRP_CAPACITIES",
    "GeneratorOptions",
    "convert",
    "convert_solution",
    "cvrp_capacity",
    "generate",
    "instance_differences",
    "read_instance",
    "read_instances",
    "read_solomon",
    "read_solution",
    "read_tsp_testset",
    "read_tsp_testset_with_tours",
    "read_tsplib",
    "read_tsplib_tour",
    "read_vrplib",
    "read_vrplib_solution",
    "write_instance",
    "write_instances",
    "write_solomon",
    "write_solution",
    "write_tsp_testset",
    "write_tsplib",
    "write_tsplib_tour",
    "write_vrplib",
    "write_vrplib_solution",
]
