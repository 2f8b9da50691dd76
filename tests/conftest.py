"""Shared test helpers and fixtures: running the command line in a subprocess or in this process, killing it at
a traced moment, run-event hooks (see tests/hooked.py), comparing the bytes of run folders."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import hooked
import pytest

from socialsim import runfolder
from socialsim.io import SUMMARY, TABLES, find_runs, read_summary
from socialsim.recovery import CHECKPOINT, MARKER, verify

#: a tiny configuration that still exercises meetups, leaving and reshares within 20 steps
TINY = ["population.size=200", "run.steps=20", "meetups.rate=0.3", "meetups.min_members=5",
        "leaving.quiet_rate=0.02", "leaving.quiet_steps=3"]
PARQUETS = tuple(f"{t}.parquet" for t in TABLES)


def _scenario_values(name: str) -> dict:
    import yaml  # noqa: PLC0415

    path = Path(__file__).resolve().parents[1] / "src" / "socialsim" / "conf" / "scenario" / f"{name}.yaml"
    return {f"{g}.{k}": v for g, sub in yaml.safe_load(path.read_text()).items() for k, v in sub.items()}


#: the earlier, uncalibrated defaults (scenario=uncalibrated) without its size: a denser, busier world, for
#: tests whose mechanism needs many follows, posts or follow-backs to show within a short run
UNCALIBRATED = {k: v for k, v in _scenario_values("uncalibrated").items() if k != "population.size"}


def env(**extra: str) -> dict[str, str]:
    """This process's environment for a subprocess, without HYDRA_FULL_ERROR, with warnings off, plus ``extra``."""
    out = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    out["PYTHONWARNINGS"] = "ignore"
    out.update(extra)
    return out


def cli(*args: str, cwd: Path, timeout: float = 600, hooks: dict | None = None,
        **extra_env: str) -> subprocess.CompletedProcess:
    """``python -m socialsim ARGS`` in a subprocess, with the run-event ``hooks`` of tests/hooked.py if given
    (e.g. ``hooks={"fail_write": "summary.json"}``) and ``extra_env`` added to its environment."""
    return subprocess.run(hooked.command(args, **(hooks or {})), cwd=cwd, env=env(**extra_env), capture_output=True,
                          text=True, timeout=timeout)


def printed_output(proc: subprocess.CompletedProcess) -> str:
    """The run or sweep folder that the command printed last (``output: PATH``)."""
    lines = [line for line in proc.stdout.splitlines() if line.startswith("output: ")]
    assert lines, proc.stdout
    return os.path.realpath(lines[-1].removeprefix("output: "))


@pytest.fixture
def run_hooks(monkeypatch):
    """``run_hooks(fail_write=..., trace=...)`` installs run-event hooks (tests/hooked.py) in this process for
    the rest of the test; ``run_hooks()`` removes them."""
    def install(**options) -> None:
        monkeypatch.setattr(runfolder, "HOOKS", hooked.callbacks(**options))

    yield install


def ok(proc: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def _loggers() -> list[logging.Logger]:
    return [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values()
                                   if isinstance(lg, logging.Logger))]


def main_in_process(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """``python -m socialsim ARGS`` without starting an interpreter (the same ``main()``).

    Hydra configures logging for the run (handlers on the captured stdout, a log file); they are closed and
    the previous logging set-up restored afterwards, so that later tests do not log into closed streams."""
    from socialsim.__main__ import main

    saved = {lg: (lg.handlers[:], lg.level, lg.propagate, lg.disabled) for lg in _loggers()}
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", ["socialsim", *args])
    try:
        code = main()
    except SystemExit as exc:
        code = exc.code
    finally:
        kept = {h for handlers, *_ in saved.values() for h in handlers}
        for lg in _loggers():
            handlers, level, propagate, disabled = saved.get(lg, ([], logging.NOTSET, True, False))
            for h in lg.handlers:
                if h not in kept:
                    h.close()
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate, lg.disabled = propagate, disabled
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- killing a run at a traced moment ----------------------------------------------------------------
class Run:
    """A ``python -m socialsim`` subprocess in its own process group, tracing its events to a file."""

    def __init__(self, args, cwd: Path, name: str, pause: str | None = None, delay_write: float | None = None):
        self.trace = cwd / f"trace-{name}.txt"
        self.log = open(cwd / f"log-{name}.txt", "w")  # noqa: SIM115 - closed in kill()
        cmd = hooked.command(args, trace=self.trace, pause=pause, delay_write=delay_write)
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env(), stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def events(self) -> list[tuple[str, str]]:
        if not self.trace.exists():
            return []
        return [tuple(line.split("\t", 1)) for line in self.trace.read_text().splitlines() if "\t" in line]

    def wait_for(self, event: str, where: str = "", timeout: float = 400) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(e == event and where in f for f, e in self.events()):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"the run ended (exit {self.proc.returncode}) before {event}: "
                                     f"{Path(self.log.name).read_text()[-2000:]}")
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"timed out waiting for {event}")

    def kill(self) -> None:
        """SIGKILL the whole process group (the run and any launcher workers)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=60)
        if not self.log.closed:
            self.log.close()

    def output(self) -> str:
        return Path(self.log.name).read_text()


# --- what a run folder holds -----------------------------------------------------------------------------
def table_bytes(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in PARQUETS}


def assert_same_tables(a: Path, b: Path) -> None:
    """The three tables of two run folders are byte-identical."""
    ta, tb = table_bytes(a), table_bytes(b)
    for name in PARQUETS:
        assert ta[name] == tb[name], (f"{name} differs: {a} ({len(ta[name])} bytes) vs {b} ({len(tb[name])} bytes)")


def folder_state(folder: Path) -> str:
    """'absent', 'complete' or 'incomplete'; fails if the folder is neither complete nor clearly incomplete.

    Complete: a valid summary.json whose tables match their recorded sizes and checksums. Incomplete: no
    summary.json at all, load_sweep/find_runs count it as incomplete, and if it holds any data (a table, a
    checkpoint, a temporary file) it also holds the INCOMPLETE marker.
    """
    if not folder.exists():
        return "absent"
    if read_summary(folder) is not None:
        assert verify(folder) == [], verify(folder)
        return "complete"
    assert not (folder / SUMMARY).exists(), f"a summary.json over partial data in {folder}"
    assert folder in find_runs(folder.parent)[1] or folder in find_runs(folder)[1]
    data = [p.name for p in folder.iterdir() if p.name in PARQUETS or p.name == CHECKPOINT or ".tmp-" in p.name]
    if data:
        assert (folder / MARKER).is_file(), f"{folder} holds {data} but is not marked {MARKER}"
    return "incomplete"


def tree_digest(root: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """{relative path: sha256} of every file below ``root`` (to show that nothing was changed or lost)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_file() and not any(rel.startswith(s) for s in skip):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
