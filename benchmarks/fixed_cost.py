"""The fixed cost of small runs, this checkout against an earlier commit, measured in one benchmark run.

    python benchmarks/fixed_cost.py --before 176c388               # 3 runs of each measure and tree
    python benchmarks/fixed_cost.py --before 176c388 --repeats 5

Small runs (calibration, sensitivity analyses, sweeps: thousands of runs of a few thousand people) pay a fixed
cost per step (the phases' and the metrics' numpy calls from Python, the DataCollector) and per process (imports,
loading numba's cached kernels). Measured, each in fresh processes that import socialsim from one tree:

* ``step_500``: CPU milliseconds per step of a 500-person, 365-step run in process (numba kernels warmed up first);
* ``run_2000``: seconds of a 2,000-person, 365-step run in process (the issue's small run);
* ``cli_first_step``: ``python -m socialsim population.size=500 run.steps=1`` from start to exit (imports, Hydra,
  building, one step, writing the run folder): an upper bound of the time to the first step;
* ``to_first_step``: the same command from the start of the process to the moment its first step begins (the
  launcher wraps ``PlatformModel.step`` and stops the process there): the issue's start-up measure;
* ``cli_2000``: ``python -m socialsim population.size=2000`` from start to exit (what one job of a sweep costs).

Each is measured as CPU time (of the run in process; of the whole child process for the command line), which
other load on a shared machine disturbs less than wall time; the medians of the wall times are kept too.

Trees: ``before`` (the earlier commit, checked out in a temporary git worktree), ``after`` (this checkout, with the
earlier default parameters, ``scenario=uncalibrated`` without its size, so both trees run the same model) and
``after_sparse`` (this checkout with ``run.record_every=365``: the metrics of step 0 and of the last step only,
as a calibration that compares final values needs). Runs alternate between the trees, so that load on the shared
machine touches all alike; medians are reported with after / before ratios, and the 1-minute load average. The
in-process runs also hash the three tables (Parquet bytes): before and after must be identical.

The result goes into ``benchmarks/results.json`` (key ``fixed_cost``) and ``benchmarks/results.md`` is rewritten.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import run as bench  # noqa: E402  (benchmarks/run.py: machine description and the report)

SPARSE = {"run.record_every": 365}
MEASURES = ("step_500", "run_2000", "to_first_step", "cli_first_step", "cli_2000")

#: runs ``python -m socialsim`` as the command line does, and stops it as its first step begins, printing the CPU
#: time of the process and the wall clock then
_TO_FIRST_STEP = """
import json, os, runpy, sys, time
from socialsim.model import PlatformModel

def first_step(self):
    print(json.dumps({"cpu_s": time.process_time(), "at": time.time()}), flush=True)
    os._exit(0)

