"""Browser visualisation of the platform: two designs side by side on the same people, or one world.

Start it with ``python -m socialsim.viz`` (or ``solara run src/socialsim/app.py``) and open the address it prints.

The page is built from Mesa 3.5's visualisation parts (its lever inputs and step display) and Solara, in two
named tabs; in both, lever changes apply on Reset, and Play draws every step (see :func:`_Controller`).

* **Compare two designs** (:class:`AppCompareModel`, a :class:`~socialsim.compare.CompareModel`): worlds A and B
  built from the same people and seed, each with its own design levers above its network; one Reset / Play /
  Step for both. A preset (:data:`socialsim.compare.PRESETS`) sets both worlds' levers at once. The follow
  networks are light SVG drawings (:mod:`socialsim.svg`) with the same positions for the same person; below them
  the headline metrics of both worlds on shared axes, followers by skill quartile, and a computed verdict.
* **One world** (:class:`AppModel`): the sidebar holds the levers (population size, openness, recommender,
  timeline ordering, reshares, meetup rate, elite early adoption, elite exit rate, exit rule, minority share and
  homophily, seed); the follow network (nodes coloured by skill quartile, town or group, sized by followers,
  offline ties thick and red, online follows thin and grey; or follows coloured by how they began), beyond
  ``NETWORK_MAX_NODES`` members the top accounts by followers plus a stable random sample; line plots of the
  headline metrics read from the model's ``datacollector``; followers by skill quartile; the latest values.

Both models are built from flat keyword arguments (the controls, whose names cannot contain dots). Their
defaults are those of :class:`~socialsim.params.Params`, the same as the command line, except the population
size: the page starts at ``APP_POPULATION_SIZE`` (500) people per world, so it stays responsive.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
import warnings
from html import escape

import ipyvue
import numpy as np
import reacton.core
import solara
import traitlets
import solara.server.settings
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter
from mesa.visualization import Slider
from mesa.visualization.solara_viz import ModelCreator, ShowSteps
from mesa.visualization.utils import force_update, update_counter

from socialsim.compare import (APP_POPULATION_SIZE, DEFAULTS, PRESET_NAMES, PRESETS, CompareModel, preset_named,
                               verdict)
from socialsim.graph import ORIGINS
from socialsim.model import PlatformModel
from socialsim.params import EXIT_RULES, RECOMMENDERS, TIMELINES
from socialsim.svg import (COLOUR_BY, GROUP_COLOURS, OFFLINE_EDGE, ONLINE_EDGE, ORIGIN_COLOURS, QUARTILE_COLOURS,
                           QUARTILE_LABELS, NetworkSample, headline_metrics, legend_html, metric_svg, network_caption,
                           network_svg, quartile_svg)

NETWORK_MAX_NODES = 200  # most members drawn in the network
NETWORK_TOP = 50  # of which the top accounts by followers; the rest a stable random sample
LAYOUT_ITERATIONS = 30  # spring-layout iterations for newly placed nodes (old nodes stay where they are)
LAYOUT_K = 0.08  # spring-layout optimal distance, kept fixed so the drawing keeps its scale as it grows
LAYOUT_GRAVITY = 0.1  # pull of new nodes to the centre: the drawing grows like (nodes) ** (1/3)


# headline metrics, drawn in panels: (title, metrics)
METRIC_PANELS = (
    ("Follower inequality", ("gini_followers", "top1_share_followers")),
    ("Who gets followed (Spearman)", ("spearman_skill_followers", "spearman_reach_followers")),
    ("Connection and intimacy", ("low_skill_connected_share", "intimacy_gap")),
    ("Offline ties per member", ("offline_ties_per_member",)),
)
HEADLINE_METRICS = tuple(name for _, names in METRIC_PANELS for name in names)


class AppModel(PlatformModel):
    """A :class:`PlatformModel` built from the page's flat controls.

    Every argument maps to one dotted parameter (``size`` -> ``population.size``, ``meetup_rate`` ->
    ``meetups.rate`` ...); defaults are :class:`Params`' defaults except ``size`` (``APP_POPULATION_SIZE``).
    The model stops (``running = False``) after ``steps`` steps, like a command-line run.
    """

    def __init__(
        self,
        size: int = APP_POPULATION_SIZE,
        openness: float = DEFAULTS.platform.openness,
        recommender: str = DEFAULTS.platform.recommender,
        timeline: str = DEFAULTS.platform.timeline,
        reshares: bool = DEFAULTS.platform.reshares,
        meetup_rate: float = DEFAULTS.meetups.rate,
        elite_early_adoption: float = DEFAULTS.adoption.elite_early_adoption,
        elite_exit_rate: float = DEFAULTS.leaving.elite_exit_rate,
        minority_share: float = DEFAULTS.population.minority_share,
        homophily: float = DEFAULTS.population.homophily,
        exit_rule: str = DEFAULTS.leaving.exit_rule,
        seed: int | str = DEFAULTS.seed,
        steps: int = DEFAULTS.run.steps,
    ):
        seed, self.notice = _seed(seed)  # a typo in the page's seed box must not break the page
        super().__init__(
            population__size=int(size),
            platform__openness=float(openness),
            platform__recommender=recommender,
            platform__timeline=timeline,
            platform__reshares=bool(reshares),
            meetups__rate=float(meetup_rate),
            adoption__elite_early_adoption=float(elite_early_adoption),
            leaving__elite_exit_rate=float(elite_exit_rate),
            population__minority_share=float(minority_share),
            population__homophily=float(homophily),
            leaving__exit_rule=exit_rule,
            seed=seed,
            run__steps=int(steps),
        )
        self.view = NetworkView(self)
        self.running = self.steps < self.params.run.steps

    def step(self) -> None:
        """One step of the model; the page stops playing at ``run.steps``."""
        super().step()
        if self.steps >= self.params.run.steps:
            self.running = False


def _seed(value: int | str) -> tuple[int, str | None]:
    """(seed, notice): a whole number >= 0 typed in the page; otherwise the default seed and a notice saying so."""
    try:
        seed = int(str(value).strip())
    except ValueError:
        seed = -1
    if seed < 0:
        return DEFAULTS.seed, f"seed must be a whole number >= 0, got {value!r}; used {DEFAULTS.seed}"
    return seed, None


# --- the network: a stable sample and a cached layout ---------------------------------------------------------


class NetworkView:
    """Which members the network drawing shows, and where; kept between steps so nodes do not jump.

    The random part of the sample and the layout use their own generator: drawing never touches the model's rng.
    """

    def __init__(self, model: PlatformModel, max_nodes: int = NETWORK_MAX_NODES, top: int = NETWORK_TOP):
        self.model = model
        self.max_nodes = max_nodes
        self.top = min(top, max_nodes)
        rng = np.random.default_rng([model.params.seed, 7])
        self.key = rng.random(model.state.pop.size)  # a fixed random rank per person: a stable random sample
        self.layout_rng = rng
        self.pos: dict[int, np.ndarray] = {}
        self.metrics_figure = None  # the MetricsFigure of this model, made on first use

    def sample(self) -> tuple[np.ndarray, int]:
        """(ids of the members to draw, number of members)."""
        state = self.model.state
        members = state.members()
        if members.size <= self.max_nodes:
            return members, members.size
        followers = state.graph.in_deg[members]
        by_followers = np.lexsort((members, -followers))  # most followers first, ties by id: deterministic
        top = members[by_followers[: self.top]]
        rest = members[by_followers[self.top:]]
        rest = rest[np.argsort(self.key[rest], kind="stable")[: self.max_nodes - self.top]]
        return np.sort(np.concatenate([top, rest])), members.size

    def edges(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(follower, followee, met) of the live follows among ``nodes``."""
        src, dst, met, _ = self.edges_with_origin(nodes)
        return src, dst, met

    def edges_with_origin(self, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(follower, followee, met, origin code) of the live follows among ``nodes``."""
        g = self.model.state.graph
        slots = g.alive_index()
        src, dst = g.src[slots], g.dst[slots]
        shown = np.zeros(self.model.state.pop.size, bool)
        shown[nodes] = True
        keep = shown[src] & shown[dst]
        return (src[keep].astype(np.int64), dst[keep].astype(np.int64), g.met[slots][keep].astype(bool),
                g.origin[slots][keep].astype(np.int64))

    def layout(self, nodes: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Positions (len(nodes), 2): cached ones stay; new nodes start near their placed neighbours and relax."""
        import networkx as nx

        new = [int(i) for i in nodes if int(i) not in self.pos]
        if new:
            placed = np.array([self.pos[int(i)] for i in nodes if int(i) in self.pos]).reshape(-1, 2)
            lo, hi = (placed.min(0), placed.max(0)) if len(placed) else (np.array([-1.0, -1.0]), np.array([1.0, 1.0]))
            neighbours: dict[int, list[int]] = {}
            for a, b in zip(src.tolist(), dst.tolist()):
                neighbours.setdefault(a, []).append(b)
                neighbours.setdefault(b, []).append(a)
            start: dict[int, np.ndarray] = {}
            for i in new:
                near = [self.pos[j] for j in neighbours.get(i, ()) if j in self.pos]
                if near:
                    start[i] = np.mean(near, axis=0) + self.layout_rng.normal(0.0, LAYOUT_K, 2)
                else:
                    start[i] = lo + (hi - lo) * self.layout_rng.random(2)
            if len(new) == len(nodes):  # the first drawing: lay out everyone
                graph = nx.Graph()
                graph.add_nodes_from(int(i) for i in nodes)
                graph.add_edges_from(zip(src.tolist(), dst.tolist()))
                scale = LAYOUT_K * (len(nodes) / LAYOUT_GRAVITY) ** (1 / 3)  # the size later growth keeps
                pos = nx.spring_layout(graph, iterations=50, scale=scale, seed=int(self.layout_rng.integers(2**31)))
            else:
                pos = _relax_new(nodes, new, {**self.pos, **start}, src, dst)
            for i in new:
                self.pos[i] = np.asarray(pos[i], float)
        return np.array([self.pos[int(i)] for i in nodes]).reshape(-1, 2)


def _relax_new(nodes, new, pos, src, dst, k=LAYOUT_K, iterations=LAYOUT_ITERATIONS) -> dict:
    """Fruchterman-Reingold moves for the ``new`` nodes only; every other node stays put.

    Costs (new nodes) x (nodes) per iteration, so a step with a few joiners is cheap at any sample size.
    """
    nodes = [int(i) for i in nodes]
    where = {i: j for j, i in enumerate(nodes)}
    xy = np.array([pos[i] for i in nodes], float)
    mov = np.array([where[i] for i in new])
    adj = np.zeros((mov.size, len(nodes)))
    row = np.full(len(nodes), -1)
    row[mov] = np.arange(mov.size)
    a, b = np.array([where[int(i)] for i in src], int), np.array([where[int(i)] for i in dst], int)
    for x, y in ((a, b), (b, a)):
        sel = row[x] >= 0
        adj[row[x[sel]], y[sel]] = 1.0
    fixed = np.ones(len(nodes), bool)
    fixed[mov] = False
    centre = np.median(xy[fixed], axis=0) if fixed.any() else np.zeros(2)
    temperature = 2.5 * k
    cool = temperature / (iterations + 1)
    for _ in range(iterations):
        delta = xy[mov, None, :] - xy[None, :, :]
        dist = np.maximum(np.linalg.norm(delta, axis=-1), 0.01 * k)
        disp = np.einsum("ijk,ij->ik", delta, k * k / dist**2 - adj * dist / k)
        off = xy[mov] - centre  # a weak pull to the centre keeps nodes without shown ties from drifting away
        disp -= LAYOUT_GRAVITY * off * np.linalg.norm(off, axis=-1, keepdims=True) / k
        length = np.maximum(np.linalg.norm(disp, axis=-1), 0.01 * k)
        xy[mov] += disp * (np.minimum(length, temperature) / length)[:, None]
        temperature -= cool
    return {i: xy[where[i]] for i in new}


def draw_network(model: AppModel, colour_by: str = "skill quartile") -> Figure:
    """The follow network (a sample beyond NETWORK_MAX_NODES members) as a matplotlib figure.

    ``colour_by`` is one of ``COLOUR_BY``: nodes by skill quartile, town or group (offline ties red), or the
    follows by their origin (nodes then by group)."""
    view, state = model.view, model.state
    nodes, n_members = view.sample()
    src, dst, met, origin = view.edges_with_origin(nodes)
    xy = view.layout(nodes, src, dst)
    index = np.full(state.pop.size, -1, np.int64)
    index[nodes] = np.arange(nodes.size)

    fig = _figure(6.4, 5.4)
    ax = fig.add_axes((0.01, 0.13, 0.98, 0.77))
    ax.set_axis_off()
    if nodes.size:
        xy = _clamp_outliers(xy)
        seg = np.stack([xy[index[src]], xy[index[dst]]], axis=1)
        if colour_by == "tie origin":
            ax.add_collection(LineCollection(seg, colors=np.array(ORIGIN_COLOURS)[origin], linewidths=0.8,
                                             alpha=0.7, zorder=1))
        else:
            ax.add_collection(LineCollection(seg[~met], colors=ONLINE_EDGE, linewidths=0.4, alpha=0.35, zorder=1))
            ax.add_collection(LineCollection(seg[met], colors=OFFLINE_EDGE, linewidths=1.6, alpha=0.8, zorder=2))
        followers = state.graph.in_deg[nodes].astype(float)
        sizes = 6 + 150 * np.sqrt(followers / max(followers.max(), 1.0))
        if colour_by == "town":
            towns = state.pop.town[nodes]
            colours = [_town_colour(t) for t in towns]
        elif colour_by in ("group", "tie origin"):
            colours = np.array(GROUP_COLOURS)[state.pop.group[nodes]]
        else:
            colours = np.array(QUARTILE_COLOURS)[state.pop.skill_quartile[nodes]]
        ax.scatter(xy[:, 0], xy[:, 1], s=sizes, c=colours, edgecolors="black", linewidths=0.3, zorder=3)
        pad = 0.04 * max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1]), 0.1)
        ax.set_xlim(xy[:, 0].min() - pad, xy[:, 0].max() + pad)
        ax.set_ylim(xy[:, 1].min() - pad, xy[:, 1].max() + pad)
    shown = f"all {n_members} members" if nodes.size == n_members else (
        f"{nodes.size} of {n_members} members: the top {view.top} by followers and a random sample")
    ax.set_title(f"Follow network, step {model.steps}\n{shown}", fontsize=10)
    if colour_by == "tie origin":
        handles = [Line2D([], [], color=c, lw=2, label=name.replace("_", "-"))
                   for c, name in zip(ORIGIN_COLOURS, ORIGINS)]
    else:
        handles = [Line2D([], [], color=ONLINE_EDGE, lw=0.8, label="online follow"),
                   Line2D([], [], color=OFFLINE_EDGE, lw=2, label="offline tie (met)")]
    if colour_by == "skill quartile":
        handles += [Line2D([], [], ls="", marker="o", color=c, markeredgecolor="black", markeredgewidth=0.3, label=lab)
                    for c, lab in zip(QUARTILE_COLOURS, QUARTILE_LABELS)]
    elif colour_by in ("group", "tie origin") and state.pop.group.any():
        handles += [Line2D([], [], ls="", marker="o", color=c, markeredgecolor="black", markeredgewidth=0.3, label=lab)
                    for c, lab in zip(GROUP_COLOURS, ("majority", "minority"))]
    title = {"town": "colour: town", "group": "colour: group", "tie origin": "follow colour: how it began"}.get(
        colour_by, "colour: skill quartile")
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4 if len(handles) > 6 else 3,
              fontsize=8, frameon=False, title="node size: followers; " + title,
              title_fontsize=8, borderaxespad=0.2, handletextpad=0.3, columnspacing=1.0)
    return fig


