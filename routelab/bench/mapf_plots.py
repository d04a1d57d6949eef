"""Drawing lifelong MAPF episodes: a static PNG of the map and plans, and an animated GIF/MP4 of the episode.

A throughput number says little about *why* a solver is slow (a corridor jam, agents circling a shelf);
watching the episode does. The animation shows what the scorer sees: each agent's position at step ``t``,
the goal it is working on, a short trail, and the goals reached so far, recomputed with the scorer's rule
(:func:`routelab.problems.mapf.score`) rather than trusted from the solver.

Rendering is built for long episodes with many agents: the map is drawn once as an image, and each frame only
moves three collections (agents, goals, trails) and the title; GIF frames are reduced to one shared 256-colour
palette as they are grabbed, so memory stays at about one byte per pixel per frame and colours do not flicker.
"""

from __future__ import annotations

import shutil
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from routelab.problems import atomic_write
from routelab.problems.errors import FormatError
from routelab.problems.mapf import LifelongMAPFInstance

# Figure layout (inches): the map keeps square cells; the strip on top holds the title.
_MAX_WIDTH_IN = 8.0
_MIN_WIDTH_IN = 3.0
_CELL_IN = 0.14
_TITLE_IN = 0.32


def episode_paths(instance: LifelongMAPFInstance, solution: Any) -> np.ndarray:
    """The solution's paths as one ``(A, L, 2)`` int64 array (a :class:`Solution`, a payload dict or the paths).

    Drawing needs every agent at every frame, so unlike the scorer (which reports them as violations) a
    missing agent or ragged path lengths are refused here with a clear error.
    """
    from routelab.problems.mapf import parse_payload

    payload = getattr(solution, "payload", solution)
    if not isinstance(payload, dict):
        payload = {"paths": payload}
    paths = parse_payload(instance.name, payload)["paths"]
    if len(paths) != instance.num_agents:
        raise FormatError(instance.name, "paths", f"one path per agent ({instance.num_agents})", len(paths))
    lengths = {len(p) for p in paths}
    if len(lengths) != 1 or 0 in lengths:
        raise FormatError(instance.name, "paths", "non-empty paths of equal length", sorted(lengths))
    return np.stack(paths).astype(np.int64)


