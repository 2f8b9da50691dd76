"""``run.record_every``: metrics recorded every K steps are those of a run that records every step (the tallies summed
over the interval), the model steps the same way, and the last step is always recorded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialsim import Params, PlatformModel
from socialsim.params import config_hash
from socialsim.reference import ReferenceModel
from socialsim.snapshot import dumps, loads

SUMMED = ["joined", "left", "meetups", "attendees"]
# a turnover lag that is not a multiple of the interval: the turnover still compares exactly that many steps back
BASE = {"population.size": 600, "population.towns": 4, "seed": 3, "run.steps": 47, "metrics.turnover_lag": 4}


def _pair(cls, base: dict, every: int):
    return cls(base).run(), cls({**base, "run.record_every": every}).run()


def _check_rows(every_step: pd.DataFrame, sparse: pd.DataFrame) -> None:
    same = [c for c in sparse.columns if c not in (*SUMMED, "nonfollower_impression_share")]
    at = every_step.set_index("step").loc[sparse["step"]].reset_index()
    pd.testing.assert_frame_equal(at[same], sparse[same])
    # each recorded tally is the sum over the steps since the previous record
    interval = np.searchsorted(sparse["step"].to_numpy(), every_step["step"].to_numpy())
    sums = every_step.groupby(interval)[SUMMED].sum().reset_index(drop=True)
    pd.testing.assert_frame_equal(sums, sparse[SUMMED].reset_index(drop=True), check_dtype=False)


@pytest.mark.parametrize("cls, base", [(PlatformModel, BASE),
                                       (ReferenceModel, {**BASE, "population.size": 150, "run.steps": 23})])
def test_sparse_records_are_the_every_step_records_at_those_steps(cls, base):
    full, sparse = _pair(cls, base, 5)
    ts = sparse.timeseries()
    last = base["run.steps"]
    assert ts["step"].tolist() == [*range(0, last, 5), last]  # step 0, every 5 steps, and the last step
    assert len(full.timeseries()) == last + 1
    _check_rows(full.timeseries(), ts)
    assert ts["joined"].sum() > 0 and ts["top_k_turnover"].iloc[1:].gt(0).any()  # the check has something to see
    # recording less does not change how the model steps
    pd.testing.assert_frame_equal(full.member_frame(), sparse.member_frame())
    pd.testing.assert_frame_equal(full.follows_frame(), sparse.follows_frame())
    # the summary's metrics are those of the last step in any case (the tallies: of the last interval)
    kept = [k for k in full.metrics if k not in (*SUMMED, "nonfollower_impression_share")]
    assert {k: full.metrics[k] for k in kept} == {k: sparse.metrics[k] for k in kept}


def test_the_last_step_of_run_is_recorded_whatever_the_interval():
    m = PlatformModel({**BASE, "run.record_every": 10})
    m.run(13)
    assert m.timeseries()["step"].tolist() == [0, 10, 13]


def test_nonfollower_share_is_over_the_reads_of_the_interval():
    full, sparse = _pair(PlatformModel, BASE, 47)  # one record: the end
    assert sparse.timeseries()["step"].tolist() == [0, 47]
    share = sparse.timeseries()["nonfollower_impression_share"].iloc[-1]
    ts = full.timeseries()
    per_step = ts["nonfollower_impression_share"].iloc[1:]
    assert 0 < share < 1 and share != per_step.iloc[-1]
    assert per_step.min() <= share <= per_step.max()


def test_a_checkpoint_between_records_continues_to_the_same_records():
    base = {**BASE, "run.record_every": 5}
    whole = PlatformModel(base).run()
    part = PlatformModel(base)
    for _ in range(12):  # step() alone records steps 5 and 10 only (run() would record its last step too)
        part.step()
    assert part.state.counts_unrecorded is not None  # steps 11 and 12 are carried
    _, tree = loads(dumps({"model": part.checkpoint()}))
    resumed = PlatformModel.from_checkpoint(tree["model"])
    while resumed.steps < base["run.steps"]:
        resumed.step()
    pd.testing.assert_frame_equal(resumed.timeseries(), whole.timeseries())


def test_the_setting_keeps_the_hash_of_configurations_that_do_not_use_it():
    from socialsim.config import compose_params

    p = compose_params(["scenario=uncalibrated"])  # the earlier defaults, exactly
    assert config_hash(p) == "043051667c32582e"  # their hash before the setting existed
    assert config_hash(p.replace(**{"run.record_every": 7})) != config_hash(p)
