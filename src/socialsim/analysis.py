"""Load runs and sweeps into tidy DataFrames, and draw the standard figures with seaborn.

>>> from socialsim.analysis import load_sweep, plot_over_time, plot_final
>>> sweep = load_sweep("results/sweeps/2025-11-25/10-00-00")      # or one run folder, or a list
>>> sweep.runs        # one row per run: run, each swept parameter, seed, final metrics, wall_time_s
>>> sweep.timeseries  # one row per run x step: run, each swept parameter, seed, step, every metric
>>> plot_over_time(sweep.timeseries, "gini_followers", by="platform.recommender")
>>> plot_final(sweep.runs, "gini_followers", by="platform.openness", hue="platform.recommender")
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Iterable, NamedTuple

import pandas as pd
from hydra.experimental.callback import Callback

from .io import find_runs, read_summary, read_table
from .metrics import METRIC_NAMES, METRICS
from .runfolder import problem

RUN_COLUMNS = ("wall_time_s", "steps", "socialsim_version", "config_hash")


class Sweep(NamedTuple):
    """Tidy tables of a set of runs; unpacks as ``runs, timeseries = load_sweep(path)``."""

    runs: pd.DataFrame
    timeseries: pd.DataFrame

    @property
    def swept(self) -> list[str]:
        """The swept (or overridden) parameter columns."""
        return list(self.runs.attrs.get("swept", []))


def _override_key_value(line: str) -> tuple[str, str] | None:
    key, sep, value = line.lstrip("+~").partition("=")
    if not sep or key.startswith("hydra"):
        return None
    return key.split("@")[0], value


def _swept_columns(summaries: list[dict]) -> list[str]:
    """Override keys in order of appearance, then any other parameter that differs between runs."""
    columns: list[str] = []
    for s in summaries:
        for line in s.get("overrides", []):
            kv = _override_key_value(line)
            if kv and kv[0] not in columns:
                columns.append(kv[0])
    names = list(dict.fromkeys(k for s in summaries for k in s.get("params", {})))
    for name in names:
        values = {repr(s.get("params", {}).get(name)) for s in summaries}
        if len(values) > 1 and name not in columns:
            columns.append(name)
    return columns


def _column_value(summary: dict, column: str) -> Any:
    params = summary.get("params", {})
    if column in params:
        return params[column]
    choices = summary.get("choices", {})
    if column in choices:
        return choices[column]
    for line in summary.get("overrides", []):
        kv = _override_key_value(line)
        if kv and kv[0] == column:
            return kv[1]
    return None


def load_sweep(path: str | os.PathLike | Iterable[str | os.PathLike], *, timeseries: bool = True) -> Sweep:
    """Tidy DataFrames of the complete runs at or below ``path`` (a run folder, a sweep folder, or a list).

    Incomplete runs (no valid ``summary.json``: killed, failed or still running) and runs with damaged tables
    are skipped with a warning naming them and what is wrong. ``runs.attrs["swept"]`` (and ``Sweep.swept``) lists the parameter columns.
    """
    complete, incomplete = find_runs(path)
    skipped = [(p, problem(p) or "incomplete") for p in incomplete]
    table = None
    if timeseries:
        table, damaged = _timeseries_dataset(complete)
        skipped += damaged
        complete = [p for p in complete if p not in dict(damaged)]
    if skipped:
        names = "; ".join(f"{p} ({why})" for p, why in skipped[:10]) + (" ..." if len(skipped) > 10 else "")
        warnings.warn(f"skipping {len(skipped)} incomplete run(s) without a complete summary.json or with damaged "
                      f"tables (re-running the sweep redoes them): {names}", stacklevel=2)
    if not complete:
        warnings.warn(f"no complete runs in {path}", stacklevel=2)

    summaries = [read_summary(p) for p in complete]
    swept = _swept_columns(summaries)
    id_cols = ["run", *swept] + ([] if "seed" in swept else ["seed"])
    rows = []
    for folder, s in zip(complete, summaries):
        row: dict[str, Any] = {"run": str(folder)}
        row.update({c: _column_value(s, c) for c in swept})
        row["seed"] = s.get("seed")
        row.update(s.get("metrics", {}))
        row.update({c: s.get(c) for c in RUN_COLUMNS})
        rows.append(row)
    metric_cols = list(METRIC_NAMES)
    runs = pd.DataFrame(rows, columns=id_cols + metric_cols + list(RUN_COLUMNS))
    runs.attrs["swept"] = swept
    if timeseries and rows:
        ts_all = _with_run_columns(table, runs[id_cols], complete)
    else:
        ts_all = pd.DataFrame(columns=id_cols + ["step", *metric_cols])
    ts_all.attrs["swept"] = swept
    return Sweep(runs, ts_all)


def _timeseries_dataset(folders: list[Path]):
    """The ``timeseries.parquet`` files of these runs read as one pyarrow dataset: (table with a ``__filename``
    column, [(folder, why) for each run whose file cannot be read]). The schema is unified over every file
    (a metric missing from older runs reads as null)."""
    import pyarrow.dataset as ds
    from pyarrow import ArrowException, fs

    files = {_timeseries_file(f): f for f in folders}
    damaged: list[tuple[Path, str]] = []
    while files:
        try:
            factory = ds.FileSystemDatasetFactory(fs.LocalFileSystem(), list(files), ds.ParquetFileFormat())
            dataset = factory.finish(factory.inspect())
            return dataset.to_table(columns=[*dataset.schema.names, "__filename"]), damaged
        except (ArrowException, OSError) as exc:  # name the damaged file(s), drop them, read the rest
            bad = [f for f in files if f in str(exc)] or [f for f in files if _unreadable(f)]
            if not bad:
                raise
            for f in bad:
                damaged.append((files.pop(f), f"timeseries.parquet is unreadable: {type(exc).__name__}"))
    return None, damaged


def _timeseries_file(folder: Path) -> str:
    return os.path.abspath(Path(folder) / "timeseries.parquet")


def _unreadable(file: str) -> bool:
    import pyarrow.parquet as pq

    try:
        pq.read_table(file)
    except Exception:  # noqa: BLE001 - any failure to read is what is looked for
        return True
    return False


def _with_run_columns(table, ids: pd.DataFrame, folders: list[Path]) -> pd.DataFrame:
    """The timeseries frame with each run's identifying columns (run, swept parameters, seed) in front, runs
    in the order of ``folders`` and each run's steps in file order."""
    import numpy as np

    position = {_timeseries_file(f): i for i, f in enumerate(folders)}
    names = table.column("__filename").dictionary_encode()
    codes = names.combine_chunks().indices.to_numpy(zero_copy_only=False)
    run_of_code = np.array([position[str(v)] for v in names.combine_chunks().dictionary.to_pylist()], np.int64)
    run = run_of_code[codes]
    order = np.argsort(run, kind="stable")  # the dataset reads files in parallel; keep each file's row order
    ts = table.drop_columns(["__filename"]).to_pandas()
    if not np.array_equal(order, np.arange(order.size)):
        ts = ts.iloc[order].reset_index(drop=True)
        run = run[order]
    front = ids.iloc[run].reset_index(drop=True)
    for c in ids.columns:  # as the tables of single runs, each holding one value of it, would concatenate
        if front[c].dtype == object or ids[c].isna().any():
            front[c] = pd.Series(ids[c].tolist(), dtype=object).iloc[run].reset_index(drop=True)
    return pd.concat([front, ts], axis=1)


