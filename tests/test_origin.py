"""Tie origins, new ties and groups: each follow's origin comes from the mechanism that made it (and disappears
when that mechanism is off), the per-member counts equal a recount from the output tables and the offline
network, the mutual-tie origin follows the documented tie-break, and homophily acts where it is said to act."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from socialsim import PlatformModel, invariants, metrics
from socialsim.graph import CLASSIC, CONTENT, FOLLOW_BACK, MEETUP, OFFLINE, ORIGINS, SUGGESTED, FollowGraph

SIZE, STEPS = 600, 90
# meetups often enough that a short run has some
BUSY = {"population.size": SIZE, "meetups.rate": 0.3, "meetups.min_members": 10}


def run(steps: int = STEPS, **overrides) -> PlatformModel:
    return PlatformModel({**BUSY, "seed": 4, **{k.replace("__", "."): v for k, v in overrides.items()}}).run(steps)


@pytest.fixture(scope="module")
def busy() -> PlatformModel:
    return run()


def origins(model: PlatformModel) -> set[str]:
    return set(model.follows_frame()["origin"].astype(str))


# --- every mechanism leaves its origin, and none when it is off ------------------------------------------
def test_follows_table_has_origin_as_a_categorical_of_every_origin(busy):
    ff = busy.follows_frame()
    assert isinstance(ff["origin"].dtype, pd.CategoricalDtype)
    assert list(ff["origin"].cat.categories) == list(ORIGINS)
    assert origins(busy) == {"offline", "meetup", "suggested", "content", "follow_back"}


@pytest.mark.parametrize("switch, origin", [
    ({"meetups.rate": 0.0}, "meetup"),
    ({"platform.recommender": "none"}, "suggested"),
    ({"behaviour.follow_back_prob": 0.0}, "follow_back"),
    ({"behaviour.offline_follow_prob": 0.0}, "offline"),
    ({"platform.attention": 0}, "content"),
])
def test_an_origin_disappears_when_its_mechanism_is_off(switch, origin):
    assert origin not in origins(run(**switch))


def test_classic_attachment_makes_only_classic_follows():
    m = run(steps=40, **{"adoption.attachment": "preferential", "adoption.arrivals_per_step": 5,
                         "adoption.seed_members": 4, "platform.recommender": "none", "platform.attention": 0,
                         "behaviour.follow_back_prob": 0.0, "meetups.rate": 0.0})
    assert origins(m) == {"classic"}


def test_meetup_follows_are_between_people_who_met(busy):
    g = busy.state.graph
    idx = g.alive_index()
    assert np.all(g.met[idx][g.origin[idx] == MEETUP])


# --- per-member counts equal a recount from the tables ------------------------------------------------
def recount_new_ties(model: PlatformModel) -> pd.DataFrame:
    """New mutual and new close ties per member, from follows.parquet's columns and the offline network."""
    pop, g = model.state.pop, model.state.graph
    ff = model.follows_frame()
    owner, contact = pop.contact_pairs(np.arange(pop.size))
    contacts = set(zip(owner.tolist(), contact.tolist()))
    pairs = set(zip(ff["follower"], ff["followee"]))
    idx = g.alive_index()  # closeness is not in the table; take it from the same live follows, same order
    close = g.closeness[idx] >= model.params.intimacy.close_threshold
    new_mutual, new_close = np.zeros(pop.size, int), np.zeros(pop.size, int)
    for (a, b), is_close in zip(zip(ff["follower"], ff["followee"]), close):
        if (a, b) in contacts:
            continue
        new_mutual[a] += (b, a) in pairs
        new_close[a] += is_close
    return pd.DataFrame({"new_mutual_ties": new_mutual, "new_close_ties": new_close})


def test_new_tie_counts_equal_a_recount_from_the_follows_and_the_offline_network(busy):
    mf = busy.member_frame()
    expected = recount_new_ties(busy).iloc[mf["member_id"]].reset_index(drop=True)
    pd.testing.assert_series_equal(mf["new_mutual_ties"], expected["new_mutual_ties"], check_dtype=False)
    pd.testing.assert_series_equal(mf["new_close_ties"], expected["new_close_ties"], check_dtype=False)
    assert 0 < mf["new_mutual_ties"].sum() < mf["mutual_ties"].sum()  # some ties are new, not all
    assert mf["new_close_ties"].sum() > 0


