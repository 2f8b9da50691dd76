"""Speed and memory benchmarks of socialsim, on the machine it runs on.

    python benchmarks/run.py                                  # everything except 1e6 (about 20 min)
    python benchmarks/run.py --only fast --sizes 1e6 --repeats 1   # the million-member run (about 2 min, 2 GB)
    python benchmarks/run.py --only fast --sizes 1e6 --repeats 1 --scenario uncalibrated   # the denser world
    python benchmarks/run.py --only reference multirun        # some sections only
    python benchmarks/run.py --only table                     # every row of the speed table, in one run

Sections (``--only``; default all):

* ``table``: every row of the speed table of docs/performance.md in one run, each with its target: fast /
  reference at ``--ref-sizes`` x ``--ref-steps`` (ratio of run times); the ``--threads-size`` (default 1e5) x
  ``--steps`` run with ``NUMBA_NUM_THREADS=2`` and ``=1`` (``OMP_WAIT_POLICY=PASSIVE``), alternating (the
  ratio 1 thread / 2 threads of run times; the 1e4 x 365 stepping target is read from the ``fast`` section); the
  fixed cost of small runs (CPU ms per step at 500 people, the command line from start to its first step and to
  exit, a 2,000 x 365 run) against ``--before`` (default 176c388), checked out in
  a git worktree by ``benchmarks/fixed_cost.py``'s code, with a check that both trees' tables are identical. The
  1e6 row is read from the ``fast`` section's 1e6 entry, measured by its own command (above), since it takes
  minutes.

* ``fast``: the fast model (PlatformModel) at ``--sizes`` people x ``--steps`` steps: build time, run time,
  member-steps per second (population size x steps / run time) and peak memory (the maximum resident set of
  a fresh process per run, ``resource.getrusage``). Each run starts with a warm-up (a 200-member model, 5 steps)
  that loads or compiles the numba kernels, so compile time is not counted. The wall time of each phase of
  the step is recorded too and reported as its share of the run time.
* ``reference``: the per-agent ReferenceModel at ``--ref-sizes`` x ``--ref-steps`` and the fast model on the
  same sizes and steps; the ratio fast / reference of member-steps per second.
* ``edges``: time per step against live follow edges at a fixed size (``--edges-size`` people,
  ``--edges-steps`` steps): the follow propensity ``behaviour.follow_base`` takes the values
  ``--edges-follow-base``, so the same members carry from a few to many follows; seconds per step (median of
  the last 20 steps) against the edges then, with the log-log slope (1 = linear) and a linear fit.
  The per-step timings of the ``fast`` runs (time per step against edges as a run grows) are kept too.
* ``multirun``: ``--multirun`` small runs (``--multirun-size`` x ``--multirun-steps``) end to end, through the
  CLI (``python -m socialsim -m 'seed=range(0,100)' ... hydra.launcher.n_jobs=J``) when it exists, else with
  joblib; serial (1 worker) and on 2 workers; parallel efficiency = T1 / (2 T2).
* ``kernels`` (only when asked for): the read kernel and the attach kernel, old code (before they were split
  into named steps, kept in ``benchmarks/old_kernels.py``) against the code in ``socialsim``, in one process on
  the same inputs, interleaved, after a check that both give identical results. The read kernel's inputs are
  captured from ``--kernels-steps`` steps of a ``--kernels-size`` model; the attach kernel builds a
  Barabasi-Albert network of ``--kernels-size`` x 10 members (one call, every newcomer in turn), a
  Bianconi-Barabasi one, and one whose seed has no degree (the uniform fallback and its rebuild).
  ``--kernels-repeats`` timings of each; min and median reported. ``python benchmarks/run.py --only kernels``

Results are merged into ``benchmarks/results.json`` (per section and size; a new run replaces the entries it
measured) and ``benchmarks/results.md`` is rewritten from it. Times are medians over ``--repeats`` runs; the
load average before and after each run is recorded, because a shared machine slows runs down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results.json"
REPORT = HERE / "results.md"


# --- one run in a fresh process ---------------------------------------------------------------------------
def worker(engine: str, size: int, steps: int, seed: int, trace: bool, overrides: dict | None = None) -> dict:
    """Build and run one model in this process; returns times, sizes and the peak memory of the process."""
    import numpy as np

    import socialsim.graph
    from socialsim import PlatformModel
    from socialsim.reference import ReferenceModel

    cls = PlatformModel if engine == "fast" else ReferenceModel
    t0 = time.perf_counter()
    # warm-up: numba kernels are compiled or loaded from cache, the parallel ones too (with several threads they
    # run on every size during it)
    threshold, socialsim.graph.PARALLEL_MIN = socialsim.graph.PARALLEL_MIN, 0
    cls(population__size=200, seed=seed).run(5)
    socialsim.graph.PARALLEL_MIN = threshold
    phase_s = _time_phases() if engine == "fast" else {}
    warmup = time.perf_counter() - t0
    rss_warm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    load0 = os.getloadavg()[0]
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    model = cls({"population.size": size, "seed": seed, **(overrides or {})})
    build = time.perf_counter() - t0
    times, edges, members = [], [], []
    last = time.perf_counter()

    def progress(m):
        nonlocal last
        now = time.perf_counter()
        times.append(now - last)
        edges.append(int(m.metrics["follows"]))
        members.append(int(m.metrics["members"]))
        last = now

    if engine == "fast":
        for name in ("measure", "_sync_members"):
            setattr(model, name, _timed(phase_s, name.lstrip("_"), getattr(model, name)))
    t0 = time.perf_counter()
    model.run(steps, progress=progress)
    run = time.perf_counter() - t0
    out = {
        "engine": engine, "size": size, "steps": steps, "seed": seed, "build_s": build, "run_s": run,
        "cpu_s": time.process_time() - cpu0, "warmup_s": warmup,
        "member_steps_per_s": size * steps / run,
        "mean_members": float(np.mean(members)) if members else 0.0,
        "final_edges": edges[-1] if edges else 0,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "warmup_rss_bytes": rss_warm, "load_before": load0, "load_after": os.getloadavg()[0],
    }
    if phase_s:
        out["phase_s"] = dict(phase_s)
    if trace:
        out["step_s"] = times
        out["step_edges"] = edges
    return out


def _timed(totals: dict, name: str, fn):
    def timed(*args):
        t = time.perf_counter()
        fn(*args)
        totals[name] = totals.get(name, 0.0) + time.perf_counter() - t
    return timed


def _time_phases() -> dict:
    """Wall time per phase of the fast model's step (the step looks its phases up in socialsim.model.PHASES)."""
    import socialsim.model

    totals: dict = {}
    socialsim.model.PHASES = [(name, _timed(totals, name, fn)) for name, fn in socialsim.model.PHASES]
    return totals


