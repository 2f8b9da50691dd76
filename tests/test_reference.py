"""The fast model agrees in distribution with the per-agent reference, the executable specification.

Both engines run the same configurations on the same 30 seeds. A seed gives both the same population and
the same first members (they share ``population.generate`` and the seed draw), after which their random
numbers part ways, so each seed is a matched pair. A headline metric is flagged when either

* the paired t statistic of the per-seed differences (fast - reference) exceeds ``T_CRIT``, or
* the two-sample Kolmogorov-Smirnov test of the two sets of 30 values has p < ``KS_ALPHA``;

both thresholds are Bonferroni corrections of a 1% family error over the metrics and the two tests. The
comparison must flag nothing for the real rules and must flag a rule changed in the reference only
(``test_comparison_flags_a_rule_that_differs``). Under ``pytest -n 2`` the slow tests take about 2-3 minutes.
"""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from conftest import UNCALIBRATED
from socialsim import PlatformModel, metrics, reference, rules
from socialsim.reference import ReferenceModel
from socialsim.state import ACTIVE, QUIET

SIZE, STEPS, SEEDS = 300, 100, range(30)
#: final values of these metrics (and two totals over the run) are compared
HEADLINE = ("members", "follows", "reciprocity", "gini_followers", "top10_share_impressions",
            "spearman_skill_followers", "spearman_reach_followers", "low_skill_connected_share",
            "offline_ties_per_member", "close_ties_per_member", "intimacy_gap", "local_tie_share",
            "low_skill_new_tie_share", "shy_new_tie_share", "new_close_ties_skill_q4", "minority_visibility",
            "minority_new_tie_share", "majority_new_tie_share")
TOTALS = ("joined", "left", "attendees")
COMPARED = HEADLINE + tuple(f"{name}_total" for name in TOTALS)
FAMILY_ALPHA = 0.01
KS_ALPHA = FAMILY_ALPHA / (2 * len(COMPARED))
T_CRIT = float(stats.t.ppf(1 - KS_ALPHA / 2, len(SEEDS) - 1))  # two-sided, same per-test alpha

CONFIGS = {
    "default": {},
    # every recommender, ranked timelines, frequent meetups, a tight follow cap, the old rules (a Dunbar cap and
    # an exit rate imposed on the early elite), churn
    "variant": {"intimacy.close_rule": "dunbar", "leaving.exit_rule": "imposed", "leaving.elite_exit_rate": 0.02,
                "platform.recommender": "mixture",
                "platform.recommender_mix": {"random": 1, "popularity": 1, "friends_of_friends": 1, "local": 1,
                                             "newcomer": 1},
                "platform.timeline": "engagement", "platform.follow_cap": 40, "meetups.rate": 0.2,
                "meetups.min_members": 10, "intimacy.dunbar": 5, "leaving.quiet_rate": 0.01,
                "leaving.quiet_steps": 10},
    # a minority with homophily in contacts and follow choices, and meetups
    "groups": {"population.minority_share": 0.3, "population.homophily": 0.8, "meetups.rate": 0.2,
               "meetups.min_members": 10},
    # a larger reply budget without exploration, and members quick to be disappointed by their audience
    "budget": {"intimacy.reply_budget": 2, "intimacy.exploration": 0.0, "leaving.expectation_memory": 20,
               "leaving.tolerance": 0.0, "leaving.disappointment_exit": 0.5, "leaving.quiet_steps": 10},
}


def final_metrics(cls, config: dict, seed: int, size: int = SIZE, steps: int = STEPS) -> dict:
    ts = cls({"population.size": size, "seed": seed, **config}).run(steps).timeseries()
    row = {name: ts[name].iloc[-1] for name in HEADLINE}
    row.update({f"{name}_total": ts[name].iloc[1:].sum() for name in TOTALS})
    return row


def runs(cls, config: dict) -> pd.DataFrame:
    return pd.DataFrame([final_metrics(cls, config, seed) for seed in SEEDS], index=list(SEEDS))


def compare(fast: pd.DataFrame, ref: pd.DataFrame, columns=COMPARED) -> pd.DataFrame:
    """Per metric: means, standardized mean difference, paired t, KS p-value and whether it is flagged."""
    rows = {}
    for name in columns:
        a, b = fast[name].to_numpy(float), ref[name].to_numpy(float)
        d = a - b
        sd = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
        sd_d = d.std(ddof=1)
        t = 0.0 if sd_d == 0 else d.mean() / (sd_d / np.sqrt(d.size))
        ks = 1.0 if np.array_equal(np.sort(a), np.sort(b)) else stats.ks_2samp(a, b).pvalue
        rows[name] = {"fast": a.mean(), "reference": b.mean(), "smd": 0.0 if sd == 0 else (a.mean() - b.mean()) / sd,
                      "paired_t": t, "ks_p": ks, "flagged": abs(t) > T_CRIT or ks < KS_ALPHA}
    return pd.DataFrame.from_dict(rows, orient="index")


# --- quick checks of the reference itself ------------------------------------------------------------------
def test_same_seed_same_population_and_first_members():
    fast, ref = PlatformModel(population__size=SIZE, seed=5), ReferenceModel(population__size=SIZE, seed=5)
    np.testing.assert_array_equal(fast.state.pop.skill, ref.pop.skill)
    first_fast = np.flatnonzero(fast.state.is_member)
    first_ref = [p.index for p in ref.people if p.is_member]
    np.testing.assert_array_equal(first_fast, first_ref)
    assert fast.metrics["members"] == ref.metrics["members"] == 10