def test_mutual_ties_by_origin_equal_a_recount_with_the_tie_break(busy):
    mf, ff = busy.member_frame(), busy.follows_frame()
    rows = {(a, b): (s, ORIGINS.index(o)) for a, b, s, o in ff[["follower", "followee", "since_step", "origin"]]
            .astype({"origin": str}).itertuples(index=False)}
    counts = np.zeros((busy.state.n, len(ORIGINS)), int)
    for (a, b), (s, o) in rows.items():
        if (b, a) in rows:
            s2, o2 = rows[(b, a)]
            counts[a, o if s < s2 else o2 if s > s2 else min(o, o2)] += 1
    for code, name in enumerate(ORIGINS):
        np.testing.assert_array_equal(mf[f"mutual_{name}"], counts[mf["member_id"], code], err_msg=name)
    assert (mf[[f"mutual_{o}" for o in ORIGINS]].sum(axis=1) == mf["mutual_ties"]).all()
    assert (mf["mutual_offline"] > 0).any() and (mf["mutual_suggested"] + mf["mutual_content"] > 0).any()


def test_mutual_tie_origin_is_the_earlier_follow_and_on_the_same_step_the_first_listed():
    g = FollowGraph(6, np.zeros(6, np.int32))
    g.add([0], [1], step=2, origin=SUGGESTED)
    g.add([1], [0], step=5, origin=OFFLINE)  # later: the tie is 'suggested' although offline is listed first
    g.add([2], [3], step=4, origin=CONTENT)
    g.add([3], [2], step=4, origin=FOLLOW_BACK)  # same step: content, listed before follow_back
    g.add([4], [5], step=1, origin=MEETUP)
    g.add([5], [4], step=1, origin=OFFLINE)  # same step: offline, listed before meetup
    slots, origin = metrics.mutual_tie_origin(g)
    tie = {int(g.src[s]): ORIGINS[o] for s, o in zip(slots, origin)}
    assert tie == {0: "suggested", 1: "suggested", 2: "content", 3: "content", 4: "offline", 5: "offline"}


def test_new_mutual_count_follows_additions_and_removals():
    # 0 and 1 are offline contacts; 0 and 2 are not
    indptr, contacts = np.array([0, 1, 2, 2]), np.array([1, 0], np.int32)
    g = FollowGraph(3, np.zeros(3, np.int32), contacts_indptr=indptr, contacts=contacts)
    g.add([0, 1, 0, 2], [1, 0, 2, 0], step=0, origin=CLASSIC)
    assert g.mutual.tolist() == [2, 1, 1] and g.new_mutual.tolist() == [1, 0, 1]
    assert g.contact[g.find([0, 0], [1, 2])].tolist() == [True, False]
    g.remove(g.find([2], [0]))
    assert g.new_mutual.tolist() == [0, 0, 0] and g.mutual.tolist() == [1, 1, 0]


def test_new_tie_metrics_equal_a_recount_from_the_members_table(busy):
    ts, mf = busy.timeseries().iloc[-1], busy.member_frame()
    mf = mf[mf["left_step"] < 0].set_index("member_id")
    pop = busy.state.pop
    skill_q, shy_q = pop.skill_quartile[mf.index], pop.shyness_quartile[mf.index]
    assert ts["low_skill_new_tie_share"] == pytest.approx((mf["new_mutual_ties"][skill_q == 0] > 0).mean())
    assert ts["shy_new_tie_share"] == pytest.approx((mf["new_mutual_ties"][shy_q == 3] > 0).mean())
    for q in range(4):
        assert ts[f"new_close_ties_skill_q{q + 1}"] == pytest.approx(mf["new_close_ties"][skill_q == q].mean())
        assert ts[f"new_close_ties_shyness_q{q + 1}"] == pytest.approx(mf["new_close_ties"][shy_q == q].mean())
    assert ts["low_skill_new_tie_share"] < ts["low_skill_connected_share"]  # the baseline is not the whole story


def test_invariants_hold_with_origins_and_groups():
    m = PlatformModel({**BUSY, "seed": 2, "population.minority_share": 0.3, "population.homophily": 0.8,
                       "leaving.quiet_rate": 0.02, "leaving.quiet_steps": 5})
    for _ in range(50):
        m.step()
        invariants.check(m)


# --- groups and homophily ---------------------------------------------------------------------------------
def same_group_share(pop, owner, other) -> float:
    return float((pop.group[owner] == pop.group[other]).mean())


def test_no_groups_by_default(busy):
    assert not busy.state.pop.group.any() and (busy.member_frame()["group"] == 0).all()
    ts = busy.timeseries().iloc[-1]
    assert ts["minority_visibility"] == ts["minority_connected_share"] == ts["minority_new_tie_share"] == 0
    mf = busy.member_frame()
    mf = mf[mf["left_step"] < 0]
    assert ts["majority_connected_share"] == pytest.approx((mf["mutual_ties"] > 0).mean())
    assert ts["majority_new_tie_share"] == pytest.approx((mf["new_mutual_ties"] > 0).mean())


