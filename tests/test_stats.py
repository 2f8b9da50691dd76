"""The package's one Gini coefficient, one t-interval and one rank correlation, against known values and scipy.

The rank correlation is numpy arithmetic rather than ``scipy.stats.spearmanr``: it runs every step, and scipy's
result differs from it in the last bits for about a third of inputs, which would change committed outputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def test_metric_kernels_equal_the_numpy_formulas_bit_for_bit():
    """The per-step metrics sum whole counts in numba: the Gini coefficient, the top shares and the follower rank
    correlations must be the numpy functions' values exactly (skewed counts with many ties, up to SAMPLE people)."""
    rng = np.random.default_rng(7)
    for size in [0, 1, 2, 3, 10, 500, 5000, metrics.SAMPLE]:
        n = size + int(rng.integers(0, 50))  # everyone; the sample is size of them
        followers = (rng.pareto(1.2, n) * rng.integers(1, 30)).astype(np.int32)
        followers[rng.random(n) < 0.3] = 0
        assert metrics._count_gini(followers) == metrics.gini(followers)
        for fraction in (0.01, 0.1):
            assert metrics._count_top_share(followers, fraction) == metrics.top_share(followers, fraction)
        sample = np.sort(rng.choice(n, size, replace=False))
        skill_order, reach_order = rng.permutation(n), rng.permutation(n)
        join_order = np.full(n, -1, np.int64)
        joined = rng.choice(n, max(size, n - 20), replace=False)  # everyone in the sample joined
        joined = np.union1d(joined, sample)
        join_order[joined] = rng.permutation(joined.size)
        by_join = np.empty(joined.size, np.int64)
        by_join[join_order[joined]] = joined
        in_sample = np.zeros(n, bool)
        in_sample[sample] = True
        f = metrics.ranks(followers[sample])
        expected = [metrics._rank_correlation(metrics.subset_ranks(order, in_sample)[sample], f)
                    for order in (skill_order, reach_order, by_join)]
        got = metrics._follower_rank_correlations(followers, sample, skill_order, reach_order, join_order)
        assert got.tolist() == expected


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


# --- contrasts between conditions: the seed is the unit ----------------------------------------------------
def _runs(base, other, *, factor_levels=(None,), noise=0.0, rng=None):
    """One run per seed, condition and level of another factor: outcome y, condition column 'arm'."""
    rows = []
    for s, (b, o) in enumerate(zip(base, other)):
        for f in factor_levels:
            for arm, value in (("a", b), ("b", o)):
                jitter = rng.normal(0, noise) if rng is not None else 0.0
                rows.append({"seed": s, "arm": arm, "f": f, "y": value + jitter})
    return pd.DataFrame(rows)


def test_paired_contrast_known_answer():
    base = np.array([0.30, 0.50, 0.45, 0.61, 0.20, 0.38])
    other = np.array([0.35, 0.52, 0.55, 0.60, 0.31, 0.47])
    row = study.paired_contrast(_runs(base, other), "y", "arm", "a", "b")
    d = other - base
    assert list(row.index) == list(study.CONTRAST_FIELDS)
    assert (row.outcome, row.column, row.base, row.other, row.n_seeds) == ("y", "arm", "a", "b", 6)
    assert row["diff"] == pytest.approx(d.mean()) and row.base_mean == pytest.approx(base.mean())
    assert row.other_mean == pytest.approx(other.mean())
    np.testing.assert_allclose((row.ci_lo, row.ci_hi), stats.t.interval(0.95, 5, loc=d.mean(), scale=stats.sem(d)))
    assert row.p == pytest.approx(stats.ttest_rel(other, base).pvalue, rel=1e-12)
    assert row.seed_sd == pytest.approx(np.std(base, ddof=1))
    assert row.diff_sd == pytest.approx(d.mean() / np.std(base, ddof=1))


def test_pooling_over_another_factor_keeps_n_at_the_number_of_seeds():
    rng = np.random.default_rng(7)
    base = rng.normal(0.5, 0.1, 8)
    effect = 0.03 + rng.normal(0, 0.03, 8)  # the effect differs between populations, so runs of one seed are alike
    runs = _runs(base, base + effect, factor_levels=(1, 2, 3, 4, 5), noise=0.01, rng=rng)
    row = study.paired_contrast(runs, "y", "arm", "a", "b")
    assert row.n_seeds == 8  # 40 runs per condition, 8 populations
    per_seed = runs.groupby(["seed", "arm"])["y"].mean().unstack()
    d = per_seed["b"] - per_seed["a"]
    np.testing.assert_allclose((row["diff"], row.ci_lo, row.ci_hi),
                               (d.mean(), *stats.t.interval(0.95, 7, loc=d.mean(), scale=stats.sem(d))))
    assert row.seed_sd == pytest.approx(per_seed["a"].std(ddof=1))
    # pairing by (seed, factor) would count 40 pairs and give a narrower interval: that is what is avoided
    naive = runs.pivot_table(index=["seed", "f"], columns="arm", values="y")
    naive_d = naive["b"] - naive["a"]
    naive_half = stats.t.ppf(0.975, naive_d.size - 1) * stats.sem(naive_d)
    assert row.ci_hi - row["diff"] > 1.5 * naive_half


