"""Run outputs on disk: running a model into a run folder, and finding and reading runs back.

The folder layout, atomic writes and the completeness check live in socialsim.runfolder (re-exported here);
checkpoints, the ``INCOMPLETE`` marker and the checks before a run in socialsim.recovery.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from . import __version__
from .params import RUN_CONTROL, Params, config_hash, flat_params
from .recovery import RunError, check_folder, finish, mark_failed, mark_incomplete, run_model
from .runfolder import (CHECKPOINT, COMPLETE, FILES, MARKER, SUMMARY, TABLES, TMP_TAG, atomic_path, file_record, hook,
                        read_summary, verify)

LOCK = ".lock"  # held while a process runs the folder's job (see job_lock)
log = logging.getLogger("socialsim")


def write_parquet(df: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``df`` to ``path`` as Parquet, atomically."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` to ``path`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(x: Any) -> Any:
    if hasattr(x, "item"):  # numpy scalars
        return x.item()
    return str(x)


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


#: member attributes that travel with the follow graph (socialsim.io.to_networkx, python -m socialsim.export)
GRAPH_MEMBER_ATTRIBUTES = ("skill", "reach", "shyness", "town", "followers", "joined_step", "left_step")
#: follow attributes that travel with it, when the run's follows.parquet has them
GRAPH_FOLLOW_ATTRIBUTES = ("since_step", "origin")


def to_networkx(folder: str | os.PathLike):
    """The follow graph of a complete run as a ``networkx.DiGraph``: an edge follower -> followee for every live
    follow (``since_step``, and ``origin`` when the run records it), a node for every person who ever joined,
    keyed by ``member_id``, with GRAPH_MEMBER_ATTRIBUTES. Values are plain Python numbers and strings, so
    the graph writes to GraphML and GEXF as it is."""
    import networkx as nx  # here, not at the top: the rest of io needs no networkx

    from .runfolder import problem

    wrong = problem(folder)
    if wrong is not None:
        raise FileNotFoundError(f"{folder} does not hold a complete run ({wrong})")
    members = read_table(folder, "members")
    follows = read_table(folder, "follows")
    graph = nx.DiGraph(run=str(Path(folder)))
    columns = [c for c in GRAPH_MEMBER_ATTRIBUTES if c in members.columns]
    ids = members["member_id"].tolist()
    values = {c: members[c].tolist() for c in columns}
    graph.add_nodes_from((i, {c: values[c][k] for c in columns}) for k, i in enumerate(ids))
    edge_columns = [c for c in GRAPH_FOLLOW_ATTRIBUTES if c in follows.columns]
    edge_values = {c: follows[c].tolist() for c in edge_columns}
    graph.add_edges_from((a, b, {c: edge_values[c][k] for c in edge_columns})
                         for k, (a, b) in enumerate(zip(follows["follower"].tolist(), follows["followee"].tolist())))
    return graph


def _looks_like_run(folder: Path) -> bool:
    return (folder / SUMMARY).exists() or (folder / ".hydra").is_dir() or any(
        (folder / f).exists() for f in (*FILES, MARKER, CHECKPOINT)) or any(
        TMP_TAG in p.name for p in folder.glob(".*"))


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
        if not root.is_dir():
            raise NotADirectoryError(f"{root} is a file; give a run or sweep folder (one holding summary.json, "
                                     f"or folders that do)")
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
    for p in out.glob(f".*{TMP_TAG}*"):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()


def run_to_folder(
    params: Params,
    out: str | os.PathLike,
    *,
    progress: Callable[[Any], None] | None = None,
    meta: dict | None = None,
    skip_complete: bool = True,
    replace_other: bool = True,
    single: bool = False,
) -> tuple[dict, bool]:
    """Run the model for ``params`` and write the run folder ``out``; return (summary, skipped).

    If ``out`` already holds a complete run of the same configuration (by :func:`config.config_hash`) and
    ``skip_complete``, nothing runs and its summary is returned with ``skipped=True``. A complete or unfinished
    run of another configuration is replaced if ``replace_other``, else refused (the command line refuses).
    ``progress(model)`` is called after each step; ``meta`` is added to the summary (e.g. overrides).
    While it runs the folder is marked ``INCOMPLETE``; with ``run.checkpoint_every`` it checkpoints, and with
    ``run.resume`` it continues from the folder's checkpoint (see socialsim.recovery). A failed write raises
    :class:`socialsim.recovery.RunError` and leaves the folder marked incomplete.
    """
    out = Path(out)
    chash = config_hash(params)
    check_folder(out, params, chash, replace_other=replace_other, single=single,
                 setting="hydra.run.dir" if single else None)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create the output folder {out}: {exc.strerror or exc}") from None
    with job_lock(out):
        check_folder(out, params, chash, replace_other=replace_other, single=single,
                     setting="hydra.run.dir" if single else None)  # again: another process may have run here
        return _run_locked(params, out, chash, progress=progress, meta=meta, skip_complete=skip_complete)


@contextlib.contextmanager
def job_lock(out: Path) -> Iterator[None]:
    """Hold the lock of the run folder ``out`` (an fcntl lock on ``out/.lock``, released when the process ends).

    Two processes given the same folder (two sweeps started at once into one sweep folder, or a sweep re-run
    while the first is still going) run it one after the other: the second waits, then finds the run complete
    and skips it. RunError if the lock file cannot be created."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(out / LOCK), thread_local=False)
    try:
        try:
            lock.acquire(timeout=0)
        except Timeout:
            log.info("waiting for another process running %s", out)
            lock.acquire()
    except OSError as exc:
        raise RunError(f"cannot lock the output folder {out}: {exc.strerror or exc}") from None
    try:
        yield
    finally:
        lock.release()


