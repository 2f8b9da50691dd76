"""A catalogue of bad inputs. Each gets one clear line naming what is wrong and what is allowed, a non-zero exit
where it is a command, and nothing already written is lost or corrupted.

The command line runs in this process (the same ``main()`` as ``python -m socialsim``) in a workspace that
holds a user's earlier complete run and a user config folder; after every refused command the workspace is
byte-for-byte what it was.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import (PARQUETS, assert_same_tables, cli, folder_state, main_in_process, table_bytes,
                          tree_digest)

from socialsim import ParameterError, Params, PlatformModel
from socialsim.analysis import load_sweep
from socialsim.config import compose_params, config_hash
from socialsim.io import run_to_folder
from socialsim.recovery import CHECKPOINT, MARKER, RunError, mark_incomplete, write_checkpoint

SMALL = ["population.size=200", "run.steps=5"]
RECOMMENDERS = "none, random, popularity, friends_of_friends, local, newcomer_boost, mixture"

USER_CONFIGS = {  # a user's own config folder (--config-dir=myconf)
    "platform/broken.yaml": "openness: [0.5\nrecommender: local\n",  # malformed YAML
    "platform/typo.yaml": "recomender: local\n",  # an unknown key
    "platform/wrongtype.yaml": "openness: high\n",  # a value of the wrong type
    "platform/outofrange.yaml": "openness: 3\n",  # a value out of range
    "mine.yaml": "defaults:\n  - config\n  - _self_\npopulation:\n  size: [50\n",  # a malformed primary config
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A complete run of SMALL (seed 0)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    run_to_folder(compose_params(SMALL), out, meta={"overrides": SMALL})
    return out


@pytest.fixture
def workspace(tmp_path, finished, monkeypatch) -> Path:
    """The working folder: results/earlier (a complete run), myconf/ (user configs), notes.txt (a file)."""
    shutil.copytree(finished, tmp_path / "results" / "earlier")
    for name, text in USER_CONFIGS.items():
        (tmp_path / "myconf" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "myconf" / name).write_text(text)
    (tmp_path / "notes.txt").write_text("a user's file\n")
    (tmp_path / "net.txt").write_text("# a user's offline network\n1 2\n2 3\n3 4\n4 5\n")
    (tmp_path / "towns.txt").write_text("1 north\n2 north\n3 south\n4 south\n")  # 5 has no town
    (tmp_path / "oneid.txt").write_text("1 2\n3\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def one_line_error(code, out: str, err: str, *fragments: str) -> str:
    """Exit code 2, exactly one line on stderr, 'socialsim: error: ...' with every fragment, no traceback."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}\n{out}\n{err}"
    assert len(lines) == 1, err
    assert lines[0].startswith("socialsim: error: "), lines[0]
    assert "Traceback" not in out + err
    for fragment in fragments:
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"
    return lines[0]