def run_worker(engine: str, size: int, steps: int, seed: int, trace: bool = True, overrides=None,
               env: dict | None = None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--size", str(size), "--steps",
           str(steps), "--seed", str(seed), "--overrides", json.dumps(overrides or {})]
    cmd += ["--trace"] if trace else []
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def summarise(runs: list[dict]) -> dict:
    keys = ("build_s", "run_s", "cpu_s", "member_steps_per_s", "peak_rss_bytes", "final_edges", "mean_members")
    out = {k: median_of(runs, k) for k in keys}
    out.update(engine=runs[0]["engine"], size=runs[0]["size"], steps=runs[0]["steps"], repeats=len(runs),
               run_s_all=[r["run_s"] for r in runs], build_s_all=[r["build_s"] for r in runs],
               load=[[round(r["load_before"], 2), round(r["load_after"], 2)] for r in runs],
               measured=_now())
    if runs[0].get("phase_s"):
        out["phase_s"] = {k: float(statistics.median(r["phase_s"].get(k, 0.0) for r in runs))
                          for k in runs[0]["phase_s"]}
    return out


def threads_env(threads: int) -> dict:
    """The environment of a run on ``threads`` threads: OpenMP's workers sleep between parallel kernels rather than
    spin, so that the read's threads get the other cores (docs/performance.md, Both cores)."""
    return {"NUMBA_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}


def series(engine: str, size: int, steps: int, repeats: int, log, overrides=None,
           env: dict | None = None) -> tuple[dict, list[dict]]:
    runs = []
    for k in range(repeats):
        r = run_worker(engine, size, steps, seed=k, overrides=overrides, env=env)
        log(f"  {engine} N={size:,} T={steps}: build {r['build_s']:.2f} s, run {r['run_s']:.2f} s, "
            f"{r['member_steps_per_s']:,.0f} member-steps/s, peak {r['peak_rss_bytes'] / 2**30:.2f} GiB, "
            f"edges {r['final_edges']:,}, load {r['load_before']:.2f}->{r['load_after']:.2f}")
        runs.append(r)
    return summarise(runs), runs


# --- sections ---------------------------------------------------------------------------------------------
def scenario_overrides(name: str) -> dict:
    """The parameters of ``scenario=NAME`` (socialsim/conf/scenario/NAME.yaml) as dotted overrides, without its
    population size (the benchmark sets the size)."""
    import yaml

    path = ROOT / "src" / "socialsim" / "conf" / "scenario" / f"{name}.yaml"
    values = {f"{g}.{k}": v for g, sub in yaml.safe_load(path.read_text()).items() for k, v in sub.items()}
    return {k: v for k, v in values.items() if k != "population.size"}


def bench_fast(args, results, log):
    section = "fast" if args.scenario is None else f"fast_{args.scenario}"
    section += "" if args.threads == 1 else f"_threads{args.threads}"
    overrides = None if args.scenario is None else scenario_overrides(args.scenario)
    env = None if args.threads == 1 else threads_env(args.threads)
    for size in args.sizes:
        reps = args.repeats if size < args.large else args.large_repeats
        summary, runs = series("fast", size, args.steps, reps, log, overrides=overrides, env=env)
        results.setdefault(section, {})[str(size)] = summary
        if section == "fast":
            results.setdefault("edges_trace", {})[str(size)] = _trace(runs[0])


def bench_reference(args, results, log):
    for size in args.ref_sizes:
        ref, _ = series("reference", size, args.ref_steps, args.repeats, log)
        fast, _ = series("fast", size, args.ref_steps, args.repeats, log)
        results.setdefault("reference", {})[str(size)] = {
            "size": size, "steps": args.ref_steps, "reference": ref, "fast": fast,
            "ratio": fast["member_steps_per_s"] / ref["member_steps_per_s"]}


def bench_table(args, results, log):
    """Every row of the speed table in one run: fast / reference at ``--ref-sizes`` x ``--ref-steps``, the
    ``--threads-size`` x ``--steps`` run with 2 threads and with 1 (``NUMBA_NUM_THREADS``, alternating), and the fixed cost of small runs
    against ``--before`` checked out in a git worktree (benchmarks/fixed_cost.py). The 1e6 rows come from the
    ``fast`` section's 1e6 entry (a separate command)."""
    import fixed_cost  # benchmarks/fixed_cost.py, which imports this module for the report

    out = {"reference": {}, "threads": {}, "measured": _now(), "machine": machine()}
    for size in args.ref_sizes:
        ref, _ = series("reference", size, args.ref_steps, args.repeats, log)
        fast, _ = series("fast", size, args.ref_steps, args.repeats, log)
        out["reference"][str(size)] = {"reference_run_s": ref["run_s"], "fast_run_s": fast["run_s"],
                                       "ratio": ref["run_s"] / fast["run_s"], "steps": args.ref_steps}
        # the reference section's table shows the same runs, so results.md has one measurement of each
        results.setdefault("reference", {})[str(size)] = {
            "size": size, "steps": args.ref_steps, "reference": ref, "fast": fast,
            "ratio": fast["member_steps_per_s"] / ref["member_steps_per_s"]}
    runs: dict[int, list[dict]] = {1: [], 2: []}
    for k in range(args.repeats):
        for threads in (2, 1):
            r = run_worker("fast", args.threads_size, args.steps, seed=k, trace=False, env=threads_env(threads))
            runs[threads].append(r)
            log(f"  fast N={args.threads_size:,} T={args.steps}, {threads} thread(s): run {r['run_s']:.2f} s, "
                f"CPU {r['cpu_s']:.2f} s, load {r['load_before']:.2f}->{r['load_after']:.2f}")
    for threads, rs in runs.items():
        out["threads"][str(threads)] = {"run_s": median_of(rs, "run_s"), "cpu_s": median_of(rs, "cpu_s"),
                                        "run_s_all": [r["run_s"] for r in rs]}
    out["threads"]["size"], out["threads"]["steps"] = args.threads_size, args.steps
    out["threads"]["ratio"] = out["threads"]["1"]["run_s"] / out["threads"]["2"]["run_s"]
    out["fixed_cost"] = fixed_cost.compare(args.before, args.repeats, log)
    results["fixed_cost"] = out["fixed_cost"]  # the fixed-cost section of results.md shows the same runs
    out["load"] = [min(x for r in (*runs[1], *runs[2]) for x in (r["load_before"], r["load_after"])),
                   max(x for r in (*runs[1], *runs[2]) for x in (r["load_before"], r["load_after"]))]
    results["table"] = out


#: the targets of the speed table (docs/performance.md): (row, target, whether a measured value meets it)
TABLE_TARGETS = {
    "million": ("1e6 people x 365 steps", "<= 300 s, <= 8 GB"),
    "stepping": ("{size} x {steps} stepping (default: one thread)", "<= 2 s"),
    "ref_1e4": ("fast / reference, {size} x {steps}", ">= 100x"),
    "ref_1e3": ("fast / reference, {size} x {steps}", ">= 30x"),
    "step_500": ("CPU ms per step at 500 people", "<= 0.5 ms"),
    "startup": ("`python -m socialsim` start to its first step, 500 people (CPU)", "<= 1.2 s"),
    "cli_exit": ("the same, start to exit of a one-step run, its run folder written (CPU)", ""),
    "threads": ("cores used by one run: {size} x {steps}, 1 thread / 2 threads (run time)",
                "> 1, where a phase allows"),
}


def table_report(results: dict) -> str:
    """The speed table: every row, measured in one ``--only table`` run (and the 1e6 row from its own command),
    with the target and whether it is met."""
    t = results["table"]
    fc = t["fixed_cost"]
    med = fc["median"]
    rows = ["## The speed table", "",
            f"`python benchmarks/run.py --only table` at {t['machine'].get('git')}, measured {t['measured']}, "
            f"load {t['load'][0]:.1f}-{t['load'][1]:.1f} on {t['machine'].get('cores')} cores (wall times on a "
            "loaded machine are long; the ratios of runs that alternate, threads and after / before, are the steadier "
            "figures; the reference and the fast runs follow one another, so a change of load between them moves "
            "their ratio). After / before: "
            f"this tree against {fc['before']} in a git worktree, both with the earlier default parameters "
            "(scenario=uncalibrated).", "",
            "| measure | value | ratio | target | met |", "|---|---:|---:|---|---|"]
    big = results.get("fast", {}).get("1000000")
    if big:
        met = big["run_s"] <= 300 and big["peak_rss_bytes"] <= 8e9
        rows.append(f"| {TABLE_TARGETS['million'][0]} | {big['run_s']:.0f} s, {_gib(big['peak_rss_bytes'])}, "
                    f"{int(big['final_edges']):,} follows at the end (measured {big.get('measured', '?')}) | | "
                    f"{TABLE_TARGETS['million'][1]} | {'met' if met else 'missed'} |")
        dense = results.get("fast_uncalibrated", {}).get("1000000")
        if dense:  # the earlier defaults: a far denser world, which the targets were first set for
            met = dense["run_s"] <= 300 and dense["peak_rss_bytes"] <= 8e9
            rows.append(f"| the same with `scenario=uncalibrated` | {dense['run_s']:.0f} s, "
                        f"{_gib(dense['peak_rss_bytes'])}, {int(dense['final_edges']):,} follows at the end (measured "
                        f"{dense.get('measured', '?')}) | | {TABLE_TARGETS['million'][1]} | "
                        f"{'met' if met else 'missed'} |")
    else:
        rows.append(f"| {TABLE_TARGETS['million'][0]} | not measured in this run: "
                    "`python benchmarks/run.py --only fast --sizes 1e6 --repeats 1` | | "
                    f"{TABLE_TARGETS['million'][1]} | |")
    th = t["threads"]
    two = th["2"]["run_s"]
    # the stepping target is set at 1e4 x 365: from the threads runs when they are of that size, else from the
    # fast section (``--only fast --sizes 1e4``)
    small = results.get("fast", {}).get("10000")
    if th["size"] == 10_000 or small is None:
        size, steps, one = th["size"], th["steps"], th["1"]["run_s"]
    else:
        size, steps, one = 10_000, small["steps"], small["run_s"]
    label = TABLE_TARGETS["stepping"][0].format(size=_fmt_size(size), steps=steps)
    rows.append(f"| {label} | {one:.2f} s | | {TABLE_TARGETS['stepping'][1]} | "
                f"{'met' if one <= 2 else 'missed'} |")
    for size, key in (("10000", "ref_1e4"), ("1000", "ref_1e3")):  # the targets are set at these sizes
        if size in t["reference"]:
            r = t["reference"][size]
            need = 100 if key == "ref_1e4" else 30
            label = TABLE_TARGETS[key][0].format(size=_fmt_size(int(size)), steps=r["steps"])
            rows.append(f"| {label} | {r['fast_run_s']:.3f} s vs {r['reference_run_s']:.2f} s | "
                        f"{r['ratio']:.0f}x | {TABLE_TARGETS[key][1]} | {'met' if r['ratio'] >= need else 'missed'} |")
    ms = med["step_500"]
    rows.append(f"| {TABLE_TARGETS['step_500'][0]} | {ms['after']:.2f} ms (before {ms['before']:.2f}) | "
                f"{ms['after'] / ms['before']:.2f} after / before | {TABLE_TARGETS['step_500'][1]} | "
                f"{'met' if ms['after'] <= 0.5 else 'missed'} |")
    first = med.get("to_first_step")
    if first:
        rows.append(f"| {TABLE_TARGETS['startup'][0]} | {first['after']:.2f} s (before {first['before']:.2f}) | "
                    f"{first['after'] / first['before']:.2f} after / before | {TABLE_TARGETS['startup'][1]} | "
                    f"{'met' if first['after'] <= 1.2 else 'missed'} |")
    cli = med["cli_first_step"]
    rows.append(f"| {TABLE_TARGETS['cli_exit'][0]} | {cli['after']:.2f} s (before {cli['before']:.2f}) | "
                f"{cli['after'] / cli['before']:.2f} after / before | | |")
    run2k = med["run_2000"]
    rows.append(f"| 2,000 x 365 run, in process (CPU) | {run2k['after']:.2f} s (before {run2k['before']:.2f}) | "
                f"{run2k['after'] / run2k['before']:.2f} after / before | (shows the fixed-cost gain) | |")
    label = TABLE_TARGETS["threads"][0].format(size=_fmt_size(th["size"]), steps=th["steps"])
    rows.append(f"| {label} | {th['1']['run_s']:.2f} s / {two:.2f} s | {th['ratio']:.2f} | "
                f"{TABLE_TARGETS['threads'][1]} | {'met' if th['ratio'] > 1.05 else 'missed'} |")
    one_big = results.get("fast_uncalibrated", {}).get("1000000")
    two_big = results.get("fast_uncalibrated_threads2", {}).get("1000000")
    if one_big and two_big:
        ratio = one_big["run_s"] / two_big["run_s"]
        rows.append(f"| the same at 1e6 x 365, `scenario=uncalibrated` (`--only fast --threads 2`) | "
                    f"{one_big['run_s']:.0f} s / {two_big['run_s']:.0f} s | {ratio:.2f} | "
                    f"{TABLE_TARGETS['threads'][1]} | {'met' if ratio > 1.05 else 'missed'} |")
    rows += ["", "Same tables before and after (Parquet bytes of the in-process runs): "
             + ("yes." if fc["identical"] else "NO.")]
    return "\n".join(rows)


def _trace(run: dict) -> dict:
    """Per-step time against edges, thinned to at most 60 points (the last one always kept)."""
    n = len(run["step_s"])
    keep = sorted(set(range(0, n, max(1, n // 60))) | {n - 1}) if n else []
    return {"size": run["size"], "step_s": [run["step_s"][i] for i in keep],
            "edges": [run["step_edges"][i] for i in keep], "steps": [i + 1 for i in keep],
            "slope": _slope(run["step_edges"], run["step_s"])}


def _slope(edges, secs) -> float | None:
    import numpy as np

    e, s = np.asarray(edges, float), np.asarray(secs, float)
    ok = (e > 1000) & (s > 0)
    if ok.sum() < 5 or np.ptp(np.log(e[ok])) < 0.5:
        return None
    return float(np.polyfit(np.log(e[ok]), np.log(s[ok]), 1)[0])


def bench_edges(args, results, log):
    """Fixed size, follow propensity varied: seconds per step (median of the last 20 steps) against edges."""
    import numpy as np

    rows = []
    for fb in args.edges_follow_base:
        runs = []
        for k in range(args.repeats):
            r = run_worker("fast", args.edges_size, args.edges_steps, seed=k,
                           overrides={"behaviour.follow_base": fb})
            tail = slice(-min(20, len(r["step_s"])), None)
            runs.append({"step_s": float(np.median(r["step_s"][tail])),
                         "edges": float(np.median(r["step_edges"][tail])),
                         "members": r["mean_members"], "peak_rss_bytes": r["peak_rss_bytes"],
                         "load": [r["load_before"], r["load_after"]]})
            log(f"  edges: N={args.edges_size:,} follow_base={fb}: {runs[-1]['edges']:,.0f} edges, "
                f"{runs[-1]['step_s'] * 1000:.1f} ms/step, load {r['load_before']:.2f}->{r['load_after']:.2f}")
        rows.append({"follow_base": fb, "edges": float(np.median([x["edges"] for x in runs])),
                     "step_s": float(np.median([x["step_s"] for x in runs])),
                     "peak_rss_bytes": float(np.median([x["peak_rss_bytes"] for x in runs])),
                     "repeats": len(runs), "load": [x["load"] for x in runs]})
    e = np.array([r["edges"] for r in rows])
    t = np.array([r["step_s"] for r in rows])
    out = {"size": args.edges_size, "steps": args.edges_steps, "rows": rows, "measured": _now()}
    if len(rows) >= 2:
        out["loglog_slope"] = float(np.polyfit(np.log(e), np.log(t), 1)[0])
        b, a = np.polyfit(e, t, 1)
        out["linear_fit"] = {"seconds_per_step_at_0_edges": float(a), "seconds_per_million_edges": float(b * 1e6)}
    results["edges"] = out


def bench_kernels(args, results, log):
    """Old against new read and attach kernels, in this process, on identical inputs (see the docstring)."""
    import numpy as np

    sys.path.insert(0, str(HERE))
    import old_kernels

    import socialsim.phases.read as read
    from socialsim import PlatformModel
    from socialsim.phases.join import _attach_kernel

    # the read kernel's inputs, captured as the read phase makes them
    calls = []
    new_read = read._read

    def capture(seed, readers, fl, it, *rest):
        calls.append((seed, readers, fl, it._replace(cell=it.cell.copy()), *rest))
        return new_read(seed, readers, fl, it, *rest)

    model = PlatformModel({"population.size": args.kernels_size, "seed": 0})
    model.run(args.kernels_warmup)
    read._read = capture
    try:
        model.run(args.kernels_steps)
    finally:
        read._read = new_read

    def old_read():
        return [old_kernels._read(seed, readers, *fl, it.cell.copy(), *it[1:], *rest)
                for seed, readers, fl, it, *rest in calls]

    def new_read_all():
        return [new_read(seed, readers, fl, it._replace(cell=it.cell.copy()), *rest)
                for seed, readers, fl, it, *rest in calls]

    # the attach kernel: whole networks in one call
    n = args.kernels_size * 10
    rng = np.random.default_rng(0)
    fitness = rng.random(n)
    seeded = np.zeros(n)
    seeded[:4] = 6.0  # m0 = 4 members, each following the 3 others: total degree 6
    member = np.zeros(n, bool)
    member[:4] = True
    cases = {"preferential": (seeded, np.ones(n)), "fitness": (seeded * fitness, fitness),
             "fallback": (np.zeros(n), np.ones(n))}

    def attach(kernel, case):
        weight, fit = cases[case]
        return lambda: kernel(7, np.arange(4, n), weight.copy(), member, fit, 3, True)

    jobs = {"read": (old_read, new_read_all)}
    for case in cases:
        jobs[f"attach_{case}"] = (attach(old_kernels._attach_kernel, case), attach(_attach_kernel, case))
    out = {"size": args.kernels_size, "read_calls": len(calls), "attach_members": n,
           "read_items": int(sum(len(x[0]) for x in new_read_all())), "repeats": args.kernels_repeats,
           "load_before": os.getloadavg()[0], "machine": machine(), "measured": _now(), "timings": {}}
    for name, (old, new) in jobs.items():
        a, b = old(), new()  # also compiles or loads both
        same = all(np.array_equal(x, y) for u, v in zip(a, b) for x, y in zip(u, v)) and len(a) == len(b)
        if not same:
            raise RuntimeError(f"old and new {name} kernels disagree")
        times = {"old": [], "new": []}
        for _ in range(args.kernels_repeats):
            for which, fn in (("old", old), ("new", new)):
                t = time.perf_counter()
                fn()
                times[which].append(time.perf_counter() - t)
        row = {k: {"min_s": min(v), "median_s": statistics.median(v)} for k, v in times.items()}
        out["timings"][name] = row
        log(f"  {name}: old min {row['old']['min_s'] * 1000:.1f} ms, median {row['old']['median_s'] * 1000:.1f} ms; "
            f"new min {row['new']['min_s'] * 1000:.1f} ms, median {row['new']['median_s'] * 1000:.1f} ms; identical")
    out["load_after"] = os.getloadavg()[0]
    results["kernels"] = out


def _cli_available() -> bool:
    return (ROOT / "src" / "socialsim" / "__main__.py").exists()


def bench_multirun(args, results, log):
    n, size, steps = args.multirun, args.multirun_size, args.multirun_steps
    via = "cli" if _cli_available() and not args.joblib else "joblib"
    out = {"runs": n, "size": size, "steps": steps, "via": via}
    loads = []
    for jobs in (1, 2):
        times = []
        for rep in range(args.multirun_repeats):
            load0 = os.getloadavg()[0]
            t = _multirun_cli(n, size, steps, jobs) if via == "cli" else _multirun_joblib(n, size, steps, jobs)
            times.append(t)
            loads.append([round(load0, 2), round(os.getloadavg()[0], 2)])
            log(f"  multirun {n} x (N={size}, T={steps}) via {via}, {jobs} worker(s): {t:.1f} s, "
                f"load {load0:.2f}->{os.getloadavg()[0]:.2f}")
        out[f"t{jobs}_s"] = float(statistics.median(times))
        out[f"t{jobs}_all"] = times
    out["load"] = loads
    out["speedup"] = out["t1_s"] / out["t2_s"]
    out["efficiency"] = out["speedup"] / 2
    out["measured"] = _now()
    results["multirun" if via == "cli" else "multirun_joblib"] = out


def _multirun_cli(n, size, steps, jobs) -> float:
    sweep = Path(tempfile.mkdtemp(prefix="socialsim-bench-"))
    cmd = [sys.executable, "-m", "socialsim", "-m", f"seed=range(0,{n})", f"population.size={size}",
           f"run.steps={steps}", f"hydra.launcher.n_jobs={jobs}", f"hydra.sweep.dir={sweep}"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - t0
    shutil.rmtree(sweep, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return elapsed


def _multirun_joblib(n, size, steps, jobs) -> float:
    # a fresh interpreter, so that imports and numba cache loading count as they would for a user
    code = (
        "from joblib import Parallel, delayed\n"
        "def one(seed):\n"
        "    from socialsim import PlatformModel\n"
        f"    return PlatformModel(population__size={size}, seed=seed).run({steps}).metrics\n"
        f"Parallel(n_jobs={jobs})(delayed(one)(s) for s in range({n}))\n"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    return time.perf_counter() - t0


# --- machine and report -----------------------------------------------------------------------------------
def machine() -> dict:
    import mesa
    import numba
    import numpy

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_bytes": mem, "os": platform.platform(),
            "python": platform.python_version(), "numpy": numpy.__version__, "numba": numba.__version__,
            "mesa": mesa.__version__, "git": _git_rev()}


def _git_rev() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "src"],
                               capture_output=True, text=True, cwd=ROOT).stdout.strip()
        return rev.stdout.strip() + ("+dirty" if dirty else "")
    except OSError:
        return "unknown"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _gib(x) -> str:
    return f"{x / 2**30:.2f} GiB" if x >= 2**28 else f"{x / 2**20:.0f} MiB"


def _fmt_size(n) -> str:
    n = int(n)
    return f"1e{len(str(n)) - 1}" if str(n).strip("0") == "1" else f"{n:,}"


def _kept_sections(text: str) -> str:
    """Sections other scripts keep in results.md (e.g. benchmarks/load_sweep.py's), between their markers."""
    import re

    found = [m.group(0) for m in re.finditer(r"<!-- (\w+):start -->.*?<!-- \1:end -->", text, flags=re.S)]
    return "".join(f"\n{block}\n" for block in found)


def report(results: dict) -> str:
    m = results.get("machine", {})
    lines = ["# socialsim benchmarks", "",
             f"Machine: {m.get('cpu')}, {m.get('cores')} cores, {_gib(m.get('memory_bytes') or 0)} RAM; "
             f"{m.get('os')}; Python {m.get('python')}, numpy {m.get('numpy')}, numba {m.get('numba')}, "
             f"Mesa {m.get('mesa')}; socialsim at {m.get('git')}.", "",
             "Command: `python benchmarks/run.py` (see its docstring). Times are medians over the repeats (wall clock; "
             "run CPU = CPU time of the run, less sensitive to other load); "
             "member-steps/s = population size x steps / run time (building not included); peak memory is the "
             "maximum resident set of a fresh process per run; numba compile time is excluded by a warm-up. "
             "Load = 1-minute load average before -> after each run (the machine is shared; 2 cores).", ""]
    if "fast" in results:
        lines += ["## Fast model (PlatformModel), default parameters", "",
                  "| people | steps | build (s) | run (s) | run CPU (s) | member-steps/s | peak memory | "
                  "follow edges at end | runs | load |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for _, r in sorted(results["fast"].items(), key=lambda kv: int(kv[0])):
            lines.append(f"| {_fmt_size(r['size'])} | {r['steps']} | {r['build_s']:.2f} | {r['run_s']:.2f} | "
                         f"{r['cpu_s']:.2f} | {r['member_steps_per_s']:,.0f} | {_gib(r['peak_rss_bytes'])} | "
                         f"{r['final_edges']:,.0f} | {r['repeats']} | {_load(r)} |")
        lines.append("")
        timed = {k: r for k, r in results["fast"].items() if r.get("phase_s")}
        if timed:
            sizes = sorted(timed, key=int)
            phases = sorted(timed[sizes[-1]]["phase_s"], key=lambda p: -timed[sizes[-1]]["phase_s"][p])
            lines += ["Where the run time goes: share of the run's wall time spent in each phase of the step "
                      "(medians over the runs).", "",
                      "| phase | " + " | ".join(_fmt_size(int(k)) for k in sizes) + " |",
                      "|---|" + "---:|" * len(sizes)]
            for ph in phases:
                lines.append(f"| {ph} | " + " | ".join(
                    f"{100 * timed[k]['phase_s'].get(ph, 0.0) / timed[k]['run_s']:.0f}%" for k in sizes) + " |")
            lines.append("")
    if "reference" in results:
        lines += ["## Per-agent reference (ReferenceModel) against the fast model, same sizes and steps", "",
                  "| people | steps | reference run (s) | reference member-steps/s | reference peak | fast run (s) | "
                  "fast member-steps/s | fast / reference |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for _, r in sorted(results["reference"].items(), key=lambda kv: int(kv[0])):
            ref, fast = r["reference"], r["fast"]
            lines.append(f"| {_fmt_size(r['size'])} | {r['steps']} | {ref['run_s']:.2f} | "
                         f"{ref['member_steps_per_s']:,.0f} | {_gib(ref['peak_rss_bytes'])} | {fast['run_s']:.3f} | "
                         f"{fast['member_steps_per_s']:,.0f} | {r['ratio']:,.0f}x |")
        lines.append("")
    if "edges" in results and "rows" in results["edges"] and "follow_base" in results["edges"]["rows"][0]:
        e = results["edges"]
        lines += [f"## Time per step against follow edges ({e['size']:,} people, {e['steps']} steps, "
                  "follow propensity varied)", "",
                  "| behaviour.follow_base | follow edges | ms per step | peak memory |", "|---:|---:|---:|---:|"]
        for r in e["rows"]:
            lines.append(f"| {r['follow_base']:g} | {r['edges']:,.0f} | {r['step_s'] * 1000:.1f} | "
                         f"{_gib(r['peak_rss_bytes'])} |")
        if "loglog_slope" in e:
            lf = e["linear_fit"]
            lines += ["", f"Log-log slope of time per step on edges: **{e['loglog_slope']:.2f}** (1 = linear); "
                          f"linear fit: {lf['seconds_per_step_at_0_edges'] * 1000:.1f} ms + "
                          f"{lf['seconds_per_million_edges'] * 1000:.0f} ms per million edges."]
        lines.append("")
    if any(v.get("slope") is not None for v in results.get("edges_trace", {}).values()):
        lines += ["Within each fast run above, log-log slope of time per step on edges as the run grows "
                  "(members grow too): " + ", ".join(
                      f"{_fmt_size(k)}: {v['slope']:.2f}" for k, v in sorted(results["edges_trace"].items(),
                                                                     key=lambda kv: int(kv[0]))
                      if v.get("slope") is not None) + ".", ""]
    if "kernels" in results:
        k = results["kernels"]
        lines += ["## Read and attach kernels before and after their split into named steps", "",
                  f"`python benchmarks/run.py --only kernels`, one process, socialsim at {k['machine']['git']}, "
                  f"measured {k['measured']}; load {k['load_before']:.1f} -> {k['load_after']:.1f} on "
                  f"{k['machine']['cores']} cores. Old code: `benchmarks/old_kernels.py`. Read: the kernel's "
                  f"{k['read_calls']} calls of a {k['size']:,}-member run ({k['read_items']:,} items read), all "
                  f"calls per timing. Attach: one network of {k['attach_members']:,} members, m = 3. Old and new "
                  f"give identical results (checked). {k['repeats']} timings each, interleaved."
                  + (" The machine was under load (more runnable processes than cores): differences of a few percent "
                     "are within the noise; the minima are the steadier figures."
                     if max(k["load_before"], k["load_after"]) > k["machine"]["cores"] else ""), "",
                  "| kernel | old min (ms) | new min (ms) | old median (ms) | new median (ms) | new / old (min) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for name, row in k["timings"].items():
            o, nw = row["old"], row["new"]
            lines.append(f"| {name} | {o['min_s'] * 1000:.1f} | {nw['min_s'] * 1000:.1f} | "
                         f"{o['median_s'] * 1000:.1f} | {nw['median_s'] * 1000:.1f} | {nw['min_s'] / o['min_s']:.2f} |")
        lines.append("")
    runs = [results[k] for k in ("multirun", "multirun_joblib") if k in results]
    if runs:
        lines += ["## Multirun (end to end: fresh processes, imports, numba cache loading and output included)", "",
                  "| runs | people x steps | via | 1 worker (s) | 2 workers (s) | speedup | parallel efficiency | "
                  "load |", "|---:|---|---|---:|---:|---:|---:|---|"]
        for r in runs:
            via = "`python -m socialsim -m` (Hydra, joblib launcher)" if r["via"] == "cli" else "joblib, no output"
            lines.append(f"| {r['runs']} | {r['size']:,} x {r['steps']} | {via} | {r['t1_s']:.1f} | {r['t2_s']:.1f} | "
                         f"{r['speedup']:.2f} | {r['efficiency']:.0%} | {_load(r)} |")
        lines.append("")
    if "table" in results:
        lines += [table_report(results), ""]
    if "compare" in results:
        lines += [compare_report(results["compare"]), ""]
    if "fixed_cost" in results:
        lines += [fixed_cost_report(results["fixed_cost"]), ""]
    return "\n".join(lines)


FIXED_COST_MEASURES = {
    "step_500": ("CPU ms per step, 500 people x 365 steps, in process", "{:.2f}"),
    "run_2000": ("CPU s of a run of 2,000 people x 365 steps, in process", "{:.2f}"),
    "to_first_step": ("CPU s of `python -m socialsim population.size=500 run.steps=1`, start to its first step",
                      "{:.2f}"),
    "cli_first_step": ("CPU s of `python -m socialsim population.size=500 run.steps=1`, start to exit", "{:.2f}"),
    "cli_2000": ("CPU s of `python -m socialsim population.size=2000`, start to exit", "{:.2f}"),
}


def fixed_cost_report(c: dict) -> str:
    """The section of results.md written by benchmarks/fixed_cost.py: the fixed cost of small runs."""
    m = c.get("machine", {})
    sparse = " ".join(f"{k}={v}" for k, v in c["sparse"].items())
    rows = ["## Fixed cost of small runs, against an earlier commit", "",
            f"Command: `python benchmarks/fixed_cost.py --before {c['before']}` (see its docstring), at {c['after']} "
            f"on {m.get('cpu')}, {m.get('cores')} cores. Fresh processes alternating between the trees, "
            f"{c['repeats']} of each; medians; 1-minute load average {c['load'][0]:.1f}-{c['load'][1]:.1f} on "
            f"2 cores. `after, sparse` is this tree with {sparse} (metrics at step 0 and at the end only).", "",
            f"| measure | before ({c['before']}) | after ({c['after']}) | after / before | after, sparse | "
            "sparse / before |", "|---|---:|---:|---:|---:|---:|"]
    for key, (label, fmt) in FIXED_COST_MEASURES.items():
        if key not in c["median"]:  # measured by a later version of fixed_cost.py
            continue
        med = c["median"][key]
        rows.append(f"| {label} | {fmt.format(med['before'])} | {fmt.format(med['after'])} | "
                    f"{med['after'] / med['before']:.2f} | {fmt.format(med['after_sparse'])} | "
                    f"{med['after_sparse'] / med['before']:.2f} |")
    wall = c.get("median_wall", {})
    if wall:
        rows += ["", "Wall times (medians; more disturbed by other load): " + "; ".join(
            f"{key}: {wall[key]['before']:.2f} -> {wall[key]['after']:.2f} (sparse {wall[key]['after_sparse']:.2f})"
            for key in FIXED_COST_MEASURES if key in wall) + "."]
    rows += ["", "The three tables of the in-process runs (timeseries, members, follows; Parquet bytes) are "
             + ("identical in both trees." if c["identical"] else "NOT identical in both trees.")]
    return "\n".join(rows)


def compare_report(c: dict) -> str:
    """The section of results.md written by benchmarks/compare.py: this tree against an earlier commit."""
    m = c.get("machine", {})
    rows = ["## Against an earlier commit, in one benchmark run", "",
            f"Command: `python benchmarks/compare.py --before {c['before']}` (see its docstring), at {c['after']} on "
            f"{m.get('cpu')}, {m.get('cores')} cores, Python {m.get('python')}, numba {m.get('numba')}. Default "
            f"parameters, {c['size']:,} people x {c['steps']} steps, seed {c['seed']}, in process; fresh "
            f"processes alternating before and after, {c['repeats']} each; numba compile time excluded.", "",
            "| tree | run times (s) | median run (s) | run CPU times (s) | median build (s) |",
            "|---|---|---:|---|---:|"]
    old = " ".join(f"{k}={v}" for k, v in c["old_rules"].items())
    arms = [("before", c["before"]), ("after", c["after"])]
    arms += [("after_old_rules", f"{c['after']}, {old}")] if "after_old_rules" in c["run_s"] else []
    for name, rev in arms:
        cpu = ", ".join(f"{t:.2f}" for t in c.get("cpu_s", {}).get(name, []))
        rows.append(f"| {name} ({rev}) | {', '.join(f'{t:.2f}' for t in c['run_s'][name])} | "
                    f"{c['median_run_s'][name]:.2f} | {cpu} | {c['build_s'][name]:.3f} |")
    cpu = f"; of the CPU times {c['cpu_ratio']:.3f} ({c['cpu_ratio'] - 1:+.1%})" if "cpu_ratio" in c else ""
    if "old_rules_ratio" in c:
        cpu += f"; after with the earlier rules named / before, run times: {c['old_rules_ratio']:.3f}"
    rows += ["", f"After / before (medians of the run times): {c['ratio']:.3f} ({c['ratio'] - 1:+.1%}){cpu}; "
             f"1-minute load average {_load(c)} on 2 cores. With the "
             f"earlier rules named ({old}) the after tree's metrics are "
             + ("identical, step by step, to the before tree's." if c["old_rules_identical"]
                else "NOT identical to the before tree's.")]
    return "\n".join(rows)


def _load(r: dict) -> str:
    flat = [x for pair in r.get("load", []) for x in pair]
    return f"{min(flat):.1f}-{max(flat):.1f}" if flat else ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    size = lambda s: int(float(s))  # noqa: E731  (1e4 -> 10000)
    ap.add_argument("--only", nargs="+", choices=("table", "fast", "reference", "edges", "multirun", "kernels"),
                    default=("table", "fast", "reference", "edges", "multirun"))
    ap.add_argument("--sizes", nargs="+", type=size, default=[1000, 10_000, 100_000])
    ap.add_argument("--steps", type=int, default=365)
    ap.add_argument("--scenario", help="the fast section with scenario=NAME's parameters (stored as fast_NAME)")
    ap.add_argument("--threads", type=int, default=1,
                    help="the fast section on this many threads (stored with the suffix _threadsN)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--large", type=size, default=1_000_000, help="sizes from here on run --large-repeats times")
    ap.add_argument("--large-repeats", type=int, default=1)
    ap.add_argument("--ref-sizes", nargs="+", type=size, default=[1000, 10_000])
    ap.add_argument("--ref-steps", type=int, default=100)
    ap.add_argument("--edges-size", type=size, default=20_000)
    ap.add_argument("--edges-steps", type=int, default=150)
    ap.add_argument("--edges-follow-base", nargs="+", type=float, default=[-7.0, -5.4, -4.0, -3.0])
    ap.add_argument("--multirun", type=int, default=100)
    ap.add_argument("--multirun-size", type=size, default=1000)
    ap.add_argument("--multirun-steps", type=int, default=100)
    ap.add_argument("--multirun-repeats", type=int, default=3)
    ap.add_argument("--joblib", action="store_true", help="multirun with joblib even if the CLI exists")
    ap.add_argument("--kernels-size", type=size, default=10_000)
    ap.add_argument("--kernels-warmup", type=int, default=100, help="steps before the read kernel's inputs are kept")
    ap.add_argument("--kernels-steps", type=int, default=20)
    ap.add_argument("--kernels-repeats", type=int, default=7)
    ap.add_argument("--threads-size", type=size, default=100_000,
                    help="people in the 2 threads / 1 thread runs (the parallel kernels start at 50,000 items)")
    ap.add_argument("--before", default="176c388", help="the earlier commit of the table's after / before ratios")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--report-only", action="store_true", help="rewrite results.md from results.json, run nothing")
    # internal: one run in this process
    ap.add_argument("--worker", choices=("fast", "reference"), help=argparse.SUPPRESS)
    ap.add_argument("--size", type=size, help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--overrides", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.size, args.steps, args.seed, args.trace, json.loads(args.overrides))))
        return 0

    def log(msg):
        print(msg, flush=True)

    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    if args.report_only:
        md = args.out.with_suffix(".md")
        kept = _kept_sections(md.read_text()) if md.exists() else ""
        md.write_text(report(results) + "\n" + kept)
        return 0
    if set(args.only) - {"kernels"}:  # the kernels section records its own machine and revision
        results["machine"] = machine()
    log(f"machine: {machine()}; load {os.getloadavg()}")
    sections = {"table": bench_table, "fast": bench_fast, "reference": bench_reference, "edges": bench_edges,
                "multirun": bench_multirun, "kernels": bench_kernels}
    for name in ("table", "fast", "reference", "edges", "multirun", "kernels"):
        if name in args.only:
            log(f"== {name}")
            sections[name](args, results, log)
            args.out.write_text(json.dumps(results, indent=1))
    args.out.write_text(json.dumps(results, indent=1))
    md = report(results)
    path = args.out.with_suffix(".md")
    kept = _kept_sections(path.read_text()) if path.exists() else ""
    path.write_text(md + "\n" + kept)
    log(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
