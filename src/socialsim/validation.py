"""Validation statistics: the classic network models and Twitter's measured 2009 structure.

Everything here is computed from a run's outputs: ``member_frame()`` (one row per person who ever joined)
and ``follows_frame()`` (the live follow edges, follower -> followee). See docs/VALIDATION.md for the
targets, their sources and the model's values.

- :func:`pair_reciprocity`: share of linked pairs that follow each other (Kwak et al. 2010's 22.1%).
- :func:`share_followed_by_no_followee`: share of users none of whose followees follows them (67.6%).
- :func:`powerlaw_fit`: discrete maximum-likelihood power-law fit (Clauset, Shalizi, Newman 2009, through the
  ``powerlaw`` package), with x_min chosen by the Kolmogorov-Smirnov distance, for follower counts within the
  body of the distribution (Kwak et al.: 2.276).
- :func:`powerlaw_vs_exponential`: likelihood-ratio test of a power-law tail against an exponential one.
- :func:`binomial_gof`: chi-square goodness of fit of a degree histogram to a binomial.
- :func:`overtaking`: do fitter latecomers overtake earlier members (Bianconi-Barabasi) or not (BA)?
- :func:`minority_visibility`: the minority's share of the best-connected divided by its share of members
  (Karimi et al. 2018's reduction check of homophilic preferential attachment).
- :func:`interval`: mean and t-interval of a statistic over seeds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .extras import require
from .params import Params

SCENARIO_DIR = Path(__file__).resolve().parent / "conf" / "scenario"

# --- running a preset -----------------------------------------------------
def scenario_params(name: str, overrides: dict | None = None) -> Params:
    """The parameters of ``socialsim/conf/scenario/NAME.yaml`` with dotted overrides.

    Uses the Hydra composition (``socialsim.config.compose_params``) when it exists, and otherwise
    reads the scenario file with OmegaConf; both give the same Params.
    """
    overrides = dict(overrides or {})
    try:
        from .config import compose_params  # noqa: PLC0415
    except ImportError:
        compose_params = None
    if compose_params is not None and (SCENARIO_DIR.parent / "config.yaml").exists():
        return compose_params([f"scenario={name}"] + [f"{k}={_hydra_value(v)}" for k, v in overrides.items()])
    from omegaconf import OmegaConf  # noqa: PLC0415

    data = OmegaConf.to_container(OmegaConf.load(SCENARIO_DIR / f"{name}.yaml"), resolve=True)
    return Params.from_dict(data, **overrides)


def _hydra_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def classic_overrides(size: int, arrivals_per_step: int = 1, seed_members: int = 4) -> dict:
    """Overrides that run a growth preset (barabasi_albert, bianconi_barabasi) at another size.

    Newcomers of one step attach one after another (see ``adoption.attach``), so ``arrivals_per_step`` = k
    is the same growth process as one newcomer per step, in k times fewer steps (and model measurements).
    """
    steps = -(-(size - seed_members) // arrivals_per_step)
    return {"population.size": size, "adoption.arrivals_per_step": arrivals_per_step,
            "adoption.seed_members": seed_members, "run.steps": steps}


@dataclass
class RunOutput:
    """The three tables of one run."""
    members: pd.DataFrame  # member_frame(): everyone who ever joined
    follows: pd.DataFrame  # follows_frame(): live follows
    timeseries: pd.DataFrame


def run(params: Params) -> RunOutput:
    """Run the model for ``params`` in this process and return its tables."""
    from .model import PlatformModel  # noqa: PLC0415

    model = PlatformModel(params)
    model.run()
    return RunOutput(model.member_frame(), model.follows_frame(), model.timeseries())


def minority_visibility(members: pd.DataFrame, top_share: float = 0.1) -> float:
    """The minority's share of the top ``top_share`` of current members by total degree (followers + followees,
    ties broken by member order) divided by its share of current members: > 1 over-represented, < 1 under."""
    m = current(members)
    degree = (m["followers"] + m["followees"]).to_numpy()
    minority = (m["group"] == 1).to_numpy()
    k = max(1, int(round(top_share * len(m))))
    top = np.argsort(-degree, kind="stable")[:k]
    return float(minority[top].mean() / minority.mean()) if minority.any() else float("nan")


def current(members: pd.DataFrame) -> pd.DataFrame:
    """Members still on the platform at the end (joined, not left)."""
    return members[members["left_step"] < 0]


# --- Twitter 2009 statistics -----------------------------------------------
def pair_reciprocity(follows: pd.DataFrame) -> float:
    """Share of linked (unordered) pairs that follow each other, from the follow edge list.

    With E edges of which 2M lie in M mutual pairs, the linked pairs are E - M. (networkx's reciprocity is
    edge-based, r_e = 2M / E; the pair-based one is r_e / (2 - r_e).)
    """
    a = follows["follower"].to_numpy(np.int64)
    b = follows["followee"].to_numpy(np.int64)
    if a.size == 0:
        return 0.0
    n = int(max(a.max(), b.max())) + 1
    key = np.unique(a * n + b)
    mutual_edges = np.isin(b * n + a, key).sum()
    mutual_pairs = mutual_edges // 2
    return float(mutual_pairs / (key.size - mutual_pairs))


def followed_by_no_followee(follows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(users who follow someone, whether none of the accounts they follow follows them back).

    A user u follows F(u); u counts when no v in F(u) has the follow v -> u. Computed from the edge list:
    an edge u -> v is reciprocated when v -> u is also an edge.
    """
    a = follows["follower"].to_numpy(np.int64)
    b = follows["followee"].to_numpy(np.int64)
    if a.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    n = int(max(a.max(), b.max())) + 1
    reciprocated = np.isin(b * n + a, a * n + b)
    users = np.unique(a)
    any_back = np.zeros(n, bool)
    any_back[a[reciprocated]] = True
    return users, ~any_back[users]