def test_minority_size_is_the_share_asked_for():
    from socialsim import population
    from socialsim.params import PopulationParams

    pop = population.generate(PopulationParams(size=1000, minority_share=0.2), np.random.default_rng(0))
    assert pop.group.sum() == 200


@pytest.mark.parametrize("h, lo, hi", [(0.9, 0.85, 1.0), (0.5, 0.54, 0.62), (0.1, 0.0, 0.45)])
def test_homophily_shapes_offline_contacts(h, lo, hi):
    """f = 0.3: with no preference (h = 0.5) about 1 - 2 f (1 - f) = 0.58 of contacts by weight are within a
    group; homophily raises it, heterophily lowers it."""
    from socialsim import population
    from socialsim.params import PopulationParams

    pop = population.generate(PopulationParams(size=3000, minority_share=0.3, homophily=h), np.random.default_rng(1))
    owner, other = pop.contact_pairs(np.arange(pop.size))
    assert lo < same_group_share(pop, owner, other) < hi


def platform_follows_within_group(h: float) -> float:
    """Share of follows made on the platform (content, suggestions) that stay within a group."""
    m = PlatformModel({"population.size": 800, "seed": 6, "population.minority_share": 0.4,
                       "population.homophily": h, "platform.recommender": "random",
                       "platform.recommender_slots": 5}).run(80)
    ff = m.follows_frame()
    ff = ff[ff["origin"].isin(["content", "suggested"])]
    return same_group_share(m.state.pop, ff["follower"].to_numpy(), ff["followee"].to_numpy())


def test_homophily_shapes_follow_choices():
    within = {h: platform_follows_within_group(h) for h in (0.1, 0.5, 0.9)}
    assert within[0.1] + 0.1 < within[0.5] < within[0.9] - 0.1, within


def test_same_seed_same_outputs_with_groups():
    cfg = {**BUSY, "seed": 9, "population.minority_share": 0.25, "population.homophily": 0.7}
    a, b = PlatformModel(cfg).run(40), PlatformModel(cfg).run(40)
    pd.testing.assert_frame_equal(a.timeseries(), b.timeseries())
    pd.testing.assert_frame_equal(a.member_frame(), b.member_frame())
    pd.testing.assert_frame_equal(a.follows_frame(), b.follows_frame())


def test_compaction_and_checkpoints_keep_origins_and_contact_flags():
    indptr, contacts = np.array([0, 1, 2, 2, 2]), np.array([1, 0], np.int32)
    g = FollowGraph(4, np.zeros(4, np.int32), contacts_indptr=indptr, contacts=contacts)
    g.add([3, 0, 2, 1, 0], [0, 1, 0, 0, 2], step=1, origin=np.array([CONTENT, OFFLINE, MEETUP, FOLLOW_BACK,
                                                                    SUGGESTED], np.int8))
    g.remove(g.find([3], [0]))

    def table(graph):
        idx = graph.alive_index()
        return sorted(zip(graph.src[idx].tolist(), graph.dst[idx].tolist(), graph.origin[idx].tolist(),
                          graph.contact[idx].tolist()))

    before, new_mutual = table(g), g.new_mutual.copy()
    g.compact(force=True)
    assert table(g) == before and np.array_equal(g.new_mutual, new_mutual)
    restored = FollowGraph.from_state(4, np.zeros(4, np.int32), g.state(), indptr, contacts)
    assert table(restored) == before and np.array_equal(restored.new_mutual, new_mutual)
    assert before == [(0, 1, OFFLINE, True), (0, 2, SUGGESTED, False), (1, 0, FOLLOW_BACK, True),
                      (2, 0, MEETUP, False)]


def test_resumed_run_has_the_same_origins():
    a = PlatformModel({**BUSY, "seed": 5})
    a.run(20)
    b = PlatformModel.from_checkpoint(pickle.loads(pickle.dumps(a.checkpoint())))  # as written to disk
    a.run(15)
    b.run(15)
    pd.testing.assert_frame_equal(a.follows_frame(), b.follows_frame())
    pd.testing.assert_frame_equal(a.member_frame(), b.member_frame())


def test_groups_on_a_given_offline_network(tmp_path):
    """The minority is drawn on a given network too; the network itself is kept as given."""
    edges = tmp_path / "net.txt"
    edges.write_text("".join(f"{i} {(i * 7 + 3) % 120}\n{i} {(i + 1) % 120}\n" for i in range(120)))
    m = PlatformModel({"population.offline_network": str(edges), "population.size": 120,
                       "population.minority_share": 0.25, "population.homophily": 0.9, "seed": 1}).run(10)
    plain = PlatformModel({"population.offline_network": str(edges), "population.size": 120, "seed": 1})
    assert m.state.pop.group.sum() == 30
    np.testing.assert_array_equal(m.state.pop.contacts, plain.state.pop.contacts)
    invariants.check(m)
