"""experiments/run_all.sh: its stages and its bad input (one line, exit code 2, nothing run or deleted)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import env

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args,message", [
    (["--stage", "everything"], "--stage must be one of sweeps, sensitivity, notebooks, robustness, all"),
    (["--stage"], "--stage needs a value"),
    (["--fresh", "--bogus"], "unknown argument --bogus"),
])
def test_bad_arguments_stop_before_anything_runs(tmp_path, args, message):
    sweeps = tmp_path / "sweeps"
    (sweeps / "robustness").mkdir(parents=True)
    result = subprocess.run(["bash", str(ROOT / "experiments" / "run_all.sh"), *args], capture_output=True,
                            text=True, env=env(SOCIALSIM_SWEEPS_DIR=str(sweeps), SOCIALSIM_RESULTS_DIR=str(tmp_path)))
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == ""
    assert (sweeps / "robustness").is_dir()  # --fresh deleted nothing


def test_the_stages_are_the_documented_ones():
    text = (ROOT / "experiments" / "run_all.sh").read_text()
    assert "STAGES=(sweeps sensitivity notebooks robustness)" in text
    assert "--stage sweeps|sensitivity|notebooks|robustness" in (ROOT / "docs" / "sweeps.md").read_text()
