"""Re-run a sample of the stored sweeps' jobs with the current code and compare their tables byte for byte.

    python experiments/check_reproduction.py                  # 2 jobs from each sweep
    python experiments/check_reproduction.py --k 5 early_adopters
    python experiments/check_reproduction.py --keep /tmp/rerun  # keep the re-runs (default: a temporary folder)

For each sweep in results/sweeps/ (or SOCIALSIM_SWEEPS_DIR) it takes ``k`` complete jobs, evenly spaced in the
order they ran (with k=2 the first and the last job of the sweep, the two most likely to have run different
code), rebuilds each job's configuration exactly as stored (a Hydra job's ``.hydra/config.yaml`` through
socialsim.config.to_params, as ``python -m socialsim`` does; a sensitivity run's row of the stored design.csv
through socialsim.study.design_overrides, as experiments/sensitivity.py does),
checks that it has the configuration hash the run recorded, runs it with socialsim.io.run_to_folder (what the
command line and the sensitivity driver call) and compares timeseries, members and follows .parquet with the stored
files. One line per job, ``same`` or ``DIFFERENT``; for a difference, the headline metrics of both runs.
Exit code 1 if any job differs, 0 if all are the same.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SWEEPS = ("openness_vs_elite", "illusion_of_intimacy", "local_networks", "early_adopters", "unpredictability",
          "recommender_by_attention", "invite_only", "reshares_off", "follow_cap", "close_tie_budget",
          "engagement_timeline", "minority_visibility", "unpredictability_independent", "sensitivity")
HEADLINE = ("members", "follows", "gini_followers", "top1_share_followers", "spearman_skill_followers",
            "spearman_reach_followers", "low_skill_connected_share", "close_ties_per_member", "intimacy_gap")


def stored_jobs(name: str) -> list[Path]:
    """The complete jobs of sweep ``name``, in the order they ran (start time, then folder name)."""
    from socialsim import io, study

    if name == "sensitivity":
        folders = [p for p in sorted((study.sweeps_dir() / name).glob("sample=*")) if io.is_complete(p)]
    else:
        folders = study.job_folders(name)
    return sorted(folders, key=lambda p: (io.read_summary(p)["started"], p.name))


def pick(jobs: list[Path], k: int) -> list[Path]:
    """``k`` jobs evenly spaced over ``jobs`` (the first and the last for k=2)."""
    if k >= len(jobs):
        return list(jobs)
    if k == 1:
        return [jobs[0]]
    return [jobs[round(i * (len(jobs) - 1) / (k - 1))] for i in range(k)]


def stored_params(job: Path):
    """The job's configuration as stored: Hydra's composed config (``.hydra/config.yaml``), or for a sensitivity run
    its row of the sweep's design.csv turned into parameters by socialsim.study.design_overrides, as
    study.run_sobol does (the design row is what the sweep ran; the model draws the ``platform.recommender_mix``
    keys in a fixed order, so their order in the summary's flattened ``params``, sorted, does not matter)."""
    import pandas as pd
    from omegaconf import OmegaConf

    from socialsim import io, study
    from socialsim.config import to_params
    from socialsim.params import Params

    hydra_config = job / ".hydra" / "config.yaml"
    if hydra_config.is_file():
        return to_params(OmegaConf.load(hydra_config))
    summary = io.read_summary(job)
    design = pd.read_csv(job.parent / "design.csv", index_col="sample")
    row = design.loc[summary["sample"], list(study.SOBOL_PARAMETERS)].to_numpy(float)
    stored = summary["params"]
    return Params.from_dict({}, **{"population.size": stored["population.size"], "run.steps": stored["run.steps"],
                                   "seed": summary["seed"], **study.design_overrides(row)})


def rerun(job: Path, out: Path) -> dict:
    """Re-run ``job`` into ``out``; return what the comparison found."""
    from socialsim import io
    from socialsim.config import config_hash
    from socialsim.recovery import verify

    old = io.read_summary(job)
    params = stored_params(job)
    result = {"hash_ok": config_hash(params) == old["config_hash"], "damaged": verify(job)}
    t0 = time.perf_counter()
    new, _ = io.run_to_folder(params, out, meta={"overrides": old.get("overrides", [])}, skip_complete=False)
    result["seconds"] = time.perf_counter() - t0
    result["recorded_seconds"] = old.get("wall_time_s")
    result["differ"] = [t for t in io.TABLES
                        if not filecmp.cmp(job / f"{t}.parquet", out / f"{t}.parquet", shallow=False)]
    same_values = []
    for t in result["differ"]:
        a, b = io.read_table(job, t), io.read_table(out, t)
        if a.shape == b.shape and list(a.columns) == list(b.columns) and a.equals(b):
            same_values.append(t)
    result["same_values"] = same_values
    result["metrics"] = {m: (old["metrics"].get(m), new["metrics"].get(m)) for m in HEADLINE}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Re-run k jobs of each stored sweep and compare their tables.")
    parser.add_argument("names", nargs="*", default=list(SWEEPS), help=f"sweeps (default: {' '.join(SWEEPS)})")
    parser.add_argument("--k", type=int, default=2, help="jobs per sweep (default 2: its first and last)")
    parser.add_argument("--keep", type=Path, default=None, help="write the re-runs here and keep them")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")

    from socialsim import study

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=study.REPO, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=study.REPO, capture_output=True,
                           text=True).stdout.strip()
    print(f"model code: commit {commit}" + (" with uncommitted changes in src/" if dirty else "") +
          f"; sweeps in {study.sweeps_dir()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="socialsim-rerun-") as tmp:
        root = args.keep or Path(tmp)
        failures = checked = 0
        t_all = time.perf_counter()
        for name in args.names:
            jobs = stored_jobs(name)
            if not jobs:
                print(f"{name}: no complete jobs in {study.sweeps_dir() / name}")
                failures += 1
                continue
            for job in pick(jobs, args.k):
                r = rerun(job, root / name / job.name)
                checked += 1
                verdict = "same" if not r["differ"] else "DIFFERENT"
                notes = [f"{r['seconds']:.1f} s (recorded {r['recorded_seconds']:.1f} s)"]
                if not r["hash_ok"]:
                    notes.append("configuration hash differs from the recorded one")
                if r["damaged"]:
                    notes.append("stored run: " + "; ".join(r["damaged"]))
                if r["differ"]:
                    failures += 1
                    kinds = ", ".join(t + (" (same values, other bytes)" if t in r["same_values"] else "")
                                      for t in r["differ"])
                    notes.append(f"differ: {kinds}")
                print(f"{verdict:9} {name}/{job.name}  [{'; '.join(notes)}]", flush=True)
                if r["differ"]:
                    for m, (a, b) in r["metrics"].items():
                        if a is not None and b is not None:
                            print(f"            {m:28} stored {a:10.4f}  re-run {b:10.4f}  diff {b - a:+.4f}")
        print(f"{checked - failures} of {checked} jobs reproduced byte for byte "
              f"({time.perf_counter() - t_all:.0f} s)")
    print(json.dumps({"checked": checked, "different": failures, "commit": commit, "dirty_src": bool(dirty)}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