def test_paired_contrast_names_a_seed_without_a_condition():
    runs = _runs([1.0, 2.0, 3.0], [1.5, 2.5, 3.5])
    runs = runs[~((runs.seed == 2) & (runs.arm == "b"))]
    with pytest.raises(ValueError, match=r"seed\(s\) 2 have no run with arm='b'"):
        study.paired_contrast(runs, "y", "arm", "a", "b")
    with pytest.raises(ValueError, match=r"no run has arm='c'"):
        study.paired_contrast(runs, "y", "arm", "a", "c")
    with pytest.raises(ValueError, match=r"outcome 'z' is not a column"):
        study.paired_contrast(runs, "z", "arm", "a", "b")


def test_paired_contrast_leaves_out_a_seed_with_a_missing_outcome():
    runs = _runs([1.0, 2.0, 3.0, 4.0], [1.5, 2.7, 3.4, 9.0])
    runs.loc[(runs.seed == 3) & (runs.arm == "b"), "y"] = np.nan
    row = study.paired_contrast(runs, "y", "arm", "a", "b")
    assert row.n_seeds == 3 and row["diff"] == pytest.approx(np.mean([0.5, 0.7, 0.4]))


def test_mixed_model_agrees_with_the_paired_contrast_on_balanced_data():
    rng = np.random.default_rng(11)
    n = 12
    population = rng.normal(0, 1.0, n)  # large seed-to-seed differences: the random intercept is well away from 0
    base = 2.0 + population + rng.normal(0, 0.1, n)
    other = 2.0 + population + 0.15 + rng.normal(0, 0.1, n)
    runs = _runs(base, other)
    paired = study.paired_contrast(runs, "y", "arm", "a", "b")
    mixed = study.mixed_contrast(runs, "y", "arm", "a", "b")
    assert mixed.converged and mixed.n_seeds == n and mixed.n_runs == 2 * n
    assert mixed["diff"] == pytest.approx(paired["diff"], rel=1e-6)
    # one run per seed and condition: REML's standard error is the paired one; only z replaces t
    ratio = (mixed.ci_hi - mixed["diff"]) / (paired.ci_hi - paired["diff"])
    assert ratio == pytest.approx(stats.norm.ppf(0.975) / stats.t.ppf(0.975, n - 1), rel=1e-4)
    assert mixed.p < 0.05 and paired.p < 0.05
    for field in ("seed_sd", "diff_sd", "base_mean", "other_mean"):
        assert mixed[field] == pytest.approx(paired[field])


def test_mixed_model_on_several_runs_per_seed_estimates_the_same_difference():
    rng = np.random.default_rng(12)
    population = rng.normal(0, 1.0, 10)
    runs = _runs(population, population + 0.2, factor_levels=(1, 2, 3), noise=0.05, rng=rng)
    paired = study.paired_contrast(runs, "y", "arm", "a", "b")
    mixed = study.mixed_contrast(runs, "y", "arm", "a", "b")
    assert mixed.n_seeds == 10 and mixed.n_runs == 60
    assert mixed["diff"] == pytest.approx(paired["diff"], rel=1e-6)
    assert mixed.ci_lo < 0.2 < mixed.ci_hi
    with pytest.raises(ValueError, match="have no run with"):
        study.mixed_contrast(runs[~((runs.seed == 0) & (runs.arm == "a"))], "y", "arm", "a", "b")


def test_holm_and_benjamini_hochberg_by_hand():
    p = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04, then a running maximum
    np.testing.assert_allclose(study.adjust_p(p, "holm"), [0.03, 0.06, 0.06, 0.02])
    # BH: sorted p * 4 / rank = 0.02, 0.02, 0.04, 0.04, then a running minimum from the largest
    np.testing.assert_allclose(study.adjust_p(p, "fdr_bh"), [0.02, 0.04, 0.04, 0.02])
    np.testing.assert_allclose(study.adjust_p([0.5, 0.6], "holm"), [1.0, 1.0])  # capped at 1
    np.testing.assert_allclose(study.adjust_p([0.01, np.nan, 0.04]), [0.02, np.nan, 0.04])  # NaN is no test
    with pytest.raises(ValueError, match="method must be one of holm, fdr_bh"):
        study.adjust_p(p, "bonferroni")


def test_contrast_table_adjusts_the_rows_together():
    rng = np.random.default_rng(13)
    rows = []
    for shift in (0.0, 0.05, 0.5):
        base = rng.normal(1.0, 0.2, 6)
        runs = _runs(base, base + shift + rng.normal(0, 0.05, 6))
        rows.append(study.paired_contrast(runs, "y", "arm", "a", "b"))
    table = study.contrast_table(rows, method="fdr_bh")
    assert list(table.columns) == [*study.CONTRAST_FIELDS, "p_adj", "method"]
    np.testing.assert_allclose(table.p_adj, study.adjust_p([r.p for r in rows], "fdr_bh"))
    assert (table.method == "fdr_bh").all() and (table.p_adj >= table.p).all()
    assert study.contrast_table([]).empty