def test_reference_outputs_have_the_fast_models_shape():
    ref = ReferenceModel(population__size=200, seed=1).run(15)
    fast = PlatformModel(population__size=200, seed=1).run(15)
    assert list(ref.timeseries().columns) == list(fast.timeseries().columns) == ["step", *metrics.METRIC_NAMES]
    assert len(ref.timeseries()) == 16
    assert list(ref.member_frame().columns) == list(metrics.MEMBER_COLUMNS)
    assert list(ref.follows_frame().columns) == list(metrics.FOLLOW_COLUMNS)
    assert ref.timeseries()["follows"].iloc[-1] == len(ref.follows_frame())


def test_reference_keeps_followers_and_followees_consistent():
    m = ReferenceModel({"population.size": 200, "seed": 2, **CONFIGS["variant"]}).run(40)
    for p in m.people:
        for f in p.following:
            assert p.index in m.people[f].followers
            assert m.people[f].status in (ACTIVE, QUIET) and p.status in (ACTIVE, QUIET)
        for f in p.followers:
            assert p.index in m.people[f].following
        assert len(p.following) <= 40 or len(p.followers) > 40


def test_reference_is_reproducible():
    a = ReferenceModel(population__size=150, seed=3).run(20).timeseries()
    b = ReferenceModel(population__size=150, seed=3).run(20).timeseries()
    pd.testing.assert_frame_equal(a, b)


# --- agreement in distribution -------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("config", list(CONFIGS))
def test_fast_model_agrees_with_reference(config):
    table = compare(runs(PlatformModel, CONFIGS[config]), runs(ReferenceModel, CONFIGS[config]))
    print(f"\n{config} (|paired t| > {T_CRIT:.2f} or KS p < {KS_ALPHA:.5f} flags):\n{table.round(4).to_string()}")
    assert not table["flagged"].any(), f"engines disagree ({config}):\n{table.to_string()}"


def _perturbed(**changes) -> types.SimpleNamespace:
    """A copy of socialsim.rules with some functions replaced."""
    ns = types.SimpleNamespace(**{k: getattr(rules, k) for k in dir(rules) if not k.startswith("_")})
    for name, fn in changes.items():
        setattr(ns, name, fn)
    return ns


@pytest.mark.slow
def test_comparison_flags_a_rule_that_differs(monkeypatch):
    """Halving the follow-back chance in the reference only (a plausible slip) must be caught."""
    # the earlier defaults' frequent follow-backs, so that halving them moves reciprocity well beyond noise
    fast = runs(PlatformModel, UNCALIBRATED)
    monkeypatch.setattr(reference, "rules", _perturbed(
        follow_back_probability=lambda *args: 0.5 * rules.follow_back_probability(*args)))
    table = compare(fast, runs(ReferenceModel, UNCALIBRATED))
    print(f"\nfollow-back halved in the reference:\n{table.round(4).to_string()}")
    assert table.loc["reciprocity", "flagged"], table.to_string()


# --- one rule, two engines -----------------------------------------------------------------------------------
#: per rule: a stand-in that changes what the rule says, and a configuration where the rule is at work
SHARED_RULES = {
    "first_members": (lambda rng, reach_z, k, *args: np.arange(len(reach_z) - k, len(reach_z)), {}),
    "follow_allowance": (lambda followers, cap: np.zeros_like(np.asarray(followers)), {}),
    "is_silent": (lambda last_post, joined_step, step, silence_steps: np.ones_like(np.asarray(last_post), bool),
                  {"behaviour.unfollow_prob": 0.5}),
    # meetups in two towns every step, each attendee meeting four others: many close ties, one kept
    "demoted_closeness": (lambda threshold: 0.0, {"intimacy.close_rule": "dunbar", "intimacy.dunbar": 1,
                                                  "intimacy.close_threshold": 0.01,
                                                  "meetups.rate": 1.0, "meetups.min_members": 3, "meetups.meets": 4,
                                                  "population.towns": 2}),
    # a minority: nobody follows anyone met on the platform
    "homophilic_follow_probability": (lambda p, same, h: np.zeros_like(np.asarray(p, float)),
                                      {"population.minority_share": 0.3}),
    # homophilic preferential attachment turned fully heterophilic
    "homophily_weight": (lambda same, h: np.where(same, 0.0, 1.0),
                         {"adoption.attachment": "homophilic_preferential", "adoption.arrivals_per_step": 5,
                          "adoption.seed_members": 3, "population.minority_share": 0.3,
                          "population.homophily": 0.9}),
    # the reply budget: no reply fits, or replies are chosen at random whatever the closeness
    "within_budget": (lambda owner, priority, budget: np.zeros(np.shape(owner)[0], bool), {}),
    "interaction_priority": (lambda closeness, u, exploration: u, {**UNCALIBRATED, "intimacy.exploration": 0.0,
                                                                   "behaviour.engage_base": 4.0}),
    # leaving when one's audience changes: everyone half likely to go quiet every step
    "audience_quiet_probability": (lambda *args: 0.5 + 0.0 * np.asarray(args[0], float), {}),
}


def _outputs(cls, config: dict) -> list[pd.DataFrame]:
    m = cls({"population.size": 200, "seed": 4, **config}).run(25)
    return [m.timeseries(), m.member_frame(), m.follows_frame()]


@pytest.mark.parametrize("rule", list(SHARED_RULES))
def test_both_engines_call_the_shared_rule(rule, monkeypatch):
    """Changing a rule in socialsim.rules changes both engines: neither keeps a copy of its own."""
    stand_in, config = SHARED_RULES[rule]
    before = {cls: _outputs(cls, config) for cls in (PlatformModel, ReferenceModel)}
    monkeypatch.setattr(rules, rule, stand_in)
    for cls, frames in before.items():
        after = _outputs(cls, config)
        assert any(not a.equals(b) for a, b in zip(frames, after)), f"{cls.__name__} ignores rules.{rule}"
