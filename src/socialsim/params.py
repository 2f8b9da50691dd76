"""Every parameter of the model: defaults, allowed values and validation, in one place.

The dataclasses here back Hydra's ConfigStore (see ``socialsim.config``) and the
keyword-argument constructor of :class:`socialsim.model.PlatformModel` alike.
Each field's ``metadata`` says what is allowed: ``range=(lo, hi)`` (inclusive,
``None`` for unbounded), ``choices=(...)``, and ``doc`` (the meaning, used by docs/ODD.md).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

RECOMMENDERS = ("none", "random", "popularity", "friends_of_friends", "local", "newcomer_boost", "mixture")
BASE_RECOMMENDERS = ("random", "popularity", "friends_of_friends", "local", "newcomer")
TIMELINES = ("chronological", "engagement")
ATTACHMENTS = ("behaviour", "preferential", "uniform", "fitness", "homophilic_preferential")
EXIT_RULES = ("audience", "imposed")
CLOSE_RULES = ("budget", "dunbar")


class ParameterError(ValueError):
    """A parameter has a value that is not allowed; the message names it and what is allowed."""


def _p(default: Any, doc: str, range: tuple | None = None, choices: tuple | None = None):
    meta: dict[str, Any] = {"doc": doc}
    if range is not None:
        meta["range"] = range
    if choices is not None:
        meta["choices"] = choices
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


PROB = (0.0, 1.0)
POS = (0.0, None)


@dataclass
class PopulationParams:
    """The people who could join: traits, towns, offline contacts and groups."""
    size: int = _p(2000, "people who could join (N)", (1, None))
    towns: int = _p(20, "towns the population lives in (L)", (1, None))
    town_size_exponent: float = _p(1.0, "Zipf exponent of town sizes (0 = equal towns)", POS)
    skill_alpha: float = _p(2.0, "Beta(alpha, beta) margin of social skill in [0, 1]", (1e-6, None))
    skill_beta: float = _p(2.0, "Beta(alpha, beta) margin of social skill", (1e-6, None))
    reach_sigma: float = _p(1.5, "log-normal sigma of offline reach (mean 1); large = a small elite", POS)
    skill_reach_correlation: float = _p(0.5, "Gaussian-copula correlation of skill and reach", (-1.0, 1.0))
    shyness_alpha: float = _p(2.0, "Beta margin of shyness in [0, 1]", (1e-6, None))
    shyness_beta: float = _p(2.0, "Beta margin of shyness", (1e-6, None))
    skill_shyness_correlation: float = _p(-0.3, "Gaussian-copula correlation of skill and shyness", (-1.0, 1.0))
    activity_alpha: float = _p(1.10243, "Beta margin of activity: the chance to be online in a step", (1e-6, None))
    activity_beta: float = _p(2.81811, "Beta margin of activity", (1e-6, None))
    offline_degree: float = _p(10.0, "mean number of offline contacts per person", POS)
    offline_local_share: float = _p(0.8, "share of offline contacts within one's own town", PROB)
    offline_reach_exponent: float = _p(0.7, "offline contacts grow as reach ** this", POS)
    seed: int = _p(-1, "seed of the population alone (-1 = drawn from the model's seed); fix it to rerun "
                   "the same people in different worlds", (-1, None))
    offline_network: str = _p(
        "", "start from this offline contact network instead of drawing one: an edge list (SNAP format: two "
        "person ids per line, separated by spaces or tabs, lines starting with # ignored; undirected, duplicates "
        "and self-loops dropped). population.size comes from the file (people numbered 0..N-1 in increasing "
        "order of their ids); traits are drawn as usual and handed out so that reach rises with the number of "
        "contacts. Empty = draw the network")
    offline_towns: str = _p(
        "", "with offline_network: a file of towns, one 'ID TOWN' pair per line (# comments; TOWN any label), "
        "covering every person of the edge list (people listed only here join without contacts); population.towns "
        "comes from it, town 0 the largest. Empty = towns drawn as usual")
    minority_share: float = _p(0.0, "share f of people in the minority group (0 = no groups)", (0.0, 0.5))
    homophily: float = _p(0.5, "homophily h: weight of one's own group in offline contacts and follow choices "
                          "(0.5 = no preference, 1 = own group only, 0 = other group only)", PROB)


@dataclass
class AdoptionParams:
    """How people join: Bass adoption, elite early adoption and the classic attachment rules."""
    seed_members: int = _p(10, "people on the platform at step 0 (the highest-reach first adopters)", (1, None))
    spontaneous_rate: float = _p(0.0007, "Bass p: chance per step to join unprompted (times openness)", PROB)
    imitation_rate: float = _p(0.06, "Bass q: chance per step to join, times the share of offline contacts on it", PROB)
    elite_early_adoption: float = _p(1.0, "how strongly reach speeds up spontaneous joining (0 = not at all)", POS)
    attachment: str = _p(
        "behaviour",
        "how newcomers find first followees: 'behaviour' (offline contacts, then reading and recommendations); "
        "classic reductions: 'preferential' (Barabasi-Albert), 'uniform' (Erdos-Renyi), 'fitness' (Bianconi-Barabasi), "
        "'homophilic_preferential' (Karimi et al. 2018's PAH: degree x h_ab)",
        choices=ATTACHMENTS,
    )
    attachment_links: int = _p(3, "links m a newcomer makes under a classic attachment rule", (1, None))
    arrivals_per_step: int = _p(0, "fixed joiners per step in join order (0 = Bass adoption)", (0, None))


@dataclass
class PlatformParams:
    """The platform's design: sign-up, suggestions, timeline, reshares and the follow cap."""
    openness: float = _p(1.0, "how open sign-up is: scales spontaneous joining", PROB)
    invite_only: bool = _p(False, "joining needs an offline contact who is already a member")
    recommender: str = _p("random", "who-to-follow recommender", choices=RECOMMENDERS)
    recommender_slots: int = _p(2, "recommendations shown per online member per step (k)", (0, None))
    recommender_mix: dict = _p(
        {"random": 0.5, "popularity": 0.5},
        "weights of base recommenders for recommender=mixture (keys: " + ", ".join(BASE_RECOMMENDERS)
        + "; used in this order, whatever order they are given in)",
    )
    newcomer_share: float = _p(0.5, "share of slots for recent joiners under recommender=newcomer_boost", PROB)
    newcomer_window: int = _p(30, "steps a member counts as a newcomer", (1, None))
    timeline: str = _p("chronological", "timeline ordering", choices=TIMELINES)
    attention: int = _p(20, "items a member reads per online step (A)", (0, None))
    reshares: bool = _p(True, "reshares put posts into the resharer's followers' timelines")
    post_lifetime: int = _p(3, "steps a post circulates: reshares of older posts are not shown", (1, None))
    follow_cap: int = _p(2000, "most followees unless one has more followers than this (0 = no cap)", (0, None))


