"""Calibrate the twitter2009 preset to Kwak et al. 2010's measured 2009 Twitter structure.

Targets (Kwak, Lee, Park, Moon 2010, WWW; 41.7M accounts, 1.47B follows, crawled June-Sept 2009):

- pair-based reciprocity: 22.1% of linked pairs follow each other;
- follower counts: power law with exponent 2.276 over the body of the distribution;
- 67.6% of users are followed by none of the accounts they follow.

Statistics, as computed from a run (``socialsim.validation.twitter_statistics``), among the members on the
platform at the end: reciprocity from the follow edge list; the exponent by the discrete maximum-likelihood
fit of the ``powerlaw`` package to the follower counts, x_min chosen by the Kolmogorov-Smirnov distance
among values that keep at least 30% of the followed members in the fit (the body); the share of members who
follow someone and are followed back by none of them.

Objective (``socialsim.validation.calibration_objective``): the sum of squared relative errors of the three
statistics, each averaged over the seeds of a point,

    J = ((r - 0.221) / 0.221)^2 + ((alpha - 2.276) / 2.276)^2 + ((s - 0.676) / 0.676)^2,

so 10% off on every target gives J = 0.03.

Search (affordable on 2 shared cores: one process, about 210 runs of a few seconds, 15-25 minutes):

1. coarse: a Latin hypercube of ``--coarse`` points over the ranges in ``SPACES[--space]``, each run with the same
   ``--search-seeds`` seeds (common random numbers: differences between points are not seed noise);
2. fine: ``--fine`` points drawn uniformly in boxes of a quarter of each range around the three best points;
3. confirm: the ``--confirm`` best points rerun with ``--seeds`` fresh seeds (many: with one seed the
   statistics scatter by about 0.02 in reciprocity and 0.1 in the exponent, and a few seeds favour lucky
   points); the lowest J there wins.

Everything else is the twitter2009 base (``BASE`` below: every mechanism on, the 2009 follow cap, a
chronological timeline) and the model's defaults. The population is ``--size`` people over 365 days.

    python experiments/calibrate_twitter2009.py --space wide --confirm 2 --seeds 4   # first pass
    python experiments/calibrate_twitter2009.py                  # second pass (focused), write results JSON
    python experiments/calibrate_twitter2009.py --write-preset   # and rewrite the preset (socialsim/conf/scenario/)
    python experiments/calibrate_twitter2009.py --preset-only    # rewrite the preset from the results JSON
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import qmc

from socialsim import validation as v
from socialsim.params import Params

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results" / "calibrate_twitter2009.json"
PRESET = ROOT / "src" / "socialsim" / "conf" / "scenario" / "twitter2009.yaml"

# the parameters searched: (low, high, scale); "log" draws log-uniformly, "int" rounds to a whole number.
# Two passes. "wide" (first) spans what the parameters plausibly mean; its best points miss the 67.6% share
# (below 0.5 where reciprocity is near 22%): the share needs rare mutual ties, which the wide box seldom
# samples. A newcomer with c offline contacts on the platform is followed back by none of them with chance
# about (1 - q)^c, where q ~ p^2 + 2 p (1 - p) b is the chance that a contact pair ends mutual
# (p = offline_follow_prob, b the follow-back chance); with c ~ 5, s = 0.676 needs q ~ 0.075, so p and b must
# be small. "focused" (second, the default; the preset comes from it) searches that corner, with the other
# ranges narrowed around the best of the wide pass.
SPACES = {
    "wide": {
        "behaviour.offline_follow_prob": (0.02, 0.3, "lin"),  # following offline contacts at joining (both ways)
        "behaviour.follow_back_prob": (0.0, 0.4, "lin"),  # following back a new follower (small accounts)
        "behaviour.follow_back_scale": (2.0, 100.0, "log"),  # followers at which following back has halved
        "behaviour.follow_base": (-7.0, -4.0, "lin"),  # logit of following an author one is exposed to
        "behaviour.prominence": (0.0, 0.8, "lin"),  # pull of an author's offline prominence on following
        "meetups.rate": (0.01, 0.15, "lin"),  # chance per step that an eligible town holds a meetup
        "meetups.meets": (2, 12, "int"),  # people each attendee meets (and follows both ways)
        "meetups.hear_prob": (0.1, 1.0, "lin"),  # chance to hear of a meetup through each local followee
    },
    "focused": {
        "behaviour.offline_follow_prob": (0.01, 0.1, "lin"),
        "behaviour.follow_back_prob": (0.0, 0.1, "lin"),
        "behaviour.follow_back_scale": (2.0, 30.0, "log"),
        "behaviour.follow_base": (-6.5, -4.5, "lin"),
        "behaviour.prominence": (0.0, 0.6, "lin"),
        "meetups.rate": (0.02, 0.12, "lin"),
        "meetups.meets": (2, 8, "int"),
        "meetups.hear_prob": (0.2, 0.8, "lin"),
    },
}
SPACE = SPACES["focused"]

# the fixed part of the preset: every mechanism on, as on Twitter in 2009
BASE = {
    "platform": {"recommender": "random", "timeline": "chronological", "reshares": True, "follow_cap": 2000},
}


def candidate(values: dict[str, float]) -> dict:
    """Nested preset dict for one point of the search space."""
    data = json.loads(json.dumps(BASE))
    for key, value in values.items():
        group, name = key.split(".")
        data.setdefault(group, {})[name] = value
    return data


def evaluate(values: dict[str, float], seeds, size: int) -> dict:
    """Mean statistics and objective of one point over ``seeds`` (the objective of the mean statistics)."""
    t = time.time()
    runs = []
    for seed in seeds:
        params = Params.from_dict(candidate(values), **{"population.size": size, "seed": seed})
        runs.append(v.twitter_statistics(v.run(params)))
    stat = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
    return {"values": values, "seeds": list(seeds), "stats": stat, "objective": v.calibration_objective(stat),
            "runs": runs, "seconds": round(time.time() - t, 1)}


def scale(unit: np.ndarray, boxes: dict | None = None) -> list[dict[str, float]]:
    """Map points of the unit cube onto SPACE (or onto the given per-parameter (lo, hi) boxes)."""
    out = []
    for row in unit:
        point = {}
        for u, (key, (lo, hi, kind)) in zip(row, SPACE.items()):
            if boxes is not None:
                lo, hi = boxes[key]
            if kind == "int":
                lo, hi = int(lo), int(hi)
            if kind == "log":
                value = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
            elif kind == "int":
                value = int(math.floor(lo + u * (hi - lo + 1 - 1e-9)))
            else:
                value = lo + u * (hi - lo)
            point[key] = value if kind == "int" else round(float(value), 4)
        out.append(point)
    return out


def box_around(point: dict[str, float], width: float = 0.25) -> dict[str, tuple[float, float]]:
    """A box of ``width`` times each range around a point, clipped to the range (log scale for "log")."""
    box = {}
    for key, (lo, hi, kind) in SPACE.items():
        if kind == "log":
            c, a, b = math.log(point[key]), math.log(lo), math.log(hi)
            half = width * (b - a) / 2
            box[key] = (math.exp(max(a, c - half)), math.exp(min(b, c + half)))
        else:
            half = width * (hi - lo) / 2
            box[key] = (max(lo, point[key] - half), min(hi, point[key] + half))
            if kind == "int":
                box[key] = (math.ceil(box[key][0]), math.floor(box[key][1]))
    return box


def log(rec: dict, stage: str) -> None:
    s = rec["stats"]
    print(f"{stage:7s} J={rec['objective']:.4f} r={s['reciprocity']:.3f} alpha={s['followers_powerlaw_alpha']:.3f} "
          f"none_back={s['followed_by_no_followee']:.3f} ({rec['seconds']}s) {rec['values']}", flush=True)


def search(args) -> dict:
    rng = np.random.default_rng(args.seed)
    d = len(SPACE)
    search_seeds = list(range(args.search_seeds))
    confirm_seeds = list(range(args.search_seeds, args.search_seeds + args.seeds))
    records: list[dict] = []
    coarse = scale(qmc.LatinHypercube(d=d, seed=rng).random(args.coarse))
    for point in coarse:
        records.append(evaluate(point, search_seeds, args.size) | {"stage": "coarse"})
        log(records[-1], "coarse")
    best = sorted(records, key=lambda r: r["objective"])[:3]
    per_box = -(-args.fine // len(best))
    for b in best:
        for point in scale(rng.random((per_box, d)), box_around(b["values"])):
            records.append(evaluate(point, search_seeds, args.size) | {"stage": "fine"})
            log(records[-1], "fine")
    finalists = sorted(records, key=lambda r: r["objective"])[: args.confirm]
    confirm = []
    for f in finalists:
        rec = evaluate(f["values"], confirm_seeds, args.size) | {"stage": "confirm"}
        log(rec, "confirm")
        confirm.append(rec)
    chosen = min(confirm, key=lambda c: c["objective"])
    return {
        "targets": v.KWAK2010,
        "objective": "sum over targets of ((statistic - target) / target)^2, statistics averaged over seeds",
        "space_name": args.space,
        "space": {k: list(x) for k, x in SPACE.items()},
        "base": BASE,
        "size": args.size,
        "search_seeds": search_seeds,
        "confirm_seeds": confirm_seeds,
        "chosen": chosen["values"],
        "chosen_objective": chosen["objective"],
        "chosen_stats": chosen["stats"],
        "confirm": confirm,
        "evaluations": records,
    }


PRESET_HEADER = """\
# @package _global_
# Twitter in 2009: every mechanism on (Bass adoption through offline contacts, posting, a chronological
# timeline with reshares, who-to-follow suggestions, follow-back, unfollowing silent accounts, meetups,
# leaving, the 2,000 follow cap), calibrated to Kwak et al. 2010 (41.7M accounts, June-Sept 2009):
# pair-based reciprocity 22.1%, follower power-law exponent 2.276 over the body of the distribution,
# 67.6% of users followed by none of the accounts they follow.
# The values marked "calibrated" were found by experiments/calibrate_twitter2009.py (objective: sum of
# squared relative errors of the three statistics, at the population size below over 365 days); results in
# experiments/results/calibrate_twitter2009.json and docs/VALIDATION.md. Do not edit them by hand: rerun
# the script with --write-preset. At other sizes the statistics drift (docs/VALIDATION.md).
"""


def preset_yaml(chosen: dict[str, float], size: int) -> str:
    data = {"population": {"size": size}} | candidate(chosen)
    lines = [PRESET_HEADER.rstrip("\n")]
    calibrated = {k.split(".")[1] for k in chosen}
    for group in ("population", "adoption", "platform", "behaviour", "meetups", "leaving"):
        if group not in data:
            continue
        lines.append(f"{group}:")
        for key, value in data[group].items():
            mark = "  # calibrated" if key in calibrated else ""
            if isinstance(value, dict):
                lines.append(f"  {key}:{mark}")
                lines.extend(f"    {k}: {_yaml(x)}" for k, x in value.items())
            else:
                lines.append(f"  {key}: {_yaml(value)}{mark}")
    lines += ["run:", "  steps: 365"]
    return "\n".join(lines) + "\n"


def _yaml(x) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    return str(x)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--coarse", type=int, default=40, help="Latin-hypercube points")
    ap.add_argument("--fine", type=int, default=15, help="points around the three best")
    ap.add_argument("--confirm", type=int, default=6, help="finalists rerun with fresh seeds")
    ap.add_argument("--seeds", type=int, default=16, help="fresh seeds per finalist")
    ap.add_argument("--size", type=int, default=3000, help="population.size")
    ap.add_argument("--search-seeds", type=int, default=2, help="model seeds 0..k-1 of every coarse and fine point")
    ap.add_argument("--seed", type=int, default=2009, help="seed of the search's own draws")
    ap.add_argument("--space", choices=sorted(SPACES), default="focused", help="search ranges (see SPACES)")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"results JSON (default {RESULTS.relative_to(ROOT)}, _wide before .json for --space wide)")
    ap.add_argument("--write-preset", action="store_true", help=f"rewrite {PRESET.relative_to(ROOT)}")
    ap.add_argument("--preset-only", action="store_true",
                    help="no search: rewrite the preset from the chosen values in --out")
    args = ap.parse_args(argv)
    global SPACE
    SPACE = SPACES[args.space]
    if args.out is None:
        args.out = RESULTS if args.space == "focused" else RESULTS.with_name(f"{RESULTS.stem}_{args.space}.json")
    if args.preset_only:
        result = json.loads(args.out.read_text())
        PRESET.write_text(preset_yaml(result["chosen"], result["size"]))
        print(f"wrote {PRESET} from {args.out}")
        return 0
    t = time.time()
    result = search(args)
    result["seconds"] = round(time.time() - t)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    print(f"chosen: {result['chosen']}\nJ = {result['chosen_objective']:.4f} "
          f"stats = {result['chosen_stats']}\nwrote {args.out} ({result['seconds']} s)")
    if args.write_preset:
        PRESET.write_text(preset_yaml(result["chosen"], args.size))
        print(f"wrote {PRESET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
