"""Two platform designs on the same people: the model behind the app's compare mode.

:class:`CompareModel` holds two :class:`~socialsim.model.PlatformModel` worlds, A and B. Both are built with the
same seed and the same fixed ``population.seed``, so they start from exactly the same people (traits, towns,
groups and offline contacts); only their design levers differ. One :meth:`CompareModel.step` steps both.

The presets (:data:`PRESETS`) are named comparisons of the findings, each a pair of overrides of the defaults
(:class:`~socialsim.params.Params`); options of the config groups (``platform=invite_only``, ``meetups=frequent``)
are read from the same YAML files the command line uses. :func:`verdict` states what design B did relative to
design A in one line, computed from the two worlds' latest metrics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import mesa
import numpy as np
import yaml

from .model import PlatformModel
from .params import Params

DEFAULTS = Params()  # the command line's defaults: both worlds start from them
APP_POPULATION_SIZE = 500  # people per world on the page (the command line's default is DEFAULTS.population.size)

#: a world's design levers: the app's control name -> the dotted parameter it sets
WORLD_LEVERS: dict[str, str] = {
    "recommender": "platform.recommender",
    "timeline": "platform.timeline",
    "reshares": "platform.reshares",
    "openness": "platform.openness",
    "invite_only": "platform.invite_only",
    "meetup_rate": "meetups.rate",
    "exit_rule": "leaving.exit_rule",
}
#: the people and the run, shared by both worlds. Homophily is here, not per world: it also draws the offline
#: contacts (population.homophily), so two values would give two different populations.
SHARED_LEVERS: dict[str, str] = {
    "size": "population.size",
    "minority_share": "population.minority_share",
    "homophily": "population.homophily",
    "seed": "seed",
    "steps": "run.steps",
}


def _get(params: Params, dotted: str) -> Any:
    value: Any = params
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def config_option(group: str, option: str) -> dict[str, Any]:
    """The dotted overrides of a config group's option, as the command line's ``group=option`` applies them
    (``config_option("platform", "invite_only")`` -> ``{"platform.openness": 0.2, "platform.invite_only": True}``)."""
    text = (resources.files("socialsim") / "conf" / group / f"{option}.yaml").read_text()
    return {f"{group}.{key}": value for key, value in (yaml.safe_load(text) or {}).items()}


@dataclass(frozen=True)
class Preset:
    """A named comparison: overrides of the defaults for world A and for world B, and what it asks."""
    name: str
    question: str
    a: dict[str, Any] = field(default_factory=dict)
    b: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the experiment of the findings it comes from

    def world_params(self, side: str) -> Params:
        """The defaults with this preset's overrides for world ``side`` ("a" or "b")."""
        return DEFAULTS.replace(**(self.a if side == "a" else self.b))

    def levers(self, side: str) -> dict[str, Any]:
        """Initial values of world ``side``'s levers under this preset."""
        p = self.world_params(side)
        return {name: _get(p, dotted) for name, dotted in WORLD_LEVERS.items()}

    def fixed(self, side: str) -> dict[str, Any]:
        """This preset's overrides of world ``side`` that no lever shows (they hold whatever the levers say)."""
        overrides = self.a if side == "a" else self.b
        return {k: v for k, v in overrides.items() if k not in WORLD_LEVERS.values()}


def _presets() -> tuple[Preset, ...]:
    scarce = {"platform.attention": 5}
    return (
        Preset("Calibrated baseline (the defaults) in both worlds",
               "Two runs of the same design on the same people: any difference is the design's, so here there is "
               "none (a check)."),
        Preset("Random vs popularity suggestions",
               "Does suggesting popular accounts concentrate attention?",
               {"platform.recommender": "random"}, {"platform.recommender": "popularity"}, "openness_vs_elite"),
        Preset("Random vs popularity suggestions, scarce attention (5 items a visit)",
               "Does the popularity recommender matter more when members read little?",
               {"platform.recommender": "random", **scarce}, {"platform.recommender": "popularity", **scarce},
               "recommender_by_attention"),
        Preset("No meetups vs frequent meetups",
               "Do meetups turn familiarity into closeness, and for whom?",
               config_option("meetups", "none"), config_option("meetups", "frequent"), "illusion_of_intimacy"),
        Preset("Open vs invite-only sign-up",
               "Does closing sign-up to people with a contact inside change who gets connected?",
               config_option("platform", "default"), config_option("platform", "invite_only"),
               "openness_vs_elite"),
        Preset("Random vs local suggestions",
               "Does local-first discovery build local ties?",
               {"platform.recommender": "random"}, config_option("platform", "local"), "local_networks"),
        Preset("Chronological timeline vs an attention economy",
               "Popularity suggestions and an engagement-ranked timeline (platform=algorithmic) against random "
               "suggestions and a chronological timeline.",
               {"platform.recommender": "random", "platform.timeline": "chronological"},
               config_option("platform", "algorithmic"), "openness_vs_elite"),
        Preset("The early elite stay vs leave once mainstream",
               "Under the imposed exit rule, does the elite's early advantage outlast them?",
               {"leaving.exit_rule": "imposed", "leaving.elite_exit_rate": 0.0},
               {"leaving.exit_rule": "imposed", "leaving.elite_exit_rate": 0.02}, "early_adopters"),
    )


