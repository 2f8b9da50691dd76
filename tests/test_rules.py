"""Unit tests of the behavioural rules: known values, bounds, the direction each input moves them, and the
same answer on scalars as on arrays (the reference calls them on scalars, the phases on arrays)."""

import numpy as np
import pytest

from socialsim import rules

GRID = np.linspace(0.0, 1.0, 11)


def test_logistic_known_values_and_bounds():
    assert rules.logistic(0.0) == 0.5
    x = np.linspace(-30, 30, 61)
    p = rules.logistic(x)
    assert np.all((p > 0) & (p < 1)) and np.all(np.diff(p) > 0)
    np.testing.assert_allclose(rules.logistic(-x) + p, 1.0)


@pytest.mark.parametrize("rule, args", [
    (rules.engage_probability, (-2.0, 3.0)),
    (rules.reshare_probability, (-4.0, 2.0)),
])
def test_appeal_rules_rise_with_appeal(rule, args):
    p = rule(np.linspace(-3, 3, 13), *args)
    assert np.all(np.diff(p) > 0) and np.all((p > 0) & (p < 1))
    assert rule(0.7, *args) == pytest.approx(rules.logistic(args[0] + args[1] * 0.7))


def test_scalars_and_arrays_agree():
    appeal, reach, shy, skill = np.array([-1.0, 0.3, 2.0]), np.array([0.5, 1.0, 9.0]), GRID[:3], GRID[3:6]
    cases = [
        (rules.engage_probability, (appeal, -2.0, 3.0)),
        (rules.reply_probability, (shy, 0.4)),
        (rules.answer_probability, (shy, 0.6)),
        (rules.follow_probability, (appeal, reach, -4.0, 1.0, 0.5)),
        (rules.follow_back_probability, (np.array([0, 10, 1000]), shy, 0.3, 50.0)),
        (rules.hear_probability, (np.array([0, 1, 5]), 0.3)),
        (rules.attend_probability, (skill, shy, np.array([0, 1, 5]), -1.0, 2.0, 0.5, 1.0)),
        (rules.elite_weight, (appeal, 1.5)),
        (rules.is_silent, (np.array([-1, 3, 9]), np.array([0, 0, 2]), 10, 5)),
        (rules.follow_allowance, (np.array([0, 40, 41]), 40)),
    ]
    for rule, args in cases:
        whole = rule(*args)
        for i in range(3):
            one = rule(*(a[i] if isinstance(a, np.ndarray) else a for a in args))
            assert np.ndim(one) == 0 and one == whole[i], rule.__name__


def test_join_probability():
    p = rules.join_probability(0.5, 0.01, 0.2, np.array([1.0, 2.0]), np.array([0.0, 0.5]), False,
                               np.array([False, True]))
    np.testing.assert_allclose(p, [0.005, 0.01 + 0.1])
    # invite-only: nobody without a member contact joins; the probability is at most 1
    p = rules.join_probability(1.0, 1.0, 1.0, np.array([5.0, 5.0]), np.array([1.0, 0.0]), True, np.array([True, False]))
    np.testing.assert_array_equal(p, [1.0, 0.0])


def test_elite_weight_has_mean_one_over_people():
    z = np.random.default_rng(0).standard_normal(400_000)
    assert rules.elite_weight(z, 1.2).mean() == pytest.approx(1.0, rel=0.02)
    assert np.all(rules.elite_weight(0.0, 0.0) == 1.0)
    assert rules.elite_weight(2.0, 1.0) > rules.elite_weight(0.0, 1.0)


def test_post_appeal():
    assert rules.post_appeal(0.6, -1.0, 0.5) == pytest.approx(0.1)
    np.testing.assert_array_equal(rules.post_appeal(GRID, 0.0, 3.0), GRID)


def test_shyness_lowers_reply_answer_follow_back_and_attendance():
    for p in (rules.reply_probability(GRID, 0.4), rules.answer_probability(GRID, 0.6),
              rules.follow_back_probability(5, GRID, 0.3, 50.0),
              rules.attend_probability(0.5, GRID, 2, -1.0, 2.0, 0.5, 1.0)):
        assert np.all(np.diff(p) < 0) and np.all(p >= 0)
    assert rules.reply_probability(1.0, 0.4) == 0.0
    assert rules.attend_probability(0.9, 1.0, 10, 5.0, 2.0, 0.5, 1.0) == 0.0  # the fully shy never go
    assert rules.answer_probability(1.0, 0.6) == pytest.approx(0.3)


def test_follow_rules_directions():
    assert np.all(np.diff(rules.follow_probability(np.linspace(-2, 2, 9), 1.0, -4.0, 1.0, 0.5)) > 0)
    assert np.all(np.diff(rules.follow_probability(0.0, np.array([0.1, 1.0, 10.0]), -4.0, 1.0, 0.5)) > 0)
    back = rules.follow_back_probability(np.array([0, 10, 100, 10_000]), 0.0, 0.3, 50.0)
    assert back[0] == pytest.approx(0.3) and np.all(np.diff(back) < 0)
    assert back[2] == pytest.approx(0.3 / 3)


def test_hear_probability():
    np.testing.assert_allclose(rules.hear_probability(np.array([0, 1, 2]), 0.3), [0.0, 0.3, 0.51])
    assert rules.attend_probability(0.5, 0.2, 5, -1.0, 2.0, 0.5, 1.0) > rules.attend_probability(
        0.5, 0.2, 0, -1.0, 2.0, 0.5, 1.0)


def test_quiet_probability():
    p = rules.quiet_probability(np.array([True, True, False]), np.array([True, False, True]), 0.01, 0.05)
    np.testing.assert_allclose(p, [0.06, 0.01, 0.01])


def test_follow_allowance_is_the_2009_cap():
    followers = np.arange(100)
    np.testing.assert_array_equal(rules.follow_allowance(followers, 40),
                                  np.where(followers <= 40, 40, rules.NO_FOLLOW_LIMIT))
    assert np.all(rules.follow_allowance(followers, 0) == rules.NO_FOLLOW_LIMIT)  # no cap
    # more followers never lowers the allowance
    assert np.all(np.diff(rules.follow_allowance(followers, 40)) >= 0)


def test_is_silent():
    # silent when neither a post nor joining happened in the last silence_steps steps
    assert rules.is_silent(-1, 0, 31, 30) and not rules.is_silent(-1, 0, 30, 30)
    assert not rules.is_silent(25, 0, 50, 30) and rules.is_silent(19, 0, 50, 30)
    assert not rules.is_silent(-1, 45, 50, 30)  # a newcomer who never posted
    steps = np.arange(0, 100)
    silent = rules.is_silent(10, 0, steps, 30)
    assert np.all(np.diff(silent.astype(int)) >= 0)  # once silent, silent until the next post


def test_demoted_closeness_falls_just_below_close():
    for threshold in (0.01, 1.0, 7.5):
        d = rules.demoted_closeness(threshold)
        assert 0.99 * threshold < d < threshold
        assert np.float32(d) < np.float32(threshold)  # still below close in the graph's float32


def test_first_members():
    reach_z = np.random.default_rng(1).standard_normal(1000)
    first = rules.first_members(np.random.default_rng(2), reach_z, 50, 2.0, 0)
    assert len(set(first.tolist())) == 50 and first.min() >= 0 and first.max() < 1000
    assert reach_z[first].mean() > 1.0  # drawn by reach: the first members have high reach
    again = rules.first_members(np.random.default_rng(2), reach_z, 50, 2.0, 0)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(rules.first_members(None, reach_z, 4, 2.0, 1), np.arange(4))  # fixed arrivals
