"""Run ``python -m socialsim`` with run-event hooks installed, for tests that kill or fail a run at a chosen moment.

``python tests/hooked.py [--trace FILE] [--pause EVENT[@TEXT]] [--delay-write SECONDS] [--fail-write NAME[@TEXT]]
-- ARGS`` installs the hooks in :data:`socialsim.runfolder.HOOKS` of this process and then runs socialsim's
command line on ARGS (as ``python -m socialsim ARGS`` would). The hooks:

``trace``
    append one line ``<run folder>\\t<event>`` per event to FILE.
``pause``
    on that event (in a folder whose path contains TEXT) stop, so that the test can kill the process then.
``delay_write``
    sleep before each rename of a written file (widens the window of kill tests).
``fail_write``
    writing file NAME (in a folder whose path contains TEXT) fails as if the disk were full (ENOSPC).

Hooks apply to this process only: jobs that a launcher runs in worker processes do not see them.
"""

from __future__ import annotations

import errno
import os
import runpy
import sys
import time
from pathlib import Path
from typing import Callable

OPTIONS = ("trace", "pause", "delay_write", "fail_write")


def _match(spec: str, name: str, folder: Path) -> bool:
    wanted, _, where = spec.partition("@")
    return wanted == name and (not where or where in str(folder))


def callbacks(trace: str | os.PathLike | None = None, pause: str | None = None, delay_write: float | None = None,
              fail_write: str | None = None) -> list[Callable[[Path, str], None]]:
    """The hook callbacks for these options (see the module docstring), in the order they run."""
    out: list[Callable[[Path, str], None]] = []
    if trace:
        def write_trace(folder: Path, event: str) -> None:
            fd = os.open(trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, f"{folder}\t{event}\n".encode())
            finally:
                os.close(fd)
        out.append(write_trace)
    if fail_write:
        def fail(folder: Path, event: str) -> None:
            kind, _, name = event.partition(":")
            if kind == "write" and _match(fail_write, name, folder):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(folder / name))
        out.append(fail)
    if delay_write:
        def delay(folder: Path, event: str) -> None:
            if event.startswith("write:"):
                time.sleep(float(delay_write))
        out.append(delay)
    if pause:
        def stop(folder: Path, event: str) -> None:
            if _match(pause, event, folder):
                while True:  # the test kills this process here
                    time.sleep(60)
        out.append(stop)
    return out


def main(argv: list[str]) -> None:
    """Parse the hook options up to ``--``, install them, and run socialsim's command line on the rest."""
    if "--" not in argv:
        raise SystemExit("usage: hooked.py [--trace FILE] [--pause EVENT] [--delay-write S] [--fail-write NAME] "
                         "-- ARGS")
    split = argv.index("--")
    options, args = argv[:split], argv[split + 1:]
    kwargs = {}
    for flag, value in zip(options[::2], options[1::2]):
        name = flag.removeprefix("--").replace("-", "_")
        if name not in OPTIONS:
            raise SystemExit(f"hooked.py: unknown option {flag}")
        kwargs[name] = value
    from socialsim import runfolder

    runfolder.HOOKS.extend(callbacks(**kwargs))
    sys.argv = ["socialsim", *args]
    runpy.run_module("socialsim", run_name="__main__", alter_sys=True)


def command(args, **hooks) -> list[str]:
    """The command line that runs ``python -m socialsim ARGS`` with these hooks (none: without this wrapper)."""
    hooks = {k: v for k, v in hooks.items() if v}
    if not hooks:
        return [sys.executable, "-m", "socialsim", *args]
    options = [x for k, v in hooks.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    return [sys.executable, str(Path(__file__).resolve()), *options, "--", *args]


if __name__ == "__main__":
    main(sys.argv[1:])
