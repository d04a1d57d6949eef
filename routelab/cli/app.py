"""The ``routelab`` command line: thin wrappers over library functions, one-line errors, rich tables."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from routelab.cli.bench import bench_app
from routelab.cli.common import (
    UsageError,
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
    try:
        engine = get_solver(solver, **parse_options(option))
    except (TypeError, ValueError) as exc:  # an option the solver does not take, or a bad value for one
        raise UsageError(f"--option for {solver}: {exc}") from None
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
        ...,
        help="tsp, cvrp, cvrptw; atsp, acvrp, acvrptw (with --city); city-matrices; lifelong_mapf (with --map); "
        "network_design, ue-dataset (with --net); coordination (--size robots, optional --map).",
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
    net: str | None = typer.Option(None, "--net", help="network_design: a *_net.tntp (trips beside it)."),
    label: str | None = typer.Option(None, "--label", help="coordination: label with this solver (milp) too."),
    label_time_limit: float = typer.Option(30.0, "--label-time-limit", help="--label: seconds per instance."),
    workers: int | None = typer.Option(None, "--workers", help="--label: parallel jobs (default: all cores)."),
) -> None:
    """Generate seeded instances: uniform random ones, ones sampled from a city's road matrices, or city matrices.

    Examples: routelab generate cvrptw --size 50 --count 1000 --seed 1 -o cvrptw50.npz;
    routelab generate city-matrices --builtin helsinki --points 1000 -o Helsinki_data.npz;
    routelab generate acvrptw --city helsinki --size 100 --count 16 --seed 3333 -o helsinki-acvrptw100.npz;
    routelab generate network_design --net network_design/tntp/SiouxFalls/SiouxFalls_net.tntp
    --option variant=lane-add --option lanes=2 --option budget=0.5 -o sf-add2-b50.json;
    routelab generate coordination --size 10 --count 100 --seed 1 --label milp -o coord10.npz
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
    if kind == "ue-dataset":  # surrogate training data: routelab generate ue-dataset --net SiouxFalls -c 2000 -o sf.npz
        from rich.progress import Progress

        from routelab.traffic.ue_dataset import make_ue_dataset

        if net is None:
            raise UsageError("ue-dataset needs --net (a *_net.tntp file or a network name such as SiouxFalls)")
        known = {"gap", "swap_share", "backend", "address", "labeller"}
        if set(options) - known:
            raise UsageError(f"ue-dataset options: {', '.join(sorted(known))}; got {sorted(set(options) - known)}")
        with Progress(console=console) as bar:
            task = bar.add_task(f"labelling {count} UE samples of {net}", total=count)
            header = make_ue_dataset(
                net,
                count,
                seed,
                output,
                workers=workers,
                progress=lambda done, total: bar.update(task, completed=done),
                **options,
            )
        console.print(f"wrote {output} ({header['count']} samples of {header['network']}, {header['seconds']} s)")
        return
    if kind == "network_design":  # e.g. --net SiouxFalls_net.tntp --option variant=lane-add --option budget=0.5
        from routelab.data.generate import generate as make

        instances = make(kind, size, count, seed, net=net, **options)
        write_instances(instances, output)
        console.print(f"wrote {len(instances)} {kind} instance(s) on {net} to {output}")
        return
    if size is None:
        raise UsageError(f"--size is needed to generate {kind} instances")
    if label is not None and kind != "coordination":
        raise UsageError("--label is available for coordination datasets")
    if kind == "coordination" and grid_map is not None:
        options["map"] = str(grid_map)
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
        try:
            instances = make(kind, size, count, seed, **options)
        except (ValueError, TypeError) as exc:  # an unknown kind or option, a bad value: the generator says which
            raise UsageError(str(exc)) from None
    write_instances(instances, output)
    console.print(f"wrote {len(instances)} {kind} instance(s) of size {size} to {output}")
    if label is not None:
        from routelab.bench.coordination_labels import label_coordination
        from routelab.cli.common import job_progress

        with job_progress(f"labelling with {label}") as progress:
            out = label_coordination(
                output, label, time_limit=label_time_limit, workers=workers, progress=progress, instances=instances
            )
        console.print(f"wrote labels {out} (rerun the same command to resume an interrupted labelling)")


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
    nodes: Path | None = typer.Option(None, "--nodes", help="network_design: a TNTP *_node.tntp for positions."),
) -> None:
    """Draw an instance (and a solution's routes) on its coordinates; animate a lifelong_mapf episode.

    Examples: routelab plot C101.txt C101.ortools.json -o C101.png;
    routelab plot warehouse.json warehouse.follower.json -o episode.gif;
    routelab plot sf50.json sf50.ga.json --nodes SiouxFalls_node.tntp -o sf50-flows.png
    """
    from routelab.bench.plots import plot_routing
    from routelab.cli.common import UsageError
    from routelab.data.readers import read_solution

    instance = pick_instance(instance_file, index)
    solution = read_solution(solution_file, instance) if solution_file is not None else None
    if instance.kind == "network_design":  # UE flows and volume/capacity of the built network
        from routelab.bench.network_plots import plot_network_design
        from routelab.data.tntp import is_tntp_net, nodes_path_for, read_tntp_nodes

        if nodes is None and is_tntp_net(instance_file) and nodes_path_for(instance_file).exists():
            nodes = nodes_path_for(instance_file)
        coords = read_tntp_nodes(nodes, instance.num_nodes) if nodes is not None else None
        drawn = plot_network_design(instance, solution, output, coords=coords)
        console.print(f"wrote {output} (TSTT {drawn['tstt']:,.0f}, largest volume/capacity {drawn['max_vc']:.2f})")
        return
    if instance.kind == "coordination":  # roadmap with paths + Gantt chart of the scorer's schedule
        from routelab.bench.coordination_plots import plot_coordination

        plot_coordination(instance, solution, output)
        console.print(f"wrote {output}")
        return
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


