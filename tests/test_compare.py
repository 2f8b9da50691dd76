"""Compare mode's model: two worlds on exactly the same people, stepped together, with presets and a verdict."""

from __future__ import annotations

import re

import numpy as np
import pytest

from socialsim import Params, population
from socialsim.compare import (PRESET_NAMES, PRESETS, WORLD_LEVERS, CompareModel, config_option, population_layout,
                               preset_named, verdict)

POPULATION_FIELDS = ("skill", "reach", "reach_z", "shyness", "activity", "town", "group", "contacts_indptr",
                     "contacts", "skill_quartile", "shyness_quartile")


def test_the_two_worlds_share_their_population_exactly():
    # different designs on both sides (sign-up, suggestions, meetups, exit rule), with groups on
    m = CompareModel(size=300, minority_share=0.3, homophily=0.8, seed=5, preset="Open vs invite-only sign-up",
                     a_recommender="local", b_recommender="popularity", b_meetup_rate=0.1, b_exit_rule="imposed")
    a, b = m.a.state.pop, m.b.state.pop
    for name in POPULATION_FIELDS:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.group.sum() == 90 and a.contacts.size > 0
    # the people are those of the fixed population seed, not of either world's random stream
    pa, pb = m.a.params.population, m.b.params.population
    assert pa == pb and pa.seed >= 0
    drawn = population.generate(pa, np.random.default_rng(pa.seed))
    for name in POPULATION_FIELDS:
        assert np.array_equal(getattr(drawn, name), getattr(a, name)), name
    # the worlds' own random streams and designs do differ, so the sharing is not the worlds being one
    assert m.a.params.platform != m.b.params.platform
    m.step()
    assert m.a.metrics != m.b.metrics


def test_another_seed_gives_other_people():
    one, other = CompareModel(size=200, seed=1), CompareModel(size=200, seed=2)
    assert not np.array_equal(one.a.state.pop.skill, other.a.state.pop.skill)


def test_a_lever_on_one_side_changes_only_that_world():
    base = CompareModel(size=120)
    m = CompareModel(size=120, b_recommender="popularity" if base.b.params.platform.recommender != "popularity"
                     else "random")
    assert m.a.params == base.a.params
    assert [d[0] for d in m.design_differences()] == ["platform.recommender"]
    assert base.design_differences() == []


def test_both_worlds_step_together_and_stop_at_the_run_length():
    m = CompareModel(size=120, steps=4, preset="Random vs popularity suggestions")
    for k in range(1, 5):
        assert m.running
        m.step()
        assert m.steps == m.a.steps == m.b.steps == k
        assert len(m.a.datacollector.model_vars["step"]) == len(m.b.datacollector.model_vars["step"]) == k + 1
    assert not m.running


def test_the_baseline_is_the_defaults_in_both_worlds_and_its_worlds_run_identically():
    assert PRESETS[0].world_params("a") == Params() == PRESETS[0].world_params("b")
    m = CompareModel(size=150, seed=3)
    for _ in range(15):
        m.step()
    assert m.a.metrics == m.b.metrics
    line = verdict(m)
    assert "Gini of followers \u00b10.00" in line and not re.findall(r"[+\u2212]\d", line)


def test_presets_are_overrides_of_the_defaults_read_from_the_config_groups():
    assert config_option("platform", "invite_only") == {"platform.openness": 0.2, "platform.invite_only": True}
    assert config_option("platform", "default") == {}
    invite = preset_named("Open vs invite-only sign-up")
    assert invite.world_params("b").platform.invite_only and not invite.world_params("a").platform.invite_only
    meetups = preset_named("No meetups vs frequent meetups")
    assert meetups.levers("a")["meetup_rate"] == 0.0 and meetups.levers("b")["meetup_rate"] == 0.1
    assert meetups.fixed("b") == {"meetups.min_members": 10}  # no lever shows it, so the preset keeps it
    assert len(PRESETS) >= 4 and len(set(PRESET_NAMES)) == len(PRESETS)
    for p in PRESETS:
        m = CompareModel(size=80, steps=2, preset=p.name)
        for side, world in zip("ab", m.worlds):
            for name, dotted in WORLD_LEVERS.items():
                group, key = dotted.split(".")
                assert getattr(getattr(world.params, group), key) == p.levers(side)[name]
        if p is not PRESETS[0]:
            assert m.design_differences(), p.name
    with pytest.raises(ValueError, match="preset must be one of"):
        CompareModel(size=50, preset="no such preset")
    with pytest.raises(TypeError, match="unknown lever"):
        CompareModel(size=50, c_recommender="random")


def test_the_verdict_is_computed_from_the_latest_metrics():
    m = CompareModel(size=200, seed=0, preset="Random vs popularity suggestions", minority_share=0.2)
    for _ in range(30):
        m.step()
    line = verdict(m)
    a, b = m.a.metrics, m.b.metrics
    gini = float(re.search(r"Gini of followers ([+\u2212\u00b1][\d.]+)", line).group(1).replace("\u2212", "-")
                 .replace("\u00b1", ""))
    assert gini == pytest.approx(b["gini_followers"] - a["gini_followers"], abs=0.005)
    points = re.search(r"least-skilled quarter with a new tie ([+\u2212\u00b1]\d+) points", line).group(1)
    assert int(points.replace("\u2212", "-").replace("\u00b1", "")) == round(
        100 * (b["low_skill_new_tie_share"] - a["low_skill_new_tie_share"]))
    assert "minority visibility" in line  # groups are on
    assert line.endswith("(one population of 200, seed 0, one run each)")
    assert "after 30 steps" in line


def test_population_layout_places_people_by_their_offline_contacts():
    m = CompareModel(size=400, seed=2)
    pop = m.a.state.pop
    xy = population_layout(pop, 2)
    assert xy.shape == (400, 2) and np.all(np.isfinite(xy)) and xy.min() >= 0 and xy.max() <= 1
    assert np.array_equal(xy, population_layout(pop, 2))  # computed the same way every time
    a, b = pop.contact_pairs(np.arange(pop.size))
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, pop.size, (2, 4000))
    contact = np.linalg.norm(xy[a] - xy[b], axis=1).mean()
    anyone = np.linalg.norm(xy[i] - xy[j], axis=1).mean()
    assert contact < 0.6 * anyone  # offline contacts are drawn near each other
