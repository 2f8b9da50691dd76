"""socialsim.io (run folders, atomic writes, skip by config hash) and socialsim.analysis (load_sweep, figures)."""

from __future__ import annotations

import json

import matplotlib
import pandas as pd
import pytest

from socialsim import Params
from socialsim.analysis import Sweep, load_sweep, plot_final, plot_over_time, sweep_table
from socialsim.io import find_runs, is_complete, read_run, read_summary, run_to_folder, write_json
from socialsim.metrics import METRIC_NAMES

matplotlib.use("Agg")

STEPS = 10


def tiny(**overrides) -> Params:
    return Params.from_dict({"population": {"size": 150}, "run": {"steps": STEPS}}, **overrides)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """A sweep folder like Hydra's: 2 recommenders x 2 seeds, plus one killed (incomplete) job."""
    root = tmp_path_factory.mktemp("sweep")
    for rec in ("random", "local"):
        for seed in (0, 1):
            overrides = [f"platform.recommender={rec}", f"seed={seed}"]
            run_to_folder(tiny(**{"platform.recommender": rec, "seed": seed}), root / ",".join(overrides),
                          meta={"overrides": overrides, "choices": {"scenario": "default"}})
    killed = root / "platform.recommender=popularity,seed=0"
    (killed / ".hydra").mkdir(parents=True)
    (killed / ".timeseries.parquet.tmp-99").write_bytes(b"partial")
    (root / "multirun.yaml").write_text("hydra: {}\n")
    return root


def test_load_sweep_returns_one_row_per_run_with_swept_columns(sweep_dir):
    with pytest.warns(UserWarning, match=r"1 incomplete run.*platform\.recommender=popularity,seed=0"):
        sweep = load_sweep(sweep_dir)
    assert isinstance(sweep, Sweep)
    runs, ts = sweep  # unpacks
    assert len(runs) == 4
    assert sweep.swept[:2] == ["platform.recommender", "seed"]
    assert sorted(zip(runs["platform.recommender"], runs["seed"])) == [("local", 0), ("local", 1),
                                                                      ("random", 0), ("random", 1)]
    assert set(METRIC_NAMES) <= set(runs.columns) and "wall_time_s" in runs
    assert len(ts) == 4 * (STEPS + 1)
    assert list(ts.columns[:4]) == ["run", "platform.recommender", "seed", "step"]
    last = ts[ts["step"] == STEPS].set_index("run")["gini_followers"]
    assert (runs.set_index("run")["gini_followers"] == last.loc[runs["run"]].to_numpy()).all()


def test_load_sweep_on_one_run_and_on_a_list(sweep_dir):
    one = sweep_dir / "platform.recommender=local,seed=1"
    runs, ts = load_sweep(one)
    assert len(runs) == 1 and runs["platform.recommender"].iloc[0] == "local" and runs["seed"].iloc[0] == 1
    assert len(ts) == STEPS + 1
    runs, _ = load_sweep([one, sweep_dir / "platform.recommender=random,seed=0"], timeseries=False)
    assert sorted(runs["platform.recommender"]) == ["local", "random"]


def test_parameters_that_differ_become_columns_without_overrides(tmp_path):
    run_to_folder(tiny(), tmp_path / "a")
    run_to_folder(tiny(**{"meetups.rate": 0.0}), tmp_path / "b")
    runs, _ = load_sweep(tmp_path, timeseries=False)
    assert "meetups.rate" in runs.attrs["swept"] and sorted(runs["meetups.rate"]) == [0.0, Params().meetups.rate]
    assert "population.size" not in runs  # the same in every run


def test_figures_and_table(sweep_dir):
    import matplotlib.pyplot as plt

    with pytest.warns(UserWarning):
        runs, ts = load_sweep(sweep_dir)
    ax = plot_over_time(ts, "gini_followers")
    assert ax.get_legend() is not None and ax.get_ylabel() == "gini followers"
    assert plot_final(runs, "gini_followers", kind="point").get_xlabel() == "platform.recommender"
    plot_final(runs, "members", by="platform.recommender", kind="strip")
    plt.close("all")
    table = sweep_table(runs)
    assert list(table.index) == ["local", "random"] and (table["n"] == 2).all()
    with pytest.raises(KeyError, match="not_a_metric"):
        plot_over_time(ts, "not_a_metric")