def condition_columns(df: pd.DataFrame, varying: bool = True) -> list[str]:
    """The swept columns other than the seed, i.e. what distinguishes conditions (by default only those
    that take more than one value in ``df``)."""
    cols = [c for c in df.attrs.get("swept", []) if c != "seed" and c in df]
    if varying:
        cols = [c for c in cols if df[c].astype(str).nunique(dropna=False) > 1]
    return cols


def _default_by(df: pd.DataFrame, by: str | None) -> str | None:
    if by is not None:
        return by
    cols = condition_columns(df)
    return cols[0] if cols else None


def _new_axes(ax):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(6.4, 4.0), layout="constrained")[1]


def _label(metric: str) -> str:
    return metric.replace("_", " ")


def plot_over_time(ts: pd.DataFrame, metric: str, by: str | None = None, *, style: str | None = None,
                   ax=None, errorbar: Any = ("ci", 95), seed: int | None = 0, **kwargs):
    """A metric over time, one line per condition (``by``, default: the first swept column that varies) with a
    confidence band across seeds; on a new figure unless ``ax`` is given. ``seed`` seeds seaborn's bootstrap
    of the band, so the same data give the same figure. Returns the Axes."""
    import seaborn as sns

    if metric not in ts:
        raise KeyError(f"{metric!r} is not a column; metrics: {', '.join(METRIC_NAMES)}")
    ax = sns.lineplot(data=ts, x="step", y=metric, hue=_default_by(ts, by), style=style, errorbar=errorbar,
                      seed=seed, ax=_new_axes(ax), **kwargs)
    ax.set_ylabel(_label(metric))
    ax.set_title(METRICS.get(metric, metric).split(" [")[0], fontsize="small")
    return ax


