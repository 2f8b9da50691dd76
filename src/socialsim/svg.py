"""Light SVG drawings of the compare mode: the two follow networks, the shared metric axes and the quartile bars.

The browser draws SVG text itself, so a step costs a few milliseconds of string building here instead of a
matplotlib render and a PNG per figure; nothing is fetched from a CDN. Each person in a network drawing carries
an SVG ``<title>``, which the browser shows on hover: traits, followers, new ties and close ties.
"""

from __future__ import annotations

from html import escape

import numpy as np

from .compare import CompareModel, population_layout
from .graph import ORIGINS

WIDTH, HEIGHT = 1000, 760  # the network drawing's coordinate box (viewBox units)
NETWORK_MAX_NODES = 200  # most people drawn per network
NETWORK_TOP = 30  # the top accounts by followers of each world, always drawn; the rest a fixed random sample

QUARTILE_COLOURS = ("#440154", "#31688e", "#35b779", "#fde725")  # viridis, bottom to top quartile of skill
QUARTILE_LABELS = ("skill Q1 (lowest)", "skill Q2", "skill Q3", "skill Q4 (highest)")
GROUP_COLOURS = ("#4c72b0", "#dd8452")  # majority, minority
ORIGIN_COLOURS = ("#d62728", "#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd", "#7f7f7f")  # in the order of ORIGINS
TOWN_COLOURS = ("#1f77b4", "#aec7e8", "#ff7f0e", "#ffbb78", "#2ca02c", "#98df8a", "#d62728", "#ff9896", "#9467bd",
                "#c5b0d5", "#8c564b", "#c49c94", "#e377c2", "#f7b6d2", "#7f7f7f", "#c7c7c7", "#bcbd22", "#dbdb8d",
                "#17becf", "#9edae5")  # tab20
ONLINE_EDGE, OFFLINE_EDGE = "#9a9a9a", "#d62728"
WORLD_COLOURS = ("#1f77b4", "#e6550d")  # world A, world B
COLOUR_BY = ("skill quartile", "town", "group", "tie origin")


