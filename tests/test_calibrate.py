"""socialsim.calibrate: configuration checks, the calibration statistics, a reduced ABC-SMC run end to end,
resuming it, posterior draws as a config group, and the Dask sampler option."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

pyabc = pytest.importorskip("pyabc")

from socialsim import calibrate, validation  # noqa: E402
from socialsim.model import PlatformModel  # noqa: E402

#: a calibration small enough for the tests: statistics that are defined for a tiny platform over 60 days
TINY = ["model.population.size=120", "model.run.steps=60", "abc.population_size=6", "n_procs=2",
        "~targets.followers_powerlaw_alpha", "~targets.followed_by_no_followee",
        "~priors.population", "~priors.leaving", "~priors.behaviour.post_prob"]


def _error(capsys, argv) -> str:
    assert calibrate.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("socialsim.calibrate: error: ")
    return err


# --- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("override", "words"), [
    ("priors.behaviour.follow_back_prob.lo=0.6", ["behaviour.follow_back_prob", "lo must be below hi"]),
    ("priors.behaviour.follow_back_prob.hi=0.005", ["behaviour.follow_back_prob", "lo must be below hi"]),
    ("+priors.behaviour.no_such_thing={lo:0,hi:1}", ["behaviour.no_such_thing", "not a model parameter"]),
    ("+priors.platform.recommender={lo:0,hi:1}", ["platform.recommender", "cannot be fitted"]),
    ("+targets.likes_per_day=3", ["targets.likes_per_day", "not a known target", "reciprocity"]),
    ("priors.behaviour.post_prob.hi=1.5", ["behaviour.post_prob", "allowed"]),
    ("+priors.behaviour.follow_base.scale=log", ["behaviour.follow_base", "lo > 0"]),
    ("sampler=cluster", ["sampler must be one of"]),
    ("distance=euclid", ["distance must be one of", "log_ratio"]),
    ("targets.reciprocity=0", ["targets.reciprocity", "> 0"]),
    ("abc.population_size=0", ["abc.population_size"]),
    ("abc.no_such=1", ["abc.no_such"]),
])
def test_bad_configuration_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, override, words):
    out = tmp_path / "out"
    err = _error(capsys, [f"out={out}", override])
    for word in words:
        assert word in err
    assert not out.exists()


def test_an_unknown_calibration_is_refused(tmp_path, capsys):
    err = _error(capsys, ["calibration=nope", f"out={tmp_path / 'out'}"])
    assert "calibration must be one of" in err and "twitter2009" in err
    assert not (tmp_path / "out").exists()


def test_resume_needs_a_database(tmp_path, capsys):
    out = tmp_path / "out"
    err = _error(capsys, [f"out={out}", "resume=true"])
    assert "does not exist" in err and "nothing to resume" in err
    assert not out.exists()


@pytest.mark.parametrize("content", [b"this is not a database at all", b"SQLite format 3\x00" + b"\x00" * 200])
def test_a_corrupt_database_is_refused_and_kept(tmp_path, capsys, content):
    out = tmp_path / "out"
    out.mkdir()
    (out / "abc.db").write_bytes(content)
    err = _error(capsys, [f"out={out}"])
    assert "abc.db" in err and "nothing to resume" in err
    assert (out / "abc.db").read_bytes() == content
    assert sorted(p.name for p in out.iterdir()) == ["abc.db"]


def test_the_command_line_exits_with_code_2(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(calibrate.__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-m", "socialsim.calibrate", f"out={tmp_path / 'o'}",
                           "priors.behaviour.follow_back_prob.lo=0.9"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "lo must be below hi" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_the_shipped_config_is_valid():
    cal = calibrate.load_config([])
    assert 1 <= len(cal.priors) <= 8
    assert set(cal.targets) <= set(validation.TWITTER2009_TARGETS)
    assert cal.targets["reciprocity"] == 0.221
    assert cal.db == cal.out / "abc.db"


# --- simulation ------------------------------------------------------------------------------------
def test_each_simulation_seed_comes_from_the_parameters_and_the_calibration_seed():
    a = calibrate.simulation_seed(1, {"x": 0.25, "y": 3.0})
    assert a == calibrate.simulation_seed(1, {"y": 3.0, "x": 0.25})
    assert a != calibrate.simulation_seed(2, {"x": 0.25, "y": 3.0})
    assert a != calibrate.simulation_seed(1, {"x": 0.2500001, "y": 3.0})


def test_the_simulator_is_reproducible_and_rounds_whole_number_parameters():
    cal = calibrate.load_config(["model.population.size=120", "model.run.steps=40"])
    base = calibrate.base_params(cal)
    sim = calibrate.Simulator(base, cal.priors, cal.seed, tuple(cal.targets))
    # pyabc draws in each prior's uniform space: the log of a log-uniform parameter
    draw = {p.key: float(p.to_unit(p.lo) + p.to_unit(p.hi)) / 2 for p in cal.priors}
    params = sim.params(draw)
    assert params.behaviour.follow_base == -6.0
    assert params.behaviour.follow_back_prob == pytest.approx(np.sqrt(0.005 * 0.5))  # geometric midpoint
    assert params.population.size == 120 and params.seed == calibrate.simulation_seed(cal.seed, draw)
    first, second = sim(draw), sim(draw)
    assert first.keys() == cal.targets.keys()
    np.testing.assert_equal(first, second)


def test_distance_is_the_rms_relative_miss_and_infinite_for_missing_statistics():
    d = calibrate.ScaledDistance({"a": 0.5, "b": 2.0}, "relative")
    assert d({"a": 1.0, "b": 2.0}, {"a": 0.5, "b": 2.0}) == pytest.approx(np.sqrt(0.5))
    assert d({"a": float("nan"), "b": 2.0}, {"a": 0.5, "b": 2.0}) == float("inf")


def test_the_log_ratio_distance_counts_a_factor_alike_above_and_below():
    d = calibrate.ScaledDistance({"a": 1.0, "b": 1.0})  # the default kind
    assert d({"a": 2.0, "b": 3.0}, {"a": 1.0, "b": 3.0}) == pytest.approx(np.log(2) / np.sqrt(2))
    assert d({"a": 0.5, "b": 3.0}, {"a": 1.0, "b": 3.0}) == pytest.approx(np.log(2) / np.sqrt(2))
    assert d({"a": 0.0, "b": 3.0}, {"a": 1.0, "b": 3.0}) == float("inf")
    cal = calibrate.load_config([])
    assert cal.distance == "log_ratio" and set(cal.scales.values()) == {1.0}


# --- statistics ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_run():
    m = PlatformModel(population__size=400, seed=5, **{"run.steps": 95})
    m.run()
    return m, validation.RunOutput(m.member_frame(), m.follows_frame(), m.timeseries())


def test_calibration_statistics_are_shares_and_rates_in_range(small_run):
    model, out = small_run
    s = validation.calibration_statistics(out)
    assert set(s) == set(validation.CALIBRATION_STATISTICS)
    for name in ("reciprocity", "followed_by_no_followee", "local_tie_share", "top10_post_share",
                 "connected_share", "monthly_retention"):
        assert 0.0 <= s[name] <= 1.0, name
    assert s["reciprocity"] == pytest.approx(model.metrics["reciprocity"])
    assert s["local_tie_share"] == pytest.approx(model.metrics["local_tie_share"])
    assert s["follows_per_member"] == pytest.approx(out.follows.shape[0] / s["members"])


def test_posts_and_replies_are_counted_and_vanish_when_switched_off():
    on = PlatformModel(population__size=200, seed=2, **{"run.steps": 30}).run().member_frame()
    assert on["posts"].sum() > 0 and on["replies_sent"].sum() > 0 and (on["online_months"] > 0).any()
    no_posts = PlatformModel(population__size=200, seed=2, **{"run.steps": 30, "behaviour.post_prob": 0.0})
    assert no_posts.run().member_frame()["posts"].sum() == 0
    # replies are switched off by an empty budget (the default rule) or, under the Dunbar rule, by reply_share 0
    for off in ({"intimacy.reply_budget": 0}, {"intimacy.close_rule": "dunbar", "behaviour.reply_share": 0.0}):
        no_replies = PlatformModel(population__size=200, seed=2, **{"run.steps": 30, **off})
        assert no_replies.run().member_frame()["replies_sent"].sum() == 0, off


def test_posting_statistics_follow_their_definitions():
    members = pd.DataFrame({"posts": [100, 0, 0, 0, 0, 0, 0, 0, 0, 5], "online_months": 0})
    assert validation.top_post_share(members, 0.10) == pytest.approx(100 / 105)
    # month bits: member 0 active in months 0, 1, 2; member 1 in 0 only; member 2 in 1 and 2
    members = pd.DataFrame({"online_months": [0b111, 0b001, 0b110]})
    # pairs (0 -> 1): 1 of 2 return; (1 -> 2): 2 of 2; month 2 is not complete at 80 steps
    assert validation.monthly_retention(members, steps=89) == pytest.approx(0.75)
    assert validation.monthly_retention(members, steps=80) == pytest.approx(0.5)
    assert np.isnan(validation.monthly_retention(members, steps=40))


def test_retention_falls_when_members_go_quiet_more_often():
    low = PlatformModel(population__size=300, seed=4, **{"run.steps": 120, "leaving.quiet_rate": 0.0})
    high = PlatformModel(population__size=300, seed=4, **{"run.steps": 120, "leaving.quiet_rate": 0.05})
    r_low = validation.monthly_retention(low.run().member_frame(), 120)
    r_high = validation.monthly_retention(high.run().member_frame(), 120)
    assert r_high < r_low - 0.1


# --- posterior draws ---------------------------------------------------------------------------------
def test_posterior_draws_are_drawn_by_weight_and_are_valid_overrides(tmp_path):
    post = pd.DataFrame({"behaviour.follow_back_prob": [0.1, 0.2, 0.3], "platform.recommender_slots": [1.2, 3.7, 5.0],
                         "weight": [0.0, 1.0, 0.0], "generation": 3})
    paths = calibrate.write_posterior_draws(post, tmp_path / "posterior", n=20, seed=1)
    assert [p.name for p in paths] == [f"draw_{i:02d}.yaml" for i in range(20)]
    for p in paths:
        text = p.read_text()
        assert text.startswith("# @package _global_\n")
        assert yaml.safe_load(text) == {"behaviour": {"follow_back_prob": 0.2}, "platform": {"recommender_slots": 4}}
    again = calibrate.write_posterior_draws(post, tmp_path / "again", n=20, seed=1)
    assert [p.read_text() for p in paths] == [p.read_text() for p in again]


# --- end to end ----------------------------------------------------------------------------------------
def test_the_posterior_point_is_the_weighted_median_of_each_parameter():
    post = pd.DataFrame({"behaviour.follow_base": [-7.0, -6.0, -5.0, -4.0], "meetups.meets": [1.2, 2.6, 3.4, 9.0],
                         "weight": [0.1, 0.1, 0.7, 0.1]})
    point = calibrate.posterior_point(post)
    assert point == {"behaviour.follow_base": -5.0, "meetups.meets": 3}
    flat = post.assign(weight=1.0)
    assert calibrate.posterior_point(flat)["behaviour.follow_base"] == -6.0  # lower median of an even count


def test_priors_are_uniform_in_their_own_space_for_pyabc():
    cal = calibrate.load_config([])
    p = next(q for q in cal.priors if q.scale == "log")
    rv = p.rv()
    assert rv.pdf(np.log(p.lo) + 1e-9) > 0 and rv.pdf(np.log(p.hi) + 1e-6) == 0
    assert rv.pdf(np.log(p.lo) + 0.1) == pytest.approx(rv.pdf(np.log(p.hi) - 0.1))  # flat in log space


@pytest.mark.slow
def test_a_reduced_calibration_runs_stops_resumes_and_gives_draws(tmp_path, capsys):
    out = tmp_path / "cal"
    assert calibrate.main([*TINY, f"out={out}", "abc.generations=1"]) == 0
    first = pd.read_csv(out / "convergence.csv")
    assert list(first["generation"]) == [0]
    assert calibrate.main([*TINY, f"out={out}", "abc.generations=2", "resume=true"]) == 0
    text = capsys.readouterr().out
    assert "continuing" in text and "generation 1:" in text
    table = pd.read_csv(out / "convergence.csv")
    assert list(table["generation"]) == [0, 1]
    assert table["epsilon"].iloc[1] < table["epsilon"].iloc[0]
    pd.testing.assert_series_equal(table.iloc[0][["epsilon", "simulations"]], first.iloc[0][["epsilon", "simulations"]],
                                   check_names=False)
    assert {"generation", "epsilon", "ess", "acceptance_rate", "simulations", "posterior_mean_shift_sd"} <= set(table)
    assert table["posterior_mean_shift_sd"].iloc[1:].between(0, 10).all()  # measured in the prior's own space
    post = pd.read_csv(out / "posterior.csv")
    assert len(post) == 6 and post["weight"].sum() == pytest.approx(1.0)
    cal = calibrate.load_config([*TINY, f"out={out}"])
    for p in cal.priors:
        assert post[p.name].between(p.lo, p.hi).all()
    assert (out / "marginals.png").stat().st_size > 0 and (out / "pairs.png").stat().st_size > 0
    # the stopping rule is met: running again does nothing more
    assert calibrate.main([*TINY, f"out={out}", "abc.generations=2"]) == 0
    assert len(pd.read_csv(out / "convergence.csv")) == 2
    # another configuration on the same database is refused
    err = _error(capsys, [*TINY, f"out={out}", "abc.population_size=7"])
    assert "other priors" in err
    # the posterior as a config group
    assert calibrate.main(["draws", *TINY, f"out={out}", "draws.n=5"]) == 0
    draws = sorted((out / "posterior").glob("draw_*.yaml"))
    assert [d.name for d in draws] == [f"draw_{i:02d}.yaml" for i in range(5)]
    from socialsim.config import compose_params

    for d in draws:
        values = yaml.safe_load(d.read_text())
        overrides = [f"{g}.{k}={v}" for g, sub in values.items() for k, v in sub.items()]
        compose_params(overrides)  # valid model parameters
    point = yaml.safe_load((out / "posterior" / "point.yaml").read_text())
    assert {f"{g}.{k}" for g, sub in point.items() for k in sub} == {p.name for p in cal.priors}


@pytest.mark.slow
def test_the_single_process_sampler_is_reproducible(tmp_path):
    tiny = [*TINY, "sampler=single", "abc.generations=2", "abc.population_size=4"]
    assert calibrate.main([*tiny, f"out={tmp_path / 'a'}"]) == 0
    assert calibrate.main([*tiny, f"out={tmp_path / 'b'}"]) == 0
    assert (tmp_path / "a" / "posterior.csv").read_bytes() == (tmp_path / "b" / "posterior.csv").read_bytes()


@pytest.mark.slow
def test_the_dask_option_builds_a_sampler_on_a_scheduler():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as lc:
        cal = calibrate.load_config(["sampler=dask", f"dask_address={lc.scheduler_address}"])
        sampler = calibrate.make_sampler(cal)
        try:
            assert isinstance(sampler, pyabc.sampler.DaskDistributedSampler)
            assert sampler.client_cores() == 1
        finally:
            sampler.client.close()


def test_the_dask_option_needs_an_address(capsys):
    err = _error(capsys, ["sampler=dask"])
    assert "dask_address" in err


def test_a_missing_library_names_the_extra(monkeypatch, capsys):
    from socialsim.extras import MissingExtra

    def missing(module, extra, feature):
        raise MissingExtra(f"{feature} needs the {module} package: pip install 'socialsim[{extra}]'")

    monkeypatch.setattr(calibrate, "require", missing)
    err = _error(capsys, [])
    assert "socialsim[calibrate]" in err
