"""``python -m socialsim.calibrate``: fit model parameters to Twitter's 2009 measurements by ABC-SMC (pyabc).

    python -m socialsim.calibrate                          # src/socialsim/conf/calibration/twitter2009.yaml
    python -m socialsim.calibrate abc.population_size=50 n_procs=2 out=outputs/calibration/try
    python -m socialsim.calibrate calibration=NAME ...     # another file of conf/calibration/
    python -m socialsim.calibrate screen                   # Morris screen of the screen: section (SALib)
    python -m socialsim.calibrate draws                    # posterior/draw_NN.yaml from the posterior

The calibration config (Hydra-composed, overrides as ``key=value``) names a prior per fitted parameter
(uniform or log-uniform between lo and hi), the target statistics (computed by
:func:`socialsim.validation.calibration_statistics`), the model configuration every simulation starts from,
the ABC-SMC settings, the sampler and the output folder. Each simulation runs the model in-process with a
seed derived from the calibration seed and the parameter values, so the same parameters always give the same
statistics. Re-running with the same database continues the run where it stopped; after each generation
the posterior and the convergence table in the folder are rewritten from the database (the figures when the
run stops).

Bad input (an unknown parameter or target, a prior with lo >= hi, a database that is missing or not a
calibration's) ends with one line on stderr and exit code 2, before anything is written.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .extras import MissingExtra, require
from .params import ParameterError, Params, iter_fields

DEFAULT_CALIBRATION = "twitter2009"
SAMPLERS = ("multicore", "single", "dask")
SCALES = ("uniform", "log")
DISTANCES = ("log_ratio", "relative")
#: config keys of a calibration file (socialsim/conf/calibration/NAME.yaml)
KEYS = ("model", "priors", "targets", "distance", "target_scales", "abc", "sampler", "n_procs", "dask_address", "out", "db",
        "resume", "seed", "screen", "draws")
ABC_KEYS = ("population_size", "generations", "min_epsilon", "max_simulations", "max_walltime_min")
SCREEN_KEYS = ("parameters", "trajectories", "levels", "model", "n_jobs", "seed", "out")
DRAWS_KEYS = ("n", "seed", "out")


class CalibrationError(ValueError):
    """Bad calibration input; the message is one line naming the setting and what is allowed."""


# --- the configuration ------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Prior:
    """A prior of one model parameter: uniform on [lo, hi], or log-uniform (``scale: log``, lo > 0)."""

    name: str  # dotted model parameter, e.g. behaviour.follow_back_prob
    lo: float
    hi: float
    scale: str = "uniform"
    integer: bool = False  # the model parameter is a whole number: simulations round the draw

    @property
    def key(self) -> str:
        """The parameter's name in pyabc (no dots)."""
        return self.name.replace(".", "__")

    def to_unit(self, x):
        """Map values to the space where the prior is uniform (log space for log-uniform priors)."""
        return np.log(x) if self.scale == "log" else np.asarray(x, float)

    def from_unit(self, u):
        """Map values from the prior's uniform space back to the parameter's own units."""
        return np.exp(u) if self.scale == "log" else np.asarray(u, float)

    @property
    def unit_sd(self) -> float:
        """Standard deviation of the prior in its uniform space."""
        lo, hi = self.to_unit(self.lo), self.to_unit(self.hi)
        return float((hi - lo) / math.sqrt(12.0))

    def rv(self):
        """The prior as a pyabc random variable in its uniform space (the log of a log-uniform parameter).

        pyabc's perturbation kernel is a multivariate normal; in the raw units of a parameter spread over two
        decades it proposes mostly at the top of the range and the importance weights collapse, so pyabc
        works in the uniform space and simulations map back with :meth:`from_unit`.
        """
        import pyabc  # noqa: PLC0415

        lo, hi = float(self.to_unit(self.lo)), float(self.to_unit(self.hi))
        return pyabc.RV("uniform", lo, hi - lo)


@dataclasses.dataclass
class Calibration:
    """A validated calibration configuration."""

    name: str
    model: list[str]  # Hydra overrides of the model config, as on python -m socialsim's command line
    priors: list[Prior]
    targets: dict[str, float]
    scales: dict[str, float]
    distance: str  # log_ratio: log(statistic / target) / scale; relative: (statistic - target) / scale
    abc: dict[str, Any]
    sampler: str
    n_procs: int
    dask_address: str | None
    out: Path
    db: Path
    resume: bool
    seed: int
    raw: dict  # the composed config, resolved

    def fingerprint(self) -> str:
        """Hash of what the posterior depends on (the model's resolved values, priors, targets, distance,
        scales, population size, seed); stopping rules and the sampler may change between resumes.

        The model enters by the values its overrides resolve to, not by the overrides' text, so a changed
        scenario file or schema default is a different calibration.
        """
        from .config import compose_params, flat_params  # noqa: PLC0415

        fitted = {p.name for p in self.priors}
        model = {k: v for k, v in flat_params(compose_params(self.model)).items() if k not in fitted and k != "seed"}
        what = {"model": model, "priors": [dataclasses.asdict(p) for p in self.priors], "space": "unit",
                "targets": self.targets, "scales": self.scales, "distance": self.distance,
                "population_size": self.abc["population_size"], "seed": self.seed}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _fields() -> dict[str, Any]:
    return {name: (f, value) for name, f, value in iter_fields()}


