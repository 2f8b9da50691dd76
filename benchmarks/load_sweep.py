"""Load time of a large sweep: ``load_sweep`` (one pyarrow dataset) against a Python loop over the run folders.

    python benchmarks/load_sweep.py                  # 2,000 runs; rewrites its section of benchmarks/results.md
    python benchmarks/load_sweep.py --runs 200 --no-report

Makes one small run (``--size`` people x ``--steps`` steps), copies it ``--runs`` times into a temporary sweep
folder (``seed=I`` each, with that seed and override in its summary.json, as a sweep of seeds would have), then,
in this one process, loads the sweep ``--repeats`` times each way, alternating: ``loop`` reads each run's
``timeseries.parquet`` with pandas and concatenates (how ``load_sweep`` read sweeps before it used a dataset),
``dataset`` is :func:`socialsim.analysis.load_sweep`. Both find the runs and read their summaries the same way;
the frames they return are checked to be equal. The first load of each is a warm-up (imports, file cache) and
not counted; times are medians.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

HERE = Path(__file__).resolve().parent
REPORT = HERE / "results.md"
START, END = "<!-- load_sweep:start -->", "<!-- load_sweep:end -->"


def load_sweep_loop(path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``load_sweep`` as it was before the dataset: a pandas read and an insert per run, then one concat."""
    from socialsim import analysis
    from socialsim.io import find_runs, read_summary, read_table
    from socialsim.metrics import METRIC_NAMES

    complete, incomplete = find_runs(path)
    tables = {folder: read_table(folder, "timeseries") for folder in complete}
    summaries = [read_summary(p) for p in complete]
    swept = analysis._swept_columns(summaries)
    id_cols = ["run", *swept] + ([] if "seed" in swept else ["seed"])
    rows = []
    for folder, s in zip(complete, summaries):
        row: dict[str, Any] = {"run": str(folder)}
        row.update({c: analysis._column_value(s, c) for c in swept})
        row["seed"] = s.get("seed")
        row.update(s.get("metrics", {}))
        row.update({c: s.get(c) for c in analysis.RUN_COLUMNS})
        rows.append(row)
    runs = pd.DataFrame(rows, columns=id_cols + list(METRIC_NAMES) + list(analysis.RUN_COLUMNS))
    frames = []
    for row, folder in zip(rows, complete):
        ts = tables[folder]
        for c in reversed(id_cols):
            ts.insert(0, c, row[c])
        frames.append(ts)
    return runs, pd.concat(frames, ignore_index=True)


def make_sweep(root: Path, runs: int, size: int, steps: int) -> Path:
    from socialsim.config import compose_params
    from socialsim.io import run_to_folder

    one = root / "one"
    run_to_folder(compose_params([f"population.size={size}", f"run.steps={steps}"]), one,
                  meta={"overrides": ["seed=0"]})
    sweep = root / "sweep"
    summary = json.loads((one / "summary.json").read_text())
    for i in range(runs):
        folder = sweep / f"seed={i}"
        shutil.copytree(one, folder)
        summary.update(seed=i, overrides=[f"seed={i}"])
        summary["params"]["seed"] = i
        (folder / "summary.json").write_text(json.dumps(summary))
    return sweep


def measure(sweep: Path, repeats: int) -> dict:
    from socialsim.analysis import load_sweep

    from socialsim.io import find_runs, read_summary

    def common():  # what both ways do besides reading the timeseries: find the runs, read their summaries
        complete, _ = find_runs(sweep)
        return [read_summary(p) for p in complete]

    times: dict[str, list[float]] = {"loop": [], "dataset": [], "common": []}
    frames = {}
    for i in range(repeats + 1):  # the first round warms up
        for name in ("loop", "dataset", "common"):
            t0 = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if name == "common":
                    common()
                else:
                    frames[name] = tuple(load_sweep_loop(sweep) if name == "loop" else load_sweep(sweep))
            if i:
                times[name].append(time.perf_counter() - t0)
    for old, new in zip(frames["loop"], frames["dataset"]):
        pd.testing.assert_frame_equal(old, new)
    return {name: statistics.median(t) for name, t in times.items()} | {"rows": len(frames["dataset"][1])}


def section(n: int, size: int, steps: int, repeats: int, result: dict) -> str:
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                         cwd=HERE).stdout.strip()
    load = os.getloadavg()[0]
    return "\n".join([
        START,
        f"## Loading a sweep of {n:,} runs (`load_sweep`)", "",
        f"Command: `python benchmarks/load_sweep.py --runs {n} --size {size} --steps {steps} --repeats {repeats}` "
        f"(see its docstring): {n:,} copies of one run of {size:,} people x {steps} steps, {result['rows']:,} "
        f"timeseries rows in all; both ways measured in one process, medians of {repeats} loads after a warm-up; "
        f"both return equal frames. Python {platform.python_version()}, pandas {pd.__version__}, "
        f"pyarrow {__import__('pyarrow').__version__}; socialsim at {rev}; load average {load:.1f}.", "",
        "| how the timeseries files are read | load time (s) |",
        "|---|---:|",
        f"| a Python loop: pandas per run folder, then one concat (before) | {result['loop']:.2f} |",
        f"| one pyarrow dataset over all the files (`load_sweep`) | {result['dataset']:.2f} |", "",
        f"Speed-up: {result['loop'] / result['dataset']:.1f}x. Both times include finding the runs and reading "
        f"their summary.json files, which is the same in both: {result['common']:.2f} s measured alone. Without it, "
        f"reading the timeseries takes {result['loop'] - result['common']:.2f} s in the loop and "
        f"{result['dataset'] - result['common']:.2f} s as a dataset.",
        END,
    ])


def write_section(text: str) -> None:
    old = REPORT.read_text() if REPORT.exists() else ""
    if START in old and END in old:
        head, rest = old.split(START, 1)
        new = head + text + rest.split(END, 1)[1]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    REPORT.write_text(new)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--size", type=int, default=300)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-report", action="store_true", help="print only; leave benchmarks/results.md alone")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="socialsim-load-sweep-") as tmp:
        sweep = make_sweep(Path(tmp), args.runs, args.size, args.steps)
        result = measure(sweep, args.repeats)
    print(json.dumps(result))
    text = section(args.runs, args.size, args.steps, args.repeats, result)
    print(text)
    if not args.no_report:
        write_section(text)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent / "src"))
    main()