def share_followed_by_no_followee(follows: pd.DataFrame, members: pd.DataFrame | None = None) -> float:
    """Share of users followed by none of the accounts they follow (Kwak et al. 2010: 67.6%).

    The denominator is the users who follow at least one account: for someone who follows nobody the
    statement is empty, and Kwak et al.'s reading ("Twitter is a source of information rather than a social
    network" for these users) is about people who do follow others. With ``members`` given, only those
    members count (e.g. :func:`current` members).
    """
    users, none_back = followed_by_no_followee(follows)
    if members is not None:
        keep = np.isin(users, members["member_id"].to_numpy())
        users, none_back = users[keep], none_back[keep]
    return float(none_back.mean()) if users.size else float("nan")


@dataclass
class PowerLawFit:
    """A discrete power-law fit of a tail (see :func:`powerlaw_fit`)."""
    alpha: float  # exponent of P(x) ~ x^-alpha for x >= xmin
    xmin: float
    sigma: float  # standard error of alpha
    n_tail: int  # observations >= xmin
    n: int  # observations fitted (positive values)
    xmax: float | None = None


# the share of the followed members a "body" fit keeps at least (see powerlaw_fit)
BODY_SHARE = 0.3


def powerlaw_fit(values, xmin: float | None = None, xmax: float | None = None,
                 body_share: float | None = None) -> PowerLawFit:
    """Discrete power-law fit of positive counts (zeros dropped) with the ``powerlaw`` package.

    x_min, unless given, is the one that minimises the Kolmogorov-Smirnov distance between the data above it
    and the fitted law (Clauset, Shalizi, Newman 2009). With ``body_share`` the search for x_min is limited to
    values that keep at least that share of the observations in the fit (x_min <= their 1 - body_share
    quantile): a fit of the body of the distribution, not of its last few dozen values. ``xmax`` cuts the
    far tail off, as Kwak et al. did above about 1e5 followers.
    """
    powerlaw = require("powerlaw", "study", "a power-law fit")

    x = np.asarray(values)
    x = x[x > 0]

    def fixed(lo):
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")
            fit = powerlaw.Fit(x, discrete=True, xmin=lo, xmax=xmax, verbose=False)
            pl = fit.power_law  # fitted lazily, here
            return pl, float(pl.alpha), float(pl.standard_err if hasattr(pl, "standard_err") else pl.sigma), pl.D

    if xmin is None and body_share is not None:
        # the Clauset et al. scan over the candidate x_min values of the body: the smallest KS distance wins
        hi = np.quantile(x, 1.0 - body_share)
        best = None
        for lo in np.unique(x[x <= hi]):
            pl, alpha, sigma, dist = fixed(float(lo))
            if np.isfinite(alpha) and (best is None or dist < best[3]):
                best = (pl, alpha, sigma, dist)
        pl, alpha, sigma, _ = best
    elif xmin is None:
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore")
            fit = powerlaw.Fit(x, discrete=True, xmax=xmax, verbose=False)
            pl = fit.power_law
            alpha, sigma = float(pl.alpha), float(pl.standard_err if hasattr(pl, "standard_err") else pl.sigma)
    else:
        pl, alpha, sigma, _ = fixed(xmin)
    return PowerLawFit(alpha=float(alpha), xmin=float(pl.xmin), sigma=float(sigma),
                       n_tail=int(np.sum(x >= pl.xmin) - (0 if xmax is None else np.sum(x > xmax))),
                       n=int(x.size), xmax=xmax)