def goal_timeline(instance: LifelongMAPFInstance, paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame, each agent's shown goal and the goals reached so far, by the scorer's rule.

    Rule (as in :func:`routelab.problems.mapf.score`): an agent standing on its current goal at the end of step
    ``t >= 1`` reaches it at step ``t``; its next goal is active from ``t + 1``. ``routelab.problems.mapf`` has
    no public helper for the reach times (the scorer inlines the loop), so it is mirrored here; a test keeps
    the two in agreement.

    Frame ``t`` shows the goal active *during* step ``t`` (frame 0: the first goal), so the frame where an
    agent reaches its goal shows it standing on its square, and the square jumps on the next frame.

    Returns:
        goals: ``(L, A, 2)`` int64, ``-1`` where the agent has no (further) goal.
        reached: ``(L,)`` int64, goals reached at steps ``1..t`` summed over agents.
    """
    num, length = paths.shape[0], paths.shape[1]
    w = instance.width
    flat = paths[..., 0] * w + paths[..., 1]
    goals = np.full((length, num, 2), -1, dtype=np.int64)
    reached = np.zeros(length, dtype=np.int64)
    for a in range(num):
        t = 1  # first step at which the current goal can be reached
        track = flat[a]
        for r, c in instance.goal_stream(a):
            # The goal is shown from frame t (frame 0 too for the first one) through its reach step.
            shown_from = 0 if t == 1 else t
            hits = np.flatnonzero(track[t:] == r * w + c) if t < length else np.zeros(0, dtype=np.int64)
            if not hits.size:
                goals[shown_from:, a] = (r, c)
                break
            t += int(hits[0])
            goals[shown_from : t + 1, a] = (r, c)
            reached[t] += 1
            t += 1
            if t >= length:
                break
    return goals, np.cumsum(reached)


def _agent_colours(num: int) -> np.ndarray:
    """``(num, 4)`` RGBA: a colormap sampled by agent index (tab10/tab20 for few agents, turbo beyond)."""
    import matplotlib

    if num <= 10:
        return matplotlib.colormaps["tab10"](np.arange(num))
    if num <= 20:
        return matplotlib.colormaps["tab20"](np.arange(num))
    return matplotlib.colormaps["turbo"](np.linspace(0.05, 0.95, num))


def _figure(instance: LifelongMAPFInstance, dpi: float) -> tuple[Any, Any, float]:
    """A figure whose axes fill it with square cells; returns ``(fig, ax, cell size in points)``.

    A fixed layout (no ``tight_layout``) keeps every frame the same size and lets marker sizes be set in
    cells, so dots look the same on a 6x6 toy and a 33x46 warehouse.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    h, w = instance.height, instance.width
    width_in = min(_MAX_WIDTH_IN, max(_MIN_WIDTH_IN, _CELL_IN * w))
    cell_in = width_in / w
    map_in = cell_in * h
    fig = Figure(figsize=(width_in, map_in + _TITLE_IN), dpi=dpi)
    FigureCanvasAgg(fig)  # an Agg canvas without pyplot: no global figure list to leak into, no GUI backend
    ax = fig.add_axes((0.0, 0.0, 1.0, map_in / (map_in + _TITLE_IN)))
    ax.imshow(
        instance.grid,
        cmap=ListedColormap(["#ffffff", "#404040"]),
        vmin=0,
        vmax=1,
        interpolation="nearest",
        extent=(-0.5, w - 0.5, h - 0.5, -0.5),
        zorder=0,
    )
    ax.set_xlim(-0.5, w - 0.5)
    ax.set_ylim(h - 0.5, -0.5)
    ax.set_axis_off()
    return fig, ax, cell_in * 72.0


def plot_mapf(instance: LifelongMAPFInstance, solution: Any | None, path: str | Path, *, dpi: float = 110) -> None:
    """Write a PNG of the map, the agents' starts (dots), first goals (squares) and, faintly, the full paths.

    The static view is for a quick look at the instance (where agents start, how crowded the map is) and,
    with a solution, at where traffic concentrates over the whole episode.
    """
    from matplotlib.collections import LineCollection

    fig, ax, cell_pt = _figure(instance, dpi)
    colours = _agent_colours(instance.num_agents)
    title = f"{instance.name}: {instance.num_agents} agents, {instance.horizon} steps"
    if solution is not None:
        paths = episode_paths(instance, solution)
        faint = colours.copy()
        faint[:, 3] = 0.3
        segments = [p[:, ::-1].astype(float) for p in paths]
        ax.add_collection(LineCollection(segments, colors=faint, linewidths=max(0.5, 0.15 * cell_pt), zorder=1))
        _, reached = goal_timeline(instance, paths)
        solver = getattr(solution, "solver", None)
        title += f" - {solver + ': ' if solver else ''}{int(reached[-1])} goals"
    first = np.array(
        [g[0] if len(g) else (-1, -1) for g in (instance.goal_sequence(a, 1) for a in range(len(colours)))]
    )
    has = first[:, 0] >= 0
    ax.scatter(
        first[has, 1],
        first[has, 0],
        s=(0.5 * cell_pt) ** 2,
        marker="s",
        c=colours[has],
        edgecolors="k",
        linewidths=0.4,
        zorder=2,
    )
    starts = instance.starts
    ax.scatter(starts[:, 1], starts[:, 0], s=(0.8 * cell_pt) ** 2, c=colours, edgecolors="k", linewidths=0.4, zorder=3)
    fig.suptitle(title, fontsize=8, y=1.0 - 0.1 * _TITLE_IN / fig.get_figheight(), va="top")
    atomic_write(path, lambda handle: fig.savefig(handle, format="png"))


def _shared_palette(frame: Any, colours: np.ndarray) -> Any:
    """A 256-colour palette image for ``frame`` that is sure to include ``colours`` (``(k, 3)`` in 0..1).

    Median cut on the frame alone would spend the palette on what frame 0 shows and merge the rarer agent
    colours; a swatch with a generous patch per colour, stacked under the frame, gives each one its weight.
    """
    from PIL import Image

    rgb = np.asarray(frame)
    rows = max(4, rgb.shape[0] // 4)
    patch = np.round(np.clip(colours, 0, 1) * 255).astype(np.uint8)
    idx = (np.arange(rgb.shape[1]) * len(patch)) // rgb.shape[1]
    swatch = np.broadcast_to(patch[idx][None], (rows, rgb.shape[1], 3))
    return Image.fromarray(np.concatenate([rgb, swatch])).quantize(colors=256, method=Image.Quantize.MEDIANCUT)


def _palette_writer(fps: float, colours: np.ndarray) -> Any:
    """A ``PillowWriter`` whose frames are quantised to one shared palette as they are grabbed.

    The stock writer keeps every frame as RGB(A) until the end (3-4 bytes per pixel per frame) and lets Pillow
    pick a palette per frame, which makes colours shimmer between frames. Here the first frame (the map, every
    agent and goal colour) plus a swatch of ``colours`` (``(k, 3)`` floats in 0..1: agents and their trails,
    which frame 0 does not show yet) fixes a 256-colour palette, and each later frame is mapped onto it without
    dithering as soon as it is grabbed: one byte per pixel, stable colours, and a smaller file.
    """
    from matplotlib.animation import PillowWriter
    from PIL import Image

    class PalettePillowWriter(PillowWriter):
        palette: Any = None

        def grab_frame(self, **savefig_kwargs: Any) -> None:
            buf = BytesIO()
            self.fig.savefig(buf, **{**savefig_kwargs, "format": "rgba", "dpi": self.dpi})
            rgb = Image.frombuffer("RGBA", self.frame_size, buf.getbuffer(), "raw", "RGBA", 0, 1).convert("RGB")
            if self.palette is None:
                self.palette = _shared_palette(rgb, colours)
            self._frames.append(rgb.quantize(palette=self.palette, dither=Image.Dither.NONE))

    return PalettePillowWriter(fps=fps)


def animate_episode(
    instance: LifelongMAPFInstance,
    solution: Any,
    path: str | Path,
    *,
    fps: float = 8,
    max_steps: int | None = None,
    trail: int = 4,
    dpi: float = 80,
) -> int:
    """Write an animated GIF (or an MP4 when ``path`` ends in .mp4 and ffmpeg exists) of the episode.

    One frame per step ``t = 0..n`` with ``n = min(horizon, path length - 1, max_steps)``: obstacles, agents as
    coloured dots, each agent's current goal as a square of its colour, its last ``trail`` moves as a fading
    line, and a title with the step and the goals reached so far. Returns the number of frames written.
    """
    from matplotlib.animation import FuncAnimation
    from matplotlib.collections import LineCollection

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise FormatError(str(path), "output", "a .gif or .mp4 file for an animation", suffix or "no suffix")
    if suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise FormatError(str(path), "output", "a .gif (ffmpeg is not installed, so .mp4 cannot be written)", ".mp4")
    if fps <= 0 or trail < 0 or (max_steps is not None and max_steps < 0):
        raise FormatError(str(path), "options", "fps > 0, trail >= 0 and max_steps >= 0", (fps, trail, max_steps))

    paths = episode_paths(instance, solution)
    steps = min(instance.horizon, paths.shape[1] - 1, max_steps if max_steps is not None else paths.shape[1])
    paths = paths[:, : steps + 1]
    goals, reached = goal_timeline(instance, paths)
    xy = paths[..., ::-1].astype(float)  # (A, L, 2) as (x = col, y = row)
    goal_xy = goals[..., ::-1].astype(float)  # (L, A, 2)
    goal_xy[goals[..., 0] < 0] = np.nan  # no goal: NaN offsets are not drawn

    fig, ax, cell_pt = _figure(instance, dpi)
    colours = _agent_colours(instance.num_agents)
    # Trails pre-blended onto the white floor (opaque): the GIF palette can then hold their exact colours.
    fading = colours.copy()
    fading[:, :3] = 0.45 * colours[:, :3] + 0.55
    trails = LineCollection([], colors=fading, linewidths=max(0.6, 0.25 * cell_pt), capstyle="round", zorder=1)
    ax.add_collection(trails)
    goal_dots = ax.scatter(
        goal_xy[0, :, 0],
        goal_xy[0, :, 1],
        s=(0.5 * cell_pt) ** 2,
        marker="s",
        c=colours,
        edgecolors="k",
        linewidths=0.4,
        zorder=2,
    )
    agents = ax.scatter(
        xy[:, 0, 0], xy[:, 0, 1], s=(0.8 * cell_pt) ** 2, c=colours, edgecolors="k", linewidths=0.4, zorder=3
    )
    title = fig.text(
        0.5, 1.0 - 0.5 * _TITLE_IN / fig.get_figheight(), "", ha="center", va="center", fontsize=8, family="monospace"
    )
    width = len(str(steps))

    def update(t: int) -> tuple[Any, ...]:
        agents.set_offsets(xy[:, t])
        goal_dots.set_offsets(goal_xy[t])
        trails.set_segments(list(xy[:, max(0, t - trail) : t + 1]) if trail and t else [])
        title.set_text(f"{instance.name}  step {t:>{width}}/{steps}  goals {int(reached[t])}")
        return trails, goal_dots, agents, title

    # No blit: Animation.save redraws the whole figure for every frame anyway, and blitting would mark the
    # updated artists "animated", which keeps the figure-level title out of saved frames. What keeps frames
    # cheap is that only these four artists change; the map image and axes are built once.
    anim = FuncAnimation(fig, update, frames=steps + 1, blit=False, repeat=False, cache_frame_data=False)
    if suffix == ".gif":
        writer = _palette_writer(fps, np.concatenate([colours[:, :3], fading[:, :3]]))
    else:
        from matplotlib.animation import FFMpegWriter

        writer = FFMpegWriter(fps=fps)
    # Render to a temporary file next to the target and rename it, so a failed run leaves no half a GIF.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.part{suffix}")
    try:
        anim.save(str(tmp), writer=writer, dpi=dpi)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return steps + 1