def plot_final(runs: pd.DataFrame, metric: str, by: str | None = None, *, hue: str | None = None,
               kind: str = "point", ax=None, errorbar: Any = ("ci", 95), seed: int | None = 0, **kwargs):
    """A final metric by condition (``by`` on the x axis, optionally ``hue``): ``kind`` 'point' (mean and CI),
    'bar', 'box' or 'strip' (every seed); on a new figure unless ``ax`` is given. ``seed`` seeds seaborn's
    bootstrap of the CI ('point' and 'bar'), so the same data give the same figure. Returns the Axes."""
    import seaborn as sns

    if metric not in runs:
        raise KeyError(f"{metric!r} is not a column; metrics: {', '.join(METRIC_NAMES)}")
    by = _default_by(runs, by)
    plotters = {"point": sns.pointplot, "bar": sns.barplot, "box": sns.boxplot, "strip": sns.stripplot}
    if kind not in plotters:
        raise ValueError(f"kind must be one of {', '.join(plotters)}; got {kind!r}")
    if kind in ("point", "bar"):
        kwargs["errorbar"] = errorbar
        kwargs["seed"] = seed
    if kind == "point" and hue is not None:
        kwargs.setdefault("dodge", 0.3)
    ax = plotters[kind](data=runs, x=by, y=metric, hue=hue, ax=_new_axes(ax), **kwargs)
    ax.set_ylabel(_label(metric))
    return ax


HEADLINE = ("gini_followers", "spearman_join_order_followers", "shy_connected_share", "close_ties_per_member")


def sweep_table(runs: pd.DataFrame, metrics: Iterable[str] = HEADLINE) -> pd.DataFrame:
    """Mean final metrics per condition (over seeds), with the number of runs ``n``."""
    metrics = [m for m in metrics if m in runs]
    by = condition_columns(runs)
    if not by or runs.empty:
        out = runs[metrics].mean().to_frame().T
        out.insert(0, "n", len(runs))
        return out
    grouped = runs.groupby(by, dropna=False, sort=True)
    out = grouped[metrics].mean()
    out.insert(0, "n", grouped.size())
    return out


def print_sweep_summary(sweep_dir: str | os.PathLike) -> None:
    """What ``python -m socialsim -m`` prints at the end: the runs' mean headline metrics and the folder."""
    sweep_dir = Path(sweep_dir).resolve()
    complete, incomplete = find_runs(sweep_dir)
    sweep = load_sweep(complete, timeseries=False) if complete else None
    print(f"sweep: {len(complete)} complete run(s)" + (f", {len(incomplete)} incomplete" if incomplete else ""))
    if sweep is not None:
        with pd.option_context("display.width", 160, "display.max_columns", 12, "display.precision", 3,
                               "display.max_rows", 40):
            print(sweep_table(sweep.runs))
    print(f"output: {sweep_dir}")


class SweepSummaryCallback(Callback):
    """Prints :func:`print_sweep_summary` when a ``python -m socialsim -m`` sweep ends (see configs/hydra)."""

    def on_multirun_end(self, config, **kwargs: Any) -> None:
        """Summarise the sweep folder of the finished sweep."""
        print_sweep_summary(Path(config.hydra.sweep.dir))