def powerlaw_vs_exponential(values, xmin: float | None = None) -> tuple[float, float]:
    """(R, p): Vuong's log-likelihood ratio of a power law against an exponential above x_min (KS-chosen when
    not given), and its p-value. R > 0 favours the power law (Clauset, Shalizi, Newman 2009, section 5)."""
    powerlaw = require("powerlaw", "study", "a power-law fit")

    x = np.asarray(values)
    x = x[x > 0]
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        fit = powerlaw.Fit(x, discrete=True, xmin=xmin, verbose=False)
        r, p = fit.distribution_compare("power_law", "exponential", normalized_ratio=True)
    return float(r), float(p)


# --- classic models ---------------------------------------------------------
@dataclass
class GofResult:
    """A chi-square goodness-of-fit test: statistic, degrees of freedom, p-value, bins used."""
    statistic: float
    dof: int
    pvalue: float
    bins: int


def binomial_gof(counts, trials: int, p: float, min_expected: float = 5.0) -> GofResult:
    """Pearson chi-square test of integer counts against Binomial(trials, p).

    Values are pooled into bins with at least ``min_expected`` expected observations (the tails go into the
    outermost bins), the usual validity condition for the chi-square approximation. No parameter is
    estimated from the data, so dof = bins - 1.
    """
    x = np.asarray(counts, np.int64)
    n = x.size
    k = np.arange(trials + 1)
    expected = n * stats.binom.pmf(k, trials, p)
    observed = np.bincount(x, minlength=trials + 1)[: trials + 1].astype(float)
    # pool left to right into bins expecting >= min_expected; a short remainder joins the last bin
    starts, acc = [0], 0.0
    for i in range(trials):
        acc += expected[i]
        if acc >= min_expected:
            starts.append(i + 1)
            acc = 0.0
    if len(starts) > 1 and expected[starts[-1]:].sum() < min_expected:
        starts.pop()
    exp_b = np.add.reduceat(expected, starts)
    obs_b = np.add.reduceat(observed, starts)
    statistic = float(((obs_b - exp_b) ** 2 / exp_b).sum())
    dof = exp_b.size - 1
    return GofResult(statistic, dof, float(stats.chi2.sf(statistic, dof)), exp_b.size)


