"""Checkpoints cannot run code: crafted, foreign or truncated files are refused with one line and exit code 2,
nothing in them is executed, and a checkpoint in the numpy+JSON format resumes to the uninterrupted result."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, assert_same_tables, cli, ok

from socialsim import PlatformModel, snapshot
from socialsim.config import compose_params, config_hash
from socialsim.recovery import CHECKPOINT, mark_incomplete, write_checkpoint
from socialsim.state import State

ARGS = [*TINY, "seed=3"]


class _Exploit:
    """Unpickling this creates the file ``path``: proof that code ran."""

    def __init__(self, path: Path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def _unfinished(folder: Path, steps: int = 5) -> str:
    params = compose_params(ARGS)
    chash = config_hash(params)
    folder.mkdir(parents=True)
    mark_incomplete(folder, chash)
    write_checkpoint(PlatformModel(params).run(steps), folder, chash)
    return chash


def _rewrite_tree(path: Path, change) -> None:
    """Rewrite the JSON member of a checkpoint with ``change(doc)``; the arrays are kept."""
    members = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            members[name] = zf.read(name)
    doc = json.loads(members[snapshot.TREE])
    change(doc)
    members[snapshot.TREE] = json.dumps(doc).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _object_array_npz(proof: Path) -> bytes:
    """A valid .npz whose one array holds a pickled object (np.save of dtype=object uses pickle)."""
    buf = io.BytesIO()
    arr = np.empty(1, dtype=object)
    arr[0] = _Exploit(proof)
    np.savez(buf, a0=arr)
    return buf.getvalue()


def _crafted(kind: str, path: Path, proof: Path) -> None:
    if kind == "a pickle":
        path.write_bytes(pickle.dumps(_Exploit(proof)))
    elif kind == "an object array":
        path.write_bytes(_object_array_npz(proof))
    elif kind == "a class outside the allowed ones":
        _rewrite_tree(path, lambda doc: doc["tree"].update(state={"__object__": "Path", "attrs": {}}))
    elif kind == "truncated":
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "a model of another configuration":  # the header says one thing, the model another
        _rewrite_tree(path, lambda doc: doc["tree"]["params"]["population"].update(size=201))
    else:
        raise AssertionError(kind)


KINDS = ["a pickle", "an object array", "a class outside the allowed ones", "truncated",
         "a model of another configuration"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_crafted_or_truncated_checkpoint_is_refused_with_one_line_and_nothing_runs(tmp_path, kind):
    out = tmp_path / "run"
    _unfinished(out)
    proof = tmp_path / "code-ran"
    _crafted(kind, out / CHECKPOINT, proof)
    before = (out / CHECKPOINT).read_bytes()
    proc = cli(*ARGS, "run.resume=true", f"hydra.run.dir={out}", cwd=tmp_path, timeout=300)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("socialsim: error: cannot resume:"), proc.stderr
    assert str(out / CHECKPOINT) in lines[0] and "Traceback" not in proc.stderr
    assert not proof.exists(), "loading the checkpoint ran code"
    assert (out / CHECKPOINT).read_bytes() == before, "the refused checkpoint was changed"
    assert not (out / "summary.json").exists()


def test_pickled_content_is_never_unpickled_by_the_reader(tmp_path):
    proof = tmp_path / "code-ran"
    for data in (pickle.dumps(_Exploit(proof)), _object_array_npz(proof)):
        with pytest.raises(snapshot.SnapshotError):
            snapshot.loads(data)
    assert not proof.exists()


def test_resuming_from_the_file_in_a_new_process_gives_the_uninterrupted_tables(tmp_path):
    whole = tmp_path / "whole"
    ok(cli(*ARGS, f"hydra.run.dir={whole}", cwd=tmp_path, timeout=300))
    out = tmp_path / "resumed"
    _unfinished(out, steps=7)
    ok(cli(*ARGS, "run.resume=true", f"hydra.run.dir={out}", cwd=tmp_path, timeout=300))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["run_control"]["resumed_from_step"] == 7
    assert_same_tables(whole, out)


def test_every_state_attribute_is_stored_including_ones_added_later():
    model = PlatformModel(compose_params(ARGS)).run(4)
    model.state.added_later = np.arange(5, dtype=np.int16)  # an attribute State does not declare today
    model.state.counts.added_later = np.int64(7)  # an attribute StepCounts does not declare today
    _, tree = snapshot.loads(snapshot.dumps(model.checkpoint()))
    state = tree["state"]
    assert isinstance(state, State)
    np.testing.assert_array_equal(state.added_later, np.arange(5, dtype=np.int16))
    assert state.added_later.dtype == np.int16 and type(state.counts.added_later) is np.int64
    for name, value in vars(model.state).items():  # every attribute, of every nested object, comes back
        restored = getattr(state, name)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, restored, err_msg=name)
            assert value.dtype == restored.dtype, name
        elif isinstance(value, tuple) and all(isinstance(x, np.ndarray) for x in value):
            assert len(value) == len(restored), name
            for x, y in zip(value, restored):
                np.testing.assert_array_equal(x, y, err_msg=name)
        elif name not in ("graph", "pop", "timeline", "reshares_new", "reshares_prev", "exposures",
                          "top_k_history"):
            assert value == restored, name
    for key, value in vars(model.state.graph).items():
        if key != "_csr":
            np.testing.assert_array_equal(value, getattr(state.graph, key), err_msg=f"graph.{key}")


def test_a_state_attribute_of_a_type_that_cannot_be_stored_fails_loudly(tmp_path):
    model = PlatformModel(compose_params(ARGS)).run(2)
    model.state.callback = lambda: None
    with pytest.raises(snapshot.SnapshotError, match=r"checkpoint\.state\.callback .*function"):
        snapshot.dumps(model.checkpoint())
    out = tmp_path / "run"
    out.mkdir()
    with pytest.raises(snapshot.SnapshotError):
        write_checkpoint(model, out, "x")
    assert not list(out.iterdir()), "a checkpoint that cannot be stored left a file"
