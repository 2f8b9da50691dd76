"""Crash safety and resume: real ``python -m socialsim`` processes are killed with SIGKILL at traced moments
(while starting, mid-run, while checkpointing, while writing each file) and at arbitrary moments. Every
folder is then complete or clearly marked incomplete, never a summary.json over partial data; re-running
completes exactly the missing jobs, and ``run.resume=true`` continues from the last checkpoint to exactly
the uninterrupted result (byte-identical tables)."""

from __future__ import annotations

import json
import time

import pytest
from conftest import TINY, Run, assert_same_tables, cli, folder_state, main_in_process, ok, table_bytes

from socialsim.analysis import load_sweep
from socialsim.config import compose_params
from socialsim.io import run_to_folder
from socialsim.recovery import CHECKPOINT, MARKER, read_checkpoint

ARGS = [*TINY, "run.checkpoint_every=5"]  # checkpoints after steps 5, 10 and 15 of 20

#: (event at which the run is killed, the folder it must leave)
KILL_POINTS = [
    ("start", "incomplete"),  # marked, nothing computed yet
    ("step:3", "incomplete"),  # mid-run, before the first checkpoint
    (f"write:{CHECKPOINT}", "incomplete"),  # the first checkpoint written to a temporary file, not renamed
    ("checkpoint:10", "incomplete"),  # mid-run with a checkpoint to resume from
    ("write:timeseries.parquet", "incomplete"),  # writing the first table
    ("write:follows.parquet", "incomplete"),  # two tables written, the third being written
    ("write:summary.json", "incomplete"),  # every table written, the summary not yet renamed
    ("written:summary.json", "complete"),  # the summary renamed, marker and checkpoint not yet removed
]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Uninterrupted runs of ARGS, seeds 0-2, in this process: {seed: folder}."""
    root = tmp_path_factory.mktemp("reference")
    folders = {}
    for seed in (0, 1, 2):
        folders[seed] = root / f"seed={seed}"
        run_to_folder(compose_params([*TINY, f"seed={seed}"]), folders[seed])
    return folders


def _assert_finished(out, reference_folder) -> dict:
    assert folder_state(out) == "complete"
    assert_same_tables(reference_folder, out)
    assert not (out / MARKER).exists() and not (out / CHECKPOINT).exists() and not list(out.glob(".*.tmp-*"))
    return json.loads((out / "summary.json").read_text())


@pytest.mark.slow
def test_killed_at_each_stage_leaves_a_complete_or_marked_folder_and_a_rerun_completes_it(
        reference, tmp_path, monkeypatch, capsys):
    runs = [(event, expected, tmp_path / f"run{i}") for i, (event, expected) in enumerate(KILL_POINTS)]
    procs = [Run([*ARGS, f"hydra.run.dir={out}"], tmp_path, f"k{i}", pause=event)
             for i, (event, _, out) in enumerate(runs)]  # all at once: they start up in parallel
    try:
        for (event, _, _), proc in zip(runs, procs):
            proc.wait_for(event)
            proc.kill()
    finally:
        for proc in procs:
            proc.kill()
    for event, expected, out in runs:
        assert folder_state(out) == expected, f"killed at {event}: {sorted(p.name for p in out.iterdir())}"
    folder = dict((e, out) for e, _, out in runs)
    assert read_checkpoint(folder["checkpoint:10"], header_only=True)["step"] == 10
    assert not (folder[f"write:{CHECKPOINT}"] / CHECKPOINT).exists()
    assert list(folder[f"write:{CHECKPOINT}"].glob(f".{CHECKPOINT}.tmp-*"))  # the half-written one
    assert (folder["write:summary.json"] / "follows.parquet").exists()
    with pytest.warns(UserWarning, match=r"skipping 7 incomplete run.*run3 \(unfinished: killed or still running, "
                                         r"with a checkpoint"):
        assert len(load_sweep(tmp_path, timeseries=False).runs) == 1  # only the one killed after its summary

    monkeypatch.chdir(tmp_path)
    for event, expected, out in runs:
        # the same command again; with run.resume=true where a checkpoint may help (it is also fine without one)
        resume = [] if event in ("step:3", "write:timeseries.parquet") else ["run.resume=true"]
        code, stdout, err = main_in_process(monkeypatch, capsys, *ARGS, *resume, f"hydra.run.dir={out}")
        assert code == 0, f"re-run after a kill at {event}: {err}"
        summary = _assert_finished(out, reference[0])
        if event == "checkpoint:10":
            assert summary["run_control"]["resumed_from_step"] == 10
        if event == "written:summary.json":
            assert "already complete, not re-run" in stdout  # not run again; its leftovers removed


@pytest.mark.slow
def test_killed_at_arbitrary_moments(reference, tmp_path, monkeypatch, capsys):
    """Kills at fixed delays (from launch, or from the start of the run) with slowed writes: whatever moment
    they hit, the folder is complete or clearly incomplete, and re-running completes it."""
    delays = [("launch", 0.2), ("start", 0.0), ("start", 0.4), ("start", 1.2), ("start", 2.5), ("start", 5.0)]
    outs = [tmp_path / f"run{i}" for i in range(len(delays))]
    procs = [Run([*ARGS, f"hydra.run.dir={out}"], tmp_path, f"t{i}", delay_write=0.3) for i, out in enumerate(outs)]
    launched = time.monotonic()
    try:
        for (since, delay), proc in zip(delays, procs):
            if since == "launch":
                time.sleep(max(0.0, launched + delay - time.monotonic()))
            else:
                proc.wait_for("start")
                time.sleep(delay)
            proc.kill()
    finally:
        for proc in procs:
            proc.kill()
    states = [folder_state(out) for out in outs]
    assert states[0] == "absent"  # killed while Python and Hydra were still starting
    assert set(states) <= {"absent", "incomplete", "complete"}
    monkeypatch.chdir(tmp_path)
    for out in outs:
        code, _, err = main_in_process(monkeypatch, capsys, *ARGS, f"hydra.run.dir={out}")
        assert code == 0, err
        _assert_finished(out, reference[0])


def _job(sweep, seed):
    found = [p for p in sweep.iterdir() if p.is_dir() and p.name.endswith(f"seed={seed}")]
    assert len(found) <= 1, found
    return found[0] if found else sweep / f"missing-seed={seed}"


@pytest.mark.slow
def test_a_killed_sweep_rerun_completes_exactly_the_missing_jobs_resuming_from_checkpoints(reference, tmp_path):
    sweep = tmp_path / "sweep"
    args = ["-m", *ARGS, "seed=0,1,2", f"hydra.sweep.dir={sweep}"]
    proc = Run([*args, "hydra/launcher=basic"], tmp_path, "sweep", pause="checkpoint:10@seed=1")  # one by one
    try:
        proc.wait_for("checkpoint:10", where="seed=1")
    finally:
        proc.kill()
    jobs = {seed: _job(sweep, seed) for seed in (0, 1, 2)}
    assert [folder_state(jobs[s]) for s in (0, 1, 2)] == ["complete", "incomplete", "absent"]
    assert (jobs[1] / CHECKPOINT).exists()
    stamp, data = (jobs[0] / "summary.json").stat().st_mtime_ns, table_bytes(jobs[0])
    with pytest.warns(UserWarning, match=r"1 incomplete run.*seed=1 \(unfinished.*checkpoint"):
        assert len(load_sweep(sweep).runs) == 1

    # the same sweep again, in parallel this time, continuing from checkpoints
    done = ok(cli(*args, "run.resume=true", "hydra.launcher.n_jobs=2", cwd=tmp_path))
    log = done.stdout + done.stderr
    assert log.count("skipped:") == 1 and log.count("done in") == 2, log
    jobs[2] = _job(sweep, 2)  # run.resume and run.checkpoint_every do not change job folder names:
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == sorted(jobs[s].name for s in (0, 1, 2))
    assert (jobs[0] / "summary.json").stat().st_mtime_ns == stamp and table_bytes(jobs[0]) == data
    summaries = {s: _assert_finished(jobs[s], reference[s]) for s in (0, 1, 2)}
    assert summaries[1]["run_control"]["resumed_from_step"] == 10
    assert summaries[2]["run_control"]["resumed_from_step"] == 0
    assert "run.resume=true" not in summaries[1]["overrides"]  # run control is not a condition of the sweep
    assert len(load_sweep(sweep).runs) == 3

    again = ok(cli(*args, cwd=tmp_path))  # and once complete, a re-run does nothing
    assert (again.stdout + again.stderr).count("skipped:") == 3


@pytest.mark.slow
def test_resume_in_a_new_process_gives_the_uninterrupted_result(reference, tmp_path):
    """Kill after the checkpoint at step 15, resume from the command line: identical to never stopping."""
    out = tmp_path / "run"
    proc = Run([*ARGS, "seed=2", f"hydra.run.dir={out}"], tmp_path, "resume", pause="checkpoint:15")
    try:
        proc.wait_for("checkpoint:15")
    finally:
        proc.kill()
    assert folder_state(out) == "incomplete" and (out / MARKER).read_text().startswith("This run has not finished")
    done = ok(cli(*ARGS, "seed=2", "run.resume=true", f"hydra.run.dir={out}", cwd=tmp_path))
    assert str(out) in done.stdout
    summary = _assert_finished(out, reference[2])
    assert summary["run_control"] == {"checkpoint_every": 5, "resumed_from_step": 15}
    ts = json.loads((reference[2] / "summary.json").read_text())
    assert summary["metrics"] == ts["metrics"] and summary["config_hash"] == ts["config_hash"]