@dataclass
class BehaviourParams:
    """What members do: posting, engaging, resharing, following, following back and unfollowing."""
    post_prob: float = _p(0.412065, "chance an online member posts", PROB)
    appeal_noise: float = _p(0.25, "sd of the noise added to skill to give a post's appeal", POS)
    engage_base: float = _p(-4.0, "logit of engaging (like or reply) with a post of appeal 0", (None, None))
    engage_slope: float = _p(3.0, "rise of the engagement logit per unit appeal", (None, None))
    reply_share: float = _p(0.3, "share of engagements that are replies (times 1 - shyness) under "
                            "intimacy.close_rule=dunbar; under the budget rule the reply budget decides", PROB)
    answer_prob: float = _p(0.6, "chance the author answers a reply (times 1 - shyness/2)", PROB)
    reshare_base: float = _p(-6.0, "logit of resharing a post of appeal 0", (None, None))
    reshare_slope: float = _p(3.0, "rise of the reshare logit per unit appeal", (None, None))
    follow_base: float = _p(-4.37331, "logit of following an author one is exposed to", (None, None))
    follow_slope: float = _p(3.0, "rise of the follow logit per unit appeal", (None, None))
    prominence: float = _p(0.4371, "rise of the follow logit per unit log-reach of the author", POS)
    offline_follow_prob: float = _p(0.250754, "chance a newcomer follows each offline contact already on it", PROB)
    follow_back_prob: float = _p(0.0395138, "chance to follow back a new follower, for an account with few followers", PROB)
    follow_back_scale: float = _p(10.8583, "followers at which the follow-back chance has halved", (1e-9, None))
    silence_steps: int = _p(30, "steps without a post after which followers start to unfollow", (1, None))
    unfollow_prob: float = _p(0.05, "chance per step to unfollow a silent account", PROB)