# (id, options and overrides after SMALL, fragments of the message: what is wrong, and what is allowed)
COMMANDS = [
    # overrides of the wrong type
    ("int-not-a-number", ["population.size=many"], ["population.size must be a whole number >= 1", "'many'"]),
    ("int-given-a-fraction", ["population.size=2.5"], ["population.size must be a whole number >= 1", "2.5"]),
    ("float-given-a-word", ["platform.openness=high"], ["platform.openness must be a number in [0, 1]", "'high'"]),
    ("bool-given-a-word", ["platform.reshares=maybe"], ["platform.reshares must be true or false", "'maybe'"]),
    ("mapping-given-a-number", ["platform.recommender_mix=3"], ["platform.recommender_mix must be a mapping"]),
    ("checkpoint-every-given-a-word", ["run.checkpoint_every=ten"],
     ["run.checkpoint_every must be a whole number >= 0", "'ten'"]),
    ("resume-given-a-word", ["run.resume=perhaps"], ["run.resume must be true or false", "'perhaps'"]),
    ("group-given-a-value", ["run=short"],
     ["run is a group of settings (steps, checkpoint_every, resume, record_every), not a value", "run.KEY=VALUE"]),
    ("group-given-a-number", ["platform=5"], ["a config group takes the name of one of its options"]),
    ("hydra-setting-of-the-wrong-type", ["hydra.launcher.n_jobs=x"],
     ["hydra.launcher.n_jobs", "could not be converted to Integer"]),
    # out of range
    ("size-zero", ["population.size=0"], ["population.size must be >= 1; got 0"]),
    ("openness-above-one", ["platform.openness=1.5"], ["platform.openness must be in [0, 1]; got 1.5"]),
    ("rate-negative", ["meetups.rate=-0.1"], ["meetups.rate must be in [0, 1]; got -0.1"]),
    ("minority-share-above-half", ["population.minority_share=0.6"],
     ["population.minority_share must be in [0, 0.5]; got 0.6"]),
    ("minority-share-negative", ["population.minority_share=-0.1"],
     ["population.minority_share must be in [0, 0.5]; got -0.1"]),
    ("homophily-above-one", ["population.homophily=1.5"], ["population.homophily must be in [0, 1]; got 1.5"]),
    ("homophily-negative", ["population.homophily=-0.2"], ["population.homophily must be in [0, 1]; got -0.2"]),
    ("seed-negative", ["seed=-1"], ["seed must be >= 0; got -1"]),
    ("steps-zero", ["run.steps=0"], ["run.steps must be >= 1; got 0"]),
    ("checkpoint-every-negative", ["run.checkpoint_every=-5"], ["run.checkpoint_every must be >= 0; got -5"]),
    ("not-a-number", ["platform.openness=nan"], ["platform.openness must be a finite number in [0, 1]; got nan"]),
    ("infinite", ["behaviour.engage_base=inf"], ["behaviour.engage_base must be a finite number; got inf"]),
    ("more-seed-members-than-people", ["adoption.seed_members=500"],
     ["adoption.seed_members must be <= population.size (200); got 500"]),
    ("mixture-without-weight", ["platform.recommender=mixture", "platform.recommender_mix.random=0",
                                "platform.recommender_mix.popularity=0"],
     ["platform.recommender_mix must have a positive weight when platform.recommender=mixture"]),
    ("sweep-value-out-of-range", ["-m", "platform.openness=0.5,2", "seed=0,1"],
     ["platform.openness must be in [0, 1]; got 2"]),
    # unknown choices, config groups and keys
    ("unknown-recommender", ["platform.recommender=oracle"],
     [f"platform.recommender must be one of {RECOMMENDERS}; got 'oracle'"]),
    ("unknown-timeline", ["platform.timeline=random"], ["platform.timeline must be one of chronological, engagement"]),
    ("unknown-attachment", ["adoption.attachment=magnetic"],
     ["adoption.attachment must be one of behaviour, preferential, uniform, fitness, homophilic_preferential"]),
    ("unknown-exit-rule", ["leaving.exit_rule=boredom"],
     ["leaving.exit_rule must be one of audience, imposed; got 'boredom'"]),
    ("unknown-close-rule", ["intimacy.close_rule=cap"],
     ["intimacy.close_rule must be one of budget, dunbar; got 'cap'"]),
    ("unknown-mixture-key", ["+platform.recommender_mix.oracle=1"],
     ["unknown recommender 'oracle'", "allowed: random, popularity, friends_of_friends, local, newcomer"]),
    ("mixture-key-without-plus", ["platform.recommender_mix.oracle=1"],
     ["platform.recommender_mix has no key 'oracle'", "+platform.recommender_mix.oracle=VALUE"]),
    ("unknown-key", ["population.sise=10"], ["population.sise is not a parameter", "allowed in population: size,"]),
    ("unknown-top-level-key", ["colour=red"],
     ["colour is not a parameter or group", "allowed: population, adoption, platform"]),
    ("unknown-group-option", ["platform=utopia"], ["platform must be one of algorithmic, default", "'utopia'"]),
    ("unknown-scenario", ["scenario=utopia"], ["scenario must be one of", "default", "'utopia'"]),
    ("unknown-experiment", ["+experiment=nope"], ["experiment must be one of", "openness_vs_elite", "'nope'"]),
    ("unknown-launcher", ["hydra/launcher=warp"], ["hydra/launcher must be one of", "joblib", "slurm", "'warp'"]),
    ("unknown-hydra-setting", ["hydra.colour=red"], ["hydra.colour is not a Hydra setting"]),
    # syntax
    ("unclosed-list", ["population.size=[1,2"], ["cannot parse override 'population.size=[1,2'"]),
    ("unknown-interpolation", ["population.size=${oops}"], ["population.size: Interpolation key 'oops' not found"]),
    # a user's config folder
    ("user-yaml-malformed", ["--config-dir=myconf", "platform=broken"],
     ["myconf/platform/broken.yaml (line 2, column 12) is not valid YAML", "expected ',' or ']'"]),
    ("user-yaml-unknown-key", ["--config-dir=myconf", "platform=typo"],
     ["platform/typo.yaml: platform.recomender is not a parameter", "allowed in platform: openness,"]),
    ("user-yaml-wrong-type", ["--config-dir=myconf", "platform=wrongtype"],
     ["platform/wrongtype.yaml: platform.openness must be a number in [0, 1]; got 'high'"]),
    ("user-yaml-out-of-range", ["--config-dir=myconf", "platform=outofrange"],
     ["platform.openness must be in [0, 1]; got 3.0"]),
    ("user-primary-config-malformed", ["--config-dir=myconf", "--config-name=mine"],
     ["myconf/mine.yaml (line 6, column 1) is not valid YAML"]),
    ("user-config-dir-missing", ["--config-dir=nope", "platform=default"],
     ["Additional config directory", "nope' not found"]),
    ("primary-config-missing", ["--config-name=nope"], ["Cannot find primary config 'nope'"]),
    # output folders
    ("output-below-a-file", ["hydra.run.dir=notes.txt/run"],
     ["notes.txt/run as the output folder", "notes.txt is a file, not a folder", "hydra.run.dir=PATH"]),
    ("output-is-a-file", ["hydra.run.dir=notes.txt"], ["it is a file, not a folder", "hydra.run.dir=PATH"]),
    ("sweep-below-a-file", ["-m", "seed=0,1", "hydra.sweep.dir=notes.txt/sweep"],
     ["notes.txt is a file, not a folder", "hydra.sweep.dir=PATH"]),
    ("output-holds-another-run", ["seed=3", "hydra.run.dir=results/earlier"],
     ["results/earlier already holds a complete run of another configuration", "hydra.run.dir=PATH"]),
    ("resume-with-nothing-to-resume", ["run.resume=true", "hydra.run.dir=results/new"],
     ["run.resume=true: results/new holds no run to resume", "hydra.run.dir=FOLDER"]),
    # the command line's own mistakes
    ("comma-list-without-m", ["seed=0,1"], ["seed has several values (0,1)", "add --multirun (-m)", "seed=[0,1]"]),
    ("experiment-without-m", ["+experiment=openness_vs_elite"],
     ["+experiment=openness_vs_elite is a sweep: run it with -m", "python -m socialsim -m +experiment="]),
    ("option-with-dashes", ["--population.size=100"],
     ["unknown option --population.size=100", "write population.size=100"]),
    ("population-beyond-memory", ["population.size=1000000000000"],
     ["population.size=1,000,000,000,000 needs about", "GiB of memory", "is available now"]),
    # a given offline network (net.txt: 5 people; SMALL gives population.size=200)
    ("offline-network-and-another-size", ["population.offline_network=net.txt"],
     ["population.size comes from", "net.txt (5 people); leave population.size out; got 200"]),
    ("offline-network-missing", ["population.offline_network=nope.txt"],
     ["population.offline_network must name a file; 'nope.txt' is not one"]),
    ("offline-network-one-id-on-a-line", ["population.offline_network=oneid.txt"],
     ["population.offline_network", "has a line with one id only", "two ids per line"]),
    ("offline-towns-missing-people", ["population.offline_network=net.txt", "population.offline_towns=towns.txt",
                                      "population.size=5"],
     ["population.offline_towns", "gives no town for 1 people", "list every person once"]),
]


