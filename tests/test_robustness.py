"""The robustness map (experiments/robustness.py, socialsim.study): the claims file, Hydra's job names, the
per-draw verdict and the parameter a claim hinges on, and a small real run through ``python -m socialsim -m``.

The posterior draws here are stand-ins under tests/data/conf/posterior/, not the calibration's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import env

from socialsim import study

ROOT = Path(__file__).resolve().parents[1]
DRAWS = ROOT / "tests" / "data" / "conf" / "posterior"
SCRIPT = ROOT / "experiments" / "robustness.py"


def _claims_file(tmp_path, body: str) -> Path:
    path = tmp_path / "claims.yaml"
    path.write_text(body)
    return path


def test_the_committed_claims_load():
    claims = study.load_claims(ROOT / "experiments" / "claims.yaml")
    assert len(claims) >= 5 and len({c.name for c in claims}) == len(claims)
    assert all(c.sign in (1, -1) and c.base != c.other and c.statement for c in claims)


@pytest.mark.parametrize("body,message", [
    ("claims: []", "non-empty list under 'claims:'"),
    ("claims:\n  - {name: a, outcome: nope, base: {meetups.rate: 0.0}, other: {meetups.rate: 0.1}, sign: '+', "
     "statement: s}", "outcome 'nope' is not a metric"),
    ("claims:\n  - {name: a, outcome: intimacy_gap, base: {meetups.rate: 0.0}, other: {meetups.rate: 0.1}, "
     "sign: up, statement: s}", "sign must be '\\+' or '-'"),
    ("claims:\n  - {name: a, outcome: intimacy_gap, base: {meetups.rate: 0.0}, other: {meetups.rate: 7}, "
     "sign: '-', statement: s}", "claim 'a', other: .*meetups.rate"),
    ("claims:\n  - {name: a, outcome: intimacy_gap, base: {meetups.rate: 0.1}, other: {meetups.rate: 0.1}, "
     "sign: '-', statement: s}", "base and other are the same condition"),
    ("claims:\n  - {name: a, outcome: intimacy_gap, base: {meetups.rate: 0.1}, sign: '-', statement: s}",
     "missing other"),
])
def test_a_bad_claim_is_named(tmp_path, body, message):
    with pytest.raises(ValueError, match=message):
        study.load_claims(_claims_file(tmp_path, body))


def test_job_names_are_hydras_sorted_overrides():
    names = study.sweep_job_names(["meetups.rate=0.0", "+posterior=d1,d2", "seed=range(0,2)",
                                   "hydra.searchpath=[file:///x]"])
    assert names == ["+posterior=d1,meetups.rate=0.0,seed=0", "+posterior=d1,meetups.rate=0.0,seed=1",
                     "+posterior=d2,meetups.rate=0.0,seed=0", "+posterior=d2,meetups.rate=0.0,seed=1"]


def test_draws_are_the_draw_files_only(tmp_path):
    (tmp_path / "draw_01.yaml").write_text("a: 1\n")
    (tmp_path / "point.yaml").write_text("a: 2\n")  # the posterior's point estimate is not a draw
    assert study.posterior_draws(tmp_path) == ["draw_01"]


def test_draw_parameters_are_the_draws_dotted_values():
    params = study.draw_parameters(DRAWS)
    assert list(params.index) == study.posterior_draws(DRAWS) == ["ci_draw_a", "ci_draw_b", "ci_draw_c"]
    assert params.loc["ci_draw_b", "behaviour.follow_back_prob"] == 0.5


def test_hinge_finds_the_parameter_and_the_threshold_where_the_sign_flips():
    rng = np.random.default_rng(1)
    draws = [f"d{i:02d}" for i in range(20)]
    x = rng.uniform(0, 1, 20)
    params = pd.DataFrame({"a.decisive": x, "b.noise": rng.uniform(0, 1, 20), "c.fixed": 0.3}, index=draws)
    effects = pd.Series(x - 0.4, index=draws)  # the claim (sign +) holds above 0.4
    h = study.hinge(effects, params, sign=1)
    assert h["hinges_on"] == "a.decisive" and h["hinge_rho"] == pytest.approx(1.0) and h["holds_when"] == "above"
    below, above = x[x < 0.4].max(), x[x > 0.4].min()
    assert h["flip_threshold"] == pytest.approx((below + above) / 2)
    h = study.hinge(-effects, params, sign=-1)  # a claimed decrease that holds above 0.4
    assert h["hinges_on"] == "a.decisive" and h["holds_when"] == "above"
    h = study.hinge(effects.abs() + 0.1, params, sign=1)  # holds everywhere: no threshold
    assert np.isnan(h["flip_threshold"])
    h = study.hinge(effects * 0, params, sign=1)  # no effect in any draw: nothing to hinge on
    assert h["hinges_on"] == "" and np.isnan(h["hinge_rho"])


def _synthetic_runs(effect_by_draw: dict[str, float], baseline_effect: float, scale_effect: float) -> pd.DataFrame:
    rng = np.random.default_rng(2)
    rows = []

    def add(context, draw, effect, seeds):
        for s in range(seeds):
            level = rng.normal(0.5, 0.05)
            for condition, value in (("base", level), ("other", level + effect + rng.normal(0, 0.001))):
                rows.append({"claim": "c", "context": context, "draw": draw, "condition": condition, "seed": s,
                             "value": value, "run": ""})

    add("baseline", "", baseline_effect, 20)
    for draw, effect in effect_by_draw.items():
        add("posterior", draw, effect, 5)
    add("scale", "", scale_effect, 5)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("positive_draws,baseline,verdict", [(17, 0.02, "holds"), (15, 0.02, "conditional"),
                                                             (17, -0.02, "reversed")])
def test_the_verdict_follows_the_share_of_draws(positive_draws, baseline, verdict):
    draws = {f"d{i:02d}": (0.03 if i < positive_draws else -0.03) for i in range(20)}
    params = pd.DataFrame({"k.p": [0.0 if i < positive_draws else 1.0 for i in range(20)]}, index=list(draws))
    claim = study.Claim("c", "gini_followers", {"platform.openness": 0.02}, {"platform.openness": 1.0}, 1, "s")
    table, per_draw = study.robustness_table([claim], _synthetic_runs(draws, baseline, 0.01), params,
                                             scale_factor=10)
    row = table.iloc[0]
    assert row.verdict == verdict and row.n_draws == 20 and row.n_seeds == 20 and row.scale_n_seeds == 5
    assert row.draws_sign_holds == pytest.approx(positive_draws / 20)
    assert row["diff"] == pytest.approx(baseline, abs=0.002) and row.scale_diff == pytest.approx(0.01, abs=0.002)
    assert row.p_method == "holm" and row.p_adj == pytest.approx(row.p)  # one claim: nothing to adjust
    assert row.hinges_on == "k.p" and row.holds_when == "below" and row.flip_threshold == pytest.approx(0.5)
    assert len(per_draw) == 20 and per_draw.sign_holds.sum() == positive_draws


def _script(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=1800,
                          env=env(SOCIALSIM_SWEEPS_DIR=str(tmp_path / "sweeps"),
                                  SOCIALSIM_RESULTS_DIR=str(tmp_path / "results")))


@pytest.mark.parametrize("case,message", [
    ("unknown claim", r"--only: unknown claim\(s\) no_such_claim"),
    ("no draws", r"no posterior draws \(\*draw_\*\.yaml\) in "),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, case, message):
    empty = tmp_path / "posterior"
    empty.mkdir()
    args = ["--only", "no_such_claim", "--draws", str(DRAWS)] if case == "unknown claim" else ["--draws", str(empty)]
    result = _script("--scale", "ci", *args, tmp_path=tmp_path)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and re.search(message, result.stderr)
    assert not (tmp_path / "results" / "robustness.csv").exists() and not (tmp_path / "sweeps").exists()


@pytest.mark.slow
def test_robustness_map_runs_small_and_resumes(tmp_path):
    claim = "popularity_concentrates_followers"
    first = _script("--scale", "ci", "--only", claim, "--draws", str(DRAWS), tmp_path=tmp_path)
    assert first.returncode == 0, first.stderr
    table = pd.read_csv(tmp_path / "results" / "robustness.csv")
    per_draw = pd.read_csv(tmp_path / "results" / "robustness_draws.csv")
    settings = study.ROBUSTNESS_SETTINGS["ci"]
    row = table.set_index("claim").loc[claim]
    assert row.n_seeds == settings["baseline_seeds"] and row.n_draws == 3
    assert row.scale_n_seeds == settings["scale_seeds"] and row.scale_factor == settings["scale_factor"]
    assert row.verdict in ("holds", "conditional", "reversed") and row.ci_lo <= row["diff"] <= row.ci_hi
    assert sorted(per_draw.draw) == ["ci_draw_a", "ci_draw_b", "ci_draw_c"]
    assert (per_draw.n_seeds == settings["draw_seeds"]).all()
    # each draw's values reached the runs: its runs carry the draw's parameters
    from socialsim.io import read_summary

    runs = sorted((tmp_path / "sweeps" / "robustness" / "posterior").glob("+posterior=ci_draw_c,*"))
    assert len(runs) == 2 * settings["draw_seeds"]
    assert {read_summary(r)["params"]["behaviour.follow_back_prob"] for r in runs} == {0.8}
    big = next((tmp_path / "sweeps" / "robustness" / "scale").glob("*seed=0"))
    assert read_summary(big)["params"]["population.size"] == 200 * settings["scale_factor"]
    again = _script("--scale", "ci", "--only", claim, "--draws", str(DRAWS), tmp_path=tmp_path)
    assert again.returncode == 0 and "running" not in again.stdout  # every job complete: nothing re-runs
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "results" / "robustness.csv"), table)


def test_the_full_scale_is_the_declared_design():
    from socialsim.params import Params

    s = study.robustness_settings("full")
    assert (s["baseline_seeds"], s["draw_seeds"], s["draws"], s["scale_factor"], s["scale_seeds"]) == (20, 5, None, 10, 5)
    assert s["population_size"] == Params().population.size and s["overrides"] == {}


def test_shared_conditions_run_once_and_a_condition_overrides_the_scale(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(study, "run_sweep", lambda path, overrides, **kw: calls.append((Path(path).name, overrides)))
    monkeypatch.setattr(study, "run_outcome", lambda folder, outcome: float(len(str(folder))))
    claims = [study.Claim("a", "gini_followers", {"meetups.rate": 0.0}, {"meetups.rate": 0.1}, 1, "s"),
              study.Claim("b", "intimacy_gap", {"meetups.rate": 0.0}, {"meetups.rate": 0.1}, -1, "s"),
              study.Claim("c", "gini_followers", {"run.steps": 20}, {"run.steps": 30, "platform.openness": 0.5}, 1, "s")]
    settings = {**study.robustness_settings("ci"), "baseline_seeds": 2, "draw_seeds": 1, "scale_seeds": 1}
    rows = study.run_robustness(claims, settings=settings, draws_dir=DRAWS, root=tmp_path)
    baseline = [o for ctx, o in calls if ctx == "baseline"]
    assert len(calls) == 3 * 3  # per context: meetups.rate (both claims, both values), run.steps, the pair
    assert ["meetups.rate=0.0,0.1", "population.size=200", "run.steps=40", "seed=range(0,2)"] in baseline
    assert ["run.steps=30", "platform.openness=0.5", "population.size=200", "seed=range(0,2)"] in baseline
    assert all(sum(o.startswith("run.steps=") for o in overrides) == 1 for _, overrides in calls)
    scale = [o for ctx, o in calls if ctx == "scale"]
    assert all("population.size=400" in o for o in scale)
    assert len(rows) == 3 * 2 * (2 + 3 * 1 + 1)  # claims x conditions x (baseline + draws + scale) seeds
    c = rows[(rows.claim == "c") & (rows.context == "baseline") & (rows.condition == "other")]
    assert sorted(Path(r).name for r in c.run) == [f"platform.openness=0.5,population.size=200,run.steps=30,seed={s}"
                                                   for s in (0, 1)]
    assert set(rows[rows.context == "posterior"].draw) == {"ci_draw_a", "ci_draw_b", "ci_draw_c"}
