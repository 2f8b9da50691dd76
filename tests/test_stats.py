"""The package's one Gini coefficient, one t-interval and one rank correlation, against known values and scipy.

The rank correlation is numpy arithmetic rather than ``scipy.stats.spearmanr``: it runs every step, and scipy's
result differs from it in the last bits for about a third of inputs, which would change committed outputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from socialsim import metrics, study, validation


@pytest.mark.parametrize("x,expected", [
    ([1, 1, 1], 0.0),
    ([0, 0, 1], 2 / 3),  # the sample Gini: sum_ij |xi - xj| / (2 n^2 mean), maximal (n-1)/n
    ([0, 0, 0, 0, 5], 4 / 5),
    ([1, 2, 3, 4], 0.25),
    ([], 0.0),
    ([0, 0], 0.0),
])
def test_gini_known_values(x, expected):
    assert metrics.gini(np.array(x, dtype=np.int64)) == pytest.approx(expected, abs=1e-15)
    assert metrics.gini(np.array(x, dtype=float)) == pytest.approx(expected, abs=1e-15)


def test_gini_is_the_mean_absolute_difference_over_twice_the_mean():
    rng = np.random.default_rng(3)
    for x in (rng.integers(0, 40, 500), rng.pareto(1.5, 300)):
        mad = np.abs(x[:, None] - x[None, :]).mean()
        np.testing.assert_allclose(metrics.gini(x), mad / (2 * x.mean()), rtol=1e-12)


def test_ranks_are_scipys_average_ranks_from_zero():
    rng = np.random.default_rng(4)
    for x in (rng.integers(0, 10, 300), rng.normal(size=300), np.array([3.0, 3.0, 3.0]), np.array([2, 1])):
        np.testing.assert_array_equal(metrics.ranks(x), stats.rankdata(x) - 1)


def test_spearman_matches_scipy():
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(3, 300))
        x, y = rng.integers(0, 8, n), rng.normal(size=n) + rng.integers(0, 3, n)
        if np.ptp(x) == 0:
            continue
        np.testing.assert_allclose(metrics.spearman(x, y), stats.spearmanr(x, y).statistic, rtol=1e-12, atol=1e-15)


def test_spearman_is_zero_where_scipy_is_undefined():
    assert metrics.spearman(np.array([1, 1, 1, 1]), np.array([1, 2, 3, 4])) == 0.0
    assert metrics.spearman(np.array([1, 2]), np.array([2, 1])) == 0.0  # fewer than 3 values
    assert metrics.spearman(np.array([1, 2, 3]), np.array([3, 2, 1])) == -1.0


def test_rank_correlation_is_numpys_corrcoef_bit_for_bit():
    rng = np.random.default_rng(6)
    for _ in range(300):
        n = int(rng.integers(3, 500))
        x, y = rng.permutation(n).astype(float), metrics.ranks(rng.integers(0, 30, n))
        if np.ptp(y) == 0:
            continue
        assert metrics._rank_correlation(x, y) == float(np.corrcoef(x, y)[0, 1])


def test_t_interval_matches_scipy():
    x = np.array([0.3, 0.5, 0.45, 0.61, 0.2, 0.38])
    mean, lo, hi, n = study.t_interval(x)
    expected = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x))
    assert n == 6 and mean == pytest.approx(x.mean())
    np.testing.assert_allclose((lo, hi), expected, rtol=1e-12)
    mean, lo, hi, n = study.t_interval([1.0, np.nan, 3.0], level=0.9)  # missing values are left out
    np.testing.assert_allclose((lo, hi), stats.t.interval(0.9, 1, loc=2.0, scale=stats.sem([1.0, 3.0])))
    assert n == 2 and np.isnan(study.t_interval([1.0])[1]) and study.t_interval([])[3] == 0


def test_validation_interval_is_the_same_t_interval():
    x = [1.0, 2.0, 4.0, 7.0]
    iv = validation.interval(x)
    assert (iv.mean, iv.lo, iv.hi, iv.n) == study.t_interval(x)
    assert iv.sd == pytest.approx(np.std(x, ddof=1))
    one = validation.interval([2.5])
    assert (one.mean, one.lo, one.hi, one.sd, one.n) == (2.5, 2.5, 2.5, 0.0, 1)
