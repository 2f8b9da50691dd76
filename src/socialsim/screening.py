"""A Morris screen (SALib) of which behavioural parameters move the calibration statistics.

``python -m socialsim.calibrate screen`` runs the ``screen:`` section of a calibration config: SALib's Morris
design over the listed parameters (uniform or log-uniform ranges; whole-number parameters rounded), one model
run per design row with its own seed, and the statistics of :func:`socialsim.validation.calibration_statistics`.
``dummy`` changes nothing in the model, so its elementary effects are seed noise alone: the floor to judge the
others by. The table (``screen.csv``) has one row per statistic and parameter with Morris' mu, mu* (and its
95% bootstrap half-width) and sigma, and mu* in units of the statistic's standard deviation over the design
(``mu_star_rel``), which puts the statistics on one scale.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .calibrate import SCREEN_KEYS, Calibration, CalibrationError, _atomic_write, _fields, model_overrides


def screen_design(spec: dict) -> tuple[list[str], list[bool], np.ndarray, dict]:
    """(names, log flags, design in the parameters' units, SALib problem in the unit space) of a screen spec."""
    from SALib.sample import morris as morris_sample  # noqa: PLC0415

    names, logs, bounds = [], [], []
    for name, value in spec["parameters"].items():
        lo, hi, log = value
        names.append(name)
        logs.append(log)
        bounds.append([math.log10(lo), math.log10(hi)] if log else [lo, hi])
    problem = {"num_vars": len(names), "names": names, "bounds": bounds}
    unit = morris_sample.sample(problem, spec["trajectories"], num_levels=spec["levels"], seed=spec["seed"])
    design = np.where(np.array(logs)[None, :], 10.0 ** unit, unit)
    return names, logs, design, problem


def parse_screen(cal: Calibration) -> dict:
    """The validated ``screen:`` section (CalibrationError on a bad setting)."""
    from .config import compose_params  # noqa: PLC0415
    from .params import ParameterError  # noqa: PLC0415

    spec = dict(cal.raw.get("screen") or {})
    for key in spec:
        if key not in SCREEN_KEYS:
            raise CalibrationError(f"screen.{key} is not a screen setting; allowed: {', '.join(SCREEN_KEYS)}")
    spec = {"trajectories": 10, "levels": 4, "n_jobs": 2, "seed": 0, "out": None, "model": None,
            "parameters": {}, **spec}
    for key in ("trajectories", "levels", "n_jobs"):
        if isinstance(spec[key], bool) or not isinstance(spec[key], int) or spec[key] < 1:
            raise CalibrationError(f"screen.{key} must be a whole number >= 1; got {spec[key]!r}")
    fields = _fields()
    parameters = {}
    for name, value in (spec["parameters"] or {}).items():
        if name != "dummy" and name not in fields:
            raise CalibrationError(f"screen.parameters.{name} is not a model parameter")
        if not isinstance(value, (list, tuple)) or len(value) not in (2, 3) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value[:2]):
            raise CalibrationError(f"screen.parameters.{name} must be [lo, hi] or [lo, hi, log]; got {value!r}")
        lo, hi = float(value[0]), float(value[1])
        log = len(value) == 3
        if log and value[2] != "log":
            raise CalibrationError(f"screen.parameters.{name}: the third entry can only be log; got {value[2]!r}")
        if lo >= hi:
            raise CalibrationError(f"screen.parameters.{name}: lo must be below hi; got lo={lo:g}, hi={hi:g}")
        if log and lo <= 0:
            raise CalibrationError(f"screen.parameters.{name}: a log range needs lo > 0; got lo={lo:g}")
        parameters[name] = (lo, hi, log)
    if len(parameters) < 2:
        raise CalibrationError("screen.parameters must list at least two parameters")
    spec["parameters"] = parameters
    spec["model"] = model_overrides(spec["model"]) if spec["model"] is not None else cal.model
    try:
        base = compose_params(spec["model"])
        for pick in (0, 1):
            base.replace(**_overrides({n: v[pick] for n, v in parameters.items()}, fields))
    except ParameterError as exc:
        raise CalibrationError(f"screen: {exc}") from None
    spec["base"] = base.to_dict()
    spec["out"] = Path(str(spec["out"])) if spec["out"] else cal.out / "screen.csv"
    return spec