@dataclass
class IntimacyParams:
    """How familiarity and closeness grow and fade, and the rule that limits close ties."""
    familiarity_gain: float = _p(0.2, "familiarity gained per post read from an author", POS)
    familiarity_decay: float = _p(0.02, "share of familiarity lost per step", PROB)
    closeness_gain_reply: float = _p(0.5, "closeness gained by both sides of an answered reply", POS)
    closeness_gain_meeting: float = _p(3.0, "closeness gained by meeting in person", POS)
    closeness_decay: float = _p(0.01, "share of closeness lost per step", PROB)
    close_threshold: float = _p(1.0, "closeness at which a tie counts as close", (1e-9, None))
    dunbar: int = _p(150, "most close ties a member can keep (close_rule=dunbar)", (1, None))
    close_rule: str = _p(
        "budget",
        "what limits closeness: 'budget' (each member sends at most reply_budget replies and gives at most "
        "reply_budget answers per step, closest ties first) or 'dunbar' (no budget; close ties beyond `dunbar` "
        "are demoted)",
        choices=CLOSE_RULES,
    )
    reply_budget: int = _p(1, "replies a member sends, and answers a member gives, per step (close_rule=budget)",
                           (0, None))
    exploration: float = _p(0.5, "random priority (closeness units, times an Exp(1) draw) that lets a reply to or "
                            "from someone not yet close compete for the budget (close_rule=budget)", POS)


@dataclass
class MeetupParams:
    """Local meetups: how often they happen, who hears of them and goes, and whom they meet."""
    rate: float = _p(0.0378, "chance per step that an eligible town holds a meetup", PROB)
    min_members: int = _p(20, "members a town needs for meetups", (1, None))
    hear_prob: float = _p(0.435, "chance to hear of a meetup through each local followee", PROB)
    attend_base: float = _p(-2.0, "logit of attending, having heard", (None, None))
    attend_skill: float = _p(2.0, "rise of the attendance logit per unit skill", POS)
    attend_ties: float = _p(0.5, "rise of the attendance logit per log(1 + local followees)", POS)
    attend_shyness: float = _p(3.0, "fall of the attendance logit per unit shyness (and a factor 1 - shyness)", POS)
    meets: int = _p(3, "people each attendee meets", (0, None))
    follow_preference: float = _p(3.0, "weight of meeting someone one already follows (others weigh 1)", POS)


@dataclass
class LeavingParams:
    """Going quiet and leaving: the base rate and the exit rule."""
    quiet_rate: float = _p(0.00052495, "chance per step that a member goes quiet (then leaves)", PROB)
    quiet_steps: int = _p(30, "steps a quiet member stays before leaving", (0, None))
    mainstream_share: float = _p(0.3, "share of the population on the platform that makes it mainstream", PROB)
    elite_quantile: float = _p(0.9, "reach quantile above which a person counts as elite", PROB)
    elite_exit_rate: float = _p(0.005, "extra quiet chance per step for early elite adopters once mainstream "
                                "(exit_rule=imposed)", PROB)
    exit_rule: str = _p(
        "audience",
        "why members leave beyond quiet_rate: 'audience' (when the share of their followers whom they follow back "
        "falls below what they came to expect) or 'imposed' (elite_exit_rate for early elite adopters once "
        "mainstream)",
        choices=EXIT_RULES,
    )
    expectation_memory: int = _p(200, "steps over which members form what they expect of their audience "
                                 "(exit_rule=audience)", (1, None))
    tolerance: float = _p(0.2, "relative fall of the valued-audience share a member shrugs off "
                          "(exit_rule=audience)", PROB)
    disappointment_exit: float = _p(0.0914122, "extra quiet chance per step per unit of relative fall beyond the "
                                    "tolerance (exit_rule=audience)", PROB)


@dataclass
class MetricParams:
    """Settings of the metrics (the top group and the lag of its turnover)."""
    top_k: int = _p(50, "size of the top group for top_k_turnover", (1, None))
    turnover_lag: int = _p(30, "steps over which top_k_turnover compares the top group", (1, None))


@dataclass
class RunParams:
    """How a run is carried out: steps, checkpoints and resuming."""
    steps: int = _p(365, "steps to run (one step is a day)", (1, None))
    checkpoint_every: int = _p(0, "save checkpoint.npz in the run folder every this many steps (0 = never); "
                               "how a run is carried out, not what it computes", (0, None))
    resume: bool = _p(False, "continue from the run folder's checkpoint (same configuration only)")
    record_every: int = _p(1, "measure and record the metrics every this many steps and at the last step; joined, "
                           "left, meetups, attendees and nonfollower_impression_share then cover the steps since "
                           "the previous record", (1, None))