def _clamp_outliers(xy: np.ndarray) -> np.ndarray:
    """Pull far-out nodes (usually members with no shown ties) to the edge of the bulk, for drawing only."""
    if len(xy) < 20:
        return xy
    lo, hi = np.percentile(xy, 3, axis=0), np.percentile(xy, 97, axis=0)
    margin = 0.15 * (hi - lo)
    return np.clip(xy, lo - margin, hi + margin)


_TOWN_PALETTE = None


def _town_colour(town: int):
    global _TOWN_PALETTE
    if _TOWN_PALETTE is None:
        from matplotlib import colormaps

        _TOWN_PALETTE = colormaps["tab20"].colors
    return _TOWN_PALETTE[int(town) % len(_TOWN_PALETTE)]


# --- metric plots (from the model's own datacollector) -----------------------------------------------------------


class MetricsFigure:
    """Line plots of the headline metrics, one panel per group, from ``model.datacollector``.

    The figure is built once per model and its lines updated in place each step (cheaper than a new figure).
    """

    def __init__(self):
        self.fig = _figure(6.4, 5.4)
        self.fig.subplots_adjust(left=0.08, right=0.98, top=0.95, bottom=0.09, hspace=0.22, wspace=0.2)
        self.axes = self.fig.subplots(2, 2, sharex=True).ravel()
        self.lines: dict[str, Line2D] = {}
        for ax, (title, names) in zip(self.axes, METRIC_PANELS):
            for name in names:
                (self.lines[name],) = ax.plot([], [], label=name, lw=1.4)
            ax.set_title(title, fontsize=9)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
            if names != ("offline_ties_per_member",):
                ax.set_ylim(-1.03 if "spearman" in names[0] else -0.03, 1.03)
            ax.legend(fontsize=6.5, loc="lower right" if "spearman" in names[0] else "best")
        for ax in self.axes[2:]:
            ax.set_xlabel("step", fontsize=8)

    def update(self, model: PlatformModel) -> Figure:
        """Redraw the metric lines from the model's DataCollector, updating the artists in place."""
        df = model.datacollector.get_model_vars_dataframe()
        x = df.index.to_numpy(dtype=float)
        for name, line in self.lines.items():
            line.set_data(x, df[name].to_numpy(dtype=float))
        self.axes[0].set_xlim(0, max(1.0, x.max() if x.size else 1.0))
        last = self.axes[3]
        last.relim()
        last.autoscale_view(scalex=False)
        return self.fig