def _overrides(values: dict[str, float], fields: dict) -> dict:
    out = {}
    for name, value in values.items():
        if name == "dummy":
            continue
        out[name] = int(round(value)) if isinstance(fields[name][1], int) else float(value)
    return out


def _screen_job(base: dict, values: dict, seed: int) -> dict:
    from .model import PlatformModel  # noqa: PLC0415
    from .params import Params  # noqa: PLC0415
    from .validation import RunOutput, calibration_statistics  # noqa: PLC0415

    params = Params.from_dict(base, **_overrides(values, _fields()), seed=seed)
    t0 = time.perf_counter()
    model = PlatformModel(params).run()
    stats = calibration_statistics(RunOutput(model.member_frame(), model.follows_frame(), model.timeseries()))
    return {**stats, "seconds": time.perf_counter() - t0}


def analyze(problem: dict, unit_design: np.ndarray, runs: pd.DataFrame, statistics, levels: int,
            seed: int = 0) -> pd.DataFrame:
    """Morris indices per statistic and parameter (rows with a missing statistic are left out of that one)."""
    from SALib.analyze import morris as morris_analyze  # noqa: PLC0415

    rows = []
    k = problem["num_vars"]
    for stat in statistics:
        y = runs[stat].to_numpy(float)
        # SALib needs whole trajectories: a trajectory with a missing value is dropped
        traj = y.reshape(-1, k + 1)
        keep = np.isfinite(traj).all(axis=1)
        if keep.sum() < 2:
            continue
        x = unit_design.reshape(-1, k + 1, k)[keep].reshape(-1, k)
        yk = traj[keep].reshape(-1)
        res = morris_analyze.analyze(problem, x, yk, num_levels=levels, seed=seed, print_to_console=False)
        sd = float(np.std(yk, ddof=1)) or float("nan")
        for i, name in enumerate(problem["names"]):
            rows.append({"statistic": stat, "parameter": name, "mu": float(res["mu"][i]),
                         "mu_star": float(res["mu_star"][i]), "mu_star_conf": float(res["mu_star_conf"][i]),
                         "sigma": float(res["sigma"][i]), "mu_star_rel": float(res["mu_star"][i]) / sd,
                         "trajectories": int(keep.sum())})
    return pd.DataFrame(rows)


def run_screen(cal: Calibration, echo=print) -> pd.DataFrame:
    """Run the screen of ``cal`` and write its table (``screen.csv``) and runs (``screen_runs.csv``)."""
    from joblib import Parallel, delayed  # noqa: PLC0415

    from .validation import CALIBRATION_STATISTICS  # noqa: PLC0415

    spec = parse_screen(cal)
    names, logs, design, problem = screen_design(spec)
    out: Path = spec["out"]
    out.parent.mkdir(parents=True, exist_ok=True)
    echo(f"screen: {len(design)} runs ({spec['trajectories']} trajectories x {len(names) + 1}), "
         f"{len(names)} parameters, n_jobs {spec['n_jobs']}")
    t0 = time.perf_counter()
    results = Parallel(n_jobs=spec["n_jobs"], verbose=5)(
        delayed(_screen_job)(spec["base"], dict(zip(names, row)), int(spec["seed"]) + i)
        for i, row in enumerate(design))
    wall = time.perf_counter() - t0
    runs = pd.DataFrame(design, columns=names)
    runs = pd.concat([runs, pd.DataFrame(results)], axis=1)
    runs.insert(0, "row", np.arange(len(runs)))
    unit = design.copy()
    unit[:, logs] = np.log10(design[:, logs])
    table = analyze(problem, unit, runs, CALIBRATION_STATISTICS, spec["levels"], seed=int(spec["seed"]))
    runs_path = out.with_name(out.stem + "_runs.csv")
    _atomic_write(runs_path, lambda p: runs.to_csv(p, index=False, float_format="%.6g"))
    _atomic_write(out, lambda p: table.to_csv(p, index=False, float_format="%.5g"))
    echo(f"screen: {len(design)} runs in {wall:.0f} s ({runs['seconds'].median():.1f} s median per run); "
         f"table {out}, runs {runs_path}")
    echo(summary(table).to_string(float_format=lambda x: f"{x:.2f}"))
    return table


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """mu* relative to each statistic's sd, parameters x statistics, sorted by the largest effect."""
    wide = table.pivot(index="parameter", columns="statistic", values="mu_star_rel")
    wide["max"] = wide.max(axis=1)
    return wide.sort_values("max", ascending=False)
