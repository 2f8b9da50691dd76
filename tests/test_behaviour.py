"""Mechanisms that follow from members' own situations: leaving when one's audience fills with strangers
(leaving.exit_rule=audience) and closeness from a limited reply budget (intimacy.close_rule=budget).

Each mechanism test compares the model with the mechanism's driver moving against the same model with the
driver held fixed or the budget changed, so it fails when the mechanism is switched off.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import UNCALIBRATED
from socialsim import PlatformModel, rules
from socialsim.phases import leave

SEEDS = range(3)


# --- the rule functions ---------------------------------------------------------------------------------------
def test_within_budget_keeps_each_owners_highest_priorities():
    owner = np.array([0, 0, 0, 1, 2, 2])
    priority = np.array([0.1, 3.0, 2.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(rules.within_budget(owner, priority, 2), [False, True, True, True, True, True])
    np.testing.assert_array_equal(rules.within_budget(owner, priority, 1), [False, True, False, True, True, False])
    assert not rules.within_budget(owner, priority, 0).any()


def test_disappointment_is_the_fall_beyond_the_tolerance():
    assert rules.disappointment(0.5, 1.0, 0.2) == pytest.approx(0.3)
    assert rules.disappointment(0.9, 1.0, 0.2) == 0.0  # a small fall is shrugged off
    assert rules.disappointment(1.2, 1.0, 0.0) == 0.0  # a rise is no disappointment
    assert rules.disappointment(0.1, -1.0, 0.0) == 0.0  # no expectation yet
    # a handful of followers barely moves the valued-audience share; a large audience of strangers does
    assert rules.valued_audience_share(0, 1) > 0.45
    assert rules.valued_audience_share(20, 200) < 0.15


# --- elite exit as behaviour ----------------------------------------------------------------------------------
def exit_rates(config: dict, freeze_early_elite: bool, monkeypatch=None, size=1500, steps=300):
    """Pooled over SEEDS: the chance per step to go quiet after the platform turned mainstream, for early elite
    adopters (elite, joined by then) and for everyone else. With ``freeze_early_elite`` the early elite's
    valued-audience share is held at its level when the platform turned mainstream."""
    if freeze_early_elite:
        original = leave.update_audience
        frozen = {}

        def held(state, params):
            share, expected = original(state, params)
            if state.mainstream_since >= 0:
                if "share" not in frozen:
                    frozen["share"] = share.copy()
                    frozen["who"] = state.elite & (state.joined_step >= 0)
                who = frozen["who"]
                share = np.where(who, frozen["share"], share)
                # what they expect follows the held share, as it would have had nothing changed
                state.audience_expected[who] = frozen["share"][who]
            return share, expected

        monkeypatch.setattr(leave, "update_audience", held)
    events = {"early_elite": [0, 0], "others": [0, 0]}
    for seed in SEEDS:
        if freeze_early_elite:
            monkeypatch.setattr(leave, "update_audience", held)
            frozen.clear()
        m = PlatformModel({"population.size": size, "seed": seed, **config}).run(steps)
        s = m.state
        ms = s.mainstream_since
        assert ms >= 0
        joined = s.joined_step >= 0
        went_quiet = s.quiet_since >= 0
        start = np.maximum(s.joined_step, ms)
        end = np.where(went_quiet, s.quiet_since, steps)
        exposure = np.clip(end - start, 0, None)
        quit_after = went_quiet & (s.quiet_since > ms)
        early_elite = joined & s.elite & (s.joined_step <= ms)
        for name, who in (("early_elite", early_elite), ("others", joined & ~early_elite)):
            events[name][0] += int(quit_after[who].sum())
            events[name][1] += int(exposure[who].sum())
    return {name: quits / exposure for name, (quits, exposure) in events.items()}


@pytest.mark.slow
def test_early_elite_leave_more_and_holding_their_audience_fixed_removes_it(monkeypatch):
    moving = exit_rates({}, freeze_early_elite=False)
    held = exit_rates({}, freeze_early_elite=True, monkeypatch=monkeypatch)
    print(f"\nquiet chance per step after mainstream: moving {moving}, held {held}")
    # the early elite's audience fills with strangers: they leave clearly more than everyone else ...
    assert moving["early_elite"] > 1.4 * moving["others"]
    # ... and given the audience they had before the platform went mainstream, they do not
    assert held["early_elite"] < 1.1 * held["others"]
    assert held["early_elite"] < 0.7 * moving["early_elite"]


@pytest.mark.slow
def test_imposed_exit_rule_is_still_reachable():
    imposed = exit_rates({"leaving.exit_rule": "imposed"}, freeze_early_elite=False, steps=200)
    off = exit_rates({"leaving.exit_rule": "imposed", "leaving.elite_exit_rate": 0.0}, freeze_early_elite=False,
                     steps=200)
    assert imposed["early_elite"] > 2 * imposed["others"]
    assert off["early_elite"] < 2 * off["others"]


# --- closeness from a limited budget ---------------------------------------------------------------------------
def final_gap(config: dict, seed: int, size=1500, steps=300) -> float:
    return PlatformModel({"population.size": size, "seed": seed, **config}).run(steps).metrics["intimacy_gap"]


@pytest.mark.slow
def test_intimacy_gap_narrows_with_a_larger_reply_budget():
    gaps = {b: np.array([final_gap({"intimacy.reply_budget": b}, seed) for seed in SEEDS]) for b in (0, 1, 5)}
    print("\nintimacy gap by reply budget:", {b: g.round(4).tolist() for b, g in gaps.items()})
    assert (gaps[0] > gaps[1]).all() and (gaps[1] > gaps[5]).all()


@pytest.mark.slow
def test_reply_partners_saturate_as_followees_grow():
    """Huberman, Romero & Wu (2008) in the model: in a world where people follow many, the distinct people one
    replies to per online day level off while followees keep growing, and never exceed the budget."""
    m = PlatformModel({**UNCALIBRATED, "population.size": 1500, "seed": 0, "behaviour.follow_base": -1.5,
                       "platform.recommender_slots": 10}).run(170)
    s = m.state
    pairs = set()
    online = np.zeros(s.n)
    for _ in range(30):
        m.step()
        replier, author = s.reply_pairs
        went_quiet = np.zeros(s.n, bool)
        went_quiet[replier] = True  # going quiet at the end of a step clears online; they read that step
        online += s.online | went_quiet
        pairs.update(zip(replier.tolist(), author.tolist()))
    partners = np.bincount(np.array([r for r, _ in pairs], np.int64), minlength=s.n)
    followees = s.graph.out_deg[: s.n]
    member = s.is_member & (online > 0)
    per_day = partners / np.maximum(online, 1)
    assert per_day[member].max() <= m.params.intimacy.reply_budget

    def mean_in(lo, hi):
        who = member & (followees >= lo) & (followees < hi)
        assert who.sum() >= 100
        return per_day[who].mean(), np.median(followees[who])

    low, f_low = mean_in(80, 160)
    high, f_high = mean_in(160, 320)
    print(f"\ndistinct reply partners per online day: {low:.3f} at {f_low:g} followees, {high:.3f} at {f_high:g}")
    assert f_high > 1.5 * f_low and high < 1.25 * low
