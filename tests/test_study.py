"""socialsim.study: scale, sweep folder names, intervals, paired effects, unpredictability, Morris design."""

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


def test_morris_design_maps_to_valid_parameters():
    design = study.morris_design(2)
    assert design.shape == (2 * (len(study.MORRIS_PARAMETERS) + 1), len(study.MORRIS_PARAMETERS))
    for row in design:
        over = study.morris_overrides(row)
        assert "dummy" not in over
        p = Params.from_dict({}, **over)
        assert p.platform.recommender == "mixture"
        assert sum(p.platform.recommender_mix.values()) == pytest.approx(1)