@train_app.command("follower")
@one_line_errors
def train_follower(
    steps: int = typer.Option(10_000_000, "--steps", help="Agent-steps (samples) to collect in total."),
    time_limit: float | None = typer.Option(None, "--time-limit", "-t", help="Stop after this many wall seconds."),
    agents: str = typer.Option("16,32,64,96", "--agents", help="Comma-separated agent counts, one env each."),
    rollout: int = typer.Option(32, "--rollout", help="Steps per environment per PPO iteration."),
    lr: float = typer.Option(1e-3, "--lr", help="Initial Adam learning rate (decays linearly to --lr-final)."),
    lr_final: float = typer.Option(1e-4, "--lr-final", help="Final learning rate."),
    seed: int = typer.Option(0, "--seed", help="Map, start, goal and torch seed."),
    threads: int = typer.Option(1, "--threads", help="Torch CPU threads."),
    checkpoint_every: int = typer.Option(10, "--checkpoint-every", help="Iterations between run-dir checkpoints."),
    run_dir: Path = typer.Option(Path("runs/train-follower"), "--run-dir", help="last.pt lives here (resume)."),
    resume: bool = typer.Option(False, "--resume", help="Continue from --run-dir/last.pt."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Export here (default: the shipped path)."),
) -> None:
    """Train the learned Follower (FollowerLite-like CNN) with PPO in the MAPF simulator, on CPU.

    Example: nice -n 10 routelab train follower --time-limit 1800 --threads 1 -o follower_lite.pt
    """
    import shlex
    import sys

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from routelab.cli.common import UsageError
    from routelab.mapf.learned import DEFAULT_CHECKPOINT
    from routelab.mapf.ppo import TrainConfig, train

    try:
        counts = tuple(int(s) for s in agents.split(",") if s.strip())
    except ValueError:
        raise UsageError(f"--agents {agents!r}: expected comma-separated integers") from None
    if not counts or min(counts) < 1 or min(steps, rollout, threads, checkpoint_every) < 1:
        raise UsageError("--agents, --steps, --rollout, --threads and --checkpoint-every must be positive")
    cfg = TrainConfig(
        total_steps=steps,
        time_limit=time_limit,
        agents=counts,
        rollout=rollout,
        lr=lr,
        lr_final=lr_final,
        seed=seed,
        threads=threads,
        checkpoint_every=checkpoint_every,
    )
    out = output or DEFAULT_CHECKPOINT
    command = "routelab " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    columns = (BarColumn(), TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps"), TimeElapsedColumn())
    with Progress(
        TextColumn("[bold]PPO follower"), *columns, TextColumn("{task.fields[last]}"), console=console
    ) as bar:
        task = bar.add_task("ppo", total=steps, last="")

        def progress(iteration: int, point: dict) -> None:
            last = f"it {iteration} reward {point['reward']:.3f} goals/agent-step {point['goals_per_agent_step']:.4f}"
            bar.update(task, completed=point["steps"], last=last)

        record = train(cfg, out, run_dir=run_dir, resume=resume, command=command, progress=progress)
    console.print(f"wrote {out} ({record['steps']:,} steps, {record['iterations']} iterations, {record['wall_s']} s)")


@train_app.command("ue-gnn")
@one_line_errors
def train_ue_gnn(
    net: str = typer.Option(..., "--net", help="The network: a *_net.tntp or a name (SiouxFalls)."),
    dataset: Path = typer.Option(..., "--dataset", help="A UE dataset from `routelab generate ue-dataset`."),
    output: Path = typer.Option(..., "--output", "-o", help="Checkpoint (.pt) to write."),
    epochs: int = typer.Option(200, "--epochs", help="Most epochs."),
    minutes: float = typer.Option(20.0, "--minutes", help="Wall-clock budget; the learning rate anneals within it."),
    batch_size: int = typer.Option(32, "--batch-size", help="Samples per step."),
    lr: float = typer.Option(2e-3, "--lr", help="AdamW learning rate."),
    hidden: int = typer.Option(64, "--hidden", help="Hidden width."),
    layers: int = typer.Option(4, "--layers", help="Message-passing layers."),
    seed: int = typer.Option(0, "--seed", help="Split and torch seed."),
    threads: int = typer.Option(1, "--threads", help="Torch CPU threads."),
) -> None:
    """Train the GNN surrogate of UE link flows for one network (the fitness of the `ga` solver).

    Example: routelab train ue-gnn --net SiouxFalls --dataset sf.npz -o routelab/traffic/checkpoints/SiouxFalls.pt
    """
    import sys

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from routelab.cli.common import UsageError
    from routelab.traffic.surrogate_train import TrainSettings, save_record_markdown, train_surrogate

    if min(epochs, batch_size, hidden, layers, threads) < 1 or minutes <= 0 or lr <= 0:
        raise UsageError("--epochs, --batch-size, --hidden, --layers, --threads, --minutes and --lr must be positive")
    settings = TrainSettings(
        net=net,
        dataset=str(dataset),
        output=str(output),
        epochs=epochs,
        minutes=minutes,
        batch_size=batch_size,
        lr=lr,
        hidden=hidden,
        layers=layers,
        seed=seed,
        threads=threads,
        command="routelab " + " ".join(sys.argv[1:]),
    )
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(f"training ue-gnn on {net}", total=epochs, info="")

        def step(epoch: int, total: int, point: dict[str, float]) -> None:
            info = f"val TSTT MAPE {point['val_tstt_mape']:.2%}, flow MAPE {point['val_flow_mape']:.2%}"
            bar.update(task, completed=epoch, info=info)

        try:
            record = train_surrogate(settings, step)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    console.print(save_record_markdown(record), highlight=False)
    console.print(f"wrote {output}")


@train_app.command("gnnvae")
@one_line_errors
def train_gnnvae(
    robots: str = typer.Option("5-25", "--robots", help="Robot counts of the training floors, LO-HI."),
    count: int = typer.Option(600, "--count", "-c", help="Instances to generate and label with the MILP."),
    time_limit: float = typer.Option(5.0, "--time-limit", "-t", help="MILP seconds per labelled instance."),
    epochs: int = typer.Option(40, "--epochs", help="Training epochs."),
    seed: int = typer.Option(0, "--seed", help="Generator, split and torch seed."),
    workers: int = typer.Option(2, "--workers", "-w", help="Parallel MILP labelling jobs (local pool)."),
    threads: int = typer.Option(1, "--threads", help="Torch CPU threads."),
    max_train_seconds: float | None = typer.Option(None, "--max-train-seconds", help="Stop training after this."),
    data_dir: Path = typer.Option(Path("runs/gnnvae-data"), "--data-dir", help="Instances and labels (resumable)."),
    run_dir: Path = typer.Option(Path("runs/train-gnnvae"), "--run-dir", help="last.pt lives here (resume)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the training in --run-dir from last.pt."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Export here (default: the shipped path)."),
    finetune: bool = typer.Option(
        False, "--finetune", help="Fine-tune --init by policy gradient on fresh floors of --robots (no MILP labels)."
    ),
    init: Path | None = typer.Option(
        None, "--init", help="With --finetune: start from this checkpoint (default: shipped)."
    ),
    steps: int = typer.Option(8000, "--steps", help="With --finetune: policy-gradient steps (one fresh floor each)."),
    samples: int = typer.Option(16, "--samples", help="With --finetune: samples per floor (K of the shared baseline)."),
) -> None:
    """Generate small floors, label them with the MILP (resumable), and train the coordination GNN-VAE; or, with
    --finetune, fine-tune a checkpoint on the dispatch objective by REINFORCE (routelab.coordination.finetune).

    Example: nice -n 10 routelab train gnnvae --robots 5-25 --count 600 --time-limit 5 --epochs 40 -o gnnvae.pt
    Fine-tuning: nice -n 10 routelab train gnnvae --finetune --robots 20-200 --steps 8000 --max-train-seconds 1200
    --init gnnvae_cvae.pt -o gnnvae.pt
    """
    import shlex

    if finetune:
        _finetune_gnnvae(robots, steps, samples, seed, threads, max_train_seconds, init, output)
        return

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from routelab.cli.common import UsageError
    from routelab.coordination.dataset import parse_robot_range
    from routelab.coordination.gnnvae import DEFAULT_CHECKPOINT
    from routelab.coordination.train import TrainConfig, train

    try:
        lo_hi = parse_robot_range(robots)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    cfg = TrainConfig(
        robots=lo_hi,
        count=count,
        time_limit=time_limit,
        epochs=epochs,
        seed=seed,
        workers=workers,
        threads=threads,
        max_train_seconds=max_train_seconds,
    )
    try:
        cfg.check()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out = output or DEFAULT_CHECKPOINT
    # The record's command is rebuilt from the parsed options (sys.argv is not the command under a test runner).
    parts = ["routelab train gnnvae", f"--robots {robots}", f"--count {count}", f"--time-limit {time_limit:g}"]
    parts += [f"--epochs {epochs}", f"--seed {seed}", f"--workers {workers}", f"--threads {threads}"]
    if max_train_seconds is not None:
        parts.append(f"--max-train-seconds {max_train_seconds:g}")
    parts += [f"--data-dir {shlex.quote(str(data_dir))}", f"--run-dir {shlex.quote(str(run_dir))}"]
    command = " ".join([*parts, *(["--resume"] if resume else []), f"-o {shlex.quote(str(out))}"])
    columns = (BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[last]}"))
    with Progress(TextColumn("[bold]{task.description}"), *columns, console=console) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int, info: dict) -> None:
            if stage not in tasks:
                title = "MILP labels" if stage == "label" else "GNN-VAE epochs"
                tasks[stage] = bar.add_task(title, total=total, last="")
            if stage == "train":
                last = f"loss {info['loss']:.4f} acc {info['accuracy']:.3f}"
                if "val_ratio" in info:
                    last += f" val ratio {info['val_ratio']:.4f}"
            else:
                last = str(info.get("last", ""))
            bar.update(tasks[stage], completed=done, total=total, last=last)

        record = train(cfg, out, data_dir=data_dir, run_dir=run_dir, resume=resume, command=command, progress=progress)
    val = record["validation"]
    console.print(
        f"wrote {out} ({record['data']['train']} training / {record['data']['validation']} validation instances, "
        f"{record['epochs_run']} epochs, {record['train_wall_s']} s; validation ratio vs MILP "
        f"{val.get('val_ratio', float('nan')):.4f}, FCFS {val['fcfs_ratio']:.4f})"
    )


def _finetune_gnnvae(
    robots: str,
    steps: int,
    samples: int,
    seed: int,
    threads: int,
    max_seconds: float | None,
    init: Path | None,
    output: Path | None,
) -> None:
    """``routelab train gnnvae --finetune``: REINFORCE on the dispatch objective, exported with its record."""
    import shlex

    from routelab.cli.common import UsageError
    from routelab.coordination.dataset import parse_robot_range
    from routelab.coordination.finetune import FinetuneConfig, finetune_checkpoint
    from routelab.coordination.gnnvae import DEFAULT_CHECKPOINT

    try:
        cfg = FinetuneConfig(
            robots=parse_robot_range(robots),
            steps=steps,
            samples=samples,
            seed=seed,
            threads=threads,
            max_seconds=max_seconds,
        )
        cfg.check()
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    out = output or DEFAULT_CHECKPOINT
    parts = ["routelab train gnnvae --finetune", f"--robots {robots}", f"--steps {steps}", f"--samples {samples}"]
    parts += [f"--seed {seed}", f"--threads {threads}"]
    if max_seconds is not None:
        parts.append(f"--max-train-seconds {max_seconds:g}")
    if init is not None:
        parts.append(f"--init {shlex.quote(str(init))}")
    command = " ".join([*parts, f"-o {shlex.quote(str(out))}"])

    def progress(step: int, point: dict) -> None:
        def pct(value: float | None) -> str:
            return "n/a" if value is None else f"{value:+.3f}"

        samples = f"samples {pct(point['train_mean_pct'])} % vs dynamic FCFS (best {pct(point['train_best_pct'])})"
        val = f"validation best-of-K {pct(point['val_best_pct'])} %"
        console.print(f"step {step}: {samples}, noise {point['sigma']:.3f}, {val}, {point['wall_s']} s")

    record = finetune_checkpoint(init, out, cfg, command=command, progress=progress)
    console.print(
        f"wrote {out} ({record['steps_run']} steps, {record['wall_s']} s; best validation step {record['best_step']}: "
        f"{record['best_val_best_pct']:+.3f} % against dynamic FCFS)"
    )


def main() -> None:
    app()
