"""Sweeps on a SLURM cluster: hydra-submitit-launcher's SLURM launcher with socialsim's fault handling.

``python -m socialsim -m hydra/launcher=slurm ...`` (``src/socialsim/conf/hydra/launcher/slurm.yaml``) uses
:class:`SlurmLauncher`. It differs from the plugin's launcher in four ways:

- jobs whose folder already holds a complete run of the same configuration are not submitted again, so
  re-running a sweep's command submits only its missing jobs;
- it waits for every job and asks SLURM (``scontrol``) about jobs that ended without a result (cancelled,
  failed, killed with their node, out of memory), instead of relying on ``sacct``, which needs an accounting
  database; a job SLURM requeues (after its node failed, or by submitit after a time limit) is waited for;
- when jobs failed it prints one line per failed job (which job, its folder, and why), then ends with one
  line and exit code 2, after the other jobs have finished;
- a job that reaches its time limit is requeued by submitit (``max_num_timeout`` times) with
  ``run.resume=true`` added, so it continues from its last checkpoint (``run.checkpoint_every``).
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, JobStatus, filter_overrides
from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as _PluginSlurmLauncher
from omegaconf import OmegaConf, open_dict

from .recovery import RunError

log = logging.getLogger("socialsim")

#: SLURM job states after which a job will not run again by itself
ENDED = {"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
         "TIMEOUT", "SPECIAL_EXIT", "REVOKED"}


class SweepFailed(RunError):
    """Some jobs of a sweep failed; each was reported on a line of its own."""


def slurm_state(job_id: str) -> tuple[str, str] | None:
    """(state, reason) of a SLURM job from ``scontrol show job``; ("GONE", "") once SLURM has forgotten it;
    None if SLURM cannot be asked right now (the controller is unreachable)."""
    try:
        proc = subprocess.run(["scontrol", "show", "job", "-o", str(job_id)], capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if proc.returncode != 0:
        return ("GONE", "") if "Invalid job id" in proc.stderr else None
    fields = dict(item.split("=", 1) for item in proc.stdout.split() if "=" in item)
    return fields.get("JobState", "UNKNOWN"), fields.get("Reason", "")


def _requeue_overrides(overrides: Sequence[str]) -> list[str]:
    """The job's overrides with ``run.resume=true``, so that a requeued job continues from its checkpoint."""
    kept = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] != "run.resume"]
    return [*kept, "run.resume=true"]


class SlurmLauncher(_PluginSlurmLauncher):
    """hydra-submitit-launcher's SLURM launcher that skips complete jobs, survives and reports failed ones, and
    resumes jobs requeued after their time limit from their checkpoint (see the module docstring)."""

    poll_s = 2.0  # how often result files are looked for and SLURM is asked about jobs without one

    def __call__(self, *args: Any, **kwargs: Any) -> JobReturn:
        """Run one job (on the node), with submitit's time-limit handler made safe for numba (see
        :func:`_requeue_without_unwinding`)."""
        import signal

        handler = signal.getsignal(signal.SIGUSR2)  # submitit's signal for SLURM jobs, installed before this call
        if callable(handler):
            signal.signal(signal.SIGUSR2, _requeue_without_unwinding(handler))
        return super().__call__(*args, **kwargs)

    def checkpoint(self, sweep_overrides: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        """Called by submitit when the job reaches its time limit: resubmit it, resuming from its checkpoint."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, _requeue_overrides(sweep_overrides), *args, **kwargs)

    # --- which jobs need running -----------------------------------------------------------------------
    def _job_folder(self, overrides: Sequence[str], idx: int) -> tuple[Path, str | None]:
        """The folder of one job of the sweep and its config hash (None if its configuration is invalid)."""
        from .config import config_hash, to_params

        assert self.hydra_context is not None and self.config is not None
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
        with open_dict(cfg.hydra.job):
            cfg.hydra.job.num = idx
            cfg.hydra.job.id = f"job_id_for_{idx}"
        folder = Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)
        try:
            chash = config_hash(to_params(cfg))
        except Exception:  # noqa: BLE001 - the job reports it when it runs
            chash = None
        return folder, chash

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        """Submit the sweep's jobs that are not complete, wait for them, and report each failed job in one line."""
        import submitit

        from .io import is_complete

        assert self.config is not None
        n = len(job_overrides)
        jobs_info = []
        for i, overrides in enumerate(job_overrides):
            idx = initial_job_idx + i
            folder, chash = self._job_folder(overrides, idx)
            jobs_info.append((idx, list(overrides), folder, chash))
        todo = [j for j in jobs_info if not (j[3] and is_complete(j[2], j[3]))]
        results: dict[int, JobReturn] = {}
        for idx, overrides, folder, _ in jobs_info:
            if all(j[0] != idx for j in todo):
                log.info("\t#%d : %s (complete in %s, not submitted)", idx, " ".join(filter_overrides(overrides)),
                         folder)
                results[idx] = _returned(overrides, folder, {"output_dir": str(folder), "skipped": True})
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        failures: list[str] = []
        if todo:
            executor = self._executor()
            log.info("Submitit 'slurm' sweep output dir : %s", sweep_dir)
            for idx, overrides, _, _ in todo:
                log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
            params = [(overrides, "hydra.sweep.dir", idx, f"job_id_for_{idx}", Singleton.get_state())
                      for idx, overrides, _, _ in todo]
            jobs = executor.map_array(self, *zip(*params))
            for (idx, overrides, folder, _), job, (ret, why) in zip(todo, jobs, self._wait(jobs, submitit)):
                if why is not None:
                    failures.append(f"socialsim: job #{idx} ({' '.join(filter_overrides(overrides))}) failed: "
                                    f"{why}; folder {folder}")
                else:
                    results[idx] = ret
        if failures:
            for line in failures:
                print(line, file=sys.stderr, flush=True)
            raise SweepFailed(f"{len(failures)} of {n} jobs of the sweep failed (one line each above); re-run the "
                              f"same command to run them again: complete jobs are skipped")
        return [results[j[0]] for j in jobs_info]  # every job finished: none failed

    def _executor(self):
        """The submitit executor for this sweep's parameters (as hydra-submitit-launcher builds it)."""
        import submitit

        params = dict(self.params)
        init = {"folder": params["submitit_folder"]}
        if "max_num_timeout" in params:
            init["slurm_max_num_timeout"] = params["max_num_timeout"]
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in base else f"{self._EXECUTOR}_{k}": v for k, v in params.items()
                                      if k not in ("submitit_folder", "max_num_timeout")})
        return executor

    def _wait(self, jobs: list, submitit) -> list[tuple[JobReturn | None, str | None]]:
        """Wait for every job: (its JobReturn, None) when it finished, (None, why) when it failed."""
        outcome: dict[int, tuple[JobReturn | None, str | None]] = {}
        ended_seen: dict[int, int] = {}
        while len(outcome) < len(jobs):
            for i, job in enumerate(jobs):
                if i in outcome:
                    continue
                if job.paths.result_pickle.exists():
                    outcome[i] = _read_result(job)
                    continue
                state = slurm_state(job.job_id)
                if state is None or state[0] not in ENDED | {"GONE"}:
                    ended_seen.pop(i, None)
                    continue
                # ended without a result: look again on the next round (the result may still be on its way)
                ended_seen[i] = ended_seen.get(i, 0) + 1
                if ended_seen[i] >= 3:
                    outcome[i] = (None, _why(job, *state))
            if len(outcome) < len(jobs):
                time.sleep(self.poll_s)
        return [outcome[i] for i in range(len(jobs))]


