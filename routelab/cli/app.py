"""The ``routelab`` command line: thin wrappers over library functions, one-line errors, rich tables."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from routelab.cli.bench import bench_app
from routelab.cli.common import (
    console,
    describe_size,
    fmt_number,
    one_line_errors,
    parse_options,
    pick_instance,
    report_violations,
)
from routelab.cli.tune import tune as tune_command

app = typer.Typer(
    name="routelab",
    help="Combinatorial optimisation and routing solvers: one format, one scorer, one CLI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(bench_app, name="bench")
app.command("tune")(tune_command)


@app.command()
@one_line_errors
def solve(
    file: Path = typer.Argument(..., help="Instance file (.json, .npz, .tsp, .atsp, .vrp, Solomon .txt)."),
    solver: str = typer.Option("ortools", "--solver", "-s", help="Solver name (see `routelab solvers`)."),
    time_limit: float | None = typer.Option(None, "--time-limit", "-t", help="Seconds (solver default if unset)."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write the solution JSON here."),
    option: list[str] | None = typer.Option(None, "--option", help="Solver option KEY=VALUE (repeatable)."),
    index: int = typer.Option(0, "--index", help="Which instance of a multi-instance file to solve."),
) -> None:
    """Solve one instance and print the independently scored result.

    Example: routelab solve kroA100.tsp --solver lkh --time-limit 10 -o kroA100.lkh.json
    """
    from routelab.problems import check, save_solution
    from routelab.solvers import get_solver
    from routelab.solvers.base import ensure_supported

    instance = pick_instance(file, index)
    engine = get_solver(solver, **parse_options(option))
    ensure_supported(engine, instance)
    with console.status(f"{engine.name} on {instance.name} ({describe_size(instance)})..."):
        solution = engine.solve(instance, time_limit=time_limit, seed=seed)
    score = check(instance, solution)
    if output is not None:
        save_solution(solution, output)
    table = Table(title=f"{instance.kind} {instance.name}")
    for column in ("solver", "objective (rescored)", "solver's claim", "feasible", "time [s]", "status"):
        table.add_column(column)
    status = str(solution.stats.get("status", "-"))
    table.add_row(
        engine.name,
        fmt_number(score.objective) if solution.found else "-",
        fmt_number(solution.objective),
        "yes" if score.feasible else "[red]no[/red]",
        f"{solution.runtime_s:.2f}",
        status,
    )
    console.print(table)
    if "lower_bound" in solution.stats and solution.stats["lower_bound"] is not None:
        console.print(f"lower bound: {fmt_number(solution.stats['lower_bound'])}")
    report_violations(score)


@app.command()
@one_line_errors
def check(
    instance_file: Path = typer.Argument(..., help="Instance file."),
    solution_file: Path = typer.Argument(..., help="Solution (.json shared format, or a VRPLIB .sol)."),
    index: int = typer.Option(0, "--index", help="Which instance of a multi-instance file."),
) -> None:
    """Check a solution against its instance and recompute the objective (exit 1 if infeasible).

    Example: routelab check X-n101-k25.vrp X-n101-k25.sol
    """
    from routelab.data.readers import read_solution
    from routelab.problems import check as score_solution

    instance = pick_instance(instance_file, index)
    solution = read_solution(solution_file, instance)
    score = score_solution(instance, solution, str(solution_file))
    verdict = "[green]feasible[/green]" if score.feasible else "[red]infeasible[/red]"
    console.print(f"{instance.name}: {verdict}, objective {fmt_number(score.objective)}", highlight=False)
    claimed = solution.objective
    if claimed is not None and abs(claimed - score.objective) > 1e-6 * max(1.0, abs(score.objective)):
        console.print(f"[yellow]note:[/yellow] the solution claims {fmt_number(claimed)}", highlight=False)
    report_violations(score)


@app.command()
@one_line_errors
def convert(
    source: Path = typer.Argument(..., help="Input (.json, .npz, .tsp, .atsp, .vrp, Solomon .txt, TSP test set .txt)."),
    target: Path = typer.Argument(..., help="Output; the format follows the extension."),
) -> None:
    """Convert between outside formats and the shared format.

    Example: routelab convert C101.txt C101.json
    """
    from routelab.data.readers import convert as convert_file

    count = convert_file(source, target)
    console.print(f"wrote {target} ({count} instance{'s' if count != 1 else ''})")


@app.command()
@one_line_errors
def generate(
    kind: str = typer.Argument(
        ..., help="tsp, cvrp, cvrptw; atsp, acvrp, acvrptw (with --city); city-matrices; lifelong_mapf (with --map)."
    ),
    size: int | None = typer.Option(None, "--size", "-n", help="Customers (cvrp/cvrptw) or cities (tsp)."),
    count: int = typer.Option(1, "--count", "-c", help="How many instances."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    output: Path = typer.Option(..., "--output", "-o", help=".json (one), .npz (a batched dataset) or a folder."),
    asymmetric: bool = typer.Option(False, "--asymmetric", help="Asymmetric matrix instances (ATSP/ACVRP/...)."),
    option: list[str] | None = typer.Option(None, "--option", help="Generator option KEY=VALUE (repeatable)."),
    city: str | None = typer.Option(None, "--city", help="Sample from a {City}_data.npz file or a built-in city."),
    pbf: Path | None = typer.Option(None, "--pbf", help="city-matrices: an OpenStreetMap .pbf extract."),
    builtin: str | None = typer.Option(None, "--builtin", help="city-matrices: a built-in extract (helsinki)."),
    osrm: str | None = typer.Option(None, "--osrm", help="city-matrices: an OSRM server URL (needs --bbox)."),
    synthetic: int | None = typer.Option(None, "--synthetic", help="city-matrices: a procedural city's seed."),
    bbox: str | None = typer.Option(None, "--bbox", help="south,west,north,east (degrees)."),
    points: int = typer.Option(1000, "--points", help="city-matrices: road points to sample."),
    name: str | None = typer.Option(None, "--name", help="city-matrices: the city's name."),
    grid_map: Path | None = typer.Option(None, "--map", help="lifelong_mapf: a MovingAI, RHCR kiva or POGEMA map."),
    agents: int | None = typer.Option(None, "--agents", help="lifelong_mapf: number of agents."),
    horizon: int = typer.Option(256, "--horizon", help="lifelong_mapf: episode length in steps."),
    starts: str = typer.Option("random", "--starts", help="lifelong_mapf: random, homes (kiva) or scen."),
    scen: Path | None = typer.Option(None, "--scen", help="lifelong_mapf: MovingAI .scen for --starts scen."),
) -> None:
    """Generate seeded instances: uniform random ones, ones sampled from a city's road matrices, or city matrices.

    Examples: routelab generate cvrptw --size 50 --count 1000 --seed 1 -o cvrptw50.npz;
    routelab generate city-matrices --builtin helsinki --points 1000 -o Helsinki_data.npz;
    routelab generate acvrptw --city helsinki --size 100 --count 16 --seed 3333 -o helsinki-acvrptw100.npz
    """
    from routelab.cli.common import UsageError
    from routelab.data.readers import write_instances

    options = parse_options(option)
    if kind in ("lifelong_mapf", "lifelong-mapf"):
        from routelab.data.mapf_io import make_instance
        from routelab.data.readers import write_instance

        if grid_map is None or agents is None:
            raise UsageError("lifelong_mapf instances need --map FILE and --agents N")
        made = make_instance(grid_map, agents=agents, horizon=horizon, seed=seed, starts=starts, scen=scen, **options)
        write_instance(made, output)
        console.print(f"wrote {output} ({made.num_agents} agents on {made.height}x{made.width}, {made.horizon} steps)")
        return
    if kind == "city-matrices":
        from routelab.data.roads.build import build_city, parse_bbox
        from routelab.data.roads.city import save_city

        box = parse_bbox(bbox) if bbox is not None else None
        with console.status(f"sampling {points} road points and computing their matrices..."):
            made = build_city(
                points=points, seed=seed, pbf=pbf, builtin=builtin, osrm=osrm, synthetic=synthetic, bbox=box, name=name
            )
        save_city(made, output)
        console.print(f"wrote {output} ({made.name}: {made.size} points, {len(made.connected_points())} connected)")
        return
    if size is None:
        raise UsageError(f"--size is needed to generate {kind} instances")
    from routelab.data.roads.instances import ROAD_KINDS

    if kind in ROAD_KINDS or city is not None:
        if city is None:
            raise UsageError(f"{kind} instances are sampled from road matrices: give --city FILE_data.npz or helsinki")
        from routelab.data.generate import generate as make

        with console.status(f"sampling {kind} instances from {city}..."):
            instances = make(kind, size, count, seed, city=city, points=points, **options)
    else:
        from routelab.data.generate import generate as make

        if asymmetric:
            options["asymmetric"] = True
        instances = make(kind, size, count, seed, **options)
    write_instances(instances, output)
    console.print(f"wrote {len(instances)} {kind} instance(s) of size {size} to {output}")


@app.command()
def solvers() -> None:
    """List the registered solvers, the kinds they solve and what they need."""
    from routelab.solvers.registry import solver_class, solver_names

    table = Table(title="solvers")
    for column in ("name", "kinds", "needs"):
        table.add_column(column)
    for name in solver_names():
        try:
            cls = solver_class(name)
        except ImportError as exc:  # a solver whose optional dependency is missing is listed, not fatal
            table.add_row(name, "-", f"[red]unavailable: {exc}[/red]")
            continue
        table.add_row(name, ", ".join(sorted(cls.kinds)), cls.needs)
    console.print(table)


@app.command()
@one_line_errors
def plot(
    instance_file: Path = typer.Argument(..., help="Instance file."),
    solution_file: Path | None = typer.Argument(None, help="Optional solution to draw."),
    output: Path = typer.Option(..., "--output", "-o", help="PNG file to write (lifelong_mapf: also .gif/.mp4)."),
    index: int = typer.Option(0, "--index", help="Which instance of a multi-instance file."),
) -> None:
    """Draw an instance (and a solution's routes) on its coordinates; animate a lifelong_mapf episode.

    Examples: routelab plot C101.txt C101.ortools.json -o C101.png;
    routelab plot warehouse.json warehouse.follower.json -o episode.gif
    """
    from routelab.bench.plots import plot_routing
    from routelab.cli.common import UsageError
    from routelab.data.readers import read_solution

    instance = pick_instance(instance_file, index)
    solution = read_solution(solution_file, instance) if solution_file is not None else None
    if instance.kind == "lifelong_mapf":
        from routelab.bench.mapf_plots import animate_episode, plot_mapf

        if output.suffix.lower() in (".gif", ".mp4"):
            if solution is None:
                raise UsageError(f"{output}: an animation needs a solution (routelab plot INSTANCE SOLUTION -o ...)")
            animate_episode(instance, solution, output)
        else:
            plot_mapf(instance, solution, output)
    else:
        plot_routing(instance, solution, output)
    console.print(f"wrote {output}")


train_app = typer.Typer(help="Fit the models and tables that ship inside the package.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("gt-prior")
@one_line_errors
def train_gt_prior(
    sizes: str = typer.Option("100,200,500,1000,2000", "--sizes", help="Comma-separated city counts."),
    count: int = typer.Option(6, "--count", "-c", help="Generated instances per size."),
    seed: int = typer.Option(0, "--seed", help="Generator and LKH seed."),
    k: int = typer.Option(20, "--k", help="Neighbour ranks to tabulate."),
    time_limit: float = typer.Option(10.0, "--time-limit", "-t", help="LKH seconds per instance."),
    output: Path = typer.Option(..., "--output", "-o", help="Table JSON to write."),
) -> None:
    """Fit the GT-Prior rank table from LKH tours of generated uniform instances (never test sets).

    Example: routelab train gt-prior -o routelab/solvers/checkpoints/gt_prior.json
    """
    from routelab.cli.common import UsageError
    from routelab.solvers.gt_prior import fit_table, save_table

    try:
        size_list = [int(s) for s in sizes.split(",") if s.strip()]
    except ValueError:
        raise UsageError(f"--sizes {sizes!r}: expected comma-separated integers") from None
    if not size_list or min(size_list) < 4 or count < 1 or k < 1:
        raise UsageError("--sizes (>= 4 cities each), --count and --k must be positive")
    with console.status(f"solving {count} instances of each size {size_list} with LKH..."):
        table = fit_table(size_list, count, seed, k=k, time_limit=time_limit)
    save_table(table, output)
    console.print(f"wrote {output} ({table['fitted']['seconds']} s)")


@train_app.command("rrnco")
@one_line_errors
def train_rrnco(
    problem: str = typer.Option("atsp", "--problem", "-p", help="atsp, acvrp or acvrptw."),
    model: str = typer.Option("rrnco", "--model", help="rrnco, or matnet (rl4co's MatNet baseline, atsp)."),
    size: int = typer.Option(20, "--size", "-n", help="Cities (atsp) or customers (acvrp, acvrptw)."),
    epochs: int = typer.Option(10, "--epochs", help="Epochs (each of --steps batches)."),
    steps: int = typer.Option(50, "--steps", help="REINFORCE steps per epoch."),
    batch_size: int = typer.Option(64, "--batch-size", help="Instances per step (times n POMO starts)."),
    lr: float = typer.Option(3e-4, "--lr", help="Adam learning rate."),
    cities: int = typer.Option(16, "--cities", help="Procedural training cities."),
    city_points: int = typer.Option(400, "--city-points", help="Road points per training city."),
    seed: int = typer.Option(0, "--seed", help="Torch seed."),
    threads: int | None = typer.Option(None, "--threads", help="Torch CPU threads."),
    accelerator: str = typer.Option("cpu", "--accelerator", help="cpu, gpu or auto (Lightning)."),
    init: Path | None = typer.Option(None, "--init", help="Start from this checkpoint (curriculum)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --run-dir from last.ckpt."),
    run_dir: Path = typer.Option(Path("runs/train-rrnco"), "--run-dir", help="Lightning checkpoints and logs."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Export here (default: the shipped path)."),
    embed_dim: int = typer.Option(64, "--embed-dim", help="Embedding size (new models only)."),
    layers: int = typer.Option(3, "--layers", help="Encoder layers (new models only)."),
) -> None:
    """Train the RRNCO policy (REINFORCE, POMO shared baseline) on procedural cities; export a checkpoint.

    Example: routelab train rrnco --problem atsp --size 20 --epochs 10 -o rrnco-atsp.pt
    """
    from routelab.cli.common import UsageError
    from routelab.neural.rrnco.model import ENV_NAMES
    from routelab.neural.rrnco.train import TrainSettings, train

    if problem not in ENV_NAMES:
        raise UsageError(f"--problem {problem!r}: expected one of {', '.join(ENV_NAMES)}")
    if model not in ("rrnco", "matnet") or (model == "matnet" and problem != "atsp"):
        raise UsageError(f"--model {model!r}: expected rrnco (any problem) or matnet (atsp)")
    if min(size, epochs, steps, batch_size, cities, city_points) < 1 or size < 4:
        raise UsageError("--size (>= 4), --epochs, --steps, --batch-size, --cities and --city-points must be positive")
    settings = TrainSettings(
        problem=problem,
        model=model,
        size=size,
        epochs=epochs,
        steps_per_epoch=steps,
        batch_size=batch_size,
        lr=lr,
        cities=cities,
        city_points=city_points,
        seed=seed,
        threads=threads,
        accelerator=accelerator,
        init=str(init) if init else None,
        resume=resume,
        run_dir=str(run_dir),
        output=str(output) if output else None,
        config={} if init else ({"embed_dim": embed_dim, "num_layers": layers} if model == "rrnco" else {}),
    )
    out = train(settings)
    console.print(f"wrote {out}")


def main() -> None:
    app()
