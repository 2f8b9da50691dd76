"""Thread count: the kernels that run on all threads (numba ``prange``) give byte-identical tables with one
thread and with two, and the same tables as their one-thread versions.

The parallel kernels run only when NUMBA_NUM_THREADS asks for more than one thread and above
``socialsim.graph.PARALLEL_MIN`` items; here they are switched on and the threshold is set to 0 in the
subprocess, so a small model goes through every one of them, on one thread and on two."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY, UNCALIBRATED, assert_same_tables, env

SCRIPT = """
import sys
import numba
import socialsim.graph, socialsim.metrics, socialsim.phases.decay
from socialsim.config import compose_params
from socialsim.io import run_to_folder

socialsim.graph.PARALLEL, socialsim.graph.PARALLEL_MIN = True, int(sys.argv[2])
run_to_folder(compose_params(sys.argv[3:]), sys.argv[1])
kernels = (socialsim.graph._find_edges_parallel, socialsim.metrics._new_close_by_quartile_parallel,
           socialsim.phases.decay._fade)
print(numba.get_num_threads(), sum(bool(k.signatures) for k in kernels))
"""

#: a short run with follow-backs, answered replies and meetups (the lookups of the follow index), decay and
#: close ties (the quartile counts)
CONFIG = [*TINY, "population.size=400", "run.steps=25", *(f"{k}={v}" for k, v in UNCALIBRATED.items())]


def _run(out: Path, threads: int, threshold: int) -> tuple[int, int]:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(out), str(threshold), *CONFIG, "seed=3"],
                          env=env(NUMBA_NUM_THREADS=str(threads)), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    threads_used, kernels_called = proc.stdout.split()[-2:]
    return int(threads_used), int(kernels_called)


@pytest.mark.slow
def test_one_and_two_threads_give_the_same_tables(tmp_path):
    """NUMBA_NUM_THREADS=1 and =2, every parallel kernel used, and the serial kernels: the same bytes."""
    assert _run(tmp_path / "one", 1, 0) == (1, 3)
    assert _run(tmp_path / "two", 2, 0) == (2, 3)
    assert _run(tmp_path / "serial", 2, 2**62) == (2, 0)  # the parallel kernels are never called
    assert_same_tables(tmp_path / "one", tmp_path / "two")
    assert_same_tables(tmp_path / "one", tmp_path / "serial")