def _run_locked(params: Params, out: Path, chash: str, *, progress, meta, skip_complete: bool) -> tuple[dict, bool]:
    """The body of :func:`run_to_folder`, with the folder's lock held."""
    if skip_complete:
        existing = read_summary(out)
        if existing is not None and existing.get("config_hash") == chash:
            damaged = verify(out)  # checksums of the tables, recorded in summary.json
            if not damaged:
                finish(out)  # a checkpoint or marker left by a run killed just after its summary was written
                return existing, True
            log.warning("re-running %s: %s", out, "; ".join(damaged))
    try:
        mark_incomplete(out, chash)
        _clear_stale(out)
        hook(out, "start")
        started = _dt.datetime.now(_dt.timezone.utc)
        t0 = time.perf_counter()
        model, resumed_from = run_model(params, out, chash, progress)
        timeseries = model.timeseries()
        members = model.member_frame()
        follows = model.follows_frame()
        for name, df in (("timeseries", timeseries), ("members", members), ("follows", follows)):
            write_parquet(df, out / f"{name}.parquet")
        wall = time.perf_counter() - t0
        meta = dict(meta or {})
        if "overrides" in meta:  # run-control settings are recorded under "run_control", not as conditions
            meta["overrides"] = [o for o in meta["overrides"] if o.lstrip("+~").split("=")[0] not in RUN_CONTROL]
        summary = {
            "status": COMPLETE,
            "seed": params.seed,
            "steps": params.run.steps,
            "socialsim_version": __version__,
            "wall_time_s": round(wall, 3),
            "started": started.isoformat(timespec="seconds"),
            "finished": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "config_hash": chash,
            **meta,
            "rows": {"timeseries": len(timeseries), "members": len(members), "follows": len(follows)},
            "files": {f"{t}.parquet": file_record(out / f"{t}.parquet") for t in TABLES},
            "run_control": {"checkpoint_every": params.run.checkpoint_every, "resumed_from_step": resumed_from},
            "metrics": {k: float(v) for k, v in model.metrics.items()},
            "params": {k: v for k, v in flat_params(params).items() if k not in RUN_CONTROL},
        }
        write_json(summary, out / SUMMARY)
    except OSError as exc:
        reason = f"cannot write {exc.filename or out}: {exc.strerror or exc}"
        mark_failed(out, reason)
        raise RunError(f"{reason}; the run in {out} is incomplete; fix this and re-run the same command to "
                       f"complete it") from None
    finish(out)
    hook(out, "done")
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


__all__ = ["COMPLETE", "FILES", "SUMMARY", "TABLES", "atomic_path", "find_runs", "is_complete", "read_run",
           "read_summary", "read_table", "remove_hydra_leftovers", "run_to_folder", "write_json", "write_parquet"]
