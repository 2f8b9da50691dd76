"""Posterior predictive checks of the calibration: every Twitter-2009 target against the model, at two sizes.

    python experiments/posterior_check.py                 # 20 held-out seeds x (20 posterior draws + the point)
    python experiments/posterior_check.py --seeds 3 --sizes 500   # quick

Run i uses posterior draw i (``+posterior=draw_ii``, src/socialsim/conf/posterior/) with seed 100 + i; the
point rows use ``scenario=twitter2009`` (the posterior point) with the same seeds. Seeds 100-119 are not used
by the calibration, which hashes its own seeds from the parameter values. Sizes: the calibration's (2,000) and
ten times it.

Writes results/calibration/predictive_runs.csv (one row per run; rows already there are reused, so a stopped
check continues) and results/calibration/predictive.csv (per size, source and statistic: the target, the mean
over runs with its 95% t-interval, the 2.5-97.5% range of single runs, and the miss), and prints the Markdown
table of docs/VALIDATION.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from socialsim import validation as v
from socialsim.config import compose_params
from socialsim.study import t_interval

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "calibration"
FIRST_SEED = 100
FITTED = ("reciprocity", "followers_powerlaw_alpha", "followed_by_no_followee", "follows_per_member",
          "local_tie_share", "top10_post_share", "monthly_retention")


def one_run(source: str, size: int, index: int) -> dict:
    """The calibration statistics of one run: ``source`` is ``draw`` (posterior draw ``index``) or ``point``."""
    seed = FIRST_SEED + index
    overrides = ["scenario=twitter2009", f"population.size={size}", f"seed={seed}"]
    if source == "draw":
        overrides.append(f"+posterior=draw_{index:02d}")
    t = time.time()
    stats = v.calibration_statistics(v.run(compose_params(overrides)))
    return {"source": source, "size": size, "index": index, "seed": seed, **stats,
            "seconds": round(time.time() - t, 2)}


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Per size, source and statistic: target, mean [95% t-interval], 2.5-97.5% of single runs, miss."""
    rows = []
    for (size, source), group in runs.groupby(["size", "source"], sort=True):
        for stat, target in v.TWITTER2009_TARGETS.items():
            x = group[stat].dropna().to_numpy(float)
            mean, lo, hi, n = t_interval(x) if len(x) > 1 else (float("nan"),) * 3 + (len(x),)
            p_lo, p_hi = (np.percentile(x, [2.5, 97.5]) if len(x) else (np.nan, np.nan))
            rows.append({"size": size, "source": source, "statistic": stat, "fitted": stat in FITTED,
                         "target": target, "mean": mean, "ci_lo": lo, "ci_hi": hi, "n": n,
                         "run_lo": p_lo, "run_hi": p_hi, "miss": mean - target,
                         "relative_miss": (mean - target) / target,
                         "target_in_ci": bool(lo <= target <= hi), "target_in_runs": bool(p_lo <= target <= p_hi)})
    return pd.DataFrame(rows)


def markdown(summary: pd.DataFrame, size: int) -> str:
    """The VALIDATION.md table of one size (posterior draws, and the point for comparison)."""
    lines = ["| target | value | posterior predictive, mean [95% interval] | single runs 2.5-97.5% | miss | "
             "point estimate, mean [95% interval] |", "| --- | --- | --- | --- | --- | --- |"]
    draws = summary[(summary["size"] == size) & (summary["source"] == "draw")].set_index("statistic")
    point = summary[(summary["size"] == size) & (summary["source"] == "point")].set_index("statistic")
    for stat in v.TWITTER2009_TARGETS:
        d = draws.loc[stat]
        p = point.loc[stat] if stat in point.index else None
        role = "" if d["fitted"] else " (check)"
        pt = f"{p['mean']:.3g} [{p['ci_lo']:.3g}, {p['ci_hi']:.3g}]" if p is not None else "–"
        lines.append(f"| `{stat}`{role} | {d['target']:g} | {d['mean']:.3g} [{d['ci_lo']:.3g}, {d['ci_hi']:.3g}] | "
                     f"{d['run_lo']:.3g}–{d['run_hi']:.3g} | {d['miss']:+.3g} ({100 * d['relative_miss']:+.0f}%) | "
                     f"{pt} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the checks that are missing, write both tables, print the Markdown."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    runs_file = args.out / "predictive_runs.csv"
    done = pd.read_csv(runs_file) if runs_file.exists() else pd.DataFrame(columns=["source", "size", "index"])
    have = set(zip(done["source"], done["size"].astype(int), done["index"].astype(int)))
    todo = [(src, size, i) for size in args.sizes for i in range(args.seeds) for src in ("draw", "point")
            if (src, size, i) not in have]
    # biggest runs first so the pool's last jobs are short
    todo.sort(key=lambda job: -job[1])
    print(f"{len(todo)} runs to do ({len(have)} done)", flush=True)
    batch = 2 * args.jobs
    for start in range(0, len(todo), batch):
        rows = Parallel(n_jobs=args.jobs)(delayed(one_run)(*job) for job in todo[start:start + batch])
        done = pd.concat([done, pd.DataFrame(rows)], ignore_index=True) if len(done) else pd.DataFrame(rows)
        tmp = runs_file.with_suffix(".tmp")
        done.sort_values(["size", "source", "index"]).to_csv(tmp, index=False)
        tmp.replace(runs_file)
        print(f"{min(start + batch, len(todo))}/{len(todo)} runs", flush=True)
    runs = done[done["size"].isin(args.sizes) & (done["index"] < args.seeds)]
    summary = summarise(runs)
    summary.to_csv(args.out / "predictive.csv", index=False)
    for size in args.sizes:
        print(f"\n### {size:,} people\n")
        print(markdown(summary, size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
