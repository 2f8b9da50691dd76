"""Crash safety, checkpoints and resume of run folders (see socialsim.io for the folder layout).

A run folder is *complete* when it holds a valid ``summary.json`` (written last, atomically) whose recorded
file sizes match the tables beside it. While a run is in progress the folder holds an ``INCOMPLETE`` marker
(written first, removed last), so a run killed at any moment leaves either a complete folder or one clearly
marked incomplete, never a ``summary.json`` over partial data.

With ``run.checkpoint_every=K`` the model is saved every K steps to ``checkpoint.npz`` (atomically); the
checkpoint is removed once the run is complete. ``run.resume=true`` continues from it and gives exactly the
result of an uninterrupted run; it refuses a checkpoint of another configuration. A checkpoint holds numpy
arrays and JSON only (socialsim.snapshot) and is read without pickle, so a crafted file cannot run code.

Events of a run (``start``, ``step:N``, ``checkpoint:N``, ...) are reported through
:func:`socialsim.runfolder.hook`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import logging
import os
import socket
from pathlib import Path
from typing import Any, Callable

from .runfolder import CHECKPOINT, MARKER, atomic_path, hook, problem, read_summary, verify

log = logging.getLogger("socialsim")



class RunError(RuntimeError):
    """A run cannot start or finish (unusable output folder, failed write, nothing or the wrong thing to
    resume). The message is one line naming what is wrong and what to do; nothing already written is lost."""


# --- the INCOMPLETE marker ------------------------------------------------------------------------------
def mark_incomplete(out: Path, config_hash: str) -> None:
    """Write the INCOMPLETE marker (atomically): this folder holds a run that has not finished."""
    started = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    text = (
        "This run has not finished: it is running, was killed, or failed. Its tables may be missing or partial\n"
        "and it is not a result (no summary.json). Re-run the same command to complete it; with\n"
        f"run.resume=true it continues from {CHECKPOINT} if there is one.\n"
        f"config_hash: {config_hash}\nstarted: {started}\nhost: {socket.gethostname()}\npid: {os.getpid()}\n"
    )
    with atomic_path(out / MARKER) as tmp:
        tmp.write_text(text)


def mark_failed(out: Path, reason: str) -> None:
    """Add ``failed: REASON`` to the INCOMPLETE marker, so that the folder says why its run failed. Appended in
    place, since a full disk may have room for a few more bytes in the marker's last block but not for a new
    file; best effort (the marker says incomplete in any case)."""
    with contextlib.suppress(OSError):
        if (out / MARKER).is_file():
            with open(out / MARKER, "a") as fh:
                fh.write(f"failed: {' '.join(reason.split())}\n")
                fh.flush()
                os.fsync(fh.fileno())


def _marker_hash(out: Path) -> str | None:
    with contextlib.suppress(OSError, ValueError):
        for line in (out / MARKER).read_text().splitlines():
            if line.startswith("config_hash:"):
                return line.split(":", 1)[1].strip()
    return None


def finish(out: Path) -> None:
    """After summary.json is written: remove the marker, then the checkpoint (a leftover checkpoint beside a
    complete summary is removed by the next run in the folder)."""
    for name in (MARKER, CHECKPOINT):
        with contextlib.suppress(FileNotFoundError):
            (out / name).unlink()


# --- checkpoints --------------------------------------------------------------------------------------
def write_checkpoint(model, out: Path, config_hash: str) -> None:
    """Save ``model`` to ``out/checkpoint.npz`` atomically (temporary file, fsync, rename)."""
    from . import __version__, snapshot

    tree = model.checkpoint()
    header = {"config_hash": config_hash, "socialsim_version": __version__, "step": int(model.steps),
              "params": tree["params"]}
    data = snapshot.dumps(tree, header)  # before the file is opened: a state that cannot be stored writes nothing
    with atomic_path(out / CHECKPOINT) as tmp:
        tmp.write_bytes(data)


def read_checkpoint(out: Path, header_only: bool = False) -> dict:
    """The checkpoint in ``out``: its header (config_hash, socialsim_version, step, params) and, unless
    ``header_only``, ``model`` for PlatformModel.from_checkpoint. Read without pickle (socialsim.snapshot);
    RunError naming the file if it is not a readable checkpoint; FileNotFoundError if there is none."""
    from . import snapshot

    path = out / CHECKPOINT
    if not path.exists():
        raise FileNotFoundError(path)
    try:
        if header_only:
            header, tree = snapshot.read_header(path), None
        else:
            header, tree = snapshot.loads(path)
    except snapshot.SnapshotError as exc:
        raise RunError(f"cannot resume: {path} is unreadable ({exc}); remove it to start this run over") from None
    data = dict(header)
    if tree is not None:
        data["model"] = tree
    return data


def _short(exc: BaseException, n: int = 120) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _differences(saved: dict, params) -> str:
    """'population.size 300 (checkpoint) vs 200' for the first few parameters that differ."""
    from .params import RUN_CONTROL, Params, flat_params

    try:
        before = flat_params(Params.from_dict(saved))
    except Exception:  # noqa: BLE001 - a checkpoint of an older schema
        return "its parameters are of another socialsim version"
    now = flat_params(params)
    diffs = [f"{k}={before.get(k)!r} in the checkpoint, {now.get(k)!r} now" for k in dict.fromkeys([*before, *now])
             if k not in RUN_CONTROL and before.get(k) != now.get(k)]
    return "; ".join(diffs[:3]) + (f" (and {len(diffs) - 3} more)" if len(diffs) > 3 else "")


def load_for_resume(out: Path, params, config_hash: str) -> dict | None:
    """The checkpoint to continue from, None if there is none; RunError if it is of another configuration."""
    from . import __version__

    try:
        data = read_checkpoint(out, header_only=True)
    except FileNotFoundError:
        return None
    if data.get("config_hash") != config_hash:
        raise RunError(f"cannot resume: {out / CHECKPOINT} is of another configuration "
                       f"({_differences(data.get('params', {}), params)}); resume with the same settings, "
                       f"or run in another folder")
    if data.get("socialsim_version") != __version__:
        raise RunError(f"cannot resume: {out / CHECKPOINT} was written by socialsim {data.get('socialsim_version')}, "
                       f"this is {__version__}; re-run it from the start in another folder")
    data = read_checkpoint(out)
    saved = data["model"].get("params") if isinstance(data["model"], dict) else None
    if not isinstance(saved, dict) or _hash_of(saved) != config_hash:  # the header and the model must agree
        raise RunError(f"cannot resume: {out / CHECKPOINT} is damaged (its model is not of the configuration its "
                       f"header names); remove it to start this run over")
    return data


def _hash_of(saved: dict) -> str | None:
    from .params import Params, config_hash

    try:
        return config_hash(Params.from_dict(saved))
    except Exception:  # noqa: BLE001 - parameters of another schema or damaged
        return None


# --- checks before a run touches its folder -----------------------------------------------------------
def _with(setting: str | None, what: str = "PATH") -> str:
    return f" with {setting}={what}" if setting else ""


def check_writable(out: Path, setting: str | None = None) -> None:
    """RunError unless ``out`` is, or can be created as, a writable folder."""
    out = Path(os.path.abspath(out))
    probe = out
    while not probe.exists() and probe != probe.parent:
        if probe.is_symlink():  # a dangling link
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        where = "it is a file" if probe == out else f"{probe} is a file"
        raise RunError(f"cannot use {out} as the output folder: {where}, not a folder; choose another"
                       f"{_with(setting)}")
    if not probe.exists() or not os.access(probe, os.W_OK | os.X_OK):
        raise RunError(f"cannot use {out} as the output folder: {probe} is not writable; choose a writable "
                       f"folder{_with(setting)}")


def check_folder(out: Path, params, config_hash: str, *, replace_other: bool, single: bool,
                 setting: str | None = None) -> None:
    """RunError if running ``params`` in ``out`` would lose something or cannot work:

    - ``out`` is not usable as a writable folder;
    - it holds a complete run of another configuration (unless ``replace_other``);
    - it holds a checkpoint or an unfinished run of another configuration (unless ``replace_other``);
    - ``run.resume=true`` for one run (``single``) whose folder holds no run to resume.
    """
    check_writable(out, setting)
    if not out.is_dir():
        if params.run.resume and single:
            raise RunError(f"run.resume=true: {out} holds no run to resume; give the folder of the run to "
                           f"continue{_with(setting, 'FOLDER')}")
        return
    summary = read_summary(out)
    if summary is not None:
        if summary.get("config_hash") != config_hash and not replace_other:
            raise RunError(f"{out} already holds a complete run of another configuration (config "
                           f"{summary.get('config_hash')}, this one {config_hash}); choose another folder"
                           f"{_with(setting)}, or remove that run first")
        return
    saved, diff = None, ""
    if (out / CHECKPOINT).exists():
        try:
            data = read_checkpoint(out, header_only=True)
        except RunError:
            if params.run.resume:
                raise  # an unreadable checkpoint is refused before anything is written
            data = {}
        saved = data.get("config_hash")
        if saved is not None and saved != config_hash:
            diff = f": {_differences(data.get('params', {}), params)}"
    saved = saved or _marker_hash(out)
    if saved is not None and saved != config_hash and not replace_other:
        raise RunError(f"{out} holds an unfinished run of another configuration (config {saved}, this one "
                       f"{config_hash}{diff}); finish it with its own settings and run.resume=true, choose "
                       f"another folder{_with(setting)}, or remove it first")
    if params.run.resume and single and saved is None and not (out / MARKER).exists():
        raise RunError(f"run.resume=true: {out} holds no run to resume; give the folder of the run to continue"
                       f"{_with(setting, 'FOLDER')}")


# --- running ------------------------------------------------------------------------------------------
def run_model(params, out: Path, config_hash: str, progress: Callable[[Any], None] | None = None):
    """Build (or, with ``run.resume``, restore) the model and run it to ``run.steps``, checkpointing every
    ``run.checkpoint_every`` steps. Returns ``(model, resumed_from_step)`` (0 if it started afresh)."""
    from .model import PlatformModel

    data = load_for_resume(out, params, config_hash) if params.run.resume else None
    if data is not None:
        model = PlatformModel.from_checkpoint(data["model"])
        model.params = params  # the same model parameters; the run-control settings of this invocation
        log.info("resuming %s from the checkpoint at step %d", out, model.steps)
    else:
        if params.run.resume:
            log.info("no checkpoint in %s: running from the start", out)
        elif (out / CHECKPOINT).exists():
            log.info("%s holds a checkpoint; running from the start (run.resume=true would continue from it)", out)
        model = PlatformModel(params)
    start = int(model.steps)
    every = params.run.checkpoint_every
    while model.steps < params.run.steps:
        model.step()
        hook(out, f"step:{model.steps}")
        if progress is not None:
            progress(model)
        if every and model.steps % every == 0 and model.steps < params.run.steps:
            write_checkpoint(model, out, config_hash)
            hook(out, f"checkpoint:{model.steps}")
    return model, start


__all__ = ["CHECKPOINT", "MARKER", "RunError", "check_folder", "check_writable", "hook", "mark_failed", "problem",
           "read_checkpoint", "run_model", "verify", "write_checkpoint"]