@dataclass
class Params:
    """Every parameter of a run, in groups; build with :meth:`from_dict` or :meth:`resolve`."""
    population: PopulationParams = field(default_factory=PopulationParams)
    adoption: AdoptionParams = field(default_factory=AdoptionParams)
    platform: PlatformParams = field(default_factory=PlatformParams)
    behaviour: BehaviourParams = field(default_factory=BehaviourParams)
    intimacy: IntimacyParams = field(default_factory=IntimacyParams)
    meetups: MeetupParams = field(default_factory=MeetupParams)
    leaving: LeavingParams = field(default_factory=LeavingParams)
    metrics: MetricParams = field(default_factory=MetricParams)
    run: RunParams = field(default_factory=RunParams)
    seed: int = _p(0, "seed of the model's random number generator", (0, None))

    @classmethod
    def from_dict(cls, data: dict | None = None, **overrides: Any) -> Params:
        """Build from nested dicts and/or dotted overrides (``{"platform.openness": 0.3}``)."""
        merged: dict[str, Any] = {}
        for key, value in {**(data or {}), **overrides}.items():
            _set_dotted(merged, key.replace("__", "."), value)
        params = _build(cls, merged, prefix="")
        validate(params)
        return params

    def to_dict(self) -> dict:
        """The parameters as nested dicts (what :meth:`from_dict` reads back)."""
        return dataclasses.asdict(self)

    @classmethod
    def resolve(cls, params: Params | dict | None = None, rng: int | None = None, **overrides: Any) -> Params:
        """The parameters a model constructor was given: an object or dicts, dotted overrides, and ``rng=`` as seed."""
        if isinstance(params, Params) and not overrides:
            p = params
        else:
            p = cls.from_dict(params.to_dict() if isinstance(params, Params) else params, **overrides)
        return p if rng is None else p.replace(seed=int(rng))

    def replace(self, **overrides: Any) -> Params:
        """A copy with dotted overrides applied: ``p.replace(**{"platform.openness": 0.2})``."""
        return Params.from_dict(self.to_dict(), **overrides)


def _set_dotted(target: dict, key: str, value: Any) -> None:
    head, _, rest = key.partition(".")
    if rest:
        sub = target.setdefault(head, {})
        if not isinstance(sub, dict):
            raise ParameterError(f"{head} is a value, not a group; cannot set {key}")
        _set_dotted(sub, rest, value)
    elif isinstance(value, dict) and isinstance(target.get(head), dict):
        for k, v in value.items():
            _set_dotted(target[head], k, v)
    else:
        target[head] = value