def draw_metrics(model: PlatformModel) -> Figure:
    """The headline metrics' history (see :class:`MetricsFigure`); reuses the model's figure if it has one."""
    holder = model.view if isinstance(getattr(model, "view", None), NetworkView) else None
    if holder is None:
        return MetricsFigure().update(model)
    if holder.metrics_figure is None:
        holder.metrics_figure = MetricsFigure()
    return holder.metrics_figure.update(model)


def draw_quartiles(model: PlatformModel) -> Figure:
    """Followers of the current members by skill quartile: box plots with the mean marked."""
    state = model.state
    members = state.members()
    followers = state.graph.in_deg[members]
    quartile = state.pop.skill_quartile[members]
    groups = [followers[quartile == q] for q in range(4)]
    fig = _figure(6.4, 3.6)
    fig.subplots_adjust(left=0.1, right=0.98, top=0.9, bottom=0.2)
    ax = fig.add_subplot()
    box = ax.boxplot([g if g.size else [np.nan] for g in groups], patch_artist=True, showmeans=True,
                     widths=0.6, flierprops={"markersize": 3, "alpha": 0.5},
                     medianprops={"color": "black"},
                     meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black"})
    for patch, colour in zip(box["boxes"], QUARTILE_COLOURS):
        patch.set_facecolor(colour)
        patch.set_alpha(0.75)
    ax.set_xticks(range(1, 5), [f"Q{q + 1} (n={g.size})" for q, g in enumerate(groups)], fontsize=8)
    top = float(followers.max()) if followers.size else 0.0
    ax.set_yscale("symlog", linthresh=10, linscale=1.0)
    ax.set_ylim(-0.5, max(10.0, top * 1.3))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_ylabel("followers", fontsize=8)
    ax.set_xlabel("skill quartile (Q1 lowest); line = median, diamond = mean", fontsize=8)
    ax.set_title(f"Followers by skill quartile, step {model.steps}", fontsize=10)
    ax.grid(alpha=0.3, axis="y")
    ax.tick_params(labelsize=7)
    return fig


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=80)
    FigureCanvasAgg(fig)  # an Agg canvas of its own: savefig reuses its renderer and text-size cache
    return fig