PlatformModel.step = first_step
sys.argv = ["socialsim", *sys.argv[1:]]
runpy.run_module("socialsim", run_name="__main__", alter_sys=True)
"""


def worker(size: int, steps: int, overrides: dict) -> dict:
    """Run one default model in this process; its run time and hashes of its three tables."""
    from socialsim import PlatformModel

    PlatformModel(population__size=200, seed=0).run(5)  # warm-up: numba kernels compiled or loaded
    model = PlatformModel({"population.size": size, "seed": 0, **overrides})
    load0 = os.getloadavg()[0]
    cpu0, t0 = time.process_time(), time.perf_counter()
    model.run(steps)
    run_s, cpu_s = time.perf_counter() - t0, time.process_time() - cpu0
    digest = {}
    for name, frame in (("timeseries", model.timeseries()), ("members", model.member_frame()),
                        ("follows", model.follows_frame())):
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        digest[name] = hashlib.sha256(buf.getvalue()).hexdigest()
    return {"run_s": run_s, "cpu_s": cpu_s, "digest": digest, "load": load0}


def _in_process(src: Path, size: int, steps: int, overrides: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(size), str(steps), json.dumps(overrides)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=src.parent, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} (PYTHONPATH={src}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _cli(src: Path, args: list[str], out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    load0 = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "socialsim", *args, f"hydra.run.dir={out}"], capture_output=True,
                          text=True, cwd=out.parent, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"python -m socialsim {' '.join(args)} (PYTHONPATH={src}) failed:\n{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"run_s": wall, "cpu_s": cpu, "load": load0}


def _to_first_step(src: Path, args: list[str], out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    load0 = os.getloadavg()[0]
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-c", _TO_FIRST_STEP, *args, f"hydra.run.dir={out}"],
                          capture_output=True, text=True, cwd=out.parent, env=env)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RuntimeError(f"python -m socialsim {' '.join(args)} (PYTHONPATH={src}) failed:\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"run_s": r["at"] - t0, "cpu_s": r["cpu_s"], "load": load0}


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def measure(name: str, src: Path, overrides: dict, tmp: Path, i: int) -> dict:
    """One timing of one measure in one tree."""
    extra = [f"{k}={v}" for k, v in overrides.items()]
    if name == "step_500":
        r = _in_process(src, 500, 365, overrides)
        return {**r, "value": r["cpu_s"] / 365 * 1000, "wall": r["run_s"] / 365 * 1000}
    if name == "run_2000":
        r = _in_process(src, 2000, 365, overrides)
    elif name == "to_first_step":
        r = _to_first_step(src, ["population.size=500", "run.steps=1", *extra],
                           tmp / f"{name}-{src.parent.name}-{len(extra)}-{i}")
    else:
        args = ["population.size=500", "run.steps=1"] if name == "cli_first_step" else ["population.size=2000"]
        r = _cli(src, [*args, *extra], tmp / f"{name}-{src.parent.name}-{len(extra)}-{i}")
    return {**r, "value": r["cpu_s"], "wall": r["run_s"]}


def earlier_defaults() -> dict:
    """The defaults before the calibrated baseline (scenario=uncalibrated, without its size), so that both trees
    run the same model: the default parameters changed after 176c388."""
    return bench.scenario_overrides("uncalibrated")


def compare(before: str, repeats: int, log) -> dict:
    before_rev = _git("rev-parse", "--short", before)
    after_rev = _git("rev-parse", "--short", "HEAD") + ("+dirty" if _git("status", "--porcelain", "src") else "")
    with tempfile.TemporaryDirectory(prefix="socialsim-fixed-") as tmp:
        tmp = Path(tmp)
        tree = tmp / "before"
        _git("worktree", "add", "--detach", str(tree), before_rev)
        try:
            same = earlier_defaults()
            arms = (("before", tree / "src", {}), ("after", ROOT / "src", same),
                    ("after_sparse", ROOT / "src", {**same, **SPARSE}))
            for _, src, overrides in arms[:2]:  # numba's cache of compiled kernels, next to the source: fill it first
                _in_process(src, 500, 20, overrides)
            runs: dict[str, dict[str, list[dict]]] = {m: {a: [] for a, _, _ in arms} for m in MEASURES}
            for i in range(repeats):
                for m in MEASURES:
                    for arm, src, overrides in arms:
                        r = measure(m, src, overrides, tmp, i)
                        runs[m][arm].append(r)
                        log(f"  {m} {arm} {i + 1}/{repeats}: CPU {r['value']:.3f}, wall {r['wall']:.3f}, "
                            f"load {r['load']:.1f}")
        finally:
            _git("worktree", "remove", "--force", str(tree))
    med = {m: {a: statistics.median(r["value"] for r in rs) for a, rs in arms_.items()} for m, arms_ in runs.items()}
    wall = {m: {a: statistics.median(r["wall"] for r in rs) for a, rs in arms_.items()} for m, arms_ in runs.items()}
    identical = all(r["digest"] == runs[m]["before"][0]["digest"] for m in ("step_500", "run_2000")
                    for a in ("before", "after") for r in runs[m][a])
    return {"before": before_rev, "after": after_rev, "repeats": repeats, "sparse": SPARSE,
            "values": {m: {a: [r["value"] for r in rs] for a, rs in arms_.items()} for m, arms_ in runs.items()},
            "median": med, "median_wall": wall, "identical": identical,
            "load": [min(r["load"] for arms_ in runs.values() for rs in arms_.values() for r in rs),
                     max(r["load"] for arms_ in runs.values() for rs in arms_.values() for r in rs)],
            "machine": bench.machine()}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default="176c388", help="the earlier commit (default: 176c388)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", type=Path, default=bench.RESULTS)
    ap.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        size, steps, overrides = args.worker
        print(json.dumps(worker(int(size), int(steps), json.loads(overrides))))
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # a stopped benchmark still removes its worktree
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    log(f"fixed cost, {args.repeats} runs of each measure and tree, alternating; before = {args.before}")
    result = compare(args.before, args.repeats, log)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["fixed_cost"] = result
    args.out.write_text(json.dumps(results, indent=1))
    args.out.with_suffix(".md").write_text(bench.report(results) + "\n")
    log(bench.fixed_cost_report(result))
    return 0 if result["identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
