"""Sobol global sensitivity analysis of socialsim's entrenchment, connection, intimacy and exit outputs (SALib).

    python experiments/sensitivity.py            # n = 64: 64 x 19 = 1,216 runs of 2,000 people, 365 days
    SOCIALSIM_SCALE=ci python experiments/sensitivity.py   # n = 2: 38 runs of 300 people, 60 days

SALib's Saltelli design (a scrambled Sobol' sequence, seed 2009; first-order and total indices, so
n x (parameters + 2) rows) over the parameters and ranges in ``socialsim.study.SOBOL_PARAMETERS``. Every design
row is run with the same model seed(s) (``SOBOL_FULL["seeds"]``: common random numbers, so the same population of
people in every row and the indices measure the parameters, not the draw of a new population), in process with
joblib and ``socialsim.io.run_to_folder`` into ``results/sweeps/sensitivity/sample=NNNNN,seed=S/`` (the same run
folders as ``python -m socialsim``, so ``socialsim.analysis.load_sweep`` reads them; complete runs are skipped on
a re-run, so an interrupted design continues). experiments/sensitivity.ipynb runs this (if needed) and analyses it.
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
    root, design = study.run_sobol(n_jobs=args.jobs)
    print(f"{len(design)} design rows complete in {root} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