# --- solara components ---------------------------------------------------------------------------------------

_TIMING = bool(os.environ.get("SOCIALSIM_VIZ_TIMING"))


def _timed(label: str, work):
    if not _TIMING:
        return work()
    start = time.perf_counter()
    out = work()
    print(f"socialsim.app: {label} {1000 * (time.perf_counter() - start):.0f} ms", file=sys.stderr, flush=True)
    return out


def figure_png(fig: Figure) -> bytes:
    """A matplotlib figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# each panel fills its grid cell; a figure shrinks to fit the cell, keeping its aspect
_CSS = """
.socialsim-panel { height: 100%; }
.socialsim-fig { flex: 1 1 auto; min-height: 0; }
.socialsim-fig > div { height: 100%; }
.socialsim-fig img { width: 100%; height: 100%; object-fit: contain; object-position: center top; }
.socialsim-summary { height: 100%; overflow-y: auto; font-size: 0.85rem; line-height: 1.35; }
.socialsim-grid { flex-wrap: nowrap; }
.socialsim-grid > * { flex: 1 1 0; min-width: 0; height: 460px; }
.socialsim-worlds { flex-wrap: nowrap; }
.socialsim-world { flex: 1 1 0; min-width: 0; border: 1px solid #ddd; border-radius: 4px; padding: 4px 6px; }
.socialsim-world-title { font-weight: bold; font-size: 1.05rem; margin-bottom: 10px; }
.socialsim-world-a .socialsim-world-title { color: #1f77b4; }
.socialsim-world-b .socialsim-world-title { color: #e6550d; }
.socialsim-world-design, .socialsim-caption, .socialsim-chart-key { font-size: 0.78rem; color: #444; }
.socialsim-levers-row { flex-wrap: nowrap; align-items: center; }
.socialsim-levers-row > * { flex: 1 1 0; min-width: 0; }
.socialsim-levers-row .v-input { margin-top: 0; padding-top: 0; }
.socialsim-network-svg svg { width: 100%; height: auto; max-height: 380px; display: block; }
.socialsim-charts { display: flex; flex-wrap: wrap; gap: 4px; }
.socialsim-metric { flex: 1 1 220px; max-width: 330px; }
.socialsim-metric svg { width: 100%; height: auto; display: block; }
.socialsim-quartiles-svg { flex: 2 1 440px; max-width: 660px; }
.socialsim-quartiles-svg svg { width: 100%; height: auto; display: block; }
.socialsim-verdict { font-size: 1rem; font-weight: 500; padding: 4px 2px; }
.socialsim-legend { font-size: 0.78rem; }
.socialsim-key { display: inline-flex; align-items: center; margin-right: 10px; }
.socialsim-dot { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 4px; }
.socialsim-line { display: inline-block; width: 16px; margin-right: 4px; }
.socialsim-network-svg circle { cursor: pointer; }
.socialsim-pinned { position: fixed; z-index: 10; max-width: 330px; background: #fff; border: 1px solid #888;
  border-radius: 4px; padding: 4px 22px 4px 8px; font-size: 0.78rem; box-shadow: 0 2px 6px rgba(0, 0, 0, 0.25); }
.socialsim-pinned-traits { font-weight: 500; }
.socialsim-pinned-close { position: absolute; top: 2px; right: 6px; cursor: pointer; }
"""


def _figure_panel(css_class: str, model: PlatformModel, draw, *extra):
    """A matplotlib figure drawn once per (model, step, extra), shown as a PNG that fits its cell."""
    png = solara.use_memo(lambda: _timed(css_class, lambda: figure_png(draw(model, *extra))),
                          dependencies=[id(model), model.steps, *extra])
    with solara.Column(classes=["socialsim-fig", css_class], gap="0px"):
        solara.Image(png, format="png")


@solara.component
def NetworkPanel(model: AppModel):
    """The follow network, with a selector for what the colours show."""
    update_counter.get()
    colour_by, set_colour_by = solara.use_state("skill quartile")
    with solara.Column(classes=["socialsim-panel"], gap="0px"):
        solara.Style(_CSS)
        solara.ToggleButtonsSingle(value=colour_by, values=list(COLOUR_BY), on_value=set_colour_by, dense=True)
        _figure_panel("socialsim-network", model, draw_network, colour_by)


@solara.component
def MetricsPanel(model: AppModel):
    """The headline metrics over time."""
    update_counter.get()
    with solara.Column(classes=["socialsim-panel"], gap="0px"):
        _figure_panel("socialsim-metrics", model, draw_metrics)


@solara.component
def QuartilePanel(model: AppModel):
    """Followers by skill quartile."""
    update_counter.get()
    with solara.Column(classes=["socialsim-panel"], gap="0px"):
        _figure_panel("socialsim-quartiles", model, draw_quartiles)


@solara.component
def SummaryPanel(model: AppModel):
    """The model's latest metric values (``model.metrics``) and the levers it was built with."""
    update_counter.get()
    p, m = model.params, model.metrics
    with solara.Column(classes=["socialsim-summary"], gap="1px"):
        solara.Style(_CSS)
        solara.Text(f"Step {model.steps} of {p.run.steps}", classes=["socialsim-step"])
        if getattr(model, "notice", None):
            solara.Warning(model.notice, dense=True)
        solara.Text("Changed levers take effect on Reset. This model:", style={"font-style": "italic"})
        solara.Text(f"Members {int(m['members'])} of {p.population.size}; follows {int(m['follows'])}; "
                    f"meetups this step {int(m['meetups'])}")
        solara.Text(f"recommender: {p.platform.recommender}; timeline: {p.platform.timeline}; "
                    f"reshares: {'on' if p.platform.reshares else 'off'}; openness: {p.platform.openness:g}; "
                    f"meetup rate: {p.meetups.rate:g}; elite early adoption: {p.adoption.elite_early_adoption:g}; "
                    f"exit rule: {p.leaving.exit_rule}; elite exit rate: {p.leaving.elite_exit_rate:g}; "
                    f"minority share: {p.population.minority_share:g}; homophily: {p.population.homophily:g}; "
                    f"seed: {p.seed}", classes=["socialsim-levers"])
        for name in HEADLINE_METRICS:
            solara.Text(f"{name} = {m[name]:.3f}")


# --- the page -----------------------------------------------------------------------------------------------
PAGE_TITLE = "socialsim: do elites entrench or does connection spread?"
# the HTML title Solara serves before the page renders (its own default is "Solara ☀️")
solara.server.settings.theme.title = PAGE_TITLE
# On plain http at an address other than "localhost" (python -m socialsim.viz serves 127.0.0.1) Solara warns on
# every page request that its session cookie falls back to SameSite=Lax; Lax is what a page that is not
# embedded in another site's iframe needs, so the warning says nothing to act on.
warnings.filterwarnings("ignore", message="Cookies with samesite=none require https", category=UserWarning)


def _slider(label: str, value, lo, hi, step) -> Slider:
    """A slider whose label shows its range (Mesa's sliders show their value only while dragged)."""
    return Slider(label=f"{label} ({lo:g} to {hi:g})", value=value, min=lo, max=hi, step=step)


# the main levers; keys are AppModel's arguments, initial values its defaults (the CLI's, but for the size)
model_params = {
    "size": _slider("Population size", APP_POPULATION_SIZE, 50, 3000, 50),
    "openness": _slider("Openness", DEFAULTS.platform.openness, 0.0, 1.0, 0.05),
    "recommender": {"type": "Select", "value": DEFAULTS.platform.recommender, "values": list(RECOMMENDERS),
                    "label": "Recommender"},
    "timeline": {"type": "Select", "value": DEFAULTS.platform.timeline, "values": list(TIMELINES),
                 "label": "Timeline ordering"},
    "reshares": {"type": "Checkbox", "value": DEFAULTS.platform.reshares, "label": "Reshares"},
    "meetup_rate": _slider("Meetup rate", DEFAULTS.meetups.rate, 0.0, 0.2, 0.0001),
    "elite_early_adoption": _slider("Elite early adoption", DEFAULTS.adoption.elite_early_adoption, 0.0, 5.0, 0.1),
    "elite_exit_rate": _slider("Elite exit rate", DEFAULTS.leaving.elite_exit_rate, 0.0, 0.05, 0.001),
    "minority_share": _slider("Minority share", DEFAULTS.population.minority_share, 0.0, 0.5, 0.05),
    "homophily": _slider("Homophily", DEFAULTS.population.homophily, 0.0, 1.0, 0.05),
    "exit_rule": {"type": "Select", "value": DEFAULTS.leaving.exit_rule, "values": list(EXIT_RULES),
                  "label": "Why members leave (elite exit rate: under 'imposed')"},
    "seed": {"type": "InputText", "value": str(DEFAULTS.seed), "label": "Seed"},
}


def _warm_up() -> None:
    """Step a tiny model once so numba compiles (or loads its cache) before the first click."""
    PlatformModel(population__size=60, adoption__seed_members=10, seed=0).run(2)


# --- compare mode: two worlds on the same people -------------------------------------------------------------


class AppCompareModel(CompareModel):
    """A :class:`~socialsim.compare.CompareModel` built from the page's controls, with the network sample the
    page draws (its positions computed once from the shared offline network). A typo in the seed box gives the
    default seed and a notice, as in the one-world view."""

    def __init__(self, seed: int | str = DEFAULTS.seed, **kwargs):
        seed, self.notice = _seed(seed)
        super().__init__(seed=seed, **kwargs)
        self.sample = NetworkSample(self)


#: the compare mode's controls with their initial values (CompareModel's arguments; levers from the first preset)
COMPARE_DEFAULTS: dict = {"size": APP_POPULATION_SIZE, "minority_share": DEFAULTS.population.minority_share,
                          "homophily": DEFAULTS.population.homophily, "seed": str(DEFAULTS.seed),
                          "steps": DEFAULTS.run.steps, "preset": PRESET_NAMES[0]}
for _side in "ab":
    COMPARE_DEFAULTS.update({f"{_side}_{k}": v for k, v in PRESETS[0].levers(_side).items()})


def preset_controls(name: str, current: dict) -> dict:
    """The controls after choosing preset ``name``: its levers for both worlds, the shared controls kept."""
    chosen = preset_named(name)
    out = {**current, "preset": chosen.name}
    for side in "ab":
        out.update({f"{side}_{k}": v for k, v in chosen.levers(side).items()})
    return out


def _svg_panel(svg_text: str, css_class: str):
    solara.HTML(tag="div", unsafe_innerHTML=svg_text, classes=[css_class])


@solara.component
def WorldLevers(side: str, controls: solara.Reactive):
    """One world's design levers (they take effect on Reset)."""
    values = controls.value

    def setter(name):
        return lambda v: controls.set({**controls.value, f"{side}_{name}": v})

    with solara.Row(classes=["socialsim-levers-row"], gap="6px"):
        solara.Select("Recommender", value=values[f"{side}_recommender"], values=list(RECOMMENDERS),
                      on_value=setter("recommender"), dense=True, classes=["socialsim-lever"])
        solara.Select("Timeline", value=values[f"{side}_timeline"], values=list(TIMELINES),
                      on_value=setter("timeline"), dense=True, classes=["socialsim-lever"])
        solara.Select("Exit rule", value=values[f"{side}_exit_rule"], values=list(EXIT_RULES),
                      on_value=setter("exit_rule"), dense=True, classes=["socialsim-lever"])
    with solara.Row(classes=["socialsim-levers-row"], gap="6px"):
        solara.SliderFloat("Openness", value=values[f"{side}_openness"], min=0.0, max=1.0, step=0.05,
                           on_value=setter("openness"), thumb_label=True)
        solara.SliderFloat("Meetup rate", value=values[f"{side}_meetup_rate"], min=0.0, max=0.2, step=0.0001,
                           on_value=setter("meetup_rate"), thumb_label=True)
    with solara.Row(classes=["socialsim-levers-row"], gap="12px"):
        solara.Checkbox(label="Reshares", value=values[f"{side}_reshares"], on_value=setter("reshares"))
        solara.Checkbox(label="Invite-only", value=values[f"{side}_invite_only"], on_value=setter("invite_only"))


def world_design(p, fixed: dict) -> str:
    """What a world on screen was built with: its levers' values and the preset's other overrides."""
    text = (f"This world: recommender {p.platform.recommender}, timeline {p.platform.timeline}, reshares "
            f"{'on' if p.platform.reshares else 'off'}, openness {p.platform.openness:g}"
            f"{', invite-only' if p.platform.invite_only else ''}, meetup rate {p.meetups.rate:g}, exit rule "
            f"{p.leaving.exit_rule}")
    return text + "".join(f", {key} {value}" for key, value in fixed.items())


@solara.component
def WorldColumn(model: AppCompareModel, side: int, colour_by: str, controls: solara.Reactive):
    """One world: its levers, its follow network and what the drawing shows."""
    update_counter.get()
    # the drawing and its caption in one element: one message to the browser per step instead of two
    drawing = solara.use_memo(
        lambda: _timed(f"network {'AB'[side]}", lambda: (
            f'<div class="socialsim-network-svg">{network_svg(model, side, model.sample, colour_by)}</div>'
            f'<div class="socialsim-caption">{escape(network_caption(model, side, model.sample))}</div>')),
        dependencies=[id(model), model.steps, colour_by])
    world = model.worlds[side]
    with solara.Column(classes=["socialsim-world", f"socialsim-world-{'ab'[side]}"], gap="2px"):
        solara.Text(f"World {'AB'[side]}", classes=["socialsim-world-title"])
        WorldLevers("ab"[side], controls)
        solara.Text(world_design(world.params, model.preset.fixed("ab"[side])), classes=["socialsim-world-design"])
        _svg_panel(drawing, "socialsim-network")


@solara.component
def CompareCharts(model: AppCompareModel):
    """The headline metrics of both worlds on shared axes, followers by skill quartile, and the verdict."""
    update_counter.get()
    # all panels and the verdict in one element: one message to the browser per step instead of seven
    charts = solara.use_memo(
        lambda: _timed("compare charts", lambda: (
            '<div class="socialsim-charts">'
            + "".join(f'<div class="socialsim-metric">{metric_svg(model, *m)}</div>' for m in headline_metrics(model))
            + f'<div class="socialsim-quartiles-svg">{quartile_svg(model)}</div></div>'
            f'<div class="socialsim-verdict">{escape(verdict(model))}</div>')),
        dependencies=[id(model), model.steps])
    with solara.Column(gap="4px"):
        solara.Text("Both worlds on shared axes: A solid blue, B dashed orange.", classes=["socialsim-chart-key"])
        _svg_panel(charts, "socialsim-compare-charts")


@solara.component
def CompareView():
    """Compare mode: two worlds on the same people, one Step, Play and Reset for both."""
    controls = solara.use_reactive(dict(COMPARE_DEFAULTS))
    model = solara.use_reactive(solara.use_memo(lambda: AppCompareModel(**COMPARE_DEFAULTS), []))
    play_interval = solara.use_reactive(COMPARE_PLAY_INTERVAL)
    colour_by, set_colour_by = solara.use_state("skill quartile")
    m = model.value

    def choose_preset(name):
        controls.set(preset_controls(name, controls.value))
        model.set(AppCompareModel(**controls.value))

    def shared(name, cast=lambda v: v):
        return lambda v: controls.set({**controls.value, name: cast(v)})

    with solara.Sidebar():
        with solara.Card("Run both worlds"):
            _Controller(model, controls, play_interval)
            solara.SliderInt(f"Pause between steps: {play_interval.value} ms", value=play_interval, min=0, max=500,
                             step=10)
            StepCounter(m)
        with solara.Card("Comparison"):
            solara.Select("Preset", value=controls.value["preset"], values=list(PRESET_NAMES),
                          on_value=choose_preset)
            solara.Text(m.preset.question, style={"font-size": "0.85rem"})
        with solara.Card("The people (both worlds)"):
            solara.SliderInt("People per world (50 to 3000)", value=int(controls.value["size"]), min=50,
                             max=3000, step=50, on_value=shared("size", int))
            solara.SliderFloat("Minority share (0 to 0.5)", value=controls.value["minority_share"], min=0.0,
                               max=0.5, step=0.05, on_value=shared("minority_share", float))
            solara.SliderFloat("Homophily (0 to 1)", value=controls.value["homophily"], min=0.0, max=1.0,
                               step=0.05, on_value=shared("homophily", float))
            solara.InputText("Seed", value=str(controls.value["seed"]), on_value=shared("seed", str))
            solara.Text("Both worlds are built from the same people and seed (population.seed fixed): the same "
                        "traits, towns, groups and offline contacts. Changed levers take effect on Reset; a "
                        "preset applies at once.", style={"font-size": "0.8rem", "font-style": "italic"})
            if getattr(m, "notice", None):
                solara.Warning(m.notice, dense=True)
    with solara.Column(classes=["socialsim-compare"], gap="4px"):
        solara.Style(_CSS)
        with solara.Row(gap="12px", style={"align-items": "center"}):
            solara.ToggleButtonsSingle(value=colour_by, values=list(COLOUR_BY), on_value=set_colour_by, dense=True)
            solara.HTML(tag="div", unsafe_innerHTML=legend_html(colour_by, m.a.params.population.minority_share > 0),
                        classes=["socialsim-legend"])
        with solara.Row(classes=["socialsim-worlds"], gap="8px"):
            WorldColumn(m, 0, colour_by, controls)
            WorldColumn(m, 1, colour_by, controls)
        PinnedPerson.element()
        CompareCharts(m)


@solara.component
def _Controller(model: solara.Reactive, parameters: solara.Reactive, play_interval: solara.Reactive):
    """Reset / Play / Step for the model in ``model``; Reset builds a new one from ``parameters``.

    Playing takes a step, waits until the browser reports that it has painted the step before (:class:`
    _PaintedSignal`), pauses ``play_interval`` ms, and renders the page once for the new step: every step is
    painted, a slow page slows the play instead of piling up steps it never shows, and the model's step
    overlaps the browser's painting."""
    playing = solara.use_reactive(False)
    error = solara.use_reactive(None)
    painted = solara.use_memo(_Painted, [])
    # all of a step's changes in one render pass: the components that show the step each subscribe to the
    # update counter, and without a batch each of them would get a pass over the whole page of its own
    render_context = reacton.core.get_render_context()
    current = model.value

    def play():
        current = model.value  # Reset swaps the model: this play never steps the new one
        waiting_for = None
        try:
            while playing.value and model.value is current and current.running:
                t0 = time.perf_counter()
                current.step()
                t1 = time.perf_counter()
                if waiting_for is not None:
                    painted.wait(waiting_for, timeout=PLAY_DRAW_TIMEOUT)
                t2 = time.perf_counter()
                time.sleep(play_interval.value / 1000)
                t3 = time.perf_counter()
                with render_context:
                    force_update()
                # set on the widget, not through a render (a render pass costs about as much as the step's
                # own), so the request goes out right after everything the step changed
                waiting_for = painted.ask()
                if _TIMING:
                    print(f"socialsim.app: play step {current.steps} step {1000 * (t1 - t0):.1f} ms, paint "
                          f"{1000 * (t2 - t1):.1f} ms, pause {1000 * (t3 - t2):.1f} ms, render "
                          f"{1000 * (time.perf_counter() - t3):.1f} ms", file=sys.stderr, flush=True)
        except Exception as exc:  # shown on the page: a failing step must not leave Play spinning silently
            error.set(f"error in step: {exc}")
            playing.set(False)
        if not current.running and model.value is current:
            playing.set(False)  # the run is over (a pause or a Reset already set it; a new Play must not be undone)

    solara.lab.use_task(play, dependencies=[playing.value], prefer_threaded=True)

    def step():
        try:
            model.value.step()
        except Exception as exc:
            error.set(f"error in step: {exc}")
        with render_context:
            force_update()

    def reset():
        with render_context:
            playing.set(False)
            error.set(None)
            model.set(type(model.value)(**parameters.value))
            force_update()

    update_counter.get()
    signal = _PaintedSignal.element(on_painted=painted.report)
    solara.use_effect(lambda: painted.attach(solara.get_widget(signal)), [])
    with solara.Row(justify="space-between"):
        solara.Button(label="Reset", color="primary", on_click=reset)
        solara.Button(label="\u275a\u275a" if playing.value else "\u25b6", color="primary",
                      on_click=lambda: playing.set(not playing.value), disabled=not current.running)
        solara.Button(label="Step", color="primary", on_click=step, disabled=playing.value or not current.running)
    if error.value:
        solara.Error(error.value)


class PinnedPerson(ipyvue.VueTemplate):
    """Clicking a person in either network pins their card: their traits and, for each world, their followers,
    follows, new ties and close ties (or that they are not a member there), kept up to date while the worlds
    play. Clicking the same person again, or the card's close mark, unpins it; clicking another person moves it.

    The card reads the hover text the drawings already carry (:func:`socialsim.svg.network_svg`), so it costs
    nothing while no one is pinned and sends nothing to the server."""

    template = traitlets.Unicode("""
<template>
  <div v-if="person !== null" class="socialsim-pinned" :style="{left: x + 'px', top: y + 'px'}">
    <span class="socialsim-pinned-close" title="unpin" @click="unpin">&#x2715;</span>
    <div v-for="(line, k) in lines" :key="k" :class="k ? 'socialsim-pinned-world' : 'socialsim-pinned-traits'">
      {{ line }}</div>
  </div>
</template>
<script>
module.exports = {
  data() {
    return {person: null, x: 0, y: 0, lines: []};
  },
  mounted() {
    this.onClick = (event) => {
      const circle = event.target.closest ? event.target.closest('.socialsim-network-svg circle[data-person]') : null;
      if (!circle) return;
      const person = circle.getAttribute('data-person');
      if (person === this.person) {
        this.unpin();
        return;
      }
      this.person = person;
      this.x = Math.max(0, Math.min(event.clientX + 12, window.innerWidth - 340));
      this.y = Math.max(0, Math.min(event.clientY + 12, window.innerHeight - 140));
      this.refresh();
      if (!this.timer) this.timer = setInterval(() => this.refresh(), 300);
    };
    document.addEventListener('click', this.onClick);
  },
  destroyed() {
    document.removeEventListener('click', this.onClick);
    this.unpin();
  },
  methods: {
    unpin() {
      this.person = null;
      clearInterval(this.timer);
      this.timer = null;
    },
    refresh() {
      if (this.person === null) return;
      const lines = [''];
      document.querySelectorAll('.socialsim-network-svg').forEach((drawing, k) => {
        const title = drawing.querySelector('circle[data-person="' + this.person + '"] title');
        if (!title) {
          lines.push('World ' + 'AB'[k] + ': not among the people drawn now');
          return;
        }
        const [traits, ties] = title.textContent.split('\\n');
        lines[0] = traits;
        lines.push('World ' + 'AB'[k] + ': ' + ties);
      });
      if (!lines[0]) lines[0] = 'person ' + this.person;
      this.lines = lines;
    },
  },
};
</script>
""").tag(sync=True)


class _PaintedSignal(ipyvue.VueTemplate):
    """A hidden element that tells the server which update the browser has painted.

    ``shown`` is the number of the latest request, sent after the changes it asks about; when it changes, the
    page lets the messages already received be applied, then waits two animation frames (the frame that lays
    out and paints the changes, and one more for any that arrived just after it) and sets ``painted`` to it. A
    hidden page paints nothing, so it answers at once."""

    template = traitlets.Unicode("""
<template>
  <span style="display: none"></span>
</template>
<script>
module.exports = {
  watch: {
    shown(value) {
      if (document.hidden) {
        this.painted = value;
        return;
      }
      // a task first, so that messages already received are applied before the frames are counted
      setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(() => { this.painted = value; })), 0);
    },
  },
};
</script>
""").tag(sync=True)
    shown = traitlets.Int(0).tag(sync=True)
    painted = traitlets.Int(-1).tag(sync=True)


class _Painted:
    """Requests to the browser to report when it has painted, the latest report, and a wait for a given one."""

    def __init__(self):
        self._changed = threading.Condition()
        self.latest = -1
        self.asked = 0
        self.widget = None

    def attach(self, widget: "_PaintedSignal") -> None:
        """The page's signal element, once rendered."""
        self.widget = widget

    def ask(self) -> int | None:
        """Ask the browser to report once it has painted what was sent so far; the request's number."""
        if self.widget is None:
            return None
        self.asked += 1
        self.widget.shown = self.asked
        return self.asked

    def report(self, value: int) -> None:
        with self._changed:
            self.latest = max(self.latest, int(value))
            self._changed.notify_all()

    def wait(self, value: int, timeout: float) -> bool:
        """Wait until update ``value`` was painted (or ``timeout`` s); whether it was."""
        with self._changed:
            return self._changed.wait_for(lambda: self.latest >= value, timeout=timeout)


PLAY_DRAW_TIMEOUT = 10.0  # s a playing step waits for the browser to paint it before it goes on regardless


@solara.component
def StepCounter(model):
    """The step counter (the browser test and a viewer read it)."""
    update_counter.get()
    steps = getattr(model, "run_steps", None) or model.params.run.steps
    solara.Text(f"Step {model.steps} of {steps}", classes=["socialsim-step"])
    ShowSteps(model)


# --- one world --------------------------------------------------------------------------------------------------


@solara.component
def SingleView():
    """One world, as before compare mode: its levers in the sidebar, four panels."""
    model = solara.use_reactive(solara.use_memo(AppModel, []))
    parameters = solara.use_reactive({})
    with solara.Sidebar():
        with solara.Card("Run"):
            _Controller(model, parameters, solara.use_reactive(SINGLE_PLAY_INTERVAL))
            ShowSteps(model.value)
        with solara.Card("Levers"):
            ModelCreator(model, model_params, model_parameters=parameters)
    with solara.Column(classes=["socialsim-single"], gap="4px"):
        with solara.Row(classes=["socialsim-grid"], gap="8px"):
            NetworkPanel(model.value)
            MetricsPanel(model.value)
        with solara.Row(classes=["socialsim-grid"], gap="8px"):
            QuartilePanel(model.value)
            SummaryPanel(model.value)


TABS = ("Compare two designs", "One world")
COMPARE_PLAY_INTERVAL = 0  # ms between steps when playing: Play already waits until the browser painted a step
SINGLE_PLAY_INTERVAL = 150


@solara.component
def Page():
    """The app: compare mode (two designs on the same people) and the one-world view, in named tabs."""
    tab, set_tab = solara.use_state(0)
    solara.Title(PAGE_TITLE)
    with solara.AppBar():
        solara.AppBarTitle(PAGE_TITLE)
    with solara.Column(gap="0px"):
        with solara.v.Tabs(v_model=tab, on_v_model=set_tab):
            for label in TABS:
                solara.v.Tab(children=[label])
        if tab == 0:
            CompareView()
        else:
            SingleView()


if __name__ != "socialsim.app":  # served by `solara run .../app.py` (module "app"), not imported by tests
    _warm_up()
