"""Profile one run of the fast model with pyinstrument and print where the time goes.

    python benchmarks/profile.py --size 1e4 --steps 365            # text tree on stdout
    python benchmarks/profile.py --size 1e5 --steps 100 --html p.html

A warm-up run (200 people, 5 steps) loads or compiles the numba kernels first, so compile time is not profiled.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pyinstrument import Profiler

from socialsim import PlatformModel


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=lambda s: int(float(s)), default=10_000)
    ap.add_argument("--steps", type=int, default=365)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--interval", type=float, default=0.005, help="sampling interval in seconds")
    ap.add_argument("--html", type=Path, help="also write pyinstrument's HTML report here")
    args = ap.parse_args(argv)
    PlatformModel(population__size=200, seed=args.seed).run(5)
    profiler = Profiler(interval=args.interval)
    profiler.start()
    t0 = time.perf_counter()
    model = PlatformModel(population__size=args.size, seed=args.seed)
    build = time.perf_counter() - t0
    model.run(args.steps)
    profiler.stop()
    print(f"{args.size:,} people x {args.steps} steps: build {build:.2f} s, total {time.perf_counter() - t0:.2f} s; "
          f"{int(model.metrics['members']):,} members, {int(model.metrics['follows']):,} follows at the end")
    print(profiler.output_text(unicode=False, color=False))
    if args.html:
        args.html.write_text(profiler.output_html())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
