"""Thread count: the kernels that run on several threads (numba ``prange``, and the read's gather on Python
threads) give byte-identical tables with one thread and with two, and the same tables as their one-thread
versions.

The parallel kernels run only when NUMBA_NUM_THREADS asks for more than one thread and above
``socialsim.graph.PARALLEL_MIN`` items; here they are switched on and the threshold is set to 0 in the
subprocess, so a small model goes through every one of them, on one thread and on two."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, UNCALIBRATED, assert_same_tables, env

from socialsim import Params, PlatformModel
from socialsim.phases import read

SCRIPT = """
import sys
import numba
import socialsim.graph, socialsim.phases.decay, socialsim.phases.read
from socialsim.config import compose_params
from socialsim.io import run_to_folder

socialsim.graph.PARALLEL, socialsim.graph.PARALLEL_MIN = True, int(sys.argv[2])
run_to_folder(compose_params(sys.argv[3:]), sys.argv[1])
kernels = (socialsim.graph._find_edges_parallel, socialsim.phases.decay._fade, socialsim.phases.read._gather_chunk)
print(numba.get_num_threads(), sum(bool(k.signatures) for k in kernels))
"""

#: a short run with follow-backs, answered replies and meetups (the lookups of the follow index), decay and
#: reading
CONFIG = [*TINY, "population.size=400", "run.steps=25", *(f"{k}={v}" for k, v in UNCALIBRATED.items())]
#: a run whose readers have more posts than they can read (attention 5) and are shown followees' reshares
READING = {"population.size": 2000, "run.steps": 150, "behaviour.follow_base": -3.0,
           "platform.recommender_slots": 4, "platform.attention": 5, "platform.reshares": True}
TIMELINES = ("chronological", "engagement")


def _run(out: Path, threads: int, threshold: int, config: list[str]) -> tuple[int, int]:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(out), str(threshold), *config, "seed=3"],
                          env=env(NUMBA_NUM_THREADS=str(threads)), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    threads_used, kernels_called = proc.stdout.split()[-2:]
    return int(threads_used), int(kernels_called)


@pytest.mark.slow
def test_one_and_two_threads_give_the_same_tables(tmp_path):
    """NUMBA_NUM_THREADS=1 and =2, every parallel kernel used, and the serial kernels: the same bytes."""
    assert _run(tmp_path / "one", 1, 0, CONFIG) == (1, 3)
    assert _run(tmp_path / "two", 2, 0, CONFIG) == (2, 3)
    assert _run(tmp_path / "serial", 2, 2**62, CONFIG) == (2, 0)  # the parallel kernels are never called
    assert_same_tables(tmp_path / "one", tmp_path / "two")
    assert_same_tables(tmp_path / "one", tmp_path / "serial")


@pytest.mark.slow
@pytest.mark.parametrize("timeline", TIMELINES)
def test_split_read_gives_the_same_tables(tmp_path, timeline):
    """A run that reads a lot, with the read split into one chunk, into two on two threads, and unsplit."""
    config = [*(f"{k}={v}" for k, v in READING.items()), f"platform.timeline={timeline}"]
    assert _run(tmp_path / "one", 1, 0, config) == (1, 3)
    assert _run(tmp_path / "two", 2, 0, config) == (2, 3)
    assert _run(tmp_path / "serial", 2, 2**62, config) == (2, 0)
    assert_same_tables(tmp_path / "one", tmp_path / "two")
    assert_same_tables(tmp_path / "one", tmp_path / "serial")


@pytest.fixture(scope="module")
def read_inputs(request) -> dict:
    """Per timeline, the arguments of the one-thread read kernel at the last step of a model that reads a lot."""
    captured: dict = {}
    single = read._read

    def spy(seed, readers, fl, it, *rest):
        captured[timeline] = (seed, readers, fl, it._replace(cell=it.cell.copy()), *rest)  # the kernel marks cell
        return single(seed, readers, fl, it, *rest)

    mp = pytest.MonkeyPatch()
    mp.setattr(read, "_read", spy)
    mp.setattr("socialsim.graph.PARALLEL", False)
    try:
        for timeline in TIMELINES:
            PlatformModel(Params.from_dict(READING, **{"platform.timeline": timeline, "seed": 2})).run()
    finally:
        mp.undo()
    return captured


def _cuts(n_readers: int) -> dict[str, np.ndarray]:
    """Ways to cut the readers into contiguous chunks, by name."""
    out = {f"{k} chunks": np.round(np.linspace(0, n_readers, k + 1)).astype(np.int64) for k in (1, 2, 3, 7)}
    out["more chunks than readers"] = np.minimum(np.arange(n_readers + 4), n_readers)
    out["empty chunks first and between"] = np.array([0, 0, n_readers // 2, n_readers // 2, n_readers])
    return out


@pytest.mark.parametrize("timeline", TIMELINES)
def test_split_read_equals_the_single_kernel(read_inputs, timeline):
    """Gathered in chunks, however cut, then chosen in reader order: the arrays of the one-thread kernel,
    dtypes included."""
    seed, readers, fl, it, expired, attention, ranked, step = read_inputs[timeline]
    expected = read._read(seed, readers, fl, it._replace(cell=it.cell.copy()), expired, attention, ranked, step)
    reader, _, _, edge, _ = expected
    # the step exercises what the split must keep: readers with more posts than attention, and reshares
    assert (np.bincount(reader) == attention).any() and (edge < 0).any()
    for cut, bounds in _cuts(readers.size).items():
        got = read._read_chunks(seed, readers, fl, it, expired, attention, ranked, step, bounds)
        for name, a, b in zip(("reader", "author", "appeal", "edge", "born"), expected, got, strict=True):
            assert a.dtype == b.dtype and np.array_equal(a, b), f"{name} differs, {cut}"
