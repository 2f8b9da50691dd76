"""Run outputs on disk: atomic writes, running a model into a folder, and reading runs back.

A run folder holds ``timeseries.parquet``, ``members.parquet``, ``follows.parquet`` and ``summary.json``
(plus Hydra's ``.hydra/`` when run from the command line). Each file is written to a temporary name and
renamed; ``summary.json`` is written last and is the completeness marker: a folder without a valid one is
an incomplete run (killed, failed or still running).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import pandas as pd

from .params import Params

SUMMARY = "summary.json"
TABLES = ("timeseries", "members", "follows")
FILES = tuple(f"{t}.parquet" for t in TABLES) + (SUMMARY,)
COMPLETE = "complete"
_TMP_TAG = ".tmp-"


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is synced and renamed to ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}{_TMP_TAG}{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_json(obj: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(x: Any) -> Any:
    if hasattr(x, "item"):  # numpy scalars
        return x.item()
    return str(x)


def read_summary(folder: str | os.PathLike) -> dict | None:
    """The run's summary if the folder holds a complete run (valid summary.json and all tables), else None."""
    folder = Path(folder)
    try:
        summary = json.loads((folder / SUMMARY).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("status") != COMPLETE:
        return None
    if not all((folder / f"{t}.parquet").is_file() for t in TABLES):
        return None
    return summary


def is_complete(folder: str | os.PathLike, config_hash: str | None = None) -> bool:
    """Whether ``folder`` holds a complete run (of the configuration with this hash, if given)."""
    summary = read_summary(folder)
    return summary is not None and (config_hash is None or summary.get("config_hash") == config_hash)


def read_table(folder: str | os.PathLike, table: str) -> pd.DataFrame:
    """One of ``timeseries``, ``members``, ``follows`` of a run folder."""
    if table not in TABLES:
        raise ValueError(f"table must be one of {', '.join(TABLES)}; got {table!r}")
    return pd.read_parquet(Path(folder) / f"{table}.parquet")


def read_run(folder: str | os.PathLike) -> dict[str, Any]:
    """A complete run: ``{"summary": dict, "timeseries": df, "members": df, "follows": df}``."""
    summary = read_summary(folder)
    if summary is None:
        raise FileNotFoundError(f"{folder} does not hold a complete run (no valid {SUMMARY})")
    return {"summary": summary, **{t: read_table(folder, t) for t in TABLES}}


def _looks_like_run(folder: Path) -> bool:
    return (folder / SUMMARY).exists() or (folder / ".hydra").is_dir() or any(
        (folder / f).exists() for f in FILES) or any(_TMP_TAG in p.name for p in folder.glob(".*"))


def find_runs(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> tuple[list[Path], list[Path]]:
    """Run folders at or below ``paths``: (complete, incomplete), each sorted. Hidden folders are not searched."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    complete: list[Path] = []
    incomplete: list[Path] = []
    seen: set[Path] = set()
    for root in map(Path, paths):
        if not root.exists():
            raise FileNotFoundError(f"no such run or sweep folder: {root}")
        for dirpath, dirnames, _ in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            folder = Path(dirpath)
            if folder in seen or not _looks_like_run(folder):
                continue
            seen.add(folder)
            (complete if read_summary(folder) is not None else incomplete).append(folder)
    return sorted(complete), sorted(incomplete)


def _clear_stale(out: Path) -> None:
    """Forget a previous result in ``out``: the summary first (the marker), then leftover temporary files."""
    with contextlib.suppress(FileNotFoundError):
        (out / SUMMARY).unlink()
    for p in out.glob(f".*{_TMP_TAG}*"):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def run_to_folder(
    params: Params,
    out: str | os.PathLike,
    *,
    progress: Callable[[Any], None] | None = None,
    meta: dict | None = None,
    skip_complete: bool = True,
) -> tuple[dict, bool]:
    """Run the model for ``params`` and write the run folder ``out``; return (summary, skipped).

    If ``out`` already holds a complete run of the same configuration (by :func:`config.config_hash`) and
    ``skip_complete``, nothing runs and its summary is returned with ``skipped=True``.
    ``progress(model)`` is called after each step; ``meta`` is added to the summary (e.g. overrides).
    """
    from . import __version__
    from .config import config_hash, flat_params
    from .model import PlatformModel

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    chash = config_hash(params)
    if skip_complete:
        existing = read_summary(out)
        if existing is not None and existing.get("config_hash") == chash:
            return existing, True
    _clear_stale(out)

    started = _dt.datetime.now(_dt.timezone.utc)
    t0 = time.perf_counter()
    model = PlatformModel(params)
    model.run(progress=progress)
    timeseries = model.timeseries()
    members = model.member_frame()
    follows = model.follows_frame()
    write_parquet(timeseries, out / "timeseries.parquet")
    write_parquet(members, out / "members.parquet")
    write_parquet(follows, out / "follows.parquet")
    wall = time.perf_counter() - t0
    summary = {
        "status": COMPLETE,
        "seed": params.seed,
        "steps": params.run.steps,
        "socialsim_version": __version__,
        "wall_time_s": round(wall, 3),
        "started": started.isoformat(timespec="seconds"),
        "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "config_hash": chash,
        **(meta or {}),
        "rows": {"timeseries": len(timeseries), "members": len(members), "follows": len(follows)},
        "metrics": {k: float(v) for k, v in model.metrics.items()},
        "params": flat_params(params),
    }
    write_json(summary, out / SUMMARY)
    return summary, False


def remove_hydra_leftovers(out: str | os.PathLike, job_name: str) -> None:
    """Remove what Hydra wrote into a job folder whose configuration turned out invalid (never results)."""
    import shutil

    out = Path(out)
    if (out / SUMMARY).exists():
        return
    shutil.rmtree(out / ".hydra", ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (out / f"{job_name}.log").unlink()
    with contextlib.suppress(OSError):
        out.rmdir()  # only if now empty
