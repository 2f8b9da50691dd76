"""Two sweeps started at once into one folder run each job exactly once: a lock per job folder makes the second
process wait for the first, then skip the job it finished (the same on SLURM: tests/test_cluster.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import TINY, env
from filelock import FileLock

from socialsim.io import LOCK
from socialsim.recovery import verify


def _start(args: list[str], cwd: Path, name: str) -> tuple[subprocess.Popen, Path]:
    log = cwd / f"{name}.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "socialsim", "-m", *args], cwd=cwd, env=env(), stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    return proc, log


def _finish(proc: subprocess.Popen, timeout: float = 300) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        raise


def test_two_sweeps_into_one_folder_wait_for_each_other_and_run_each_job_once(tmp_path):
    sweep_dir = tmp_path / "sweep"
    args = ["hydra/launcher=basic", *TINY, "seed=0,1,2", f"hydra.sweep.dir={sweep_dir}",
            "hydra.sweep.subdir=seed_${seed}"]
    held = sweep_dir / "seed_1"
    held.mkdir(parents=True)
    lock = FileLock(str(held / LOCK))
    lock.acquire()  # as if a third process were running job seed=1: both sweeps must wait for it
    procs = []
    try:
        procs = [_start(args, tmp_path, name) for name in ("first", "second")]
        deadline = time.monotonic() + 240
        waiting = f"waiting for another process running {held}"
        while not all(waiting in log.read_text() for _, log in procs):
            assert time.monotonic() < deadline, "the sweeps did not both wait for the locked job"
            assert all(p.poll() is None for p, _ in procs), [log.read_text()[-2000:] for _, log in procs]
            time.sleep(0.1)
        assert not (held / "summary.json").exists()  # nobody ran it while it was locked
    finally:
        lock.release()
        codes = [_finish(p) for p, _ in procs]
    outputs = [log.read_text() for _, log in procs]
    assert codes == [0, 0], outputs
    for seed in range(3):
        folder = sweep_dir / f"seed_{seed}"
        lines = [line for out in outputs for line in out.splitlines()]
        ran = sum("done in" in line and line.endswith(f": {folder}") for line in lines)
        skipped = sum(f"skipped: {folder} already holds this run" in line for line in lines)
        assert ran == 1 and skipped == 1, f"seed {seed}: ran {ran} times, skipped {skipped} times\n{outputs}"
        assert verify(folder) == []