def test_figures_are_the_same_when_drawn_again():
    """The bootstrap of the confidence intervals is seeded: the same data give the same PNG bytes."""
    import io

    import matplotlib.pyplot as plt
    import numpy as np

    rng = np.random.default_rng(1)
    runs = pd.DataFrame({"platform.recommender": np.repeat(["random", "local"], 10), "seed": np.tile(range(10), 2),
                         "gini_followers": rng.random(20)})
    ts = pd.DataFrame({"platform.recommender": np.repeat(["random", "local"], 50), "seed": np.tile(range(10), 10),
                       "step": np.tile(np.repeat(range(5), 10), 2), "gini_followers": rng.random(100)})

    def png(draw) -> bytes:
        fig, ax = plt.subplots()
        draw(ax)
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        plt.close(fig)
        return buf.getvalue()

    for draw in (lambda ax: plot_final(runs, "gini_followers", by="platform.recommender", ax=ax),
                 lambda ax: plot_final(runs, "gini_followers", by="platform.recommender", kind="bar", ax=ax),
                 lambda ax: plot_over_time(ts, "gini_followers", by="platform.recommender", ax=ax)):
        assert png(draw) == png(draw)


def test_run_folder_is_complete_and_reruns_are_skipped(tmp_path):
    p = tiny()
    summary, skipped = run_to_folder(p, tmp_path)
    assert not skipped and is_complete(tmp_path, summary["config_hash"])
    assert summary["steps"] == STEPS and summary["seed"] == 0 and summary["socialsim_version"]
    again, skipped = run_to_folder(p, tmp_path)
    assert skipped and again == summary
    other, skipped = run_to_folder(p.replace(seed=1), tmp_path)  # another config in the same folder: re-run
    assert not skipped and other["config_hash"] != summary["config_hash"]
    run = read_run(tmp_path)
    assert run["summary"]["seed"] == 1 and len(run["timeseries"]) == STEPS + 1


def test_same_config_and_seed_give_identical_outputs(tmp_path):
    run_to_folder(tiny(seed=4), tmp_path / "a")
    run_to_folder(tiny(seed=4), tmp_path / "b")
    a, b = read_run(tmp_path / "a"), read_run(tmp_path / "b")
    for table in ("timeseries", "members", "follows"):
        pd.testing.assert_frame_equal(a[table], b[table])
    assert a["summary"]["metrics"] == b["summary"]["metrics"]


def test_incomplete_folders_are_not_results(tmp_path):
    run_to_folder(tiny(), tmp_path / "ok")
    broken = tmp_path / "broken"
    broken.mkdir()
    write_json({"status": "complete"}, broken / "summary.json")  # a summary but no tables
    bad_json = tmp_path / "bad_json"
    bad_json.mkdir()
    (bad_json / "summary.json").write_text("{not json")
    assert read_summary(broken) is None and read_summary(bad_json) is None
    complete, incomplete = find_runs(tmp_path)
    assert complete == [tmp_path / "ok"] and incomplete == [bad_json, broken]
    assert not list(tmp_path.rglob(".*.tmp-*"))
    assert json.loads((tmp_path / "ok" / "summary.json").read_text())["status"] == "complete"


def test_load_sweep_of_a_missing_folder_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such run or sweep folder"):
        load_sweep(tmp_path / "nope")


def test_load_sweep_reads_the_same_frames_as_reading_each_run_alone(sweep_dir, tmp_path):
    """The one-dataset read gives the frame a per-run read and concat gives, also when one run's table lacks
    a metric (a run written by an older version): that metric is missing (NaN) for it, present for the rest."""
    import shutil

    import numpy as np

    root = tmp_path / "sweep"
    shutil.copytree(sweep_dir, root)
    older = root / "platform.recommender=local,seed=1"
    ts = pd.read_parquet(older / "timeseries.parquet").drop(columns=["reciprocity"])
    ts.to_parquet(older / "timeseries.parquet", index=False)
    summary = json.loads((older / "summary.json").read_text())
    summary["files"]["timeseries.parquet"]["bytes"] = (older / "timeseries.parquet").stat().st_size
    (older / "summary.json").write_text(json.dumps(summary))
    with pytest.warns(UserWarning, match="popularity"):
        runs, ts_all = load_sweep(root)
    id_cols = list(ts_all.columns[:3])
    frames = []
    for _, row in runs.iterrows():
        one = pd.read_parquet(f"{row['run']}/timeseries.parquet")
        for c in reversed(id_cols):
            one.insert(0, c, row[c])
        frames.append(one)
    expected = pd.concat(frames, ignore_index=True)[list(ts_all.columns)]
    pd.testing.assert_frame_equal(ts_all, expected)
    assert np.isnan(ts_all.loc[ts_all["run"] == str(older), "reciprocity"]).all()
    assert ts_all.loc[ts_all["run"] != str(older), "reciprocity"].notna().all()