PRESETS: tuple[Preset, ...] = _presets()
PRESET_NAMES: tuple[str, ...] = tuple(p.name for p in PRESETS)


def population_seed(seed: int) -> int:
    """The ``population.seed`` both worlds use: the defaults' if they fix one, else the model seed."""
    return DEFAULTS.population.seed if DEFAULTS.population.seed >= 0 else int(seed)


def _world_arguments() -> dict[str, Any]:
    """CompareModel's lever arguments and their defaults: ``a_<lever>`` and ``b_<lever>`` for each world."""
    base = PRESETS[0]
    return {f"{side}_{name}": value for side in "ab" for name, value in base.levers(side).items()}


class CompareModel(mesa.Model):
    """Two worlds, A and B, on the same people, stepped together.

    Build it from flat keyword arguments (the app's controls): the shared ones (``size``, ``minority_share``,
    ``homophily``, ``seed``, ``steps``), ``preset`` (the name of a :data:`PRESETS` entry, whose overrides that
    no lever shows apply), and each world's levers as ``a_<lever>`` / ``b_<lever>`` (see :data:`WORLD_LEVERS`).
    Unset levers take the preset's values. Stops (``running = False``) after ``steps`` steps.
    """

    def __init__(self, size: int = APP_POPULATION_SIZE, minority_share: float = DEFAULTS.population.minority_share,
                 homophily: float = DEFAULTS.population.homophily, seed: int = DEFAULTS.seed,
                 steps: int = DEFAULTS.run.steps, preset: str = PRESET_NAMES[0], **levers: Any):
        unknown = sorted(set(levers) - set(_world_arguments()))
        if unknown:
            raise TypeError(f"CompareModel got an unknown lever {unknown[0]!r}; allowed: "
                            f"{', '.join(_world_arguments())}")
        super().__init__(rng=int(seed))
        self.preset = preset_named(preset)
        shared = {"population.size": int(size), "population.minority_share": float(minority_share),
                  "population.homophily": float(homophily), "seed": int(seed), "run.steps": int(steps),
                  "population.seed": population_seed(int(seed))}
        worlds = []
        for side in "ab":
            values = {**self.preset.levers(side),
                      **{k[2:]: v for k, v in levers.items() if k.startswith(side + "_")}}
            overrides = {**self.preset.fixed(side), **shared,
                         **{WORLD_LEVERS[name]: _lever_value(name, value) for name, value in values.items()}}
            worlds.append(PlatformModel(DEFAULTS.replace(**overrides)))
        self.worlds: tuple[PlatformModel, PlatformModel] = (worlds[0], worlds[1])
        self.run_steps = int(steps)
        self.running = self.steps < self.run_steps

    @property
    def a(self) -> PlatformModel:
        """World A."""
        return self.worlds[0]

    @property
    def b(self) -> PlatformModel:
        """World B."""
        return self.worlds[1]

    def step(self) -> None:
        """One step of each world; stops at ``steps``."""
        for world in self.worlds:
            world.step()
        if self.steps >= self.run_steps:
            self.running = False

    def design_differences(self) -> list[tuple[str, Any, Any]]:
        """(parameter, value in A, value in B) for every parameter on which the two worlds differ."""
        a, b = _flat(self.a.params.to_dict()), _flat(self.b.params.to_dict())
        return [(k, a[k], b[k]) for k in a if a[k] != b[k]]


def preset_named(name: str) -> Preset:
    """The preset called ``name``; a one-line error naming the allowed names for any other."""
    for p in PRESETS:
        if p.name == name:
            return p
    raise ValueError(f"preset must be one of {', '.join(repr(n) for n in PRESET_NAMES)}; got {name!r}")


def _lever_value(name: str, value: Any) -> Any:
    """A control's value as the parameter's type (sliders may hand over ints, checkboxes anything truthy)."""
    default = _get(DEFAULTS, WORLD_LEVERS[name])
    if isinstance(default, bool):
        return bool(value)
    if isinstance(default, float):
        return float(value)
    return value


def _flat(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict) and k != "recommender_mix":
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


# --- the verdict ------------------------------------------------------------------------------------------------