def _argv(args: list[str]) -> list[str]:
    options = [a for a in args if a.startswith("-")]
    return [*options, *SMALL, *(a for a in args if not a.startswith("-"))]


@pytest.mark.parametrize("args,fragments", [c[1:] for c in COMMANDS], ids=[c[0] for c in COMMANDS])
def test_bad_command_fails_with_one_clear_line_and_writes_nothing(workspace, monkeypatch, capsys, args, fragments):
    before = tree_digest(workspace)
    one_line_error(*main_in_process(monkeypatch, capsys, *_argv(args)), *fragments)
    assert tree_digest(workspace) == before  # nothing created, changed or removed


def test_the_catalogue_is_long_enough():
    assert len(COMMANDS) >= 30 and len({c[0] for c in COMMANDS}) == len(COMMANDS)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_output_in_a_read_only_folder(workspace, monkeypatch, capsys):
    locked = workspace / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        one_line_error(*main_in_process(monkeypatch, capsys, *SMALL, "hydra.run.dir=locked/run"),
                       "locked is not writable", "hydra.run.dir=PATH")
    finally:
        locked.chmod(0o700)
    assert not (locked / "run").exists()


# --- resuming what cannot be resumed -----------------------------------------------------------------------
def _unfinished(folder: Path, overrides: list[str], steps: int = 2) -> None:
    """An unfinished run of ``overrides`` in ``folder``: marker and a checkpoint after ``steps`` steps."""
    params = compose_params(overrides)
    folder.mkdir(parents=True)
    mark_incomplete(folder, config_hash(params))
    write_checkpoint(PlatformModel(params).run(steps), folder, config_hash(params))


