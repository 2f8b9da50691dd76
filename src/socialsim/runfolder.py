"""The layout of a run folder, atomic writes into it, and whether it holds a complete run.

A run folder holds ``timeseries.parquet``, ``members.parquet``, ``follows.parquet`` and ``summary.json``
(plus Hydra's ``.hydra/`` when run from the command line). ``summary.json`` is written last and is the
completeness marker: it records each table's size and SHA-256. While a run is in progress the folder also
holds an ``INCOMPLETE`` marker and, with ``run.checkpoint_every``, ``checkpoint.npz`` (see
socialsim.recovery). :func:`problem` is the one check of completeness; :func:`read_summary`,
:func:`socialsim.io.find_runs` and :func:`socialsim.analysis.load_sweep` all use it.

Events of a run (``start``, ``step:N``, ``checkpoint:N``, ``write:NAME`` before a written file is renamed,
``written:NAME`` after, ``done``) are reported to the callbacks in :data:`HOOKS`, which is empty in normal
use: tests add callbacks to trace, pause, slow down or fail a run at a chosen moment.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterator

SUMMARY = "summary.json"
TABLES = ("timeseries", "members", "follows")
FILES = tuple(f"{t}.parquet" for t in TABLES) + (SUMMARY,)
COMPLETE = "complete"
MARKER = "INCOMPLETE"
CHECKPOINT = "checkpoint.npz"
TMP_TAG = ".tmp-"

#: callbacks ``hook(folder, event)`` told of each event of a run in this process. Empty unless a test adds
#: one; a callback may raise OSError to simulate a failed write. Library code never fills it.
HOOKS: list[Callable[[Path, str], None]] = []


def hook(folder: str | os.PathLike, event: str) -> None:
    """Report ``event`` in ``folder`` to the callbacks in :data:`HOOKS` (none in normal use)."""
    for callback in HOOKS:
        callback(Path(folder), event)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is synced and renamed to ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}{TMP_TAG}{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        hook(path.parent, f"write:{path.name}")
        os.replace(tmp, path)
        _fsync_dir(path.parent)
        hook(path.parent, f"written:{path.name}")
    except OSError as exc:  # name the file being written, not its temporary name (or none, as pyarrow does)
        raise _naming(exc, path) from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _naming(exc: OSError, path: Path) -> OSError:
    """``exc`` as an OSError about ``path``, keeping its error number (pyarrow gives it only in the text)."""
    import re

    code = exc.errno
    if code is None:
        found = re.search(r"\[errno (\d+)\]", str(exc), re.IGNORECASE)
        code = int(found.group(1)) if found else None
    if code is None:
        return OSError(None, exc.strerror or " ".join(str(exc).split()), str(path))
    return OSError(code, os.strerror(code), str(path))


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (where the platform allows syncing a folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def file_record(path: Path) -> dict:
    """Size and SHA-256 of a written file, for summary.json."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"bytes": path.stat().st_size, "sha256": h.hexdigest()}


def _check(folder: Path) -> tuple[dict | None, str | None]:
    """(summary, None) for a complete run, else (None, why not in one short phrase)."""
    try:
        summary = json.loads((folder / SUMMARY).read_text())
    except FileNotFoundError:
        failed = _marker_field(folder, "failed")
        if failed:
            return None, f"failed: {failed}"
        if (folder / CHECKPOINT).exists():
            return None, "unfinished: killed or still running, with a checkpoint to resume from"
        return None, "unfinished: killed or still running" if (folder / MARKER).exists() else f"no {SUMMARY}"
    except (OSError, ValueError) as exc:
        return None, f"{SUMMARY} is unreadable ({type(exc).__name__})"
    if not isinstance(summary, dict) or summary.get("status") != COMPLETE:
        return None, f"{SUMMARY} does not say the run is complete"
    files = summary.get("files") or {}
    if not isinstance(files, dict):
        return None, f"{SUMMARY} does not list the run's files"
    names = [f"{t}.parquet" for t in TABLES]
    for name in [*names, *(n for n in files if n not in names)]:  # sizes recorded as the run wrote them
        path = folder / name
        if not path.is_file():
            return None, f"{name} is missing"
        record = files.get(name)
        if record is None:
            continue
        expected = record.get("bytes") if isinstance(record, dict) else None
        if path.stat().st_size != expected:
            return None, f"{name} is corrupted ({path.stat().st_size} bytes, {SUMMARY} says {expected})"
    return summary, None


def _marker_field(folder: Path, name: str) -> str | None:
    """The value of the line ``NAME: value`` in the INCOMPLETE marker, if there is one."""
    with contextlib.suppress(OSError, ValueError):
        for line in (folder / MARKER).read_text().splitlines():
            if line.startswith(f"{name}:"):
                return line.split(":", 1)[1].strip()
    return None


def problem(folder: str | os.PathLike) -> str | None:
    """Why ``folder`` is not a complete run (one short phrase), or None if it is one."""
    return _check(Path(folder))[1]


def read_summary(folder: str | os.PathLike) -> dict | None:
    """The run's summary if the folder holds a complete run (valid summary.json and all tables), else None."""
    return _check(Path(folder))[0]


def verify(folder: str | os.PathLike) -> list[str]:
    """Every problem of a run folder, checking the tables' SHA-256 against summary.json (slow for big runs)."""
    folder = Path(folder)
    summary, why = _check(folder)
    if summary is None:
        return [why]
    files = summary.get("files") or {}
    return [f"{name} does not match its checksum in {SUMMARY}" for name, rec in files.items()
            if "sha256" in rec and file_record(folder / name)["sha256"] != rec["sha256"]]


__all__ = ["CHECKPOINT", "COMPLETE", "FILES", "HOOKS", "MARKER", "SUMMARY", "TABLES", "atomic_path",
           "file_record", "hook", "problem", "read_summary", "verify"]
