"""The platform model's mechanisms: each test fails when its mechanism is switched off or broken."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from conftest import UNCALIBRATED
from socialsim import Params, PlatformModel, invariants
from socialsim.state import ACTIVE, OUTSIDE

SMALL = {"population.size": 400, "population.towns": 4, "run.steps": 80}
# recommendations and reading drive many follows: the platform's design levers show more clearly
SOCIAL = {"behaviour.follow_base": -3.0, "platform.recommender_slots": 4}


def build(**overrides) -> PlatformModel:
    return PlatformModel(Params.from_dict(SMALL, **overrides))


def run(**overrides) -> PlatformModel:
    m = build(**overrides)
    return m.run()


def test_build_from_kwargs_or_params_is_the_same():
    a = PlatformModel(population__size=200, platform__recommender="local", seed=4).run(10)
    b = PlatformModel(Params.from_dict({"population": {"size": 200}, "seed": 4}, **{"platform.recommender": "local"}))
    b.run(10)
    pd.testing.assert_frame_equal(a.timeseries(), b.timeseries())


def test_same_seed_same_data_and_different_seed_different_data():
    a, b, c = run(seed=1), run(seed=1), run(seed=2)
    pd.testing.assert_frame_equal(a.timeseries(), b.timeseries())
    pd.testing.assert_frame_equal(a.member_frame(), b.member_frame())
    pd.testing.assert_frame_equal(a.follows_frame(), b.follows_frame())
    assert not a.follows_frame().equals(c.follows_frame())
    assert not a.timeseries().equals(c.timeseries())


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_mixture_key_order_changes_neither_the_hash_nor_the_run(engine):
    """The configuration hash sorts the keys of platform.recommender_mix; the run must not depend on their
    order either (it draws the recommenders in the order of BASE_RECOMMENDERS)."""
    from socialsim.config import config_hash
    from socialsim.reference import ReferenceModel

    weights = {"random": 0.2, "popularity": 0.3, "friends_of_friends": 0.1, "local": 0.25, "newcomer": 0.15}
    size, steps = (SMALL["population.size"], 60) if engine == "fast" else (150, 25)
    models = []
    for keys in (list(weights), list(reversed(weights))):
        params = Params.from_dict(SMALL, **SOCIAL, **{"population.size": size, "run.steps": steps, "seed": 3,
                                                      "platform.recommender": "mixture",
                                                      "platform.recommender_mix": {k: weights[k] for k in keys}})
        assert list(params.platform.recommender_mix) == keys
        models.append(((PlatformModel if engine == "fast" else ReferenceModel)(params), config_hash(params)))
    (a, hash_a), (b, hash_b) = models
    assert hash_a == hash_b
    a.run(), b.run()
    assert a.follows_frame().shape[0] > 0
    pd.testing.assert_frame_equal(a.timeseries(), b.timeseries())
    pd.testing.assert_frame_equal(a.member_frame(), b.member_frame())
    pd.testing.assert_frame_equal(a.follows_frame(), b.follows_frame())


@pytest.mark.parametrize("overrides", [
    {},
    {"platform.recommender": "friends_of_friends", "platform.timeline": "engagement"},
    {"platform.recommender": "mixture", "platform.follow_cap": 15, "leaving.quiet_rate": 0.02,
     "leaving.quiet_steps": 3, "meetups.rate": 0.3, "intimacy.close_rule": "dunbar", "intimacy.dunbar": 3,
     "leaving.exit_rule": "imposed"},
    {"intimacy.reply_budget": 3, "intimacy.exploration": 0.0, "leaving.tolerance": 0.0,
     "leaving.disappointment_exit": 1.0, "leaving.quiet_steps": 2},
    {"platform.invite_only": True, "platform.recommender": "newcomer_boost", "platform.reshares": False},
])
def test_invariants_hold_after_every_step(overrides):
    m = build(**{"population.size": 300, **overrides})
    invariants.check(m)
    for _ in range(60):
        m.step()
        invariants.check(m)


def test_people_join_over_time_and_newcomers_follow_offline_contacts():
    m = run()
    ts = m.timeseries()
    assert ts.members.iloc[0] == m.params.adoption.seed_members
    assert ts.members.max() > 0.5 * m.params.population.size
    assert ts.joined.iloc[1:].gt(0).sum() > 10  # joining is spread over many steps
    first = m.follows_frame()
    first = first[first.since_step == m.member_frame().set_index("member_id").joined_step.loc[first.follower].values]
    pop = m.state.pop
    contacts = {(i, int(c)) for i in first.follower.unique() for c in pop.contacts_of(i)}
    offline = sum((f, e) in contacts for f, e in zip(first.follower, first.followee))
    assert offline > 0.5 * len(first), "newcomers' first follows should mostly be offline contacts"


def test_openness_drives_spontaneous_joining():
    alone = {"adoption.imitation_rate": 0.0, "adoption.spontaneous_rate": 0.005, "leaving.quiet_rate": 0.0,
             "leaving.elite_exit_rate": 0.0, "leaving.disappointment_exit": 0.0}
    closed = run(**{"platform.openness": 0.0, **alone})
    opened = run(**{"platform.openness": 1.0, **alone})
    assert closed.metrics["members"] == closed.params.adoption.seed_members
    assert opened.metrics["members"] > 3 * opened.params.adoption.seed_members


def test_elite_adopt_early():
    def early_reach(e):
        m = build(**{"adoption.elite_early_adoption": e, "run.steps": 30, "adoption.imitation_rate": 0.0,
                     "adoption.spontaneous_rate": 0.005})
        m.run()
        joined = m.state.joined_step >= 0
        return np.median(m.state.pop.reach[joined]) / np.median(m.state.pop.reach)
    assert early_reach(2.0) > 1.5 * early_reach(0.0)


def test_invite_only_joiners_always_had_a_member_contact():
    m = build(**{"platform.invite_only": True})
    for _ in range(60):
        had_contact = m.state.member_contacts > 0
        before = m.state.status == OUTSIDE
        m.step()
        joined = before & (m.state.status != OUTSIDE)
        assert np.all(had_contact[joined])
    assert m.metrics["members"] > m.params.adoption.seed_members
    # and without invite-only, some join with no member contact at all
    m = build(**{"adoption.imitation_rate": 0.0})
    lonely = 0
    for _ in range(40):
        had_contact = m.state.member_contacts > 0
        before = m.state.status == OUTSIDE
        m.step()
        lonely += int(np.sum(before & (m.state.status != OUTSIDE) & ~had_contact))
    assert lonely > 0


def test_posting_follows_activity():
    m = run(**{"run.steps": 40, **UNCALIBRATED})  # busy members: most post within 40 steps
    members = m.member_frame()
    posted = m.state.last_post[members.member_id] >= 0
    assert posted.mean() > 0.8
    silent = run(**{"run.steps": 40, "behaviour.post_prob": 0.0})
    assert (silent.state.last_post < 0).all()
    assert silent.state.impressions.sum() == 0


def test_attention_limits_reading():
    m = build(**{"platform.attention": 3})
    for _ in range(40):
        m.step()
        reads = np.bincount(m.state.timeline.reader, minlength=m.state.n)
        assert reads.max() <= 3
    assert m.state.impressions.sum() > 0


def test_engagement_ranking_concentrates_impressions():
    def share(timeline):
        return np.mean([run(**{**SOCIAL, "platform.timeline": timeline, "platform.attention": 5, "seed": s}).metrics[
            "top10_share_impressions"] for s in range(3)])
    assert share("engagement") > share("chronological") + 0.02


def test_reshares_reach_non_followers_and_only_them():
    on = run()
    assert on.state.nonfollower_impressions.sum() > 0
    off = run(**{"platform.reshares": False})
    assert off.state.nonfollower_impressions.sum() == 0
    assert off.timeseries().nonfollower_impression_share.max() == 0


def test_replies_answered_build_closeness_and_reading_builds_familiarity():
    m = run(**{"meetups.rate": 0.0})
    members = m.member_frame()
    assert members.familiarity.sum() > 0
    assert members.closeness.sum() > 0  # from answered replies alone
    mute = run(**{"meetups.rate": 0.0, "behaviour.answer_prob": 0.0})
    assert mute.member_frame().closeness.sum() == 0


def test_popularity_recommender_is_more_unequal_than_random():
    gini = {r: [run(**{**SOCIAL, "platform.recommender": r, "seed": s}).metrics[
        "gini_followers"] for s in range(3)] for r in ("random", "popularity")}
    assert np.mean(gini["popularity"]) > np.mean(gini["random"]) + 0.02


def test_local_recommender_makes_local_ties():
    local = [run(**{"platform.recommender": "local", "platform.recommender_slots": 4, "seed": s}).metrics[
        "local_tie_share"] for s in range(2)]
    rand = [run(**{"platform.recommender": "random", "platform.recommender_slots": 4, "seed": s}).metrics[
        "local_tie_share"] for s in range(2)]
    assert np.mean(local) > np.mean(rand) + 0.05


def test_newcomer_boost_lifts_late_joiners():
    def late_followers(rec):
        out = []
        for s in range(3):
            f = run(**{"platform.recommender": rec, "platform.recommender_slots": 4, "seed": s}).member_frame()
            late = f.joined_step > f.joined_step.median()
            out.append(f.followers[late].mean() / max(f.followers.mean(), 1e-9))
        return np.mean(out)
    assert late_followers("newcomer_boost") > late_followers("popularity")


def test_friends_of_friends_closes_triangles():
    def triangles(rec):
        m = run(**{**SOCIAL, "platform.recommender": rec, "behaviour.reshare_base": -20})
        f = m.follows_frame()
        out = f.groupby("follower").followee.apply(set).to_dict()
        closed = sum(1 for a, b in zip(f.follower, f.followee) for c in out.get(b, ()) if c in out.get(a, ()))
        return closed / len(f)
    assert triangles("friends_of_friends") > triangles("random") * 1.2


def test_no_recommender_means_fewer_follows():
    def follows_per_member(**overrides):  # over three seeds: adoption paths of 400 people vary a lot
        ms = [run(seed=seed, **overrides).metrics for seed in range(3)]
        return sum(m["follows"] for m in ms) / sum(m["members"] for m in ms)
    none = follows_per_member(**{"platform.recommender": "none"})
    rand = follows_per_member(**{"platform.recommender": "random", "platform.recommender_slots": 4})
    assert rand > none


def test_follow_cap_holds():
    m = build(**{"platform.follow_cap": 8, "platform.recommender_slots": 6, "behaviour.follow_base": -1.0})
    for _ in range(60):
        m.step()
        g = m.state.graph
        assert np.all((g.out_deg <= 8) | (g.in_deg > 8))
    assert m.state.graph.out_deg.max() >= 8  # the cap binds
    uncapped = run(**{"platform.follow_cap": 0, "platform.recommender_slots": 6, "behaviour.follow_base": -1.0,
                      "run.steps": 60})
    g = uncapped.state.graph
    assert np.any((g.out_deg > 8) & (g.in_deg <= 8))


def test_follow_back_depends_on_the_followed():
    m = run(**{"behaviour.follow_back_prob": 0.0})
    never = run(**{"behaviour.follow_back_prob": 1.0, "behaviour.follow_back_scale": 1e9})
    assert never.metrics["reciprocity"] > m.metrics["reciprocity"] + 0.1


def test_silent_accounts_get_unfollowed():
    def follows_to_silent(prob):
        m = run(**{"behaviour.unfollow_prob": prob, "behaviour.silence_steps": 5, "meetups.rate": 0.0})
        silent = m.state.last_post < m.state.step - 10
        f = m.follows_frame()
        return silent[f.followee].sum()
    assert follows_to_silent(1.0) < follows_to_silent(0.0)


def test_meetups_make_offline_ties_and_none_without_them():
    with_meetups = run(**{"meetups.rate": 0.2, "meetups.min_members": 5})
    assert with_meetups.metrics["offline_ties_per_member"] > 0
    assert with_meetups.timeseries().attendees.sum() > 0
    without = run(**{"meetups.rate": 0.0})
    assert without.metrics["offline_ties_per_member"] == 0
    assert without.member_frame().offline_ties.sum() == 0


def test_offline_ties_are_mutual_follows_with_closeness():
    m = run(**{"meetups.rate": 0.2, "meetups.min_members": 5})
    g = m.state.graph
    met = g.alive_index()[g.met[g.alive_index()]]
    assert met.size > 0
    back = g.find(g.dst[met], g.src[met])
    assert np.mean(back >= 0) > 0.95
    assert np.mean(g.closeness[met] > 0) > 0.95


def test_full_shyness_means_nobody_attends():
    m = build(**{"meetups.rate": 0.3, "meetups.min_members": 5})
    m.state.pop.shyness[:] = 1.0
    m.run()
    assert m.timeseries().attendees.sum() == 0
    assert m.metrics["offline_ties_per_member"] == 0


def test_attendance_rises_with_skill():
    m = run(**{"meetups.rate": 0.3, "meetups.min_members": 5, "run.steps": 120})
    f = m.member_frame()
    skilled = f.skill > f.skill.median()
    assert f.offline_ties[skilled].mean() > f.offline_ties[~skilled].mean()


def test_meetups_narrow_the_intimacy_gap():
    gaps = {rate: np.mean([run(**{"meetups.rate": rate, "meetups.min_members": 5, "seed": s}).metrics[
        "intimacy_gap"] for s in range(2)]) for rate in (0.0, 0.3)}
    assert gaps[0.3] < gaps[0.0]


def test_close_ties_are_capped_at_dunbar():
    m = run(**{"intimacy.close_rule": "dunbar", "intimacy.dunbar": 2, "meetups.rate": 0.3, "meetups.min_members": 5,
               "meetups.meets": 6})
    g = m.state.graph
    idx = g.alive_index()
    close = idx[g.closeness[idx] >= m.params.intimacy.close_threshold]
    assert np.bincount(g.src[close]).max() <= 2
    loose = run(**{"intimacy.close_rule": "dunbar", "intimacy.dunbar": 1000, "meetups.rate": 0.3,
                   "meetups.min_members": 5, "meetups.meets": 6})
    g = loose.state.graph
    idx = g.alive_index()
    close = idx[g.closeness[idx] >= loose.params.intimacy.close_threshold]
    assert np.bincount(g.src[close]).max() > 2


def test_familiarity_and_closeness_decay_without_contact():
    m = run(**{"meetups.rate": 0.3, "meetups.min_members": 5})
    g = m.state.graph
    idx = g.alive_index()
    fam, close = g.familiarity[idx].sum(), g.closeness[idx].sum()
    m.state.status[m.state.status == ACTIVE] = 2  # everyone quiet: no contact at all
    m.params.leaving.quiet_steps = 10_000
    m.run(20)
    assert g.familiarity[idx].sum() < fam * 0.8
    assert g.closeness[idx].sum() < close * 0.9


def test_members_leave_and_take_their_follows():
    m = run(**{"leaving.quiet_rate": 0.02, "leaving.quiet_steps": 5})
    f = m.member_frame()
    left = f[f.left_step >= 0]
    assert len(left) > 0
    follows = m.follows_frame()
    assert not follows.follower.isin(left.member_id).any()
    assert not follows.followee.isin(left.member_id).any()
    stay = run(**{"leaving.quiet_rate": 0.0, "leaving.elite_exit_rate": 0.0, "leaving.disappointment_exit": 0.0})
    assert (stay.member_frame().left_step < 0).all()


def test_early_elite_leave_once_mainstream():
    def elite_left(rate):
        m = run(**{"leaving.exit_rule": "imposed", "leaving.elite_exit_rate": rate, "leaving.quiet_rate": 0.0,
                   "leaving.quiet_steps": 1,
                   "leaving.mainstream_share": 0.2, "run.steps": 120})
        f = m.member_frame()
        elite = m.state.elite[f.member_id]
        return (f.left_step[elite] >= 0).mean(), (f.left_step[~elite] >= 0).mean()
    elite, others = elite_left(0.05)
    assert elite > 0.2 and others == 0
    assert elite_left(0.0)[0] == 0


def test_outputs_have_the_documented_columns():
    from socialsim.metrics import FOLLOW_COLUMNS, MEMBER_COLUMNS, METRIC_NAMES
    m = run(**{"run.steps": 10})
    assert list(m.timeseries().columns) == ["step", *METRIC_NAMES]
    assert list(m.timeseries().step) == list(range(11))
    assert tuple(m.member_frame().columns) == MEMBER_COLUMNS
    assert tuple(m.follows_frame().columns) == FOLLOW_COLUMNS
    assert len(m.member_frame()) == int((m.state.joined_step >= 0).sum())


def test_members_are_mesa_agents_mirroring_the_arrays():
    m = run(**{"run.steps": 30})
    assert len(m.agents) == len(m.members) == m.metrics["members"]
    some = next(iter(m.members.values()))
    assert some.followers == int(m.state.graph.in_deg[some.index])
    assert set(some.following.tolist()) == set(m.follows_frame().query("follower == @some.index").followee)


def test_bad_parameters_name_the_parameter():
    from socialsim import ParameterError
    with pytest.raises(ParameterError, match=r"population.size must be >= 1"):
        PlatformModel(population__size=0)
    with pytest.raises(ParameterError, match=r"platform.recommender must be one of"):
        PlatformModel(platform__recommender="magic")
    with pytest.raises(ParameterError, match=r"platform.openness must be in \[0, 1\]"):
        PlatformModel(platform__openness=1.5)
    with pytest.raises(ParameterError, match=r"populaton is not a parameter"):
        PlatformModel(populaton__size=3)


def test_checkpoint_and_resume_give_the_uninterrupted_result():
    from socialsim import snapshot
    whole = run(**{"run.steps": 40, "meetups.rate": 0.2, "meetups.min_members": 5})
    half = build(**{"run.steps": 40, "meetups.rate": 0.2, "meetups.min_members": 5})
    half.run(17)
    resumed = PlatformModel.from_checkpoint(snapshot.loads(snapshot.dumps(half.checkpoint()))[1])
    resumed.run(23)
    assert resumed.steps == 40
    pd.testing.assert_frame_equal(whole.timeseries(), resumed.timeseries())
    pd.testing.assert_frame_equal(whole.member_frame(), resumed.member_frame())
    pd.testing.assert_frame_equal(whole.follows_frame(), resumed.follows_frame())
    assert len(resumed.members) == whole.metrics["members"]


def test_a_fixed_population_seed_gives_the_same_people_in_different_worlds():
    a = build(**{"population.seed": 5, "seed": 1, "run.steps": 20})
    b = build(**{"population.seed": 5, "seed": 2, "run.steps": 20})
    c = build(**{"seed": 1, "run.steps": 20})
    assert np.array_equal(a.state.pop.skill, b.state.pop.skill)
    assert not np.array_equal(a.state.pop.skill, c.state.pop.skill)
    a.run(), b.run()
    assert not a.follows_frame().equals(b.follows_frame())


def test_slot_kinds_are_generator_choice_with_the_same_draws():
    """The recommender of each slot is drawn as ``Generator.choice(p=...)`` draws it (values and random stream)."""
    from socialsim.phases.recommend import slot_kinds

    for seed in range(40):
        r = np.random.default_rng(seed)
        weights = r.random(int(r.integers(1, 6)))
        weights = list(weights / weights.sum())
        size = int(r.integers(0, 2000))
        a, b = np.random.default_rng(seed + 100), np.random.default_rng(seed + 100)
        np.testing.assert_array_equal(slot_kinds(a, weights, size), b.choice(len(weights), size=size, p=weights))
        assert a.random() == b.random()


def test_engage_kernels_round_gains_as_numpy_did():
    """Closeness grows as ``np.add.at`` grows it (a float64 sum rounded to float32, repeats added one by one) and
    familiarity as ``+=`` on a float32 array (the gain rounded first), for gains float32 cannot hold exactly."""
    from socialsim.phases.engage import _grow, _tally_reads

    r = np.random.default_rng(5)
    for gain in (0.9531805571168661, 0.1, 1 / 3):
        base = r.random(500).astype(np.float32)
        forward, back = r.integers(-1, 500, 300), r.integers(-1, 500, 300)  # repeats and -1 (no follow) included
        grown, expected = base.copy(), base.copy()
        _grow(grown, forward, back, gain)
        both = np.concatenate([forward, back])
        np.add.at(expected, both[both >= 0], gain)
        np.testing.assert_array_equal(grown, expected)

        edge = r.permutation(500)[:200]
        edge[::7] = -1  # items from strangers leave familiarity alone
        familiarity, expected = base.copy(), base.copy()
        _tally_reads(r.integers(0, 50, 200), edge, np.zeros(50, np.int64), np.zeros(50, np.int64), familiarity,
                     np.float32(gain))
        expected[edge[edge >= 0]] += gain
        np.testing.assert_array_equal(familiarity, expected)