def test_resume_refuses_a_checkpoint_of_another_configuration(workspace, monkeypatch, capsys):
    _unfinished(workspace / "results" / "other", ["population.size=300", "run.steps=5"])
    before = tree_digest(workspace)
    one_line_error(*main_in_process(monkeypatch, capsys, *SMALL, "run.resume=true", "hydra.run.dir=results/other"),
                   "holds an unfinished run of another configuration",
                   "population.size=300 in the checkpoint, 200 now", "run.resume=true")
    assert tree_digest(workspace) == before


def test_a_new_configuration_is_not_run_over_an_unfinished_one(workspace, monkeypatch, capsys):
    _unfinished(workspace / "results" / "other", ["population.size=300", "run.steps=5"])
    before = tree_digest(workspace)
    one_line_error(*main_in_process(monkeypatch, capsys, *SMALL, "hydra.run.dir=results/other"),
                   "holds an unfinished run of another configuration", "choose another folder")
    assert tree_digest(workspace) == before


def test_resume_refuses_a_damaged_checkpoint_and_keeps_it(workspace, monkeypatch, capsys):
    folder = workspace / "results" / "damaged"
    _unfinished(folder, SMALL)
    (folder / CHECKPOINT).write_bytes(b"not a checkpoint at all")
    before = tree_digest(workspace)
    one_line_error(*main_in_process(monkeypatch, capsys, *SMALL, "run.resume=true", "hydra.run.dir=results/damaged"),
                   "checkpoint.npz is unreadable", "remove it to start this run over")
    assert tree_digest(workspace) == before