def _requeue_without_unwinding(handler):
    """submitit's time-limit handler, minus the exception it raises at the end.

    The handler saves the job for resubmission (with ``run.resume=true``, :meth:`SlurmLauncher.checkpoint`), asks
    SLURM to requeue it, then raises SystemExit (or, out of requeues, an error) to end the job. Raised while a
    numba-compiled function runs, that exception is mangled into a SystemError or worse (a crash was seen).
    Here it is dropped instead: the job goes on until SLURM stops it for the requeue (or at its time limit, which
    the sweep then reports), and its checkpoints stay consistent because each is written atomically.
    """
    def handle(signum, frame):
        try:
            handler(signum, frame)
        except (SystemExit, Exception) as exc:  # noqa: BLE001 - see above
            log.info("leaving this attempt to SLURM (%s)", type(exc).__name__)

    return handle


def _why(job, state: str, reason: str) -> str:
    what = {"CANCELLED": "cancelled (scancel or an administrator)", "TIMEOUT": "reached its time limit",
            "NODE_FAIL": "its node failed", "OUT_OF_MEMORY": "ran out of memory", "GONE": "no longer known to SLURM",
            "PREEMPTED": "preempted", "FAILED": "failed", "COMPLETED": "ended"}.get(state, state.lower())
    detail = f", reason {reason}" if reason and reason not in ("None", "(null)") else ""
    return f"SLURM job {job.job_id} {what} without a result (state {state}{detail}; log {job.paths.stderr})"


def _read_result(job) -> tuple[JobReturn | None, str | None]:
    try:
        ret = job.results()[0]
    except Exception as exc:  # noqa: BLE001 - an error outside the task (submitit, Hydra): its last line
        return None, f"SLURM job {job.job_id}: {_last_error_line(str(exc)) or type(exc).__name__}"
    if ret.status == JobStatus.FAILED:
        exc = ret._return_value
        return None, " ".join(str(exc).split()) or type(exc).__name__
    return ret, None


def _last_error_line(text: str) -> str:
    """The exception line of the traceback in submitit's FailedJobError text (which ends with log paths)."""
    lines = [line.strip() for line in text.splitlines()]
    rules = [i for i, line in enumerate(lines) if line and set(line) == {"-"}]
    if len(rules) >= 2:  # the traceback is between the first two rules of dashes
        lines = lines[rules[0] + 1: rules[1]]
    lines = [line for line in lines if line]
    return lines[-1] if lines else ""


def _returned(overrides: Sequence[str], folder: Path, value: Any) -> JobReturn:
    ret = JobReturn(overrides=list(overrides), working_dir=str(folder), task_name="socialsim")
    ret.status = JobStatus.COMPLETED
    ret.return_value = value
    return ret


__all__ = ["ENDED", "SlurmLauncher", "SweepFailed", "slurm_state"]
