"""Determinism: the same configuration and seed give byte-identical timeseries.parquet, members.parquet and
follows.parquet in one process, across processes (with different hash seeds), and serially or in parallel
under the joblib launcher; checkpointing does not change them."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from conftest import PARQUETS, TINY, assert_same_tables, cli, ok

from socialsim import PlatformModel
from socialsim.config import compose_params
from socialsim.io import run_to_folder
from socialsim.recovery import CHECKPOINT


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """TINY with seeds 0 and 1, run in this process: {seed: run folder}."""
    root = tmp_path_factory.mktemp("reference")
    folders = {}
    for seed in (0, 1):
        folders[seed] = root / f"seed={seed}"
        run_to_folder(compose_params([*TINY, f"seed={seed}"]), folders[seed])
    return folders


def test_parquet_files_hold_no_time_path_or_host(reference):
    """Nothing that varies between runs of the same configuration is written into the tables."""
    folder = reference[0]
    for name in PARQUETS:
        meta = pq.read_metadata(folder / name).metadata or {}
        text = b" ".join(meta.values()).decode(errors="replace")
        assert set(meta) <= {b"ARROW:schema", b"pandas"}, set(meta)
        assert str(folder) not in text and "wall_time" not in text and "started" not in text
    summary = json.loads((folder / "summary.json").read_text())
    assert "wall_time_s" in summary and "started" in summary  # run-specific facts live in summary.json only


def test_same_config_and_seed_in_one_process(reference, tmp_path):
    """Again in this process, after a run of another seed (no state carried over between models)."""
    p = compose_params([*TINY, "seed=0"])
    PlatformModel(p.replace(seed=7)).run(5)
    run_to_folder(p, tmp_path / "again")
    assert_same_tables(reference[0], tmp_path / "again")
    a, b = PlatformModel(p).run(), PlatformModel(p).run()
    for frame in ("timeseries", "member_frame", "follows_frame"):
        assert getattr(a, frame)().equals(getattr(b, frame)())


def test_another_seed_gives_other_tables(reference):
    with pytest.raises(AssertionError, match="differs"):
        assert_same_tables(reference[0], reference[1])


def test_checkpointing_does_not_change_the_tables(reference, tmp_path):
    summary, _ = run_to_folder(compose_params([*TINY, "seed=0", "run.checkpoint_every=3"]), tmp_path / "ckpt")
    assert_same_tables(reference[0], tmp_path / "ckpt")
    assert summary["config_hash"] == json.loads((reference[0] / "summary.json").read_text())["config_hash"]
    assert not (tmp_path / "ckpt" / CHECKPOINT).exists()  # removed once the run is complete


@pytest.mark.slow
def test_same_config_and_seed_across_processes(reference, tmp_path):
    """Two command-line runs with different PYTHONHASHSEEDs and working folders match the in-process run."""
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    ok(cli(*TINY, "seed=0", f"hydra.run.dir={tmp_path / 'a'}", cwd=tmp_path / "x", PYTHONHASHSEED="1"))
    ok(cli(*TINY, "seed=0", f"hydra.run.dir={tmp_path / 'b'}", cwd=tmp_path / "y", PYTHONHASHSEED="2"))
    assert_same_tables(tmp_path / "a", tmp_path / "b")
    assert_same_tables(reference[0], tmp_path / "a")
    sa, sb = (json.loads((tmp_path / r / "summary.json").read_text()) for r in "ab")
    assert sa["metrics"] == sb["metrics"] and sa["config_hash"] == sb["config_hash"]
    assert sa["files"] == sb["files"]  # sizes and checksums


@pytest.mark.slow
def test_serial_and_joblib_launchers_give_the_same_tables(reference, tmp_path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    ok(cli("-m", *TINY, "seed=0,1", "hydra/launcher=basic", f"hydra.sweep.dir={serial}", cwd=tmp_path))
    ok(cli("-m", *TINY, "seed=0,1", "hydra.launcher.n_jobs=2", f"hydra.sweep.dir={parallel}", cwd=tmp_path))
    for seed in (0, 1):
        jobs = [next(d.glob(f"*seed={seed}*")) for d in (serial, parallel)]
        assert_same_tables(*jobs)
        assert_same_tables(reference[seed], jobs[0])  # and a sweep job is the same as a single run
