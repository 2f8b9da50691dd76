"""Morris global sensitivity analysis of socialsim's entrenchment and connection metrics (SALib).

    python experiments/sensitivity.py            # 10 trajectories x 12 points = 120 runs of 2,000 people, 365 days
    SOCIALSIM_SCALE=ci python experiments/sensitivity.py   # 2 trajectories of 300 people, 60 days

SALib's Morris sampler (seed 2009, 4 levels) draws the design over the parameters and ranges in
``socialsim.study.MORRIS_PARAMETERS`` (ten levers plus a dummy that changes nothing, the noise floor); each
design row is one model run with its own seed (the row index), written with ``socialsim.io.run_to_folder`` to
``results/sweeps/sensitivity/sample=NNN/`` (the same run folders as ``python -m socialsim``, so
``socialsim.analysis.load_sweep`` reads them; complete runs are skipped on a re-run). Hydra's sweeper builds
grids, not a sampled design, so this one experiment runs from Python in parallel with joblib.
experiments/sensitivity.ipynb runs this (if needed) and analyses it.
"""

from __future__ import annotations

import argparse
import time

from socialsim import study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="parallel runs (default 2)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    root, design = study.run_morris(n_jobs=args.jobs)
    print(f"{len(design)} runs complete in {root} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