def test_resume_refuses_a_file_that_is_not_a_checkpoint(workspace, monkeypatch, capsys):
    import pickle

    folder = workspace / "results" / "foreign"
    _unfinished(folder, SMALL)
    (folder / CHECKPOINT).write_bytes(pickle.dumps({"something": "else"}))
    one_line_error(*main_in_process(monkeypatch, capsys, *SMALL, "run.resume=true", "hydra.run.dir=results/foreign"),
                   "is unreadable (not a checkpoint file")


# --- write failures mid-run (a full disk, simulated) -------------------------------------------------------
@pytest.mark.parametrize("failing", ["members.parquet", "summary.json", CHECKPOINT])
def test_a_full_disk_mid_run_fails_clearly_leaves_the_run_marked_and_a_rerun_completes_it(
        workspace, finished, monkeypatch, capsys, run_hooks, failing):
    before = tree_digest(workspace)
    args = [*SMALL, "run.checkpoint_every=2", "hydra.run.dir=results/failing"]
    run_hooks(fail_write=failing)
    one_line_error(*main_in_process(monkeypatch, capsys, *args), f"cannot write {workspace}/results/failing/{failing}",
                   "No space left on device", "is incomplete", "re-run the same command")
    out = workspace / "results" / "failing"
    assert folder_state(out) == "incomplete" and (out / MARKER).exists() and not (out / "summary.json").exists()
    assert not list(out.glob(".*.tmp-*"))
    assert tree_digest(workspace, skip=("results/failing",)) == before  # the earlier run is untouched
    run_hooks()
    code, _, err = main_in_process(monkeypatch, capsys, *args)
    assert code == 0, err
    assert folder_state(out) == "complete" and not (out / MARKER).exists()
    assert_same_tables(finished, out)


def test_a_full_disk_in_one_job_of_a_sweep_keeps_the_others_and_a_rerun_completes_it(
        workspace, monkeypatch, capsys, run_hooks):
    args = ["-m", *SMALL, "seed=0,1,2", "hydra/launcher=basic", "hydra.sweep.dir=results/sweep"]
    run_hooks(fail_write="follows.parquet@seed=1")
    code, out, err = main_in_process(monkeypatch, capsys, *args)
    assert code == 2 and "Traceback" not in out + err
    assert err.strip().splitlines()[-1].startswith("socialsim: error: cannot write") and "seed=1" in err
    sweep = workspace / "results" / "sweep"
    jobs = {s: next(sweep.glob(f"*seed={s}")) for s in (0, 1)}
    assert folder_state(jobs[0]) == "complete" and folder_state(jobs[1]) == "incomplete"
    stamp = (jobs[0] / "summary.json").stat().st_mtime_ns
    run_hooks()
    code, out, err = main_in_process(monkeypatch, capsys, *args)
    assert code == 0, err
    assert (out + err).count("skipped:") >= 1 and (jobs[0] / "summary.json").stat().st_mtime_ns == stamp
    assert [folder_state(next(sweep.glob(f"*seed={s}"))) for s in (0, 1, 2)] == ["complete"] * 3


@pytest.mark.slow
def test_from_the_command_line_bad_input_and_write_failures_exit_non_zero(workspace):
    proc = cli("--config-dir=myconf", *SMALL, "platform=broken", cwd=workspace)
    one_line_error(proc.returncode, proc.stdout, proc.stderr, "broken.yaml (line 2, column 12) is not valid YAML")
    proc = cli(*SMALL, "hydra.run.dir=results/failing", cwd=workspace,
               hooks={"fail_write": "timeseries.parquet"})
    one_line_error(proc.returncode, proc.stdout, proc.stderr, "timeseries.parquet: No space left on device")
    assert folder_state(workspace / "results" / "failing") == "incomplete"


