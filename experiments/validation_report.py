"""The numbers in docs/VALIDATION.md, section 1: every validation statistic of the classic presets, over seeds.

The calibrated baseline's checks against Twitter in 2009 are experiments/posterior_check.py.

    python experiments/validation_report.py            # all presets, 10 seeds each (about 10 minutes, 1 core)
    python experiments/validation_report.py --seeds 3  # quicker

Writes experiments/results/validation.json and prints the Markdown tables of docs/VALIDATION.md.
Sizes are those of the tests (tests/test_validation.py); seeds are 100, 101, ... so they differ from the
seeds the tests and the calibration used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from socialsim import validation as v

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "experiments" / "results" / "validation.json"

GROWTH_SIZE, GROWTH_ARRIVALS = 10_000, 50
M = 3


def exact_ba_alpha(size: int, m: int, samples: int, rng) -> list[float]:
    """Fitted exponent of samples from BA's exact degree law at our size (validation.exact_ba_degrees)."""
    return [v.powerlaw_fit(v.exact_ba_degrees(size, m, rng)).alpha for _ in range(samples)]


def growth(name: str, seeds) -> list[dict]:
    rows = []
    for seed in seeds:
        t = time.time()
        mf = v.run(v.scenario_params(name, {**v.classic_overrides(GROWTH_SIZE, GROWTH_ARRIVALS), "seed": seed})).members
        total, followers = v.powerlaw_fit(v.total_degree(mf)), v.powerlaw_fit(mf["followers"].to_numpy())
        o, control = v.overtaking(mf), v.overtaking(mf, fit_quantile=0.0)
        lr, lr_p = v.powerlaw_vs_exponential(v.total_degree(mf))
        rows.append({"seed": seed, "alpha_total": total.alpha, "xmin_total": total.xmin, "n_tail_total": total.n_tail,
                     "sigma_total": total.sigma, "alpha_followers": followers.alpha, "xmin_followers": followers.xmin,
                     "overtaking": o.probability, "overtaking_all_latecomers": control.probability,
                     "top1_join_quantile": o.top_join_quantile, "max_degree": int(v.total_degree(mf).max()),
                     "lr_powerlaw_vs_exponential": lr, "lr_p": lr_p, "seconds": round(time.time() - t, 1)})
        print(name, rows[-1], flush=True)
    return rows


def growth_uniform(seeds) -> list[dict]:
    rows = []
    for seed in seeds:
        p = v.scenario_params("barabasi_albert", {**v.classic_overrides(GROWTH_SIZE, GROWTH_ARRIVALS),
                                                  "adoption.attachment": "uniform", "seed": seed})
        d = v.total_degree(v.run(p).members)
        fit = v.powerlaw_fit(d)
        lr, lr_p = v.powerlaw_vs_exponential(d)
        rows.append({"seed": seed, "alpha_total": fit.alpha, "xmin_total": fit.xmin, "max_degree": int(d.max()),
                     "lr_powerlaw_vs_exponential": lr, "lr_p": lr_p})
        print("uniform_growth", rows[-1], flush=True)
    return rows


def erdos_renyi(seeds) -> list[dict]:
    rows = []
    for seed in seeds:
        p = v.scenario_params("erdos_renyi", {"seed": seed})
        mf = v.run(p).members
        n, m = p.population.size, p.adoption.attachment_links
        f = mf["followers"].to_numpy()
        gof = v.binomial_gof(f, n - 1, m / (n - 1))
        rows.append({"seed": seed, "chi2": gof.statistic, "dof": gof.dof, "pvalue": gof.pvalue, "mean": float(f.mean()),
                     "variance": float(f.var()), "binomial_variance": m * (1 - m / (n - 1)),
                     "zero_share": float((f == 0).mean()), "binomial_zero_share": float((1 - m / (n - 1)) ** (n - 1))})
        print("erdos_renyi", rows[-1], flush=True)
    return rows


def summary(rows: list[dict], key: str) -> dict:
    iv = v.interval([r[key] for r in rows])
    return {"mean": iv.mean, "lo": iv.lo, "hi": iv.hi, "sd": iv.sd, "n": iv.n,
            "min": float(min(r[key] for r in rows)), "max": float(max(r[key] for r in rows))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    seeds = list(range(100, 100 + args.seeds))
    rng = np.random.default_rng(0)
    t = time.time()
    res: dict = {"seeds": seeds, "growth_size": GROWTH_SIZE, "growth_arrivals_per_step": GROWTH_ARRIVALS}
    res["exact_ba_alpha"] = exact_ba_alpha(GROWTH_SIZE, M, 20, rng)
    res["barabasi_albert"] = growth("barabasi_albert", seeds)
    # control: the same growth with uniform attachment (exponential degrees), to show the tests discriminate
    res["uniform_growth"] = growth_uniform(seeds[:4])
    res["bianconi_barabasi"] = growth("bianconi_barabasi", seeds)
    res["erdos_renyi"] = erdos_renyi(seeds)
    res["summary"] = {
        "exact_ba_alpha": summary([{"a": a} for a in res["exact_ba_alpha"]], "a"),
        **{f"{name}.{key}": summary(res[name], key)
           for name in ("barabasi_albert", "bianconi_barabasi")
           for key in ("alpha_total", "alpha_followers", "overtaking", "overtaking_all_latecomers",
                       "top1_join_quantile", "lr_powerlaw_vs_exponential", "lr_p")},
        **{f"uniform_growth.{key}": summary(res["uniform_growth"], key)
           for key in ("alpha_total", "max_degree", "lr_powerlaw_vs_exponential")},
        **{f"erdos_renyi.{key}": summary(res["erdos_renyi"], key)
           for key in ("pvalue", "chi2", "variance", "zero_share")},
    }
    res["seconds"] = round(time.time() - t)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    for key, s in res["summary"].items():
        print(f"| {key} | {s['mean']:.3f} [{s['lo']:.3f}, {s['hi']:.3f}] | sd {s['sd']:.3f} | "
              f"range {s['min']:.3f}-{s['max']:.3f} | n={s['n']} |")
    print(f"wrote {args.out} ({res['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