class NetworkSample:
    """Who the two network drawings show, and where: the same people at the same places in both worlds.

    Positions come once from the shared offline network (:func:`socialsim.compare.population_layout`). The
    people shown are the union of each world's top accounts by followers and a fixed random sample of those who
    are members in either world, at most ``max_nodes``."""

    def __init__(self, model: CompareModel, max_nodes: int = NETWORK_MAX_NODES, top: int = NETWORK_TOP):
        self.model = model
        self.max_nodes, self.top = max_nodes, min(top, max_nodes // 2)
        pop = model.a.state.pop
        seed = model.a.params.seed
        self.key = np.random.default_rng([seed, 7]).random(pop.size)  # a fixed random rank per person
        xy = population_layout(pop, seed)
        self.xy = np.column_stack([30 + xy[:, 0] * (WIDTH - 60), 30 + xy[:, 1] * (HEIGHT - 60)])
        # what does not change from step to step, as drawing text, made once: every person's point ("x y")
        # and circle centre, and (on first use) their traits for the hover text
        self.point = [f"{x:.0f} {y:.0f}" for x, y in self.xy.tolist()]
        self.centre = [f'cx="{x:.0f}" cy="{y:.0f}"' for x, y in self.xy.tolist()]
        self._traits: dict[int, str] = {}
        self._people: tuple = (None, None)  # (the worlds' steps, people()) of the last call

    def traits(self, i: int) -> str:
        """Person ``i``'s traits as hover text (HTML-escaped): skill, shyness, reach, town, and group if any."""
        text = self._traits.get(i)
        if text is None:
            pop = self.model.a.state.pop
            text = (f"person {i}: skill {pop.skill[i]:.2f} (Q{pop.skill_quartile[i] + 1}), "
                    f"shyness {pop.shyness[i]:.2f}, reach {pop.reach[i]:.2f}, town {pop.town[i]}")
            if pop.group.any():
                text += ", minority" if pop.group[i] else ", majority"
            text = self._traits[i] = escape(text)
        return text

    def people(self) -> tuple[np.ndarray, int]:
        """(ids of the people drawn, number of people who are members in either world)."""
        worlds = self.model.worlds
        steps = tuple(w.steps for w in worlds)
        if self._people[0] != steps:  # both drawings and both captions of a step ask: work it out once
            self._people = (steps, self._choose(worlds))
        return self._people[1]

    def _choose(self, worlds) -> tuple[np.ndarray, int]:
        member = np.zeros(self.key.size, bool)
        tops = []
        for w in worlds:
            members = w.state.members()
            member[members] = True
            order = np.lexsort((members, -w.state.graph.in_deg[members]))  # most followers first, ties by id
            tops.append(members[order[: self.top]])
        everyone = np.flatnonzero(member)
        if everyone.size <= self.max_nodes:
            return everyone, everyone.size
        top = np.unique(np.concatenate(tops))
        rest = np.setdiff1d(everyone, top, assume_unique=True)
        rest = rest[np.argsort(self.key[rest], kind="stable")[: max(self.max_nodes - top.size, 0)]]
        return np.sort(np.concatenate([top, rest])), everyone.size


def _number(x: float) -> str:
    return f"{x:.0f}"


def network_svg(model: CompareModel, side: int, sample: NetworkSample, colour_by: str = "skill quartile") -> str:
    """World ``side`` (0 = A, 1 = B)'s follow network among the sampled people, as an SVG document.

    Node area grows with followers on one scale for both worlds; people who are not members of this world are
    hollow grey rings. Follows are grey (online) and red (between people who met), or coloured by how they began
    with ``colour_by="tie origin"``."""
    world = model.worlds[side]
    state, g, pop = world.state, world.state.graph, world.state.pop
    nodes, n_members = sample.people()
    shown = np.zeros(pop.size, bool)
    shown[nodes] = True
    slots = g.alive_index()
    src, dst = g.src[slots].astype(np.int64), g.dst[slots].astype(np.int64)
    keep = shown[src] & shown[dst]
    src, dst, met, origin = src[keep], dst[keep], g.met[slots][keep], g.origin[slots][keep]
    close = np.bincount(g.src[slots][g.closeness[slots] >= world.params.intimacy.close_threshold], minlength=pop.size)

    out = [f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg" class="socialsim-net-svg">']
    if colour_by == "tie origin":
        groups = [(ORIGIN_COLOURS[c], 1.2, 0.7, origin == c) for c in range(len(ORIGINS))]
    else:
        groups = [(ONLINE_EDGE, 0.8, 0.45, ~met), (OFFLINE_EDGE, 2.2, 0.8, met)]
    point = sample.point
    for colour, width, alpha, sel in groups:
        if sel.any():
            d = "".join(f"M{point[a]}L{point[b]}" for a, b in zip(src[sel].tolist(), dst[sel].tolist()))
            out.append(f'<path d="{d}" stroke="{colour}" stroke-width="{width}" stroke-opacity="{alpha}" '
                       f'fill="none"/>')
    is_member = np.zeros(pop.size, bool)
    is_member[state.members()] = True
    member = is_member[nodes].tolist()
    followers_scale = max(1.0, float(max(w.state.graph.in_deg[nodes].max(initial=0) for w in model.worlds)))
    if colour_by == "town":
        fill = np.array(TOWN_COLOURS)[pop.town[nodes] % len(TOWN_COLOURS)]
    elif colour_by in ("group", "tie origin"):
        fill = np.array(GROUP_COLOURS)[pop.group[nodes]]
    else:
        fill = np.array(QUARTILE_COLOURS)[pop.skill_quartile[nodes]]
    fill = fill.tolist()
    radius = (3.0 + 14.0 * np.sqrt(g.in_deg[nodes] / followers_scale)).tolist()
    in_deg, out_deg, new_mutual, close = (g.in_deg[nodes].tolist(), g.out_deg[nodes].tolist(),
                                          g.new_mutual[nodes].tolist(), close[nodes].tolist())
    # the attributes all members (and all non-members) share are set once on their group: a smaller drawing
    # for the browser to parse each step; non-members' rings go first, under the members
    rings, discs = ['<g fill="none" stroke="#b0b0b0" stroke-width="1">'], ['<g stroke="#000" stroke-width="0.6">']
    for k, i in enumerate(nodes.tolist()):
        if member[k]:
            discs.append(f'<circle {sample.centre[i]} r="{radius[k]:.1f}" fill="{fill[k]}" data-person="{i}">'
                         f"<title>{sample.traits(i)}\nfollowers {in_deg[k]}, follows {out_deg[k]}, new ties "
                         f"{new_mutual[k]}, close ties {close[k]}</title></circle>")
        else:
            rings.append(f'<circle {sample.centre[i]} r="3" data-person="{i}"><title>{sample.traits(i)}\nnot a '
                         "member in this world</title></circle>")
    out += rings + ["</g>"] + discs + ["</g>"]
    out.append("</svg>")
    return "".join(out)


def network_caption(model: CompareModel, side: int, sample: NetworkSample) -> str:
    """What the drawing of world ``side`` shows, with how many people."""
    nodes, n_either = sample.people()
    world = model.worlds[side]
    members = int(world.metrics["members"])
    shown = (f"all {nodes.size} people who are members in either world" if nodes.size == n_either else
             f"{nodes.size} of the {n_either} people who are members in either world: each world's top "
             f"{sample.top} by followers and a fixed random sample")
    return f"World {'AB'[side]}, step {world.steps}: {members} members, {int(world.metrics['follows'])} follows. " \
           f"Shown: {shown}."


def legend_html(colour_by: str, groups: bool) -> str:
    """The network drawings' legend as HTML swatches."""
    def dot(colour, label, ring=False):
        style = f"border:1px solid #000;background:{colour}" if not ring else "border:1px solid #b0b0b0"
        return (f'<span class="socialsim-key"><span class="socialsim-dot" style="{style}"></span>'
                f"{escape(label)}</span>")

    def line(colour, label, width=2):
        return (f'<span class="socialsim-key"><span class="socialsim-line" style="background:{colour};'
                f'height:{width}px"></span>{escape(label)}</span>')

    if colour_by == "tie origin":
        items = [line(c, n.replace("_", "-")) for c, n in zip(ORIGIN_COLOURS, ORIGINS)]
    else:
        items = [line(ONLINE_EDGE, "online follow", 1), line(OFFLINE_EDGE, "offline tie (met)", 3)]
    if colour_by == "skill quartile":
        items += [dot(c, lab) for c, lab in zip(QUARTILE_COLOURS, QUARTILE_LABELS)]
    elif colour_by == "town":
        items.append('<span class="socialsim-key">node colour: town</span>')
    elif groups:
        items += [dot(c, lab) for c, lab in zip(GROUP_COLOURS, ("majority", "minority"))]
    items.append(dot("", "not a member in this world", ring=True))
    items.append('<span class="socialsim-key">node size: followers (one scale for both worlds); '
                 "hover over a person for their traits and ties, click to pin them</span>")
    return "".join(items)


# --- metrics on shared axes --------------------------------------------------------------------------------------

#: the headline metrics drawn for both worlds: (metric, title, upper end of the y axis or None for automatic)
HEADLINE = (
    ("gini_followers", "Gini of followers", 1.0),
    ("low_skill_new_tie_share", "Least-skilled quarter with a new tie", 1.0),
    ("shy_new_tie_share", "Shyest quarter with a new tie", 1.0),
    ("intimacy_gap", "Intimacy gap", 1.0),
)
MINORITY = ("minority_visibility", "Minority visibility (1 = fair share of the top)", None)


def headline_metrics(model: CompareModel) -> tuple:
    """The metric panels to draw: the headline four, and the minority's visibility when there are groups."""
    groups = model.a.params.population.minority_share > 0
    return HEADLINE + ((MINORITY,) if groups else ())


def metric_svg(model: CompareModel, name: str, title: str, top: float | None) -> str:
    """One metric's history in both worlds on shared axes (A solid, B dashed), as an SVG document."""
    w, h, left, right, top_pad, bottom = 320, 190, 38, 8, 24, 26
    steps = max(model.run_steps, 1)
    series = [np.asarray(world.datacollector.model_vars[name], float) for world in model.worlds]
    xs = [np.asarray(world.datacollector.model_vars["step"], float) for world in model.worlds]
    hi = top if top is not None else max(1.0, max((float(s.max()) for s in series if s.size), default=1.0) * 1.1)
    sx = (w - left - right) / steps
    sy = (h - top_pad - bottom) / hi
    out = [f'<svg viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg" class="socialsim-metric-svg" '
           f'data-metric="{name}">',
           f'<text x="{left}" y="15" font-size="12" font-weight="bold">{escape(title)}</text>']
    for frac in (0.0, 0.5, 1.0):
        y = h - bottom - frac * hi * sy
        out.append(f'<line x1="{left}" x2="{w - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{frac * hi:g}</text>')
    for frac in (0.0, 0.5, 1.0):
        x = left + frac * steps * sx
        out.append(f'<text x="{x:.1f}" y="{h - bottom + 13}" font-size="10" text-anchor="middle">'
                   f"{frac * steps:.0f}</text>")
    out.append(f'<text x="{w - right}" y="{h - 3}" font-size="10" text-anchor="end">step</text>')
    for k, (x, y) in enumerate(zip(xs, series)):
        if y.size == 0:
            continue
        pts = " ".join(f"{left + a * sx:.1f},{h - bottom - min(b, hi) * sy:.1f}" for a, b in
                       zip(x.tolist(), y.tolist()))
        dash = ' stroke-dasharray="6 3"' if k else ""
        out.append(f'<polyline points="{pts}" fill="none" stroke="{WORLD_COLOURS[k]}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{w - right}" y="{15 + 12 * k}" font-size="10" text-anchor="end" '
                   f'fill="{WORLD_COLOURS[k]}">{"AB"[k]} {y[-1]:.2f}</text>')
    out.append("</svg>")
    return "".join(out)


def quartile_svg(model: CompareModel) -> str:
    """Mean and median followers by skill quartile in both worlds (bars: mean; ticks: median), as SVG."""
    w, h, left, bottom, top_pad = 660, 220, 44, 36, 26
    stats = []
    for world in model.worlds:
        members = world.state.members()
        followers = world.state.graph.in_deg[members].astype(float)
        q = world.state.pop.skill_quartile[members]
        stats.append([(followers[q == k].mean() if (q == k).any() else 0.0,
                       float(np.median(followers[q == k])) if (q == k).any() else 0.0, int((q == k).sum()))
                      for k in range(4)])
    hi = max(1.0, max(m for s in stats for m, _, _ in s) * 1.15)
    sy = (h - bottom - top_pad) / hi
    slot = (w - left - 10) / 4
    out = [f'<svg viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg" class="socialsim-quartile-svg">',
           f'<text x="{left}" y="15" font-size="12" font-weight="bold">Followers by skill quartile, step '
           f"{model.steps} (bar: mean, black tick: median; A left, B right)</text>"]
    for frac in (0.0, 0.5, 1.0):
        y = h - bottom - frac * hi * sy
        out.append(f'<line x1="{left}" x2="{w - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
                   f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{frac * hi:.0f}</text>')
    for k in range(4):
        x0 = left + k * slot + slot * 0.15
        bw = slot * 0.33
        for side in range(2):
            mean, median, count = stats[side][k]
            x = x0 + side * bw
            y = h - bottom - mean * sy
            out.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw - 3:.1f}" height="{mean * sy:.1f}" '
                       f'fill="{WORLD_COLOURS[side]}" fill-opacity="0.8"><title>world {"AB"[side]}, '
                       f"{QUARTILE_LABELS[k]}: {count} members, mean {mean:.1f}, median {median:g} followers"
                       f"</title></rect>")
            ym = h - bottom - median * sy
            out.append(f'<line x1="{x:.1f}" x2="{x + bw - 3:.1f}" y1="{ym:.1f}" y2="{ym:.1f}" stroke="#000" '
                       f'stroke-width="2"/>')
            out.append(f'<text x="{x + (bw - 3) / 2:.1f}" y="{y - 3:.1f}" font-size="10" text-anchor="middle">'
                       f"{mean:.1f}</text>")
        out.append(f'<text x="{x0 + bw:.1f}" y="{h - bottom + 14}" font-size="10" text-anchor="middle">'
                   f"{QUARTILE_LABELS[k]}</text>")
    out.append("</svg>")
    return "".join(out)
