"""The robustness map: does each headline claim hold across the posterior and at a larger population?

    python experiments/robustness.py                 # every claim in experiments/claims.yaml, full scale
    python experiments/robustness.py --scale ci      # small populations and few seeds (what the tests run)
    python experiments/robustness.py --only popularity_concentrates_followers --draws DIR/posterior

For each claim (experiments/claims.yaml: an outcome, two conditions and the claimed sign) the two conditions run
as Hydra sweeps (``python -m socialsim -m ...``, complete jobs skipped, so a stopped run resumes) in three
contexts, with the same seeds in both conditions:

- the baseline (the schema defaults), 20 seeds;
- every posterior draw (``+posterior=draw_NN``), 5 seeds each;
- 10 times the baseline population, 5 seeds.

Writes ``robustness.csv`` (one row per claim: the baseline effect with its 95% interval, in seed-sd units and
with Holm-adjusted p-values; the share of draws where the sign holds; the effect at the larger population; the
verdict and the draw parameter it hinges on) and ``robustness_draws.csv`` (one row per claim and draw) to the
results folder (``results/``; at ``--scale ci`` the git-ignored ``results/sweeps/ci/results/``). The statistics
are socialsim.study's (run_robustness, robustness_table).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("full", "ci"), default=None,
                        help="full (default, or SOCIALSIM_SCALE) or ci (small)")
    parser.add_argument("--claims", type=Path, default=HERE / "claims.yaml", help="the claims file")
    parser.add_argument("--only", default="", help="comma-separated claim names (default all)")
    parser.add_argument("--draws", type=Path, default=None,
                        help="the folder of posterior draws, named posterior/ (default the package's config group)")
    parser.add_argument("--method", choices=("holm", "fdr_bh"), default="holm",
                        help="multiple-comparison correction across the claims (default holm)")
    args = parser.parse_args(argv)
    if args.scale:
        os.environ["SOCIALSIM_SCALE"] = args.scale  # read by socialsim.study (folders, settings)

    from socialsim import study

    try:
        claims = study.load_claims(args.claims)
        if args.only:
            wanted = [n.strip() for n in args.only.split(",") if n.strip()]
            unknown = sorted(set(wanted) - {c.name for c in claims})
            if unknown:
                raise ValueError(f"--only: unknown claim(s) {', '.join(unknown)}; the claims are "
                                 f"{', '.join(c.name for c in claims)}")
            claims = [c for c in claims if c.name in wanted]
        draws_dir = args.draws if args.draws is not None else study.POSTERIOR_DIR
        if not study.posterior_draws(draws_dir):
            raise ValueError(f"no posterior draws (*draw_*.yaml) in {draws_dir}; the calibration writes them "
                             f"(or pass --draws DIR/posterior)")
        settings = study.robustness_settings()
        t0 = time.perf_counter()
        runs = study.run_robustness(claims, settings=settings, draws_dir=draws_dir)
        table, per_draw = study.robustness_table(claims, runs, study.draw_parameters(draws_dir),
                                                 scale_factor=settings["scale_factor"], method=args.method)
    except ValueError as exc:
        print(f"robustness: error: {exc}", file=sys.stderr)
        return 2
    out = study.results_dir()
    table.to_csv(out / "robustness.csv", index=False, float_format="%.6g")
    per_draw.to_csv(out / "robustness_draws.csv", index=False, float_format="%.6g")
    shown = table[["claim", "diff", "ci_lo", "ci_hi", "diff_sd", "draws_sign_holds", "scale_diff", "verdict",
                   "hinges_on"]]
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"{len(runs)} run outcomes, {time.perf_counter() - t0:.0f} s; wrote {out / 'robustness.csv'} and "
          f"{out / 'robustness_draws.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
