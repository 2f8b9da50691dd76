"""The speed of this checkout against an earlier commit, measured in one benchmark run.

    python benchmarks/compare.py --before 71a9d05               # default run: 2,000 people x 365 steps
    python benchmarks/compare.py --before 71a9d05 --repeats 5 --size 10000

The earlier commit is checked out in a temporary git worktree (removed afterwards). Each timed run is a fresh
subprocess that imports socialsim from one of the two trees, warms the numba kernels up (a 200-member model,
5 steps; compile time is not counted), then builds and runs the default model in process; an untimed run in
each tree first fills numba's cache of compiled kernels. Runs alternate
before, after, before, after, ... so that load on the shared machine touches all alike; the report gives the
medians of ``--repeats`` runs each and the ratio after / before of the run times (wall clock), and of their CPU
times, which other load on the machine disturbs less.

A third arm runs this checkout with the earlier rules named (``--old-rules``, by default the exit and close rules
that replaced earlier ones since 71a9d05): its time separates the cost of the new rules from other changes, and
its metrics, step by step, must be identical to the earlier commit's default run (the old rules are still
reachable, draw for draw).

The result goes into ``benchmarks/results.json`` (key ``compare``) and ``benchmarks/results.md`` is rewritten
from it (``benchmarks/run.py --report-only`` does the same).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
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

OLD_RULES = {"leaving.exit_rule": "imposed", "intimacy.close_rule": "dunbar"}


def worker(size: int, steps: int, seed: int, overrides: dict) -> dict:
    """Build and run one default model in this process; returns its times and a digest of its metrics."""
    from socialsim import PlatformModel

    PlatformModel(population__size=200, seed=seed).run(5)  # warm-up: numba kernels compiled or loaded
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    model = PlatformModel({"population.size": size, "seed": seed, **overrides})
    build = time.perf_counter() - t0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    model.run(steps)
    run = time.perf_counter() - t0
    ts = model.timeseries()
    # one digest per metric, so that metrics added since the earlier commit do not count as a difference
    digest = {c: hashlib.sha256(ts[c].to_numpy(dtype=float).tobytes()).hexdigest() for c in ts.columns}
    return {"build_s": build, "run_s": run, "cpu_s": time.process_time() - cpu0, "digest": digest,
            "load_before": load0, "load_after": os.getloadavg()[0]}



def _same_metrics(a: dict, b: dict) -> bool:
    """Whether two runs gave the same values, step by step, of every metric both trees have."""
    common = a.keys() & b.keys()
    return bool(common) and all(a[c] == b[c] for c in common)


def run_in(src: Path, size: int, steps: int, seed: int, overrides: dict | None = None) -> dict:
    """One worker in a fresh process importing socialsim from ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--size", str(size), "--steps", str(steps),
           "--seed", str(seed), "--overrides", json.dumps(overrides or {})]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=src.parent, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} (PYTHONPATH={src}) failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()


def compare(before: str, size: int, steps: int, repeats: int, seed: int, old_rules: dict, log) -> dict:
    before_rev = _git("rev-parse", "--short", before)
    after_rev = _git("rev-parse", "--short", "HEAD") + ("+dirty" if _git("status", "--porcelain", "src") else "")
    with tempfile.TemporaryDirectory(prefix="socialsim-before-") as tmp:
        tree = Path(tmp) / "before"
        _git("worktree", "add", "--detach", str(tree), before_rev)
        try:
            times: dict[str, list[dict]] = {"before": [], "after": [], "after_old_rules": []}
            arms = (("before", tree / "src", {}), ("after", ROOT / "src", {}),
                    ("after_old_rules", ROOT / "src", old_rules))
            # numba caches compiled kernels next to their source: a first, untimed run in each tree fills the cache
            # of a fresh worktree (the warm-up inside a run does not reach every kernel)
            for src in (tree / "src", ROOT / "src"):
                run_in(src, size, steps, seed)
            for i in range(repeats):
                for name, src, overrides in arms:
                    r = run_in(src, size, steps, seed, overrides)
                    times[name].append(r)
                    log(f"  {name} {i + 1}/{repeats}: run {r['run_s']:.2f} s (build {r['build_s']:.2f} s), "
                        f"load {r['load_before']:.1f}")
        finally:
            _git("worktree", "remove", "--force", str(tree))
    med = {name: statistics.median(r["run_s"] for r in runs) for name, runs in times.items()}
    return {
        "before": before_rev, "after": after_rev, "size": size, "steps": steps, "seed": seed, "repeats": repeats,
        "run_s": {name: [r["run_s"] for r in runs] for name, runs in times.items()},
        "cpu_s": {name: [r["cpu_s"] for r in runs] for name, runs in times.items()},
        "build_s": {name: statistics.median(r["build_s"] for r in runs) for name, runs in times.items()},
        "median_run_s": med, "ratio": med["after"] / med["before"],
        "cpu_ratio": (statistics.median(r["cpu_s"] for r in times["after"])
                      / statistics.median(r["cpu_s"] for r in times["before"])),
        "old_rules_ratio": med["after_old_rules"] / med["before"],
        "load": [[r["load_before"], r["load_after"]] for runs in times.values() for r in runs],
        "old_rules": old_rules, "old_rules_identical": all(_same_metrics(r["digest"], times["before"][0]["digest"])
                                                           for r in times["before"] + times["after_old_rules"]),
        "machine": bench.machine(),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", default="71a9d05", help="the earlier commit (default: 71a9d05)")
    ap.add_argument("--size", type=lambda s: int(float(s)), default=2000)
    ap.add_argument("--steps", type=int, default=365)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--old-rules", default=json.dumps(OLD_RULES),
                    help="overrides naming the earlier rules in this checkout, as JSON")
    ap.add_argument("--out", type=Path, default=bench.RESULTS)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--overrides", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.size, args.steps, args.seed, json.loads(args.overrides))))
        return 0
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    log(f"{args.size} people x {args.steps} steps, {args.repeats} runs each, alternating; before = {args.before}")
    result = compare(args.before, args.size, args.steps, args.repeats, args.seed, json.loads(args.old_rules), log)
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results["compare"] = result
    args.out.write_text(json.dumps(results, indent=1))
    args.out.with_suffix(".md").write_text(bench.report(results) + "\n")
    log(bench.compare_report(result))
    return 0 if result["old_rules_identical"] else 1


if __name__ == "__main__":
    sys.exit(main())