# --- load_sweep on damaged folders ---------------------------------------------------------------------------
def _damage(folder: Path, how: str) -> None:
    if how == "summary-not-json":
        (folder / "summary.json").write_text('{"status": "comp')
    elif how == "summary-not-complete":
        summary = json.loads((folder / "summary.json").read_text())
        (folder / "summary.json").write_text(json.dumps({**summary, "status": "running"}))
    elif how == "table-missing":
        (folder / "members.parquet").unlink()
    elif how == "table-truncated":
        data = (folder / "timeseries.parquet").read_bytes()
        (folder / "timeseries.parquet").write_bytes(data[: len(data) // 2])
    elif how == "table-garbage-same-size":
        size = (folder / "timeseries.parquet").stat().st_size
        (folder / "timeseries.parquet").write_bytes(b"\0" * size)
    elif how == "killed-mid-run":
        (folder / "summary.json").unlink()
        (folder / MARKER).write_text("This run has not finished\n")
        (folder / ".follows.parquet.tmp-123").write_bytes(b"partial")
    else:
        raise ValueError(how)


DAMAGE = [
    ("summary-not-json", r"summary\.json is unreadable \(JSONDecodeError\)"),
    ("summary-not-complete", r"summary\.json does not say the run is complete"),
    ("table-missing", r"members\.parquet is missing"),
    ("table-truncated", r"timeseries\.parquet is corrupted \(\d+ bytes, summary\.json says \d+\)"),
    ("table-garbage-same-size", r"timeseries\.parquet is unreadable: ArrowInvalid"),
    ("killed-mid-run", r"unfinished: killed or still running"),
]


@pytest.mark.parametrize("how,reason", DAMAGE, ids=[d[0] for d in DAMAGE])
def test_load_sweep_skips_a_damaged_run_naming_it_and_changes_nothing(tmp_path, finished, how, reason):
    for name in ("good", "bad"):
        shutil.copytree(finished, tmp_path / "sweep" / name)
    _damage(tmp_path / "sweep" / "bad", how)
    before = tree_digest(tmp_path)
    with pytest.warns(UserWarning, match=rf"skipping 1 incomplete run.*sweep/bad \({reason}"):
        sweep = load_sweep(tmp_path / "sweep")
    assert sweep.runs["run"].tolist() == [str(tmp_path / "sweep" / "good")] and len(sweep.timeseries) == 6
    assert tree_digest(tmp_path) == before


@pytest.mark.parametrize("how", ["table-truncated", "table-garbage-same-size", "killed-mid-run"])
def test_a_rerun_redoes_a_damaged_run(tmp_path, finished, how):
    shutil.copytree(finished, tmp_path / "run")
    _damage(tmp_path / "run", how)
    summary, skipped = run_to_folder(compose_params(SMALL), tmp_path / "run")
    assert not skipped and folder_state(tmp_path / "run") == "complete"
    assert table_bytes(tmp_path / "run") == table_bytes(finished)


def test_load_sweep_of_a_missing_folder_a_file_and_an_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such run or sweep folder"):
        load_sweep(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(NotADirectoryError, match="notes.txt is a file; give a run or sweep folder"):
        load_sweep(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.warns(UserWarning, match="no complete runs in"):
        assert len(load_sweep(tmp_path / "empty").runs) == 0


# --- the Python API ----------------------------------------------------------------------------------------
def test_python_api_bad_inputs(tmp_path, finished):
    with pytest.raises(ParameterError, match=r"platform\.openness must be in \[0, 1\]; got 2"):
        compose_params(["platform.openness=2"])
    with pytest.raises(ParameterError, match=r"population\.size must be >= 1; got 0"):
        PlatformModel(population__size=0)
    with pytest.raises(ParameterError, match=r"platform\.nope is not a parameter; allowed here: attention,"):
        Params.from_dict({"platform": {"nope": 1}})
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(RunError, match="it is a file, not a folder"):
        run_to_folder(compose_params(SMALL), tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "x"
    for name in PARQUETS:  # the fixture run itself was never touched by any test
        assert (finished / name).stat().st_size == json.loads((finished / "summary.json").read_text())[
            "files"][name]["bytes"]