def exact_ba_degrees(size: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` degrees drawn from Barabasi-Albert's exact degree law P(K >= k) = m(m+1) / (k(k+1)), k >= m.

    (Dorogovtsev, Mendes, Samukhin 2000; Bollobas et al. 2001: P(k) = 2m(m+1) / (k(k+1)(k+2)), the
    infinite-network limit.) Fitting such a sample shows what the power-law fit gives on a perfect BA network
    of the same size: its local slope is 3 only for large k, so the fitted exponent sits a little below 3.
    """
    c = m * (m + 1) / (1.0 - rng.random(size))
    return np.floor((-1 + np.sqrt(1 + 4 * c)) / 2).astype(np.int64)


def total_degree(members: pd.DataFrame) -> np.ndarray:
    """Followers plus followees of each member."""
    return (members["followers"] + members["followees"]).to_numpy()


@dataclass
class Overtaking:
    """How often fit latecomers end above less fit earlier members (see :func:`overtaking`)."""
    probability: float  # P(a fit latecomer ends above a less fit earlier member), ties counted half
    latecomers: int  # fit latecomers
    earlier: int  # less fit earlier members
    top_join_quantile: float  # median join quantile of the top 1% by final degree


def overtaking(members: pd.DataFrame, fitness: str = "skill", fit_quantile: float = 0.9,
               less_fit_quantile: float = 0.5, split: float = 0.5, degree=None) -> Overtaking:
    """Do fitter latecomers overtake earlier members?

    Members are ranked by ``join_order``; a member's join quantile is rank / members. Two groups:

    - fit latecomers L: fitness in the top decile (>= its ``fit_quantile`` quantile among the members) and
      joined in the second half (join quantile > ``split``);
    - less fit earlier members E: fitness below the median (``less_fit_quantile``) and joined in the first half.

    The overtaking probability is P(d_L > d_E) + P(d_L = d_E) / 2 for a random pair (the Mann-Whitney
    statistic U / (|L| |E|)), with d the final total degree (followers + followees). 0.5 means a fit
    latecomer is as likely to be above as below a less fit member who joined before it.

    Barabasi-Albert: degree depends on join time only (k_i ~ m (t / t_i)^1/2), so the probability is the
    same as for any latecomer and well below 0.5; only the randomness of the draws lets a latecomer pass.
    Bianconi-Barabasi: k_i ~ m (t / t_i)^(eta_i / c) grows faster the fitter one is, so fit latecomers pass
    less fit earlier members far more often ("fit get rich"). ``fit_quantile=0`` gives the control: all
    latecomers, whatever their fitness.
    """
    d = total_degree(members) if degree is None else np.asarray(degree)
    q = stats.rankdata(members["join_order"].to_numpy()) / len(members)
    fit = members[fitness].to_numpy()
    late = (fit >= np.quantile(fit, fit_quantile)) & (q > split)
    early = (fit < np.quantile(fit, less_fit_quantile)) & (q <= split)
    if late.any() and early.any():
        u = stats.mannwhitneyu(d[late], d[early], alternative="two-sided").statistic
        prob = float(u / (late.sum() * early.sum()))
    else:
        prob = float("nan")
    top = d >= np.quantile(d, 0.99)
    return Overtaking(probability=prob, latecomers=int(late.sum()), earlier=int(early.sum()),
                      top_join_quantile=float(np.median(q[top])))


# --- intervals over seeds -----------------------------------------------------
@dataclass
class Interval:
    """A mean over seeds with its confidence interval, the sd and the number of seeds."""
    mean: float
    lo: float
    hi: float
    sd: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.lo:.3f}, {self.hi:.3f}]"


def interval(values, level: float = 0.95) -> Interval:
    """Mean over seeds with a Student-t confidence interval for it (:func:`socialsim.study.t_interval`);
    with one value the interval is that value and its sd 0."""
    from .study import t_interval  # noqa: PLC0415

    x = np.asarray(values, float)
    mean, lo, hi, n = t_interval(x, level)
    if n < 2:
        return Interval(mean, mean, mean, 0.0, n)
    return Interval(mean, lo, hi, float(x.std(ddof=1)), n)


# --- calibration targets (Twitter in 2009) ---------------------------------------
#: Public measurements of Twitter in 2009 that ``socialsim.calibrate`` fits to or checks against, by statistic
#: name (see :data:`TARGET_SOURCES` and docs/VALIDATION.md, "Calibration targets").
TWITTER2009_TARGETS: dict[str, float] = {
    "reciprocity": 0.221,
    "followers_powerlaw_alpha": 2.276,
    "followed_by_no_followee": 0.676,
    "follows_per_member": 35.2,  # 1.47 billion follows / 41.7 million accounts
    "local_tie_share": 0.39,
    "top10_post_share": 0.90,
    "median_posts": 1.0,
    "connected_share": 0.80,
    "monthly_retention": 0.40,
}
TARGET_SOURCES: dict[str, str] = {
    "reciprocity": "Kwak et al. 2010",
    "followers_powerlaw_alpha": "Kwak et al. 2010",
    "followed_by_no_followee": "Kwak et al. 2010",
    "follows_per_member": "Kwak et al. 2010",
    "local_tie_share": "Takhteyev, Gruzd & Wellman 2012",
    "top10_post_share": "Heil & Piskorski 2009",
    "median_posts": "Heil & Piskorski 2009",
    "connected_share": "Heil & Piskorski 2009",
    "monthly_retention": "Nielsen Online 2009 (Martin 2009)",
}
#: statistics reported beside the targets, with no published value to fit to
CALIBRATION_EXTRAS = ("members", "replies_per_member")
CALIBRATION_STATISTICS = tuple(TWITTER2009_TARGETS) + CALIBRATION_EXTRAS


def local_tie_share(follows: pd.DataFrame, members: pd.DataFrame) -> float:
    """Share of follows whose two ends live in the same town (Takhteyev et al. 2012: 39% within one
    metropolitan region); ``members`` gives the towns (any frame with ``member_id`` and ``town``)."""
    if len(follows) == 0:
        return float("nan")
    town = pd.Series(members["town"].to_numpy(), index=members["member_id"].to_numpy())
    a = town.reindex(follows["follower"].to_numpy()).to_numpy()
    b = town.reindex(follows["followee"].to_numpy()).to_numpy()
    return float(np.mean(a == b))


def top_post_share(members: pd.DataFrame, fraction: float = 0.10) -> float:
    """Share of all posts written by the ``fraction`` most prolific members (Heil & Piskorski 2009: the top
    10% wrote over 90%); ties at the cut are broken arbitrarily, which does not change the share."""
    posts = np.sort(members["posts"].to_numpy(float))[::-1]
    total = posts.sum()
    if posts.size == 0 or total == 0:
        return float("nan")
    k = max(1, int(np.ceil(fraction * posts.size)))
    return float(posts[:k].sum() / total)


def monthly_retention(members: pd.DataFrame, steps: int, month: int | None = None) -> float:
    """Mean over consecutive complete months of the share of a month's active members active again the next
    month (Nielsen Online 2009: about 40% of a month's users came back the next month).

    Active in month m = online in at least one of its steps (``online_months`` bit m; months of 30 steps,
    month m = steps 30m .. 30m + 29). Month pairs count when both months end within the run's ``steps``;
    NaN if there is no such pair.
    """
    from .state import MONTH, MONTHS_RECORDED  # noqa: PLC0415

    month = MONTH if month is None else month
    last = min((steps + 1) // month, MONTHS_RECORDED)  # months 0 .. last-1 are complete
    bits = members["online_months"].to_numpy(np.int64)
    shares = []
    for m in range(last - 1):
        now = (bits >> m) & 1 == 1
        if now.any():
            shares.append(float(((bits >> (m + 1)) & 1 == 1)[now].mean()))
    return float(np.mean(shares)) if shares else float("nan")


def calibration_statistics(out: RunOutput, steps: int | None = None) -> dict[str, float]:
    """Every statistic of :data:`CALIBRATION_STATISTICS` for one run, computed the way its source defines it.

    - Follow-graph statistics (Kwak et al., Takhteyev et al., Heil & Piskorski's 80%) are taken among the
      members on the platform at the end (:func:`current`) and the live follows, as a crawl sees them.
    - Posting statistics (Heil & Piskorski's concentration and median) count everyone who ever joined:
      accounts that went quiet or left still count as users who posted little.
    - Retention uses everyone who ever joined (see :func:`monthly_retention`); ``steps`` defaults to the last
      measured step of ``out.timeseries``.
    """
    members = current(out.members)
    steps = int(out.timeseries["step"].iloc[-1]) if steps is None else int(steps)
    followers = members["followers"].to_numpy()
    n = len(members)
    alpha = powerlaw_fit(followers, body_share=BODY_SHARE).alpha if (followers > 0).sum() >= 10 else float("nan")
    everyone = out.members
    return {
        "reciprocity": pair_reciprocity(out.follows),
        "followers_powerlaw_alpha": float(alpha),
        "followed_by_no_followee": share_followed_by_no_followee(out.follows, members),
        "follows_per_member": float(members["followees"].mean()) if n else float("nan"),
        "local_tie_share": local_tie_share(out.follows, everyone),
        "top10_post_share": top_post_share(everyone, 0.10),
        "median_posts": float(np.median(everyone["posts"])) if len(everyone) else float("nan"),
        "connected_share": float(((members["followers"] + members["followees"]) > 0).mean()) if n else float("nan"),
        "monthly_retention": monthly_retention(everyone, steps),
        "members": float(n),
        "replies_per_member": float(everyone["replies_sent"].mean()) if len(everyone) else float("nan"),
    }