#: what the verdict compares: (metric, words, scale, unit); shares are given in percentage points
VERDICT_TERMS = (
    ("gini_followers", "Gini of followers", 1.0, ""),
    ("low_skill_new_tie_share", "least-skilled quarter with a new tie", 100.0, " points"),
    ("shy_new_tie_share", "shyest quarter with a new tie", 100.0, " points"),
    ("intimacy_gap", "intimacy gap", 1.0, ""),
)


def verdict(model: CompareModel) -> str:
    """One line: what design B did relative to design A at the current step, from the worlds' latest metrics,
    labelled with what it rests on (this one population, this seed, one run each)."""
    a, b = model.a.metrics, model.b.metrics
    terms = list(VERDICT_TERMS)
    if model.a.params.population.minority_share > 0:
        terms.append(("minority_visibility", "minority visibility", 1.0, ""))
    parts = []
    for name, words, scale, unit in terms:
        delta = scale * (b[name] - a[name])
        digits = 0 if unit else 2
        text = f"{delta:+.{digits}f}".replace("-", "\u2212")
        if text.lstrip("+\u2212").strip("0.") == "":
            text = "\u00b10" if digits == 0 else "\u00b10.00"
        parts.append(f"{words} {text}{unit}")
    return (f"Design B against design A after {model.steps} steps: " + ", ".join(parts)
            + f" (one population of {model.a.params.population.size}, seed {model.a.params.seed}, one run each)")


# --- where the people are drawn -------------------------------------------------------------------------------


def population_layout(pop, seed: int, iterations: int = 40) -> np.ndarray:
    """Positions (people, 2) in [0, 1]^2, from the offline contact network, computed once for both worlds.

    Towns are placed by a force layout of the town graph (towns linked by their cross-town contacts), each town
    a disc whose area grows with its people; within a town, people are placed by a force layout of the town's
    own contacts. Cost is the sum of squared town sizes, far below a layout of everyone at once."""
    rng = np.random.default_rng([int(seed), 11])
    n = pop.size
    town = pop.town.astype(np.int64)
    towns = int(town.max()) + 1 if n else 0
    a, b = pop.contact_pairs(np.arange(n))
    sizes = np.bincount(town, minlength=towns).astype(float)
    cross = town[a] != town[b]
    link = np.zeros((towns, towns))
    np.add.at(link, (town[a[cross]], town[b[cross]]), 1.0)
    link = (link + link.T) / max(link.max(), 1.0)
    radius = np.sqrt(sizes / max(sizes.sum(), 1.0)) * 0.9
    centres = _force_layout(link, rng.random((towns, 2)), iterations=80, radius=radius)
    xy = np.zeros((n, 2))
    for t in range(towns):
        people = np.flatnonzero(town == t)
        if people.size == 0:
            continue
        local = np.full(n, -1)
        local[people] = np.arange(people.size)
        inside = (town[a] == t) & (town[b] == t)
        adj = np.zeros((people.size, people.size))
        adj[local[a[inside]], local[b[inside]]] = 1.0
        adj = np.maximum(adj, adj.T)
        pos = _force_layout(adj, rng.random((people.size, 2)), iterations=iterations)
        pos -= pos.mean(0)
        extent = np.abs(pos).max() if people.size > 1 else 1.0
        xy[people] = centres[t] + pos / max(extent, 1e-9) * radius[t]
    lo, hi = xy.min(0), xy.max(0)
    return (xy - lo) / np.maximum(hi - lo, 1e-9).max()


def _force_layout(adj: np.ndarray, xy: np.ndarray, iterations: int, radius: np.ndarray | None = None) -> np.ndarray:
    """Fruchterman-Reingold on a dense adjacency (weights); ``radius`` keeps discs of those radii apart."""
    n = xy.shape[0]
    if n <= 1:
        return xy
    k = 1.0 / np.sqrt(n)
    temperature = 0.1
    cool = temperature / (iterations + 1)
    for _ in range(iterations):
        delta = xy[:, None, :] - xy[None, :, :]
        dist = np.maximum(np.linalg.norm(delta, axis=-1), 1e-3)
        repulse = k * k / dist**2
        if radius is not None:  # discs that overlap push apart strongly
            repulse = repulse + 4.0 * np.maximum(radius[:, None] + radius[None, :] - dist, 0.0) / dist
        force = repulse - adj * dist / k
        np.fill_diagonal(force, 0.0)
        disp = np.einsum("ijk,ij->ik", delta, force)
        disp -= 0.05 * (xy - xy.mean(0)) / k  # gravity: unlinked parts stay near
        length = np.maximum(np.linalg.norm(disp, axis=-1), 1e-9)
        xy = xy + disp * (np.minimum(length, temperature) / length)[:, None]
        temperature -= cool
    return xy