def _build(cls: type, data: Any, prefix: str):
    if data is None:
        data = {}
    if dataclasses.is_dataclass(data):
        data = dataclasses.asdict(data)
    if not isinstance(data, dict):
        raise ParameterError(f"{prefix.rstrip('.') or 'params'} must be a group of settings, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        name = prefix + unknown[0]
        raise ParameterError(f"{name} is not a parameter; allowed here: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in data.items():
        f = fields[name]
        ftype = f.type if isinstance(f.type, type) else _resolve(f.type)
        if dataclasses.is_dataclass(ftype):
            kwargs[name] = _build(ftype, value, prefix + name + ".")
        else:
            kwargs[name] = _coerce(prefix + name, ftype, value)
    return cls(**kwargs)


def _resolve(annotation: str) -> type:
    table = {"int": int, "float": float, "bool": bool, "str": str, "dict": dict}
    for cls_ in (PopulationParams, AdoptionParams, PlatformParams, BehaviourParams, IntimacyParams,
                 MeetupParams, LeavingParams, MetricParams, RunParams):
        table[cls_.__name__] = cls_
    return table[annotation]


def _coerce(name: str, ftype: type, value: Any) -> Any:
    if ftype is bool:
        if isinstance(value, bool):
            return value
        raise ParameterError(f"{name} must be true or false, got {value!r}")
    if ftype is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ParameterError(f"{name} must be a whole number, got {value!r}")
        return int(value)
    if ftype is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(f"{name} must be a number, got {value!r}")
        return float(value)
    if ftype is str:
        if not isinstance(value, str):
            raise ParameterError(f"{name} must be a name, got {value!r}")
        return value
    if ftype is dict:
        if not hasattr(value, "items"):
            raise ParameterError(f"{name} must be a mapping, got {value!r}")
        return dict(value.items())
    return value


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def allowed(meta: dict) -> str:
    """Describe the allowed values from a field's metadata, e.g. 'a number in [0, 1]'."""
    if "choices" in meta:
        return "one of " + ", ".join(meta["choices"])
    lo, hi = meta.get("range", (None, None))
    if lo is not None and hi is not None:
        return f"in [{_fmt(lo)}, {_fmt(hi)}]"
    if lo is not None:
        return f">= {_fmt(lo)}"
    if hi is not None:
        return f"<= {_fmt(hi)}"
    return "any value"


def iter_fields(obj: Any = None, prefix: str = ""):
    """Yield (dotted name, field, value) for every leaf parameter."""
    obj = obj if obj is not None else Params()
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from iter_fields(value, prefix + f.name + ".")
        else:
            yield prefix + f.name, f, value


def validate(params: Params) -> None:
    """Raise ParameterError naming the first parameter whose value is not allowed."""
    for name, f, value in iter_fields(params):
        meta = f.metadata
        if isinstance(value, float) and (value != value or abs(value) == float("inf")):  # nan, inf
            bounds = "" if meta.get("range", (None, None)) == (None, None) else " " + allowed(meta)
            raise ParameterError(f"{name} must be a finite number{bounds}; got {value!r}")
        if "choices" in meta and value not in meta["choices"]:
            raise ParameterError(f"{name} must be {allowed(meta)}; got {value!r}")
        if "range" in meta and value is not None:
            lo, hi = meta["range"]
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ParameterError(f"{name} must be {allowed(meta)}; got {value!r}")
    mix = params.platform.recommender_mix
    for key, weight in mix.items():
        if key not in BASE_RECOMMENDERS:
            raise ParameterError(
                f"platform.recommender_mix has an unknown recommender {key!r}; allowed: {', '.join(BASE_RECOMMENDERS)}"
            )
        if not isinstance(weight, (int, float)) or weight < 0:
            raise ParameterError(f"platform.recommender_mix.{key} must be a number >= 0, got {weight!r}")
    if params.platform.recommender == "mixture" and sum(mix.values()) <= 0:
        raise ParameterError("platform.recommender_mix must have a positive weight when platform.recommender=mixture")
    if params.adoption.seed_members > params.population.size:
        raise ParameterError(
            f"adoption.seed_members must be <= population.size ({params.population.size}); "
            f"got {params.adoption.seed_members}"
        )


def markdown_table() -> str:
    """The parameter table of docs/ODD.md (a test keeps the two identical)."""
    rows = ["| parameter | default | allowed | meaning |", "| --- | --- | --- | --- |"]
    for name, f, value in iter_fields():
        shown = ", ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, dict) else value
        kind = "true/false" if isinstance(value, bool) else allowed(f.metadata)
        rows.append(f"| `{name}` | {shown} | {kind} | {f.metadata['doc']} |")
    return "\n".join(rows)


# --- identity of a configuration ----------------------------------------------------------------
def flat_params(params: Params) -> dict[str, Any]:
    """Every leaf parameter by dotted name; dict-valued parameters are flattened one level further."""
    out: dict[str, Any] = {}
    for name, _, value in iter_fields(params):
        if isinstance(value, dict):
            for key in sorted(value):
                out[f"{name}.{key}"] = value[key]
        else:
            out[name] = value
    return out


#: how a run is carried out, not what it computes: left out of config_hash (see socialsim.recovery)
RUN_CONTROL = ("run.checkpoint_every", "run.resume")
#: input files, left out of config_hash when not given
OPTIONAL_INPUTS = ("population.offline_network", "population.offline_towns")
#: settings added after run folders were first written, left out of config_hash at these default values, so that
#: a configuration keeps its hash (and its run folders) when it does not use them
LATER_DEFAULTS = {"run.record_every": 1}


def config_hash(params: Params) -> str:
    """A stable hash of the resolved model configuration (seed included; Hydra runtime keys and the
    RUN_CONTROL settings excluded)."""
    data = params.to_dict()
    for name in RUN_CONTROL:
        group, _, key = name.partition(".")
        data[group].pop(key, None)
    for name in OPTIONAL_INPUTS:  # unset, they leave the hashes of configurations made before they existed
        group, _, key = name.partition(".")
        if not data[group].get(key):
            data[group].pop(key, None)
    for name, default in LATER_DEFAULTS.items():
        group, _, key = name.partition(".")
        if data[group].get(key) == default:
            data[group].pop(key, None)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
