"""Sweeps on a real one-node SLURM cluster (tests/cluster/slurm-up.sh), and the cluster's faults.

Selected with ``-m slurm``; they need root and Debian's slurmctld, slurmd and munge packages (``bash tests/run.sh``
installs them) and are skipped otherwise. They share one cluster, so they run in one xdist group
(``--dist loadgroup``), and a machine-wide lock keeps a second worker from starting a second cluster. Every
command has a time limit, and the cluster is stopped (each daemon by its PID) and its jobs cancelled when the
tests end.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import PARQUETS, TINY, env

from socialsim.analysis import load_sweep
from socialsim.io import SUMMARY, read_summary
from socialsim.recovery import MARKER, problem, verify

pytestmark = [pytest.mark.slurm, pytest.mark.xdist_group("slurm")]

CLUSTER = Path(__file__).parent / "cluster"
CLUSTER_LOCK = "/run/lock/socialsim-slurm-tests.lock" if os.path.isdir("/run/lock") else "/tmp/socialsim-slurm-tests.lock"
SLURM = ["hydra/launcher=slurm", "hydra.launcher.mem_gb=1", "hydra.launcher.timeout_min=5",
         "hydra.sweep.subdir=seed_${seed}"]
TIMINGS = ("wall_time_s", "started", "finished")  # what differs between two runs of the same job


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "the SLURM tests need root (they start munged, slurmctld and slurmd)"
    missing = [c for c in ("slurmctld", "slurmd", "munged", "sbatch", "scontrol", "scancel", "squeue")
               if shutil.which(c) is None]
    if missing:
        return f"SLURM is not installed ({', '.join(missing)} missing; bash tests/run.sh installs slurmctld slurmd munge)"
    return None


def _cancel_all_jobs() -> None:
    """Cancel every job on the test cluster and wait (at most a minute) until none is left."""
    subprocess.run(["scancel", "--user", "root"], capture_output=True, timeout=30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        out = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, timeout=30).stdout
        if not out.strip():
            return
        time.sleep(1)


@contextlib.contextmanager
def _one_cluster_at_a_time(timeout: float = 1800):
    """Hold a machine-wide lock while this process uses the cluster. The tests share one xdist group, but
    pytest-xdist 3.8 with pytest 9.2 does not honour xdist_group (pytest-xdist issue 1386): then another
    worker that also runs some of these tests waits here instead of starting a second cluster."""
    fd = os.open(CLUSTER_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(f"another process has held {CLUSTER_LOCK} for {timeout:.0f} s")
                time.sleep(1)
        yield
    finally:
        os.close(fd)  # releases the lock


@pytest.fixture(scope="module")
def cluster():
    why = _why_not()
    if why:
        pytest.skip(why)
    with _one_cluster_at_a_time():
        yield from _running_cluster()


def _running_cluster():
    up = subprocess.run(["timeout", "120", "bash", str(CLUSTER / "slurm-up.sh")], capture_output=True, text=True)
    if up.returncode != 0:
        subprocess.run(["timeout", "60", "bash", str(CLUSTER / "slurm-down.sh")])
        pytest.fail(f"the test cluster did not start: {up.stderr.strip()}")
    try:
        yield
    finally:
        _cancel_all_jobs()
        subprocess.run(["timeout", "60", "bash", str(CLUSTER / "slurm-down.sh")], check=False)


@pytest.fixture
def slurm(cluster):
    """The cluster, with no job of an earlier test left on it."""
    _cancel_all_jobs()
    yield
    _cancel_all_jobs()


class Sweep:
    """``python -m socialsim -m ARGS`` in its own process group, with its output in a file."""

    def __init__(self, args: list[str], cwd: Path, name: str):
        self.log_path = cwd / f"{name}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in wait()
        self.proc = subprocess.Popen([sys.executable, "-m", "socialsim", "-m", *args], cwd=cwd, env=env(),
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout: float = 300) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=60)
            raise AssertionError(f"the sweep did not end within {timeout} s:\n{self.output()[-3000:]}") from None
        finally:
            if not self._log.closed:
                self._log.close()

    def output(self) -> str:
        return self.log_path.read_text()


def sweep(args: list[str], cwd: Path, name: str, timeout: float = 300) -> tuple[int, str]:
    s = Sweep(args, cwd, name)
    return s.wait(timeout), s.output()


def _wait_until(condition, timeout: float, what: str, poll: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting until {what}")


def _array_task(index: int) -> str:
    """The SLURM id of task ``index`` of the (only) job array in the queue."""
    ids = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True, timeout=30).stdout.split()
    arrays = {i.split("_", 1)[0] for i in ids}
    assert len(arrays) == 1, ids
    return f"{arrays.pop()}_{index}"


def _comparable_summary(folder: Path) -> dict:
    summary = json.loads((folder / SUMMARY).read_text())
    return {k: v for k, v in summary.items() if k not in TIMINGS}


def _failure_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("socialsim: job #")]


# --- a sweep on SLURM is the same sweep ---------------------------------------------------------------------
def test_a_slurm_sweep_of_six_jobs_gives_the_tables_of_the_joblib_sweep(slurm, tmp_path):
    jobs = [*TINY, "seed=0,1,2,3,4,5", "hydra.sweep.subdir=seed_${seed}"]
    code, out = sweep([*SLURM, *jobs, f"hydra.sweep.dir={tmp_path / 'slurm'}"], tmp_path, "slurm")
    assert code == 0, out
    code, out = sweep(["hydra/launcher=joblib", *jobs, f"hydra.sweep.dir={tmp_path / 'joblib'}"], tmp_path, "joblib")
    assert code == 0, out
    for seed in range(6):
        a, b = tmp_path / "slurm" / f"seed_{seed}", tmp_path / "joblib" / f"seed_{seed}"
        for name in PARQUETS:
            assert (a / name).read_bytes() == (b / name).read_bytes(), f"seed {seed}: {name} differs"
        assert _comparable_summary(a) == _comparable_summary(b), f"seed {seed}: summary.json differs"
    runs = load_sweep(tmp_path / "slurm").runs
    assert sorted(runs["seed"]) == list(range(6))
    reference = load_sweep(tmp_path / "joblib").runs
    drop = ["run", "wall_time_s"]
    pd.testing.assert_frame_equal(runs.drop(columns=drop).sort_values("seed").reset_index(drop=True),
                                  reference.drop(columns=drop).sort_values("seed").reset_index(drop=True))


# --- faults ---------------------------------------------------------------------------------------------------
# over 10 s per job on a quiet machine, long enough to be hit mid-run (the imposed exit rule keeps the network
# growing, so the work does not depend on the default exit rule)
LONGER = ["population.size=20000", "run.steps=600", "leaving.exit_rule=imposed"]


def test_a_cancelled_job_is_reported_in_one_line_and_a_rerun_completes_only_it(slurm, tmp_path):
    args = [*SLURM, *LONGER, "seed=0,1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    target = tmp_path / "sweep" / "seed_1"
    s = Sweep(args, tmp_path, "first")
    _wait_until(lambda: (target / MARKER).exists(), 240, "job #1 is running")
    task = _array_task(1)
    subprocess.run(["scancel", task], check=True, timeout=30)
    code = s.wait(300)
    out = s.output()
    assert code == 2, out
    lines = _failure_lines(out)
    assert len(lines) == 1, out
    assert "seed=1" in lines[0] and f"SLURM job {task} cancelled" in lines[0] and str(target) in lines[0]
    assert out.strip().splitlines()[-1].startswith("socialsim: error: 1 of 3 jobs of the sweep failed"), out
    assert problem(target) is not None and read_summary(target) is None  # not complete, and does not claim to be
    finished = {seed: (tmp_path / "sweep" / f"seed_{seed}" / SUMMARY).read_bytes() for seed in (0, 2)}

    code, out = sweep(args, tmp_path, "again")
    assert code == 0, out
    assert f"#0 : {' '.join(LONGER)} seed=0 (complete in" in out, out
    assert f"#2 : {' '.join(LONGER)} seed=2 (complete in" in out, out
    for seed, summary in finished.items():  # the finished jobs were not run again
        assert (tmp_path / "sweep" / f"seed_{seed}" / SUMMARY).read_bytes() == summary
    assert verify(target) == []
    assert len(load_sweep(tmp_path / "sweep").runs) == 3


def test_a_job_reaching_its_time_limit_is_requeued_and_resumes_from_its_checkpoint(slurm, tmp_path):
    # over a minute of work in one job with a 1-minute limit. SLURM signals the job at its first check (every 30 s)
    # at which less than signal_delay_s + 30 s remain: with 1 s, after 29 to 59 s; submitit then requeues the job.
    # The work takes about 70 s on a quiet 2-core machine (the imposed exit rule keeps the network growing), and
    # numba's cache is filled first, so the job reaches its first checkpoint within seconds of starting
    work = ["population.size=60000", "run.steps=1000", "leaving.exit_rule=imposed", "seed=0"]
    warm = subprocess.run([sys.executable, "-m", "socialsim", "population.size=300", "run.steps=3",
                           f"hydra.run.dir={tmp_path / 'warm'}"], cwd=tmp_path, env=env(), capture_output=True,
                          text=True, timeout=300)
    assert warm.returncode == 0, warm.stderr
    args = [*SLURM, "hydra.launcher.timeout_min=1", "hydra.launcher.signal_delay_s=1", "hydra.launcher.mem_gb=2",
            "hydra.launcher.max_num_timeout=8", *work, "run.checkpoint_every=25", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    s = Sweep(args, tmp_path, "limited")
    # meanwhile, the same run uninterrupted, on the other core
    reference = tmp_path / "reference"
    local = subprocess.run([sys.executable, "-m", "socialsim", *work, f"hydra.run.dir={reference}"], cwd=tmp_path,
                           env=env(), capture_output=True, text=True, timeout=600)
    assert local.returncode == 0, local.stderr
    code = s.wait(600)
    out = s.output()
    assert code == 0, out
    folder = tmp_path / "sweep" / "seed_0"
    summary = json.loads((folder / SUMMARY).read_text())
    assert summary["run_control"]["resumed_from_step"] > 0, "the requeued job started again from step 0"
    assert summary["run_control"]["resumed_from_step"] % 25 == 0
    logs = "".join(p.read_text() for p in (tmp_path / "sweep" / ".submitit").rglob("*_log.err"))
    assert "timed-out" in logs, "the job was not stopped by its time limit"
    for name in PARQUETS:
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), name
    assert _comparable_summary(folder)["metrics"] == _comparable_summary(reference)["metrics"]


def test_a_sweep_survives_slurmd_stopped_and_restarted(slurm, tmp_path):
    args = [*SLURM, *LONGER, "seed=0,1,2,3", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    s = Sweep(args, tmp_path, "sweep")
    _wait_until(lambda: any((tmp_path / "sweep").glob(f"seed_*/{MARKER}")), 240, "a job is running")
    pid = int(Path("/run/slurmd.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    _wait_until(lambda: not Path(f"/proc/{pid}").exists(), 30, "slurmd has stopped")
    time.sleep(15)  # the node is away for a while; the sweep waits
    assert s.proc.poll() is None, s.output()
    subprocess.run(["timeout", "30", "slurmd"], check=True)
    code = s.wait(400)
    out = s.output()
    assert code == 0, out
    for seed in range(4):
        folder = tmp_path / "sweep" / f"seed_{seed}"
        assert verify(folder) == [], f"seed {seed}: {verify(folder)}"  # complete, and its tables match their checksums
        assert not (folder / MARKER).exists()
    assert len(load_sweep(tmp_path / "sweep").runs) == 4


def test_two_sweeps_started_at_once_into_one_folder_run_each_job_once(slurm, tmp_path):
    args = [*SLURM, *TINY, "seed=0,1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    first, second = Sweep(args, tmp_path, "first"), Sweep(args, tmp_path, "second")
    assert first.wait(300) == 0, first.output()
    assert second.wait(300) == 0, second.output()
    for seed in range(3):
        folder = tmp_path / "sweep" / f"seed_{seed}"
        log = (folder / "socialsim.log").read_text()
        assert log.count("done in") == 1, f"seed {seed} ran {log.count('done in')} times:\n{log}"
        assert verify(folder) == []


def test_a_full_disk_fails_one_job_in_one_line_and_the_others_complete(slurm, tmp_path):
    bigger = ["population.size=3000", "run.steps=20"]
    args = [*SLURM, *bigger, "seed=0,1,2", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    full = tmp_path / "sweep" / "seed_1"
    full.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40k", "tmpfs", str(full)], check=True, timeout=30)
    try:
        code, out = sweep(args, tmp_path, "sweep")
        assert code == 2, out
        lines = _failure_lines(out)
        assert len(lines) == 1, out
        assert "seed=1" in lines[0] and f"cannot write {full}/" in lines[0] and "No space left on device" in lines[0]
        assert read_summary(full) is None and (full / MARKER).exists()
        assert problem(full).startswith("failed: cannot write"), problem(full)
        for seed in (0, 2):
            assert verify(tmp_path / "sweep" / f"seed_{seed}") == []
    finally:
        subprocess.run(["umount", "-l", str(full)], check=False, timeout=30)
