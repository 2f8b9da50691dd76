"""socialsim.study: scale, sweep folder names, intervals, paired effects, unpredictability, member outcomes,
the Sobol design and analysis."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from socialsim import study
from socialsim.params import Params


def test_scale_defaults_to_full_and_ci_never_writes_into_committed_results(monkeypatch):
    for var in ("SOCIALSIM_SCALE", "SOCIALSIM_SWEEPS_DIR", "SOCIALSIM_RESULTS_DIR"):
        monkeypatch.delenv(var, raising=False)
    assert study.scale() == "full" and study.overrides("openness_vs_elite") == []
    monkeypatch.setenv("SOCIALSIM_SCALE", "ci")
    assert "population.size=300" in study.overrides("openness_vs_elite")
    assert "sweeps" in study.results_dir().relative_to(study.REPO).parts  # git-ignored results/sweeps/ci/...
    monkeypatch.setenv("SOCIALSIM_SCALE", "huge")
    with pytest.raises(ValueError, match="SOCIALSIM_SCALE"):
        study.scale()


def test_expected_jobs_are_hydra_override_dirnames():
    jobs = study.expected_jobs("openness_vs_elite")
    assert len(jobs) == 3 * 5 * 20
    assert "platform.openness=0.02,platform.recommender=random,seed=0" in jobs
    jobs = study.expected_jobs("illusion_of_intimacy", ["seed=range(0,2)", "population.size=300", "hydra.x=1"])
    assert len(jobs) == 3 * 3 * 2
    assert "meetups.rate=0.1,population.size=300,run.steps=90,seed=1" in jobs  # sorted by key


@pytest.mark.parametrize("name", ["openness_vs_elite", "illusion_of_intimacy", "local_networks", "early_adopters",
                                  "unpredictability", "recommender_by_attention"])
def test_every_experiment_composes_to_valid_parameters(name):
    from socialsim.config import compose_params

    params = compose_params([f"+experiment={name}"])
    assert params.population.size == 2000
    assert len(study.expected_jobs(name)) >= 100


def test_t_interval_matches_scipy():
    x = np.array([0.1, 0.4, 0.35, 0.2, 0.3])
    mean, lo, hi, n = study.t_interval(x)
    ref = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert n == 5 and mean == pytest.approx(x.mean()) and (lo, hi) == pytest.approx(ref)
    assert np.isnan(study.t_interval([1.0])[1])


def test_paired_effect_pairs_by_seed():
    rng = np.random.default_rng(0)
    seeds = np.arange(10)
    level = rng.normal(0, 5, 10)  # a large seed effect shared by both conditions
    df = pd.concat([pd.DataFrame({"seed": seeds, "rec": "a", "y": level}),
                    pd.DataFrame({"seed": seeds, "rec": "b", "y": level + 1 + rng.normal(0, 0.01, 10)})])
    e = study.paired_effect(df, "y", "rec", "a", "b")
    assert e["n"] == 10 and e["diff"] == pytest.approx(1, abs=0.01) and e["hi"] - e["lo"] < 0.05


def test_unpredictability_is_the_mean_pairwise_absolute_difference():
    shares = np.random.default_rng(1).dirichlet(np.ones(30), size=6)
    brute = np.mean([np.abs(shares[i] - shares[j]).mean() for i, j in itertools.combinations(range(6), 2)])
    assert study.unpredictability(shares) == pytest.approx(brute)
    assert study.unpredictability(np.tile(shares[0], (4, 1))) == pytest.approx(0)
    est, lo, hi = study.bootstrap_worlds(shares, n_boot=200)
    assert lo <= est <= hi or np.isclose(est, lo) or np.isclose(est, hi)


def test_partial_spearman_removes_a_confounder():
    rng = np.random.default_rng(2)
    z = rng.normal(size=3000)
    df = pd.DataFrame({"z": z, "x": z + rng.normal(size=3000) * 0.3, "y": z + rng.normal(size=3000) * 0.3})
    assert df.x.corr(df.y, method="spearman") > 0.8
    assert abs(study.partial_spearman(df, "x", "y", ["z"])) < 0.1


MECHANISM_EXPERIMENTS = {"invite_only": "platform.invite_only", "reshares_off": "platform.reshares",
                         "follow_cap": "platform.follow_cap", "close_tie_budget": "intimacy.reply_budget",
                         "engagement_timeline": "platform.timeline", "minority_visibility": "population.homophily",
                         "unpredictability_independent": "seed"}


@pytest.mark.parametrize("name", sorted(MECHANISM_EXPERIMENTS))
def test_mechanism_experiments_sweep_real_parameters_with_common_seeds(name):
    from omegaconf import OmegaConf

    from socialsim.config import compose_params
    from socialsim.params import flat_params

    swept = OmegaConf.load(study.EXPERIMENT_DIR / f"{name}.yaml").hydra.sweeper.params
    assert swept["seed"] == "range(0,20)"  # 20 populations, each in every condition
    assert MECHANISM_EXPERIMENTS[name] in swept
    known = set(flat_params(Params()))
    jobs = study.expected_jobs(name)
    assert len(jobs) == len(set(jobs)) >= 20
    for job in (jobs[0], jobs[-1]):  # every swept key is a parameter, and its values are allowed
        overrides = [f"{k}={v}" for k, v in (part.split("=") for part in job.split(","))]
        assert {o.split("=")[0] for o in overrides} <= known
        params = compose_params([f"+experiment={name}", *overrides])
        assert params.seed in range(20)
    # the lever changes the model's parameters between the first and the last job (it is switchable from here)
    first, last = (compose_params([f"+experiment={name}", *[p for p in j.split(",") if not p.startswith("seed=")]])
                   for j in (jobs[0], jobs[-1]))
    if name != "unpredictability_independent":
        assert flat_params(first) != flat_params(last)


def test_unpredictability_independent_has_no_social_signal_and_the_same_people():
    from socialsim.config import compose_params

    social = compose_params(["+experiment=unpredictability"])
    independent = compose_params(["+experiment=unpredictability_independent"])
    assert independent.population == social.population  # the same people (population.seed fixed)
    assert independent.platform.recommender == "random" and not independent.platform.reshares
    assert independent.behaviour.prominence == 0.0 and social.behaviour.prominence > 0


def test_contrast_averages_other_factors_within_seed_and_effects_table_adjusts_p():
    rng = np.random.default_rng(3)
    rows = []
    for seed in range(8):
        base = rng.normal(0, 3)
        for other in range(5):  # five runs per seed and condition must still count as one seed
            rows.append({"seed": seed, "x": "a", "k": other, "y": base + rng.normal(0, 0.1)})
            rows.append({"seed": seed, "x": "b", "k": other, "y": base + 1 + rng.normal(0, 0.1)})
    df = pd.DataFrame(rows)
    row = study.contrast(df, "y", "x", "a", "b")
    assert row["n_seeds"] == 8 and row["diff"] == pytest.approx(1, abs=0.1) and row["ci_lo"] > 0.8
    only = study.contrast(df, "y", "x", "a", "b", where={"k": [0, 1]}, label="two levels")
    assert only["effect"] == "two levels" and only["where"] == "k=[0, 1]" and only["n_seeds"] == 8
    table = study.effects_table([row, only, study.contrast(df, "k", "x", "a", "b")], "toy")
    assert list(table.columns[:3]) == ["experiment", "effect", "where"]
    assert (table["method"] == "holm").all()
    assert table["p_adj"].iloc[0] == pytest.approx(min(1, 2 * table["p"].iloc[0]))  # Holm over two finite p


def test_member_outcomes_count_new_ties_origins_and_exit(tmp_path):
    from socialsim.analysis import load_sweep
    from socialsim.graph import ORIGINS
    from socialsim.io import read_table, run_to_folder

    for seed in (0, 1):
        run_to_folder(Params.from_dict({}, **{"population.size": 300, "run.steps": 60, "seed": seed,
                                             "population.minority_share": 0.3}), tmp_path / f"seed={seed}")
    runs, _ = load_sweep(tmp_path, timeseries=False)
    out = study.member_outcomes(runs)
    assert len(out) == 2 and set(out.seed) == {0, 1}
    for _, row in out.iterrows():
        m = read_table(row["run"], "members")
        here = m[m.left_step < 0]
        per_member = sum(row[f"mutual_per_member_{o}"] for o in ORIGINS)
        assert per_member == pytest.approx(here.mutual_ties.mean())
        assert sum(row[f"mutual_share_{o}"] for o in ORIGINS) == pytest.approx(1)
        assert row["left_share"] == pytest.approx((m.left_step >= 0).mean())
        q1 = here[study.quartile(here.skill) == 1]
        assert row["new_tie_share_skill_q1"] == pytest.approx((q1.new_mutual_ties > 0).mean())
        assert np.isfinite(row["minority_top10_ratio"]) and row["minority_top10_ratio"] >= 0


def test_sobol_design_maps_to_valid_parameters():
    design = study.sobol_design(4)
    assert design.shape == (4 * (len(study.SOBOL_PARAMETERS) + 2), len(study.SOBOL_PARAMETERS))
    for row in design:
        over = study.design_overrides(row)
        p = Params.from_dict({}, **over)
        assert p.platform.recommender == "mixture"
        assert sum(p.platform.recommender_mix.values()) == pytest.approx(1)
        assert isinstance(p.intimacy.reply_budget, int) and isinstance(p.leaving.expectation_memory, int)
    for name in ("behaviour.follow_slope", "behaviour.appeal_noise", "intimacy.reply_budget", "leaving.tolerance"):
        assert name in study.SOBOL_PARAMETERS


def test_sobol_analysis_finds_the_one_parameter_that_matters():
    design = study.sobol_design(256)
    names = list(study.SOBOL_PARAMETERS)
    u = (design[:, names.index("behaviour.follow_slope")] - 1) / 4  # uniform on [0, 1]
    rows = [{"sample": i, "seed": s, "gini_followers": 3 * u[i] + 0.01 * s} for i in range(len(design))
            for s in (0, 1)]  # two seeds per row, averaged before the analysis
    res = study.analyze_sobol(design, pd.DataFrame(rows), outputs=["gini_followers"], resamples=200)
    res = res.set_index("parameter")
    assert res.loc["behaviour.follow_slope", "S1"] == pytest.approx(1, abs=0.05)
    assert res.loc["behaviour.follow_slope", "ST"] == pytest.approx(1, abs=0.05)
    others = res.drop(index="behaviour.follow_slope")
    assert (others.ST.abs() < 0.02).all()
    with pytest.raises(ValueError, match="every design row"):
        study.analyze_sobol(design, pd.DataFrame(rows[:-4]), outputs=["gini_followers"])
