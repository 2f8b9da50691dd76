"""`python -m socialsim`: runs, outputs, overrides, multirun, resume, submitit, experiments and bad input.

The CLI runs in a subprocess on a tiny config (200 people, 20 steps)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from conftest import cli, main_in_process, ok, printed_output

from socialsim.metrics import FOLLOW_COLUMNS, MEMBER_COLUMNS, METRIC_NAMES

TINY = ["population.size=200", "run.steps=20"]
OUTPUTS = ("timeseries.parquet", "members.parquet", "follows.parquet", "summary.json")


def frames(run: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(run / f"{name}.parquet") for name in ("timeseries", "members", "follows")}


def test_run_writes_the_five_outputs_in_a_dated_folder(tmp_path):
    proc = ok(cli(*TINY, cwd=tmp_path))
    runs = list((tmp_path / "results" / "runs").glob("*/*"))
    assert len(runs) == 1
    run = runs[0]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}/\d{2}-\d{2}-\d{2}", f"{run.parent.name}/{run.name}")
    for name in OUTPUTS:
        assert (run / name).is_file(), name
    assert (run / ".hydra" / "config.yaml").is_file()
    assert not list(run.glob(".*.tmp-*")), "temporary files left behind"
    data = frames(run)
    assert list(data["timeseries"].columns) == ["step", *METRIC_NAMES]
    assert data["timeseries"]["step"].tolist() == list(range(21))
    assert list(data["members"].columns) == list(MEMBER_COLUMNS)
    assert list(data["follows"].columns) == list(FOLLOW_COLUMNS)
    summary = json.loads((run / "summary.json").read_text())
    for key in ("metrics", "seed", "socialsim_version", "wall_time_s", "steps", "config_hash"):
        assert key in summary, key
    assert summary["steps"] == 20 and summary["seed"] == 0 and summary["status"] == "complete"
    assert set(summary["metrics"]) == set(METRIC_NAMES)
    assert summary["metrics"]["members"] == data["timeseries"]["members"].iloc[-1]
    assert printed_output(proc) == os.path.realpath(run)  # the folder is printed
    assert "gini_followers" in proc.stdout  # the headline table is printed
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_overrides_change_outputs_and_same_config_is_reproducible(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    ok(cli(*TINY, f"hydra.run.dir={a}", cwd=tmp_path))
    ok(cli(*TINY, f"hydra.run.dir={b}", cwd=tmp_path))
    ok(cli(*TINY, "platform.recommender=popularity", "platform.openness=0.3", "meetups.rate=0", "seed=3",
           f"hydra.run.dir={c}", cwd=tmp_path))
    fa, fb, fc = frames(a), frames(b), frames(c)
    for name in fa:  # same config and seed: identical outputs
        pd.testing.assert_frame_equal(fa[name], fb[name])
    assert not fa["timeseries"].equals(fc["timeseries"])
    summary = json.loads((c / "summary.json").read_text())
    assert summary["seed"] == 3
    assert summary["params"]["platform.recommender"] == "popularity"
    assert summary["params"]["platform.openness"] == 0.3
    assert summary["params"]["meetups.rate"] == 0.0
    assert summary["params"]["population.size"] == 200
    assert "platform.recommender=popularity" in summary["overrides"]
    assert "recommender: popularity" in (c / ".hydra" / "config.yaml").read_text()


@pytest.mark.slow
def test_multirun_load_sweep_and_resume(tmp_path):
    from socialsim.analysis import load_sweep

    sweep = tmp_path / "sweep"
    args = ["-m", *TINY, "platform.recommender=random,local", "seed=0,1", f"hydra.sweep.dir={sweep}",
            "hydra.launcher.n_jobs=2"]
    proc = ok(cli(*args, cwd=tmp_path))
    jobs = sorted(p.parent for p in sweep.glob("*/summary.json"))
    assert len(jobs) == 4
    assert "4 complete run(s)" in proc.stdout and printed_output(proc) == os.path.realpath(sweep)
    runs, ts = load_sweep(sweep)
    assert len(runs) == 4
    assert {"platform.recommender", "seed"} <= set(runs.columns)
    assert sorted(zip(runs["platform.recommender"], runs["seed"])) == [("local", 0), ("local", 1),
                                                                      ("random", 0), ("random", 1)]
    assert len(ts) == 4 * 21 and {"platform.recommender", "seed", "step", *METRIC_NAMES} <= set(ts.columns)

    # a re-run skips every completed job ...
    stamps = {j: (j / "summary.json").stat().st_mtime_ns for j in jobs}
    killed = jobs[0]
    (killed / "summary.json").unlink()  # ... except one that was killed before it finished
    (killed / ".timeseries.parquet.tmp-1").write_bytes(b"partial")
    proc = ok(cli(*args, cwd=tmp_path))
    log = proc.stdout + proc.stderr
    assert log.count("skipped:") == 3 and log.count("done in") == 1
    for j in jobs[1:]:
        assert (j / "summary.json").stat().st_mtime_ns == stamps[j]
    assert (killed / "summary.json").is_file() and not list(killed.glob(".*.tmp-*"))
    assert len(load_sweep(sweep).runs) == 4


@pytest.mark.slow
def test_submitit_local_runs_a_two_job_sweep(tmp_path):
    sweep = tmp_path / "sweep"
    ok(cli("-m", "hydra/launcher=submitit_local", *TINY, "seed=0,1", f"hydra.sweep.dir={sweep}", cwd=tmp_path))
    jobs = sorted(p.parent for p in sweep.glob("*/summary.json"))
    assert len(jobs) == 2
    assert sorted(json.loads((j / "summary.json").read_text())["seed"] for j in jobs) == [0, 1]


def test_experiment_defines_its_sweep():
    from socialsim.config import compose_config

    cfg = compose_config(["+experiment=openness_vs_elite"], return_hydra_config=True)
    params = dict(cfg.hydra.sweeper.params)
    assert set(params) == {"platform.openness", "platform.recommender", "seed"}
    assert params["platform.recommender"].split(",") == ["random", "popularity", "friends_of_friends", "local",
                                                         "newcomer_boost"]


def test_help_lists_groups_and_options(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = main_in_process(monkeypatch, capsys, "--help")
    assert code == 0, err
    for text in ("population: default", "platform: algorithmic, default", "meetups: default", "scenario:",
                 "experiment:", "recommender: random", "python -m socialsim -m"):
        assert text in out, text
    groups = dict(line.split(": ", 1) for line in out.splitlines()
                  if ": " in line and line.split(":")[0] in ("experiment", "scenario", "meetups"))
    assert "openness_vs_elite" in groups["experiment"] and "default" in groups["scenario"]
    assert groups["meetups"].split(", ") == ["default", "frequent", "none"]
    assert not (tmp_path / "results").exists()


BAD = [
    ("population.size=0", "population.size"),
    ("population.size=-5", "population.size"),
    ("adoption.seed_members=0", "adoption.seed_members"),
    ("platform.openness=1.5", "platform.openness"),
    ("meetups.rate=-0.1", "meetups.rate"),
    ("platform.recommender=oracle", "platform.recommender"),
    ("scenario=utopia", "scenario"),
    ("platform=utopia", "platform"),
    ("population.size=many", "population.size"),
    ("population.size=2.5", "population.size"),
    ("platform.reshares=maybe", "platform.reshares"),
    ("run.steps=0", "run.steps"),
    ("run.steps=-3", "run.steps"),
    ("population.sise=10", "population.sise"),
]


def assert_one_line_error(code, out: str, err: str, name: str) -> str:
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("socialsim: error: ") and name in lines[0], lines[0]
    assert "Traceback" not in out + err
    return lines[0]


@pytest.mark.parametrize("override,name", BAD, ids=[b[0] for b in BAD])
def test_bad_input_fails_with_one_line_and_no_run_folder(tmp_path, monkeypatch, capsys, override, name):
    run = tmp_path / "run"
    line = assert_one_line_error(*main_in_process(monkeypatch, capsys, *TINY, override, f"hydra.run.dir={run}"),
                                 name)
    assert not run.exists()
    if name == "platform.recommender":  # names what is allowed
        assert "random, popularity, friends_of_friends, local, newcomer_boost" in line
    if name == "scenario":
        assert "default" in line


def test_bad_input_exits_non_zero_from_the_command_line(tmp_path):
    run = tmp_path / "run"
    proc = cli(*TINY, "platform.recommender=oracle", f"hydra.run.dir={run}", cwd=tmp_path)
    assert_one_line_error(proc.returncode, proc.stdout, proc.stderr, "platform.recommender")
    assert not run.exists() and not (tmp_path / "results").exists()


def test_bad_value_in_a_sweep_fails_before_the_sweep_folder_exists(tmp_path, monkeypatch, capsys):
    sweep = tmp_path / "sweep"
    result = main_in_process(monkeypatch, capsys, "-m", *TINY, "platform.openness=0.5,2", "seed=0,1",
                             f"hydra.sweep.dir={sweep}")
    assert "platform.openness must be in [0, 1]" in assert_one_line_error(*result, "platform.openness")
    assert not sweep.exists()


def test_compose_params_matches_the_cli_configs():
    from socialsim import ParameterError
    from socialsim.config import compose_params

    p = compose_params(["population.size=500", "platform.recommender=local", "seed=3", "meetups=none"])
    assert (p.population.size, p.platform.recommender, p.seed, p.meetups.rate) == (500, "local", 3, 0.0)
    assert compose_params([]) == compose_params(["scenario=default"])
    with pytest.raises(ParameterError, match=r"platform\.openness must be in \[0, 1\]"):
        compose_params(["platform.openness=2"])
    with pytest.raises(ParameterError, match="scenario must be one of"):
        compose_params(["scenario=utopia"])


def test_compose_params_inside_an_initialized_hydra_restores_it():
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from socialsim.config import CONFIG_DIR, compose_params

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3", job_name="outer"):
        outer = GlobalHydra.instance().hydra
        assert compose_params(["seed=5"]).seed == 5
        assert GlobalHydra.instance().hydra is outer
        assert compose(config_name="config", overrides=["seed=2"]).seed == 2
    assert not GlobalHydra.instance().is_initialized()


# --- rough edges: Ctrl-C, large populations ----------------------------------------------------------------
def test_ctrl_c_ends_with_one_line_and_leaves_the_run_marked_incomplete(tmp_path):
    """SIGINT mid-run: exit 130, one line naming the step and how to resume, no traceback; the folder keeps its
    INCOMPLETE marker and checkpoint (as after a kill), and no summary."""
    import signal
    import subprocess
    import sys
    import time

    from socialsim.recovery import CHECKPOINT, MARKER

    run = tmp_path / "run"
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "socialsim", "population.size=5000", "run.steps=1000000", "run.checkpoint_every=3",
         f"hydra.run.dir={run}"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # as in a terminal, even from a job
    try:
        deadline = time.monotonic() + 300
        while not (run / CHECKPOINT).exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and "Traceback" not in out + err, err
    match = re.fullmatch(r"socialsim: interrupted at step (\d+); (.+) is marked incomplete; add run.resume=true to "
                         r"the same command to continue from step (\d+)", lines[0])
    assert match, lines[0]
    assert int(match.group(3)) <= int(match.group(1)) and int(match.group(3)) % 3 == 0
    assert (run / MARKER).exists() and (run / CHECKPOINT).exists() and not (run / "summary.json").exists()


def test_interrupted_message_without_checkpoints(tmp_path):
    from socialsim.__main__ import interrupted_message

    assert interrupted_message(tmp_path, 7, 0) == (f"interrupted at step 7; {tmp_path} is marked incomplete; "
                                                   "run the same command again to start it over")


def test_a_large_population_shows_its_build_stages(monkeypatch, capsys):
    import numpy as np

    from socialsim import population
    from socialsim.params import PopulationParams

    population.generate(PopulationParams(size=300), np.random.default_rng(0))
    assert "building" not in capsys.readouterr().err  # small: quiet
    monkeypatch.setattr(population, "BUILD_PROGRESS_MIN", 300)
    population.generate(PopulationParams(size=300), np.random.default_rng(0))
    err = capsys.readouterr().err
    assert "building 300 people" in err and "3/3" in err


def test_the_memory_estimate_grows_with_people_and_contacts():
    from socialsim.params import PopulationParams
    from socialsim.population import estimate_memory

    assert estimate_memory(PopulationParams(size=2000)) == 2 * estimate_memory(PopulationParams(size=1000))
    small = estimate_memory(PopulationParams(size=1000))
    assert estimate_memory(PopulationParams(size=1000, offline_degree=20)) > small
