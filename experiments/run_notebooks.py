"""Execute the experiment notebooks with nbclient; each writes its tables and figures to results/<experiment>/.

    python experiments/run_notebooks.py                 # every notebook in experiments/
    python experiments/run_notebooks.py unpredictability local_networks
    python experiments/run_notebooks.py --save DIR      # also keep the executed notebooks (with outputs) in DIR

Each notebook runs its own sweep first if it is incomplete (socialsim.study.run_experiment), so this alone
also regenerates everything; experiments/run_all.sh runs the sweeps first so their time shows separately.
SOCIALSIM_SCALE=ci runs the reduced sweeps (see socialsim.study). Afterwards every results/*/effects.csv is
collected into results/effects.csv.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOTEBOOKS = ("openness_vs_elite", "illusion_of_intimacy", "local_networks", "early_adopters", "sensitivity",
             "unpredictability", "invite_only", "reshares_off", "follow_cap", "close_tie_budget",
             "engagement_timeline", "minority_visibility")


def execute(name: str, save: Path | None = None, timeout: int = 7200) -> float:
    import nbformat
    from nbclient import NotebookClient

    path = HERE / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(HERE)}}).execute()
    finally:
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, save / path.name)
    return time.perf_counter() - t0


def collect_effects() -> Path | None:
    import pandas as pd

    from socialsim import study

    root = study.results_dir()
    frames = [pd.read_csv(p) for p in sorted(root.glob("*/effects.csv"))]
    if not frames:
        return None
    out = root / "effects.csv"
    pd.concat(frames, ignore_index=True).to_csv(out, index=False, float_format="%.6g")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Execute the experiment notebooks (nbclient).")
    parser.add_argument("names", nargs="*", default=list(NOTEBOOKS), help="notebooks (default: all)")
    parser.add_argument("--save", type=Path, default=None, help="folder for the executed notebooks")
    args = parser.parse_args(argv)
    total = 0.0
    for name in args.names:
        print(f"executing {name}.ipynb ...", flush=True)
        seconds = execute(name, args.save)
        total += seconds
        print(f"  {name}: {seconds:.0f} s", flush=True)
    out = collect_effects()
    print(f"notebooks: {total:.0f} s" + (f"; effects collected in {out}" if out else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