def _flatten(node: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def model_overrides(model: dict | list | None) -> list[str]:
    """Hydra overrides from the ``model:`` node: a string at the top is a config group choice
    (``scenario: twitter2009``), nested mappings are parameters (``population: {size: 3000}``)."""
    if model is None:
        return []
    if isinstance(model, list):
        return [str(x) for x in model]
    out = []
    for key, value in model.items():
        if isinstance(value, dict):
            out += [f"{k}={_hydra_value(v)}" for k, v in _flatten(value, f"{key}.").items()]
        else:
            out.append(f"{key}={_hydra_value(value)}")
    return out


def _hydra_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return "null" if v is None else str(v)


def parse_priors(node: dict, where: str = "priors") -> list[Prior]:
    """Priors from a nested mapping ``{group: {parameter: {lo, hi, scale}}}``; raises CalibrationError."""
    fields = _fields()
    priors = []
    flat: dict[str, dict] = {}

    def walk(sub, prefix):
        for key, value in (sub or {}).items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and ("lo" in value or "hi" in value):
                flat[name] = value
            elif isinstance(value, dict):
                walk(value, name + ".")
            else:
                raise CalibrationError(f"{where}.{name} must be a mapping with lo and hi (and scale: uniform or log)")

    walk(node, "")
    if not flat:
        raise CalibrationError(f"{where} is empty: give at least one parameter with lo and hi")
    for name, spec in flat.items():
        if name not in fields:
            groups = sorted({n.split(".")[0] for n in fields if "." in n})
            raise CalibrationError(f"{where}.{name} is not a model parameter (groups: {', '.join(groups)}; "
                                   "see docs/ODD.md for the names)")
        f, default = fields[name]
        if isinstance(default, bool) or not isinstance(default, (int, float)) or name == "seed" or \
                name.startswith("run.") or name == "population.seed":
            raise CalibrationError(f"{where}.{name} is not a numeric behavioural parameter and cannot be fitted")
        unknown = sorted(set(spec) - {"lo", "hi", "scale"})
        if unknown:
            raise CalibrationError(f"{where}.{name}.{unknown[0]} is not a prior setting; allowed: lo, hi, scale")
        try:
            lo, hi = float(spec["lo"]), float(spec["hi"])
        except (KeyError, TypeError, ValueError):
            raise CalibrationError(f"{where}.{name} needs numbers lo and hi, got {spec!r}") from None
        scale = spec.get("scale", "uniform") or "uniform"
        if scale not in SCALES:
            raise CalibrationError(f"{where}.{name}.scale must be one of {', '.join(SCALES)}; got {scale!r}")
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
            raise CalibrationError(f"{where}.{name}: lo must be below hi; got lo={lo:g}, hi={hi:g}")
        if scale == "log" and lo <= 0:
            raise CalibrationError(f"{where}.{name}: a log-uniform prior needs lo > 0; got lo={lo:g}")
        allowed_lo, allowed_hi = f.metadata.get("range", (None, None))
        if (allowed_lo is not None and lo < allowed_lo) or (allowed_hi is not None and hi > allowed_hi):
            from .params import allowed  # noqa: PLC0415

            raise CalibrationError(f"{where}.{name}: [{lo:g}, {hi:g}] leaves the parameter's allowed values "
                                   f"({allowed(f.metadata)})")
        priors.append(Prior(name, lo, hi, scale, integer=isinstance(default, int)))
    return priors


def load_config(overrides: list[str] = (), name: str = DEFAULT_CALIBRATION) -> Calibration:
    """Compose ``conf/calibration/NAME.yaml`` with Hydra overrides and validate it (CalibrationError)."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    from .config import format_error  # noqa: PLC0415

    try:
        cfg = compose_calibration(list(overrides), name)
    except CalibrationError:
        raise
    except Exception as exc:  # noqa: BLE001 - Hydra's composition errors become one line
        message = format_error(exc)
        if message is None:
            raise
        raise CalibrationError(message.replace("is not a parameter", "is not a calibration setting")) from None
    raw = OmegaConf.to_container(cfg, resolve=True)
    return validate(raw, name)


def compose_calibration(overrides: list[str], name: str):
    """The composed calibration config (Hydra's compose API, ``version_base="1.3"``)."""
    from hydra import compose, initialize_config_dir  # noqa: PLC0415
    from hydra.core.global_hydra import GlobalHydra  # noqa: PLC0415

    from .config import CONFIG_DIR  # noqa: PLC0415

    folder = CONFIG_DIR / "calibration"
    options = sorted(p.stem for p in folder.glob("*.yaml"))
    if name not in options:
        raise CalibrationError(f"calibration must be one of {', '.join(options)}; got {name!r}")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3", job_name="calibrate"):
            return compose(config_name=f"calibration/{name}", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def validate(raw: dict, name: str = DEFAULT_CALIBRATION) -> Calibration:
    """Check every setting of a composed calibration config; raise CalibrationError on the first bad one."""
    from .validation import CALIBRATION_STATISTICS, TWITTER2009_TARGETS  # noqa: PLC0415

    raw = dict(raw)
    for key in raw:
        if key not in KEYS:
            raise CalibrationError(f"{key} is not a calibration setting; allowed: {', '.join(KEYS)}")
    priors = parse_priors(raw.get("priors") or {})
    targets: dict[str, float] = {}
    for key, value in (raw.get("targets") or {}).items():
        if key not in TWITTER2009_TARGETS:
            raise CalibrationError(f"targets.{key} is not a known target; allowed: {', '.join(TWITTER2009_TARGETS)}")
        value = TWITTER2009_TARGETS[key] if value is None else value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise CalibrationError(f"targets.{key} must be a number (or null for the published value); got {value!r}")
        targets[key] = float(value)
    if not targets:
        raise CalibrationError("targets is empty: name at least one of " + ", ".join(TWITTER2009_TARGETS))
    distance = raw.get("distance", "log_ratio")
    if distance not in DISTANCES:
        raise CalibrationError(f"distance must be one of {', '.join(DISTANCES)}; got {distance!r}")
    scales: dict[str, float] = {}
    for key, value in (raw.get("target_scales") or {}).items():
        if key not in CALIBRATION_STATISTICS or key not in targets:
            raise CalibrationError(f"target_scales.{key} is not one of the targets ({', '.join(targets)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise CalibrationError(f"target_scales.{key} must be a number > 0; got {value!r}")
        scales[key] = float(value)
    for key, value in targets.items():
        if distance == "log_ratio" and value <= 0:
            raise CalibrationError(f"targets.{key} must be > 0 for distance=log_ratio; got {value!r}")
        if key not in scales and distance == "log_ratio":
            scales[key] = 1.0
        elif key not in scales:
            if value == 0:
                raise CalibrationError(f"target_scales.{key} must be given: the target is 0, so it has no "
                                       "relative scale")
            scales[key] = abs(value)
    abc = dict(raw.get("abc") or {})
    for key in abc:
        if key not in ABC_KEYS:
            raise CalibrationError(f"abc.{key} is not an ABC setting; allowed: {', '.join(ABC_KEYS)}")
    abc = {"population_size": 100, "generations": 10, "min_epsilon": 0.0, "max_simulations": None,
           "max_walltime_min": None, **abc}
    _check_int(abc["population_size"], "abc.population_size", 2)
    _check_int(abc["generations"], "abc.generations", 1)
    _check_number(abc["min_epsilon"], "abc.min_epsilon", 0)
    if abc["max_simulations"] is not None:
        _check_int(abc["max_simulations"], "abc.max_simulations", 1)
    if abc["max_walltime_min"] is not None:
        _check_number(abc["max_walltime_min"], "abc.max_walltime_min", 0)
    sampler = raw.get("sampler", "multicore")
    if sampler not in SAMPLERS:
        raise CalibrationError(f"sampler must be one of {', '.join(SAMPLERS)}; got {sampler!r}")
    n_procs = raw.get("n_procs", 2)
    _check_int(n_procs, "n_procs", 1)
    address = raw.get("dask_address")
    if sampler == "dask" and not address:
        raise CalibrationError("dask_address must name the Dask scheduler (e.g. tcp://host:8786) when sampler=dask")
    seed = raw.get("seed", 0)
    _check_int(seed, "seed", 0)
    if not raw.get("out"):
        raise CalibrationError("out must name the output folder")
    out = Path(str(raw["out"]))
    db = Path(str(raw["db"])) if raw.get("db") else out / "abc.db"
    model = model_overrides(raw.get("model"))
    # the model config must compose, and every prior's ends must give a valid model
    from .config import compose_params  # noqa: PLC0415

    try:
        base = compose_params(model)
        for pick in ("lo", "hi"):
            base.replace(**{p.name: _cast(p, getattr(p, pick)) for p in priors})
    except ParameterError as exc:
        raise CalibrationError(f"model: {exc}") from None
    return Calibration(name=name, model=model, priors=priors, targets=targets, scales=scales, distance=distance,
                       abc=abc,
                       sampler=sampler, n_procs=int(n_procs), dask_address=address, out=out, db=db,
                       resume=bool(raw.get("resume", False)), seed=int(seed), raw=raw)


def _check_int(value, name: str, lo: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise CalibrationError(f"{name} must be a whole number >= {lo}; got {value!r}")


def _check_number(value, name: str, lo: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= lo:
        raise CalibrationError(f"{name} must be a number >= {lo:g}; got {value!r}")


def _cast(prior: Prior, value: float):
    return int(round(float(value))) if prior.integer else float(value)


# --- simulation ------------------------------------------------------------------------------------
def simulation_seed(seed: int, values: dict[str, float]) -> int:
    """The model seed of one simulation: a hash of the calibration seed and the parameter values (so the same
    parameters always give the same run, whichever process draws them)."""
    text = json.dumps([seed, sorted((k, repr(float(v))) for k, v in values.items())])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


class Simulator:
    """pyabc's model: parameters -> the calibration statistics of one in-process run (picklable for Dask)."""

    def __init__(self, base: dict, priors: list[Prior], seed: int, statistics: tuple[str, ...]):
        self.base, self.priors, self.seed, self.statistics = base, priors, seed, statistics

    def params(self, parameters: dict) -> Params:
        """The model parameters of one simulation (prior keys -> dotted names, whole numbers rounded)."""
        values = {p.name: _cast(p, float(p.from_unit(parameters[p.key]))) for p in self.priors}
        seed = simulation_seed(self.seed, {p.key: float(parameters[p.key]) for p in self.priors})
        return Params.from_dict(self.base, **values, seed=seed)

    def __call__(self, parameters: dict) -> dict[str, float]:
        from .model import PlatformModel  # noqa: PLC0415
        from .validation import RunOutput, calibration_statistics  # noqa: PLC0415

        model = PlatformModel(self.params(parameters)).run()
        stats = calibration_statistics(RunOutput(model.member_frame(), model.follows_frame(), model.timeseries()))
        return {k: float(stats[k]) for k in self.statistics}


class ScaledDistance:
    """Root mean square over the targets of each statistic's miss divided by its scale: the miss is
    log(statistic / target) (``log_ratio``, a factor of two off counts the same above and below) or
    statistic - target (``relative``, with the target as the default scale). A missing statistic (NaN), or a
    statistic <= 0 under ``log_ratio``, is infinitely far."""

    def __init__(self, scales: dict[str, float], kind: str = "log_ratio"):
        self.scales, self.kind = dict(scales), kind

    def miss(self, value: float, target: float) -> float:
        """The unscaled miss of one statistic."""
        if self.kind == "log_ratio":
            return math.log(value / target) if value > 0 else float("inf")
        return value - target

    def __call__(self, x: dict, x0: dict) -> float:
        d = [self.miss(float(x[k]), float(x0[k])) / s for k, s in self.scales.items()]
        if not all(math.isfinite(v) for v in d):
            return float("inf")
        return float(math.sqrt(sum(v * v for v in d) / len(d)))


def make_sampler(cal: Calibration):
    """The pyabc sampler the config names: multicore (this machine), single (one process, reproducible)
    or dask (a ``distributed`` scheduler at ``dask_address``)."""
    from pyabc import sampler as samplers  # noqa: PLC0415

    if cal.sampler == "single":
        return samplers.SingleCoreSampler()
    if cal.sampler == "dask":
        from distributed import Client  # noqa: PLC0415

        return samplers.DaskDistributedSampler(dask_client=Client(cal.dask_address))
    return samplers.MulticoreEvalParallelSampler(n_procs=cal.n_procs)


def base_params(cal: Calibration) -> dict:
    """The model parameters every simulation starts from (the ``model:`` overrides, composed)."""
    from .config import compose_params  # noqa: PLC0415

    return compose_params(cal.model).to_dict()


def make_abc(cal: Calibration, sampler=None):
    """The pyabc.ABCSMC object of a calibration (prior, in-process model, scaled distance, sampler)."""
    import pyabc  # noqa: PLC0415

    base = base_params(cal)
    prior = pyabc.Distribution(**{p.key: p.rv() for p in cal.priors})
    simulator = Simulator(base, cal.priors, cal.seed, tuple(cal.targets))
    return pyabc.ABCSMC(simulator, prior, ScaledDistance(cal.scales, cal.distance), population_size=cal.abc["population_size"],
                        sampler=sampler if sampler is not None else make_sampler(cal))


# --- the database -------------------------------------------------------------------------------
SQLITE_MAGIC = b"SQLite format 3\x00"


def check_database(cal: Calibration) -> bool:
    """Whether there is a run to continue in ``cal.db``; CalibrationError if it cannot be continued."""
    db = cal.db
    if not db.exists():
        if cal.resume:
            raise CalibrationError(f"db: {db} does not exist; nothing to resume (drop resume=true to start)")
        return False
    try:
        with open(db, "rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise CalibrationError(f"db: {db}: {exc.strerror}") from None
    if head != SQLITE_MAGIC:
        raise CalibrationError(f"db: {db} is not an SQLite database; nothing to resume (move it aside or set db=)")
    try:
        import pyabc  # noqa: PLC0415

        history = pyabc.History(f"sqlite:///{db}", create=False)
        runs = history.all_runs()
        if not runs:
            raise ValueError("no run")
        history.id = 1
        stored = history.get_abc().json_parameters  # pyabc stores str(meta_info), a Python literal
        options = ast.literal_eval(stored) if stored else {}
    except CalibrationError:
        raise
    except Exception:  # noqa: BLE001 - any failure to read it means it cannot be continued
        raise CalibrationError(f"db: {db} is not a calibration database (unreadable or corrupt); "
                               "nothing to resume (move it aside or set db=)") from None
    if options.get("fingerprint") != cal.fingerprint():
        raise CalibrationError(f"db: {db} holds a calibration with other priors, targets, distance, model values, "
                               "population size "
                               "or seed; use the same configuration to continue it, or another out= or db=")
    return True


# --- running -----------------------------------------------------------------------------------------
def generation_table(history, priors: list[Prior]) -> pd.DataFrame:
    """One row per completed generation: epsilon, ESS, acceptance rate, simulations, time, and how far the
    weighted posterior mean moved from the previous generation (largest over parameters, in prior sd)."""
    from pyabc.weighted_statistics import effective_sample_size  # noqa: PLC0415

    pops = history.get_all_populations()
    pops = pops[pops["t"] >= 0].sort_values("t")
    rows, previous = [], None
    start = None
    for _, row in pops.iterrows():
        t = int(row["t"])
        df, w = history.get_distribution(m=0, t=t)
        mean = np.array([np.sum(w * df[p.key].to_numpy(float)) for p in priors])  # pyabc's space is the unit one
        sd = np.array([p.unit_sd for p in priors])
        moved = float(np.max(np.abs(mean - previous) / sd)) if previous is not None else float("nan")
        previous = mean
        end = pd.Timestamp(row["population_end_time"])
        rows.append({"generation": t, "epsilon": float(row["epsilon"]), "ess": float(effective_sample_size(w)),
                     "accepted": int(row["particles"]), "simulations": int(row["samples"]),
                     "acceptance_rate": float(row["particles"]) / float(row["samples"]),
                     "end_time": end.isoformat(), "seconds": float("nan") if start is None else
                     (end - start).total_seconds(), "posterior_mean_shift_sd": moved})
        start = end
    return pd.DataFrame(rows)


def posterior_frame(history, priors: list[Prior], t: int | None = None) -> pd.DataFrame:
    """The weighted posterior sample of generation ``t`` (default the last): one column per parameter
    (dotted names, whole-number parameters as drawn), ``weight`` (sums to 1) and ``generation``."""
    df, w = history.get_distribution(m=0, t=t)
    out = pd.DataFrame({p.name: p.from_unit(df[p.key].to_numpy(float)) for p in priors})
    out["weight"] = np.asarray(w, float) / np.sum(w)
    out["generation"] = history.max_t if t is None else t
    return out


def _atomic_write(path: Path, write) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_outputs(cal: Calibration, history, figures: bool = True) -> pd.DataFrame:
    """Rewrite the folder's posterior.csv, convergence.csv (and the figures) from the database."""
    table = generation_table(history, cal.priors)
    if table.empty:
        return table
    # durations of generation 0 are measured from the start of the run
    start = history.get_abc().start_time
    if start is not None and len(table):
        table.loc[0, "seconds"] = (pd.Timestamp(table.loc[0, "end_time"]) - pd.Timestamp(start)).total_seconds()
    post = posterior_frame(history, cal.priors)
    _atomic_write(cal.out / "posterior.csv", lambda p: post.to_csv(p, index=False, float_format="%.8g"))
    _atomic_write(cal.out / "convergence.csv", lambda p: table.to_csv(p, index=False, float_format="%.6g"))
    if figures:
        plot_posterior(post, cal.priors, cal.out)
    return table


def plot_posterior(post: pd.DataFrame, priors: list[Prior], folder: Path) -> None:
    """marginals.png (weighted histograms within the prior ranges) and pairs.png (weighted pair plots)."""
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    import seaborn as sns  # noqa: PLC0415
    from matplotlib.ticker import NullFormatter  # noqa: PLC0415

    k = len(priors)
    cols = min(4, k)
    rows = -(-k // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False)
    for ax, p in zip(axes.flat, priors):
        sns.histplot(x=post[p.name], weights=post["weight"], bins=20, stat="density", ax=ax, log_scale=p.scale == "log",
                     binrange=tuple(np.log10([p.lo, p.hi])) if p.scale == "log" else (p.lo, p.hi))
        ax.set_xlim(p.lo, p.hi)
        ax.xaxis.set_minor_formatter(NullFormatter())  # log axes: decade labels only
        ax.set_title(p.name, fontsize=9)
        ax.set_xlabel("")
    for ax in list(axes.flat)[k:]:
        ax.set_visible(False)
    fig.suptitle(f"posterior marginals (generation {int(post['generation'].iloc[0])}; prior range on the x axis)")
    fig.tight_layout()
    _atomic_write(folder / "marginals.png", lambda p: fig.savefig(p, dpi=100, format="png"))
    plt.close(fig)

    fig, axes = plt.subplots(k, k, figsize=(2.2 * k, 2.2 * k), squeeze=False)
    w = post["weight"].to_numpy()
    for i, pi in enumerate(priors):
        for j, pj in enumerate(priors):
            ax = axes[i, j]
            if i == j:
                sns.histplot(x=post[pi.name], weights=w, bins=15, ax=ax, log_scale=pi.scale == "log")
                ax.set_xlim(pi.lo, pi.hi)
            elif i > j:
                ax.scatter(post[pj.name], post[pi.name], s=4 + 400 * w, alpha=0.5, linewidths=0)
                ax.set_xscale("log" if pj.scale == "log" else "linear")
                ax.set_yscale("log" if pi.scale == "log" else "linear")
                ax.set_xlim(pj.lo, pj.hi)
                ax.set_ylim(pi.lo, pi.hi)
            else:
                ax.set_visible(False)
            ax.set_xlabel(pj.name.split(".")[-1] if i == k - 1 else "", fontsize=7)
            ax.set_ylabel(pi.name.split(".")[-1] if j == 0 else "", fontsize=7)
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.tick_params(labelsize=6)
    fig.tight_layout()
    _atomic_write(folder / "pairs.png", lambda p: fig.savefig(p, dpi=100, format="png"))
    plt.close(fig)


def _progress_line(row: dict, total: int) -> str:
    moved = row["posterior_mean_shift_sd"]
    moved = "" if not math.isfinite(moved) else f", posterior mean moved {moved:.2f} prior sd"
    return (f"generation {row['generation']}: epsilon {row['epsilon']:.4g}, accepted {row['accepted']}/"
            f"{row['simulations']} ({100 * row['acceptance_rate']:.1f}%), ESS {row['ess']:.1f}, "
            f"{row['seconds']:.0f} s{moved}; {total:,} simulations in all")


def _echo(text: str) -> None:
    print(text, flush=True)  # progress shows at once also when the output goes to a file


def run(cal: Calibration, sampler=None, echo=_echo) -> pd.DataFrame:
    """Run (or continue) a calibration until its stopping rules hold; returns the convergence table.

    Generations run one at a time, so the folder's tables are rewritten after each and an interrupted run
    loses at most the generation under way. A generation's duration is the time since the previous one ended
    (for the first generation of a run, since the run began, including pyabc's calibration sample).
    With ``sampler=single`` every generation's draws come from numpy's global generator seeded with
    (seed, generation), so the run is reproducible; the multicore and Dask samplers draw in parallel workers
    with their own entropy (the order results come back varies), so only each simulation
    (parameters -> statistics) is reproducible there.
    """
    import logging  # noqa: PLC0415
    from datetime import timedelta  # noqa: PLC0415

    import pyabc  # noqa: PLC0415

    logging.getLogger("ABC").setLevel(logging.WARNING)  # our own line per generation instead
    for name in ("ABC.Sampler", "ABC.History", "ABC.Distance", "ABC.Epsilon", "ABC.Population", "ABC.Transition"):
        logging.getLogger(name).setLevel(logging.WARNING)
    resuming = check_database(cal)
    cal.out.mkdir(parents=True, exist_ok=True)
    cal.db.parent.mkdir(parents=True, exist_ok=True)
    abc = make_abc(cal, sampler)
    url = f"sqlite:///{cal.db}"
    if resuming:
        history = abc.load(url, 1)
        echo(f"continuing {cal.db} after generation {history.max_t} ({history.total_nr_simulations:,} simulations)")
    else:
        from .validation import TARGET_SOURCES  # noqa: PLC0415

        history = abc.new(url, cal.targets, meta_info={"fingerprint": cal.fingerprint(), "calibration": cal.name,
                                                       "sources": {k: TARGET_SOURCES[k] for k in cal.targets}})
        echo(f"new calibration in {cal.db}: {len(cal.priors)} parameters, {len(cal.targets)} targets, "
             f"population {cal.abc['population_size']}, sampler {cal.sampler}")
    _atomic_write(cal.out / "calibration.json",
                  lambda p: p.write_text(json.dumps({**cal.raw, "fingerprint": cal.fingerprint()}, indent=2,
                                                    default=str) + "\n"))
    t_start = time.monotonic()
    table = write_outputs(cal, history, figures=False)
    while True:
        done = history.max_t + 1
        eps = float(table["epsilon"].iloc[-1]) if len(table) else float("inf")
        total = history.total_nr_simulations
        walltime = cal.abc["max_walltime_min"]
        elapsed_min = (time.monotonic() - t_start) / 60
        if done >= cal.abc["generations"]:
            echo(f"stopped: {done} generations")
            break
        if eps <= cal.abc["min_epsilon"]:
            echo(f"stopped: epsilon {eps:.4g} <= abc.min_epsilon")
            break
        if cal.abc["max_simulations"] is not None and total >= cal.abc["max_simulations"]:
            echo(f"stopped: {total:,} simulations >= abc.max_simulations")
            break
        if walltime is not None and elapsed_min >= walltime:
            echo(f"stopped: {elapsed_min:.1f} min >= abc.max_walltime_min")
            break
        if cal.sampler == "single":
            np.random.seed([cal.seed, done])
        kwargs = {}
        if cal.abc["max_simulations"] is not None:
            kwargs["max_total_nr_simulations"] = cal.abc["max_simulations"]
        if walltime is not None:
            kwargs["max_walltime"] = timedelta(minutes=walltime - elapsed_min)
        if done > 0:
            # a fresh ABCSMC loaded from the database for every generation: pyabc calibrates its epsilon and
            # transition from the last stored generation, exactly as when a stopped run is continued
            sampler = abc.sampler
            abc = make_abc(cal, sampler)
            abc.load(url, 1)
        history = abc.run(minimum_epsilon=cal.abc["min_epsilon"], max_nr_populations=1, **kwargs)
        if history.max_t + 1 == done:  # pyabc stopped before completing a generation
            echo("stopped: pyabc's limits reached within the generation")
            break
        table = write_outputs(cal, history, figures=False)  # the figures once, at the end
        echo(_progress_line(table.iloc[-1].to_dict(), history.total_nr_simulations))
    if len(table):
        write_outputs(cal, history)
    echo(f"outputs: {cal.out}")
    return table


# --- posterior draws as a config group -----------------------------------------------------------------
def write_posterior_draws(posterior: pd.DataFrame | str | Path, folder: str | Path, n: int = 20,
                          seed: int = 0) -> list[Path]:
    """Write ``draw_00.yaml`` ... (n files, ``# @package _global_``) with parameter values drawn from a
    weighted posterior (``posterior.csv``: parameter columns, ``weight``) by weight, with replacement, seeded.

    Whole-number parameters are rounded. Files are written whole (a temporary file renamed), so a failed call
    leaves no partial file.
    """
    from omegaconf import OmegaConf  # noqa: PLC0415

    post = pd.read_csv(posterior) if isinstance(posterior, (str, Path)) else posterior
    names = [c for c in post.columns if c not in ("weight", "generation")]
    fields = _fields()
    unknown = [c for c in names if c not in fields]
    if unknown:
        raise CalibrationError(f"posterior column {unknown[0]} is not a model parameter")
    w = post["weight"].to_numpy(float)
    rows = np.random.default_rng(seed).choice(len(post), size=n, replace=True, p=w / w.sum())
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, row in enumerate(rows):
        nested: dict = {}
        for name in names:
            value = float(post[name].iloc[row])
            value = int(round(value)) if isinstance(fields[name][1], int) else float(f"{value:.6g}")
            group, _, leaf = name.rpartition(".")
            nested.setdefault(group, {})[leaf] = value
        text = (f"# @package _global_\n# posterior draw {i} of {n} (row {int(row)} of the posterior, drawn by weight "
                f"with seed {seed})\n" + OmegaConf.to_yaml(OmegaConf.create(nested)))
        path = folder / f"draw_{i:02d}.yaml"
        _atomic_write(path, lambda p, text=text: p.write_text(text))
        paths.append(path)
    return paths


def posterior_point(posterior: pd.DataFrame | str | Path) -> dict[str, float]:
    """The posterior's representative point: each parameter's weighted median (``posterior.csv``: parameter
    columns, ``weight``). Whole-number parameters are rounded; values keep six significant digits."""
    post = pd.read_csv(posterior) if isinstance(posterior, (str, Path)) else posterior
    names = [c for c in post.columns if c not in ("weight", "generation")]
    fields = _fields()
    w = post["weight"].to_numpy(float)
    point = {}
    for name in names:
        x = post[name].to_numpy(float)
        order = np.argsort(x, kind="stable")
        cum = np.cumsum(w[order]) / w.sum()
        value = float(x[order][np.searchsorted(cum, 0.5)])
        point[name] = int(round(value)) if isinstance(fields[name][1], int) else float(f"{value:.6g}")
    return point


def write_posterior_point(posterior: pd.DataFrame | str | Path, path: str | Path) -> Path:
    """Write :func:`posterior_point` as a ``# @package _global_`` config (nested groups) to ``path``."""
    from omegaconf import OmegaConf  # noqa: PLC0415

    nested: dict = {}
    for name, value in posterior_point(posterior).items():
        group, _, leaf = name.rpartition(".")
        nested.setdefault(group, {})[leaf] = value
    text = "# @package _global_\n# the posterior's weighted median of each parameter\n" + OmegaConf.to_yaml(
        OmegaConf.create(nested))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, lambda p: p.write_text(text))
    return path


# --- the Morris screen -------------------------------------------------------------------------------------
# A Morris screen (SALib) of which behavioural parameters move the calibration statistics.
#
# ``python -m socialsim.calibrate screen`` runs the ``screen:`` section of a calibration config: SALib's Morris
# design over the listed parameters (uniform or log-uniform ranges; whole-number parameters rounded), one model
# run per design row with its own seed, and the statistics of :func:`socialsim.validation.calibration_statistics`.
# ``dummy`` changes nothing in the model, so its elementary effects are seed noise alone: the floor to judge the
# others by. The table (``screen.csv``) has one row per statistic and parameter with Morris' mu, mu* (and its
# 95% bootstrap half-width) and sigma, and mu* in units of the statistic's standard deviation over the design
# (``mu_star_rel``), which puts the statistics on one scale.


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


def run_screen(cal: Calibration, echo=_echo) -> pd.DataFrame:
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


# --- the command line ------------------------------------------------------------------------------------
USAGE = "usage: python -m socialsim.calibrate [run|screen|draws] [calibration=NAME] [key=value ...]"


def main(argv: list[str] | None = None) -> int:
    """The command line; configuration errors print one line and return 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        print(__doc__.split("\n\n")[2])
        return 0
    command = argv.pop(0) if argv and argv[0] in ("run", "screen", "draws") else "run"
    name = DEFAULT_CALIBRATION
    rest = []
    for arg in argv:
        if arg.startswith("calibration="):
            name = arg.partition("=")[2]
        else:
            rest.append(arg)
    try:
        needs = [("pyabc", "python -m socialsim.calibrate"), ("powerlaw", "the calibration statistics")]
        if command == "screen":
            needs.append(("SALib", "the Morris screen"))
        for module, feature in needs:
            try:
                require(module, "calibrate", feature)
            except MissingExtra as exc:
                raise CalibrationError(str(exc)) from None
        cal = load_config(rest, name)
        if command == "screen":
            run_screen(cal)
        elif command == "draws":
            draws = cal.raw.get("draws") or {}
            source = cal.out / "posterior.csv"
            if not source.exists():
                raise CalibrationError(f"{source} does not exist: run the calibration first")
            folder = Path(str(draws.get("out") or cal.out / "posterior"))
            paths = write_posterior_draws(source, folder, int(draws.get("n", 20)), int(draws.get("seed", 0)))
            point = write_posterior_point(source, folder / "point.yaml")
            print(f"{len(paths)} draws in {folder}; the weighted median in {point}")
        else:
            run(cal)
    except CalibrationError as exc:
        print(f"socialsim.calibrate: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("socialsim.calibrate: interrupted; run the same command again to continue", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
