"""Helpers of the named experiments in ``experiments/``: scale, running a sweep, per-member tables, intervals.

Each notebook in ``experiments/`` does::

    from socialsim import study
    sweep_dir = study.run_experiment("openness_vs_elite")   # python -m socialsim -m +experiment=... if incomplete
    sweep = load_sweep(sweep_dir)
    out = study.results_dir("openness_vs_elite")             # where its CSV and PNG files go

Environment variables (read when called, so a test can set them):

``SOCIALSIM_SCALE``
    ``full`` (default): the sweep as ``socialsim/conf/experiment/NAME.yaml`` defines it (2,000 people, 365 days,
    20 seeds). ``ci``: a reduced sweep (300 people, 60 days, 2 seeds, fewer levels; see :data:`CI_OVERRIDES`)
    so that every notebook runs in CI in well under a minute of model time.
``SOCIALSIM_SWEEPS_DIR``
    where sweeps are written (default ``results/sweeps``, or ``results/sweeps/ci`` at the ci scale).
``SOCIALSIM_RESULTS_DIR``
    where tables and figures are written (default ``results``, or ``results/sweeps/ci/results`` at the ci
    scale, which git ignores: the committed ``results/`` is only ever written at the full scale).

The statistics are simple and stated where they are used: a 95% t-interval over seeds for a mean, and for a
difference between two conditions a t-interval of the per-seed paired differences (conditions with the same
seed share the same population of people, so pairing removes that part of the seed-to-seed variation).
The seed, one population, is the unit of replication: :func:`paired_contrast` averages each seed's runs within a
condition before pairing, :func:`mixed_contrast` gives the seed a random intercept instead, and
:func:`contrast_table` adjusts a family of contrasts' p-values together (Holm or Benjamini-Hochberg).

The robustness map (``experiments/robustness.py``) checks declared claims (:func:`load_claims`) at the baseline,
over the posterior draws and at a larger population (:func:`run_robustness`, one Hydra sweep per condition and
context) and summarises them (:func:`robustness_table`, :func:`hinge`).
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from .config import CONFIG_DIR
from .extras import require

_CHECKOUT = Path(__file__).resolve().parents[2]
#: the source checkout when socialsim runs from one (its results/ are the committed ones), else the working
#: folder (an installed wheel has no checkout: sweeps and results go under ./results)
REPO = _CHECKOUT if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "results").is_dir() else Path.cwd()
EXPERIMENT_DIR = CONFIG_DIR / "experiment"
SCALES = ("full", "ci")

#: the reduced sweep of each experiment at SOCIALSIM_SCALE=ci (added to the command line)
CI_COMMON: dict[str, str] = {"population.size": "300", "run.steps": "60", "seed": "range(0,2)"}
CI_OVERRIDES: dict[str, dict[str, str]] = {
    "openness_vs_elite": {"platform.openness": "0.02,1.0"},
    "illusion_of_intimacy": {"run.steps": "30,60", "meetups.rate": "0.0,0.1"},
    "local_networks": {"meetups.rate": "0.0,0.1"},
    "early_adopters": {"adoption.elite_early_adoption": "0.0,2.0", "leaving.elite_exit_rate": "0.0,0.02"},
    # long enough that enough of the 300 people have joined in every world for the per-person statistics
    "unpredictability": {"seed": "range(0,3)", "run.steps": "150"},
    "recommender_by_attention": {"platform.attention": "5,50"},
    "unpredictability_independent": {"seed": "range(0,3)", "run.steps": "150"},
    "follow_cap": {"platform.follow_cap": "0,10"},
    "close_tie_budget": {"intimacy.reply_budget": "0,10"},
    "minority_visibility": {"population.homophily": "0.2,0.8", "platform.recommender": "random,popularity"},
}


# --- scale and folders -----------------------------------------------------------------------------
def scale() -> str:
    """The scale of the experiments, from SOCIALSIM_SCALE: ``full`` (the default) or ``ci``."""
    value = os.environ.get("SOCIALSIM_SCALE", "full").strip().lower() or "full"
    if value not in SCALES:
        raise ValueError(f"SOCIALSIM_SCALE must be one of {', '.join(SCALES)}; got {value!r}")
    return value


def sweeps_dir() -> Path:
    """The folder the experiments' sweeps go to (SOCIALSIM_SWEEPS_DIR, else under ``results/sweeps``)."""
    env = os.environ.get("SOCIALSIM_SWEEPS_DIR")
    path = Path(env) if env else REPO / "results" / "sweeps" / ("ci" if scale() == "ci" else "")
    return path.resolve()


def results_dir(name: str | None = None) -> Path:
    """``results/NAME`` (created), or the folder SOCIALSIM_RESULTS_DIR names."""
    env = os.environ.get("SOCIALSIM_RESULTS_DIR")
    root = Path(env) if env else REPO / "results" / ("sweeps/ci/results" if scale() == "ci" else "")
    path = (root / name) if name else root
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def overrides(name: str) -> list[str]:
    """The command-line overrides of experiment ``name`` at the current scale (none at full scale)."""
    if scale() == "full":
        return []
    merged = {**CI_COMMON, **CI_OVERRIDES.get(name, {})}
    return [f"{k}={v}" for k, v in merged.items()]


def _sweep_values(text: str) -> list[str]:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    override = OverridesParser.create().parse_overrides([f"x={text}"])[0]
    if override.is_sweep_override():
        return list(override.sweep_string_iterator())
    return [override.get_value_element_as_str()]


def expected_jobs(name: str, extra: Sequence[str] = ()) -> list[str]:
    """The job folder names Hydra will use for experiment ``name`` with these command-line overrides
    (``hydra.job.override_dirname``: the overrides sorted by key, the experiment's own key excluded)."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(EXPERIMENT_DIR / f"{name}.yaml")
    params = dict(OmegaConf.select(cfg, "hydra.sweeper.params", default={}) or {})
    entries: dict[str, str] = {k: str(v) for k, v in params.items()}
    for line in extra:
        key, _, value = line.partition("=")
        if not key.startswith("hydra."):
            entries[key.lstrip("+")] = value
    keys = list(entries)
    combos = itertools.product(*[_sweep_values(entries[k]) for k in keys])
    return [",".join(f"{k}={v}" for k, v in sorted(zip(keys, combo))) for combo in combos]


def run_experiment(name: str, *, force: bool = False, extra: Sequence[str] = (), quiet: bool = False) -> Path:
    """Run ``python -m socialsim -m +experiment=NAME`` into ``sweeps_dir()/NAME`` unless every job of it is
    already complete there; return the sweep folder. Hydra itself skips the jobs that are complete."""
    from .io import is_complete

    path = sweeps_dir() / name
    args = [*overrides(name), *extra]
    jobs = expected_jobs(name, args)
    missing = [j for j in jobs if not is_complete(path / j)]
    if missing or force:
        cmd = [sys.executable, "-m", "socialsim", "-m", f"+experiment={name}", f"hydra.sweep.dir={path}", *args]
        print(f"running {len(missing)} of {len(jobs)} jobs:", " ".join(cmd[1:]), flush=True)
        subprocess.run(cmd, cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.DEVNULL if quiet else None)
    else:
        print(f"{name}: all {len(jobs)} jobs complete in {path}")
    return path


def job_folders(name: str) -> list[Path]:
    """The complete job folders of experiment ``name`` at the current scale (only the jobs its sweep defines)."""
    from .io import is_complete

    path = sweeps_dir() / name
    return [path / j for j in expected_jobs(name, overrides(name)) if is_complete(path / j)]


# --- per-member tables -------------------------------------------------------------------------------
def load_members(runs: pd.DataFrame, columns: Iterable[str] | None = None,
                 keep: Iterable[str] | None = None) -> pd.DataFrame:
    """members.parquet of every run in ``runs`` (from load_sweep), with the run's condition columns and seed.

    ``columns``: member columns to keep (default all); ``keep``: run columns to attach (default the swept
    columns and seed). Adds ``present`` (a member at the end: joined and not left).
    """
    from .io import read_table

    keep = list(keep) if keep is not None else [c for c in runs.attrs.get("swept", []) if c in runs]
    if "seed" not in keep:
        keep.append("seed")
    frames = []
    for _, row in runs.iterrows():
        m = read_table(row["run"], "members")
        if columns is not None:
            m = m[[c for c in m.columns if c in set(columns) | {"member_id", "left_step", "joined_step"}]]
        m["present"] = m["left_step"] < 0
        for c in reversed(["run", *keep]):
            m.insert(0, c, row[c])
        frames.append(m)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def population_frame(run_folder: str | os.PathLike) -> pd.DataFrame:
    """Everyone who could join in a run (not only those who did): member_id, skill, reach, shyness, town,
    elite (reach above leaving.elite_quantile of the population), skill and shyness quartile of the population
    (as the metrics use them). Rebuilt exactly from the run's parameters (the model's first random draws)."""
    from .io import read_summary
    from .model import PlatformModel
    from .params import Params

    summary = read_summary(run_folder)
    if summary is None:
        raise FileNotFoundError(f"{run_folder} is not a complete run")
    model = PlatformModel(Params.from_dict({}, **summary["params"]))  # recommender_mix.* keys nest again
    pop = model.state.pop
    return pd.DataFrame({
        "member_id": np.arange(pop.skill.size), "skill": pop.skill, "reach": pop.reach, "shyness": pop.shyness,
        "town": pop.town, "elite": model.state.elite, "skill_quartile": pop.skill_quartile + 1,
        "shyness_quartile": pop.shyness_quartile + 1,
    })


def quartile(x: pd.Series) -> pd.Series:
    """Quartile 1..4 of ``x`` (1 = lowest), ties broken by order."""
    return pd.qcut(x.rank(method="first"), 4, labels=[1, 2, 3, 4]).astype(int)


def member_outcomes(runs: pd.DataFrame, keep: Iterable[str] | None = None) -> pd.DataFrame:
    """Per run, the outcomes of the mechanisms that need the members table (one row per run of ``runs``).

    Quartiles of skill and shyness are taken among the members present at the end of each run (1 = lowest);
    the elite are the top 10% by offline reach of everyone who joined. Columns, besides ``run``, ``keep`` and
    ``seed``:

    - ``new_tie_share_skill_q1..4``, ``new_tie_share_shyness_q1..4``: share of the quartile with at least one
      new mutual tie (with someone outside one's offline contacts); ``new_ties_skill_q1..4``: new mutual
      ties per member of the quartile;
    - ``mutual_per_member_ORIGIN`` and ``mutual_share_ORIGIN``: mutual ties by the origin of the tie (the
      earlier of its two follows; socialsim.graph.ORIGINS) per member present and as a share of all of them;
    - ``minority_top10_ratio``: the minority's share of the top 10% by followers over its share of the
      members present (NaN without groups);
    - ``left_share`` (of everyone who joined), ``left_share_skill_q1..4`` (quartiles of skill among everyone
      who joined), ``left_share_elite``, ``left_share_early`` (joined in the first half of the run among those
      who joined), ``left_share_minority``, ``left_share_majority``: behavioural exit, who leaves.
    """
    from .graph import ORIGINS
    from .io import read_table

    keep = list(keep) if keep is not None else [c for c in runs.attrs.get("swept", []) if c in runs]
    if "seed" not in keep:
        keep.append("seed")
    rows = []
    for _, run in runs.iterrows():
        m = read_table(run["run"], "members")
        rec: dict[str, Any] = {"run": run["run"], **{c: run[c] for c in keep}}
        here = m[m.left_step < 0]
        if len(here) >= 4:
            skill_q, shy_q = quartile(here.skill), quartile(here.shyness)
            for q in (1, 2, 3, 4):
                rec[f"new_tie_share_skill_q{q}"] = float((here.new_mutual_ties[skill_q == q] > 0).mean())
                rec[f"new_tie_share_shyness_q{q}"] = float((here.new_mutual_ties[shy_q == q] > 0).mean())
                rec[f"new_ties_skill_q{q}"] = float(here.new_mutual_ties[skill_q == q].mean())
        total = float(sum(here[f"mutual_{o}"].sum() for o in ORIGINS))
        for o in ORIGINS:
            rec[f"mutual_per_member_{o}"] = float(here[f"mutual_{o}"].sum() / max(1, len(here)))
            rec[f"mutual_share_{o}"] = float(here[f"mutual_{o}"].sum() / total) if total else np.nan
        minority = here.group == 1
        if minority.any() and len(here) >= 10:
            top = here.followers.rank(method="first", ascending=False) <= max(1, round(0.1 * len(here)))
            rec["minority_top10_ratio"] = float((minority & top).sum() / top.sum() / minority.mean())
        else:
            rec["minority_top10_ratio"] = np.nan
        left = m.left_step >= 0
        rec["left_share"] = float(left.mean()) if len(m) else np.nan
        if len(m) >= 4:
            q_all = quartile(m.skill)
            for q in (1, 2, 3, 4):
                rec[f"left_share_skill_q{q}"] = float(left[q_all == q].mean())
            elite = m.reach >= m.reach.quantile(0.9)
            rec["left_share_elite"] = float(left[elite].mean())
            rec["left_share_nonelite"] = float(left[~elite].mean())
            early = m.joined_step <= int(run.get("steps", m.joined_step.max())) // 2
            rec["left_share_early"] = float(left[early].mean()) if early.any() else np.nan
            rec["left_share_late"] = float(left[~early].mean()) if (~early).any() else np.nan
        rec["left_share_minority"] = float(left[m.group == 1].mean()) if (m.group == 1).any() else np.nan
        rec["left_share_majority"] = float(left[m.group == 0].mean()) if (m.group == 0).any() else np.nan
        rows.append(rec)
    return pd.DataFrame(rows)


# --- statistics --------------------------------------------------------------------------------------
def t_interval(x: Sequence[float], level: float = 0.95) -> tuple[float, float, float, int]:
    """(mean, low, high, n) of a t-interval; the interval is NaN with fewer than 2 values."""
    from scipy import stats

    x = np.asarray(pd.Series(x).dropna(), float)
    n = x.size
    if n == 0:
        return (np.nan, np.nan, np.nan, 0)
    mean = float(x.mean())
    if n < 2:
        return (mean, np.nan, np.nan, n)
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return (mean, mean - half, mean + half, n)


def mean_ci(df: pd.DataFrame, metrics: str | Sequence[str], by: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Mean and 95% t-interval over seeds of each metric per condition: columns metric, mean, lo, hi, n."""
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    by = [] if by is None else ([by] if isinstance(by, str) else list(by))
    rows = []
    groups = df.groupby(by, sort=True, observed=True) if by else [((), df)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        for m in metrics:
            mean, lo, hi, n = t_interval(g[m])
            rows.append({**dict(zip(by, key)), "metric": m, "mean": mean, "lo": lo, "hi": hi, "n": n})
    return pd.DataFrame(rows)


def paired_effect(df: pd.DataFrame, metric: str, column: str, base: Any, other: Any, *,
                  where: dict | None = None, pair_on: str | Sequence[str] = "seed", label: str | None = None) -> dict:
    """Difference ``other - base`` of ``metric`` between two values of ``column``, paired by seed (and any
    other columns in ``pair_on``), restricted to rows matching ``where``: mean, 95% t-interval, n pairs, and
    the two condition means."""
    pair_on = [pair_on] if isinstance(pair_on, str) else list(pair_on)
    d = df
    for k, v in (where or {}).items():
        d = d[d[k].isin(v) if isinstance(v, (list, tuple, set)) else d[k] == v]
    a = d[d[column] == base].groupby(pair_on)[metric].mean()
    b = d[d[column] == other].groupby(pair_on)[metric].mean()
    diff = (b - a).dropna()
    mean, lo, hi, n = t_interval(diff)
    return {"effect": label or f"{metric}: {column} {other} vs {base}", "metric": metric, "contrast": column,
            "base": base, "other": other, "where": ", ".join(f"{k}={v}" for k, v in (where or {}).items()),
            "base_mean": float(a.mean()) if len(a) else np.nan, "other_mean": float(b.mean()) if len(b) else np.nan,
            "diff": mean, "lo": lo, "hi": hi, "n": n}


def within_effect(df: pd.DataFrame, minuend: str, subtrahend: str, *, where: dict | None = None,
                  label: str | None = None) -> dict:
    """Mean and 95% t-interval over runs of ``df[minuend] - df[subtrahend]`` (two metrics of the same run)."""
    d = df
    for k, v in (where or {}).items():
        d = d[d[k].isin(v) if isinstance(v, (list, tuple, set)) else d[k] == v]
    mean, lo, hi, n = t_interval(d[minuend] - d[subtrahend])
    return {"effect": label or f"{minuend} - {subtrahend}", "metric": f"{minuend} - {subtrahend}",
            "contrast": "within run", "base": subtrahend, "other": minuend,
            "where": ", ".join(f"{k}={v}" for k, v in (where or {}).items()),
            "base_mean": float(d[subtrahend].mean()), "other_mean": float(d[minuend].mean()),
            "diff": mean, "lo": lo, "hi": hi, "n": n}


# --- contrasts between conditions: the seed (the population) is the unit ----------------------------------
#: the fields of :func:`paired_contrast` (and, where they apply, of :func:`mixed_contrast`), in order
CONTRAST_FIELDS = ("outcome", "column", "base", "other", "n_seeds", "base_mean", "other_mean", "diff", "ci_lo",
                   "ci_hi", "seed_sd", "diff_sd", "p")
#: the multiple-comparison corrections :func:`adjust_p` offers (statsmodels' names)
P_ADJUST_METHODS = ("holm", "fdr_bh")


def _two_conditions(runs: pd.DataFrame, outcome: str, column: str, base: Any, other: Any,
                    seed: str) -> pd.DataFrame:
    """The runs of ``base`` and ``other``, after checking that the columns and both conditions exist."""
    for name, what in ((outcome, "outcome"), (column, "condition column"), (seed, "seed column")):
        if name not in runs.columns:
            columns = ", ".join(map(str, runs.columns))
            raise ValueError(f"{what} {name!r} is not a column of the runs (columns: {columns})")
    if base == other:
        raise ValueError(f"base and other are the same condition ({column}={base!r})")
    values = list(pd.unique(runs[column]))
    for level in (base, other):
        if not (runs[column] == level).any():
            raise ValueError(f"no run has {column}={level!r} (values: {', '.join(map(repr, values))})")
    return runs[(runs[column] == base) | (runs[column] == other)]


def seed_means(runs: pd.DataFrame, outcome: str, column: str, base: Any, other: Any, *,
               seed: str = "seed") -> pd.DataFrame:
    """Per seed, the mean of ``outcome`` over that seed's runs of ``base`` and of ``other`` (columns ``base``,
    ``other``; index the seeds). Runs differing in any other factor are averaged within the seed, so a seed
    counts once however many runs it has. Raises ValueError naming the seeds that lack one of the conditions."""
    d = _two_conditions(runs, outcome, column, base, other, seed)
    means = d.assign(_is_other=d[column] == other).groupby([seed, "_is_other"])[outcome].mean().unstack("_is_other")
    means = means.reindex(columns=[False, True])
    means.columns = ["base", "other"]
    for name, level in (("base", base), ("other", other)):
        present = set(d.loc[d[column] == level, seed])
        lacking = [s for s in means.index if s not in present]
        if lacking:
            shown = ", ".join(map(str, lacking[:10])) + (" ..." if len(lacking) > 10 else "")
            raise ValueError(f"seed(s) {shown} have no run with {column}={level!r}: every seed needs both "
                             f"{column}={base!r} and {column}={other!r} to be paired")
    return means


def paired_contrast(runs: pd.DataFrame, outcome: str, column: str, base: Any, other: Any, *,
                    seed: str = "seed") -> pd.Series:
    """The effect on ``outcome`` of ``column`` = ``other`` against ``base``, with the seed as the unit.

    Each seed's runs are first averaged within each condition (pooling over other factors never multiplies
    n), then the per-seed paired differences other - base are summarised. Conditions with the same seed share
    the same population (common random numbers), which pairing exploits.

    Parameters
    ----------
    runs : DataFrame
        One row per run, with columns ``column``, ``seed`` and ``outcome``.
    outcome, column : str
        The outcome and the condition column.
    base, other : scalar
        The two values of ``column`` to compare.
    seed : str
        The column naming the population (seed) of each run.

    Returns
    -------
    pd.Series
        :data:`CONTRAST_FIELDS`: ``n_seeds`` seeds with a value in both conditions (a seed whose outcome is
        missing in a condition is left out), the two condition means over those seeds, ``diff`` (mean paired
        difference) with its 95% t-interval ``ci_lo``, ``ci_hi``; ``seed_sd``, the sd across seeds of the base
        condition's per-seed values; ``diff_sd`` = diff / seed_sd (the effect in seed-sd units, NaN when
        seed_sd is 0) and ``p``, the two-sided paired t-test.

    Raises
    ------
    ValueError
        A column is missing, a condition has no run, or a seed lacks one of the conditions.
    """
    from scipy import stats

    means = seed_means(runs, outcome, column, base, other, seed=seed).dropna()
    diff = means["other"] - means["base"]
    mean, lo, hi, n = t_interval(diff)
    seed_sd = float(means["base"].std(ddof=1)) if n >= 2 else np.nan
    p = float(stats.ttest_1samp(diff, 0.0).pvalue) if n >= 2 and diff.std(ddof=1) > 0 else (
        np.nan if n < 2 or mean == 0 else 0.0)
    return pd.Series({
        "outcome": outcome, "column": column, "base": base, "other": other, "n_seeds": n,
        "base_mean": float(means["base"].mean()) if n else np.nan,
        "other_mean": float(means["other"].mean()) if n else np.nan,
        "diff": mean, "ci_lo": lo, "ci_hi": hi, "seed_sd": seed_sd,
        "diff_sd": mean / seed_sd if seed_sd and np.isfinite(seed_sd) else np.nan, "p": p,
    }, name=f"{outcome}: {column} {other} vs {base}")


def mixed_contrast(runs: pd.DataFrame, outcome: str, column: str, base: Any, other: Any, *,
                   seed: str = "seed") -> pd.Series:
    """The same contrast as :func:`paired_contrast` from a linear mixed model on the runs themselves:
    ``outcome ~ 1 + [column == other]`` with a random intercept per seed (statsmodels MixedLM, REML).

    Every run counts, while the random intercept keeps the seed as the unit of replication. ``diff`` is the
    fixed effect, ``ci_lo``/``ci_hi`` its 95% Wald interval and ``p`` its Wald test; ``n_seeds``, the means,
    ``seed_sd`` and ``diff_sd`` are as in :func:`paired_contrast`. Also ``n_runs``, ``seed_var`` (the random
    intercept's variance) and ``converged``. Runs with a missing outcome are left out.
    """
    sm = require("statsmodels.api", "study", "the mixed-model contrast")

    means = seed_means(runs, outcome, column, base, other, seed=seed)  # checks the pairing
    d = _two_conditions(runs, outcome, column, base, other, seed).dropna(subset=[outcome])
    y = d[outcome].to_numpy(float)
    treated = (d[column] == other).to_numpy(float)
    exog = np.column_stack([np.ones_like(y), treated])
    groups = pd.factorize(d[seed])[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # boundary and convergence notes: ``converged`` reports the outcome
        fit = sm.MixedLM(y, exog, groups=groups).fit(reml=True)
    lo, hi = np.asarray(fit.conf_int(alpha=0.05))[1]
    both = means.dropna()
    seed_sd = float(both["base"].std(ddof=1)) if len(both) >= 2 else np.nan
    diff = float(np.asarray(fit.fe_params)[1])
    return pd.Series({
        "outcome": outcome, "column": column, "base": base, "other": other, "n_seeds": int(np.unique(groups).size),
        "base_mean": float(both["base"].mean()), "other_mean": float(both["other"].mean()),
        "diff": diff, "ci_lo": float(lo), "ci_hi": float(hi), "seed_sd": seed_sd,
        "diff_sd": diff / seed_sd if seed_sd and np.isfinite(seed_sd) else np.nan,
        "p": float(np.asarray(fit.pvalues)[1]), "n_runs": int(y.size),
        "seed_var": float(np.asarray(fit.cov_re)[0, 0]), "converged": bool(fit.converged),
    }, name=f"{outcome}: {column} {other} vs {base}")


def adjust_p(p: Sequence[float], method: str = "holm") -> np.ndarray:
    """p-values adjusted for multiple comparisons by statsmodels' ``multipletests``: ``holm`` (Holm-Bonferroni,
    controls the family-wise error rate) or ``fdr_bh`` (Benjamini-Hochberg, controls the false discovery rate).
    Missing p-values stay missing and do not count as tests."""
    if method not in P_ADJUST_METHODS:
        raise ValueError(f"method must be one of {', '.join(P_ADJUST_METHODS)}; got {method!r}")
    multitest = require("statsmodels.stats.multitest", "study", "the multiple-comparison correction")
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = multitest.multipletests(p[ok], method=method)[1]
    return out


def contrast_table(rows: Iterable[pd.Series | dict], method: str = "holm") -> pd.DataFrame:
    """The contrasts ``rows`` (from :func:`paired_contrast` or :func:`mixed_contrast`) as one table, with
    ``p_adj`` (their p-values adjusted together by :func:`adjust_p`) and ``method`` (the correction's name)."""
    frame = pd.DataFrame([dict(r) for r in rows])
    if frame.empty:
        frame = pd.DataFrame(columns=list(CONTRAST_FIELDS))
    frame["p_adj"] = adjust_p(frame["p"].to_numpy(float), method) if len(frame) else []
    frame["method"] = method
    return frame


def where_rows(df: pd.DataFrame, where: dict | None) -> pd.DataFrame:
    """The rows of ``df`` matching ``where`` (column -> value, or a list of values)."""
    for k, v in (where or {}).items():
        df = df[df[k].isin(v) if isinstance(v, (list, tuple, set)) else df[k] == v]
    return df


def contrast(runs: pd.DataFrame, outcome: str, column: str, base: Any, other: Any, *,
             where: dict | None = None, label: str | None = None) -> pd.Series:
    """:func:`paired_contrast` on the runs matching ``where``, with an ``effect`` label and the ``where`` text.
    Runs of other conditions are averaged within each seed first, so pooling never multiplies n."""
    row = paired_contrast(where_rows(runs, where), outcome, column, base, other)
    text = ", ".join(f"{k}={v}" for k, v in (where or {}).items())
    row["effect"] = label or (str(row.name) + (f" ({text})" if text else ""))
    row["where"] = text
    return row


def effects_table(rows: Iterable[pd.Series | dict], experiment: str, method: str = "holm") -> pd.DataFrame:
    """The contrasts of one notebook as its effects table: :func:`contrast_table` (p-values adjusted together
    by ``method``, Holm by default) with ``experiment`` and ``effect`` first."""
    table = contrast_table(rows, method)
    if "effect" not in table:
        table["effect"] = [f"{r.outcome}: {r.column} {r.other} vs {r.base}" for r in table.itertuples()]
    first = ["effect", "where"] if "where" in table else ["effect"]
    table = table[first + [c for c in table.columns if c not in first]]
    table.insert(0, "experiment", experiment)
    return table


def rank_residuals(frame: pd.DataFrame, y: str, controls: Sequence[str]) -> np.ndarray:
    """Residuals of the ranks of ``y`` after a least-squares fit on the ranks of ``controls``."""
    r = frame[[y, *controls]].rank().to_numpy(float)
    target, design = r[:, 0], np.column_stack([np.ones(len(r)), r[:, 1:]])
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return target - design @ coef


def partial_spearman(frame: pd.DataFrame, x: str, y: str, controls: Sequence[str]) -> float:
    """Spearman correlation of ``x`` and ``y`` controlling for ``controls`` (correlation of rank residuals)."""
    if len(frame) < len(controls) + 3:
        return np.nan
    rx, ry = rank_residuals(frame, x, controls), rank_residuals(frame, y, controls)
    if rx.std() == 0 or ry.std() == 0:
        return np.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def pairwise_abs_diff(shares: np.ndarray) -> np.ndarray:
    """Per member (column), the mean absolute difference of its share over all pairs of worlds (rows)."""
    s = np.sort(np.asarray(shares, float), axis=0)
    w = s.shape[0]
    if w < 2:
        return np.zeros(s.shape[1])
    weights = 2 * np.arange(w) - w + 1  # sum_{i<j} (x_j - x_i) = sum_j (2j - w + 1) x_j on sorted x
    return (weights @ s) / (w * (w - 1) / 2)


def unpredictability(shares: np.ndarray) -> float:
    """Salganik et al.'s U: the mean over members of the mean absolute difference of a member's share of
    success between two worlds (``shares``: worlds x members, each row summing to 1)."""
    return float(pairwise_abs_diff(shares).mean())


def bootstrap_worlds(shares: np.ndarray, stat: Callable[[np.ndarray], float] = unpredictability, *,
                     n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """(estimate, low, high): a percentile bootstrap over worlds. Pairs of a world with itself are dropped
    from each resample (they would add zero differences), so a resample uses its distinct worlds only."""
    rng = np.random.default_rng(seed)
    w = shares.shape[0]
    est = stat(shares)
    if w < 3:
        return est, np.nan, np.nan
    boots = []
    for _ in range(n_boot):
        idx = np.unique(rng.integers(0, w, w))
        if idx.size >= 2:
            boots.append(stat(shares[idx]))
    lo, hi = np.quantile(boots, [(1 - level) / 2, (1 + level) / 2])
    return est, float(lo), float(hi)


# --- robustness map: each headline claim at the baseline, over the posterior draws, at a larger population ----
#: the settings of the robustness map at each scale. Full: the baseline with 20 seeds, every posterior draw with 5
#: paired seeds, and 10 times the baseline population with 5 seeds. ci: small populations and few seeds.
ROBUSTNESS_SETTINGS: dict[str, dict[str, Any]] = {
    "full": {"baseline_seeds": 20, "draw_seeds": 5, "draws": None, "scale_factor": 10, "scale_seeds": 5,
             "overrides": {}},
    "ci": {"baseline_seeds": 3, "draw_seeds": 2, "draws": 3, "scale_factor": 2, "scale_seeds": 2,
           "overrides": {"population.size": 200, "run.steps": 40}},
}
#: a claim holds across the posterior when its sign holds in at least this share of the draws
HOLDS_SHARE = 0.8
#: the folder of the posterior draws (the config group ``posterior``: ``+posterior=draw_NN``)
POSTERIOR_DIR = CONFIG_DIR / "posterior"
ROBUSTNESS_CONTEXTS = ("baseline", "posterior", "scale")


class Claim:
    """A headline claim: ``outcome`` moves with the claimed ``sign`` (+1 or -1) from condition ``base`` to
    ``other`` (each a dict of dotted parameter overrides), stated in one line."""

    def __init__(self, name: str, outcome: str, base: dict[str, Any], other: dict[str, Any], sign: int,
                 statement: str) -> None:
        self.name, self.outcome, self.statement = name, outcome, statement
        self.base, self.other, self.sign = dict(base), dict(other), int(sign)

    def __repr__(self) -> str:
        return f"Claim({self.name!r}: {self.outcome} {'+' if self.sign > 0 else '-'} {self.base} -> {self.other})"

    def label(self, which: str) -> str:
        """'key=value, ...' of condition ``which`` (``base`` or ``other``)."""
        return ", ".join(_override_lines(getattr(self, which)))


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _override_lines(overrides: dict[str, Any]) -> list[str]:
    return [f"{k}={_format_value(v)}" for k, v in overrides.items()]


def load_claims(path: str | os.PathLike) -> list[Claim]:
    """The claims declared in a YAML file (a list under ``claims:``, each with name, outcome, base, other,
    sign ``+`` or ``-`` and statement). Raises ValueError naming the first problem."""
    import yaml

    from .metrics import METRIC_NAMES
    from .params import ParameterError, Params

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the claims file {path}: {str(exc).splitlines()[0]}") from None
    items = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        raise ValueError(f"{path} must hold a non-empty list under 'claims:'")
    claims, names = [], set()
    outcomes = set(METRIC_NAMES) | set(DERIVED_OUTCOMES)
    for i, item in enumerate(items):
        where = f"{path}, claim {i + 1}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: each claim is a mapping with name, outcome, base, other, sign, statement")
        missing = [k for k in ("name", "outcome", "base", "other", "sign", "statement") if k not in item]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(missing)}")
        name = str(item["name"])
        where = f"{path}, claim {name!r}"
        if name in names:
            raise ValueError(f"{where}: the name is used twice")
        names.add(name)
        if item["outcome"] not in outcomes:
            raise ValueError(f"{where}: outcome {item['outcome']!r} is not a metric or a derived outcome "
                             f"({', '.join(sorted(DERIVED_OUTCOMES))}, or a name in socialsim.metrics.METRICS)")
        sign = {"+": 1, "-": -1, 1: 1, -1: -1}.get(item["sign"])
        if sign is None:
            raise ValueError(f"{where}: sign must be '+' or '-'; got {item['sign']!r}")
        for which in ("base", "other"):
            if not isinstance(item[which], dict) or not item[which]:
                raise ValueError(f"{where}: {which} must be a non-empty mapping of dotted parameters to values")
            try:
                Params.from_dict({}, **item[which])
            except ParameterError as exc:
                raise ValueError(f"{where}, {which}: {exc}") from None
        if item["base"] == item["other"]:
            raise ValueError(f"{where}: base and other are the same condition")
        claims.append(Claim(name, item["outcome"], item["base"], item["other"], sign, str(item["statement"])))
    return claims


def posterior_draws(directory: str | os.PathLike | None = None) -> list[str]:
    """The posterior draws in ``directory`` (default the config group ``posterior/``): the names of its
    ``*draw_*.yaml`` files (``draw_00`` ...; not the posterior's ``point.yaml``), sorted, as ``+posterior=NAME``
    takes them."""
    directory = Path(directory) if directory is not None else POSTERIOR_DIR
    return sorted(p.stem for p in directory.glob("*draw_*.yaml")) if directory.is_dir() else []


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def draw_parameters(directory: str | os.PathLike | None = None) -> pd.DataFrame:
    """One row per posterior draw (index: its name), one column per dotted parameter it sets."""
    import yaml

    directory = Path(directory) if directory is not None else POSTERIOR_DIR
    rows = {name: _flatten(yaml.safe_load((directory / f"{name}.yaml").read_text()) or {})
            for name in posterior_draws(directory)}
    return pd.DataFrame.from_dict(rows, orient="index")


def sweep_job_names(overrides: Sequence[str],
                    exclude: Sequence[str] = ("experiment", "run.checkpoint_every", "run.resume")) -> list[str]:
    """The job folder names Hydra gives a sweep with these command-line overrides: each job's overrides as
    typed (``+`` included, ``hydra.*`` left out), sorted and joined by commas (``hydra.job.override_dirname``)."""
    entries = []
    for line in overrides:
        key, _, value = line.partition("=")
        if key.startswith("hydra.") or key.lstrip("+~") in exclude:
            continue
        entries.append([f"{key}={v}" for v in _sweep_values(value)])
    return [",".join(sorted(combo)) for combo in itertools.product(*entries)]


def run_sweep(path: str | os.PathLike, overrides: Sequence[str], *, hydra_overrides: Sequence[str] = (),
              quiet: bool = True) -> list[Path]:
    """Run ``python -m socialsim -m OVERRIDES`` into the sweep folder ``path`` unless all of its jobs are
    complete there (Hydra skips the complete ones itself, so a stopped sweep resumes); return the job folders."""
    from .io import is_complete

    path = Path(path)
    jobs = [path / j for j in sweep_job_names(overrides)]
    missing = [j for j in jobs if not is_complete(j)]
    if missing:
        cmd = [sys.executable, "-m", "socialsim", "-m", *overrides, f"hydra.sweep.dir={path}", *hydra_overrides]
        print(f"running {len(missing)} of {len(jobs)} jobs:", " ".join(cmd[3:]), flush=True)
        subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL if quiet else None)
        still = [j for j in jobs if not is_complete(j)]
        if still:
            raise RuntimeError(f"{len(still)} job(s) did not complete, e.g. {still[0]}")
    return jobs


def _elite_top(folder: Path) -> tuple[float, float]:
    """(the elite's share of the top-k members by followers, the elite's share of members) at the end of a run;
    the elite are the people above the reach quantile ``leaving.elite_quantile`` of the whole population."""
    from .io import read_summary, read_table

    k = int(read_summary(folder)["params"]["metrics.top_k"])
    members = read_table(folder, "members")
    here = members[members["left_step"] < 0]
    elite = population_frame(folder).set_index("member_id")["elite"]
    is_elite = elite.reindex(here["member_id"]).to_numpy(bool)
    if not len(here):
        return np.nan, np.nan
    top = np.argsort(-here["followers"].to_numpy(), kind="stable")[:min(k, len(here))]
    return float(is_elite[top].mean()), float(is_elite.mean())


def _elite_top_share(folder: Path) -> float:
    return _elite_top(folder)[0]


def _elite_top_ratio(folder: Path) -> float:
    top, members = _elite_top(folder)
    return top / members if members else np.nan


#: outcomes computed from a run folder's tables, beyond the metrics its summary holds
DERIVED_OUTCOMES: dict[str, Callable[[Path], float]] = {
    "elite_top_share": _elite_top_share,
    "elite_top_ratio": _elite_top_ratio,
}


def run_outcome(folder: str | os.PathLike, outcome: str) -> float:
    """The value of ``outcome`` in a complete run: its final metric, or a :data:`DERIVED_OUTCOMES` entry."""
    from .io import read_summary

    summary = read_summary(folder)
    if summary is None:
        raise FileNotFoundError(f"{folder} is not a complete run")
    if outcome in summary.get("metrics", {}):
        return float(summary["metrics"][outcome])
    if outcome in DERIVED_OUTCOMES:
        return float(DERIVED_OUTCOMES[outcome](Path(folder)))
    raise ValueError(f"unknown outcome {outcome!r}: not a metric of {folder} nor one of "
                     f"{', '.join(DERIVED_OUTCOMES)}")


def robustness_settings(scale_name: str | None = None) -> dict[str, Any]:
    """:data:`ROBUSTNESS_SETTINGS` of a scale (default the current one), with the baseline population size."""
    from .params import Params

    s = dict(ROBUSTNESS_SETTINGS[scale_name or scale()])
    size = s["overrides"].get("population.size", Params().population.size)
    s["population_size"] = int(size)
    return s


def run_robustness(claims: Sequence[Claim], *, settings: dict[str, Any] | None = None,
                   draws_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> pd.DataFrame:
    """Run every condition of ``claims`` in three contexts (the baseline; each posterior draw with paired
    seeds; the population times ``scale_factor``) as Hydra sweeps under ``root`` (default
    ``sweeps_dir()/robustness``), skipping complete jobs. Conditions shared by claims run once.

    Returns one row per run and claim outcome: claim, context, draw, condition (``base``/``other``), seed,
    value, run (the folder).
    """
    s = settings or robustness_settings()
    root = Path(root) if root is not None else sweeps_dir() / "robustness"
    draws_dir = Path(draws_dir) if draws_dir is not None else POSTERIOR_DIR
    draws = posterior_draws(draws_dir)[: s["draws"]] if s["draws"] else posterior_draws(draws_dir)
    if not draws:
        raise ValueError(f"no posterior draws (*draw_*.yaml) in {draws_dir}")
    if draws_dir.name != "posterior":
        raise ValueError(f"the draws folder must be named 'posterior' (the config group); got {draws_dir}")
    # draws outside the package's config folder (tests, a new calibration) join Hydra's search path
    hydra_extra = [] if draws_dir.resolve() == POSTERIOR_DIR.resolve() else \
        [f"hydra.searchpath=[file://{draws_dir.resolve().parent}]"]
    common = _override_lines(s["overrides"])
    contexts = {
        "baseline": [*common, f"seed=range(0,{s['baseline_seeds']})"],
        "posterior": [*common, f"+posterior={','.join(draws)}", f"seed=range(0,{s['draw_seeds']})"],
        "scale": [*[c for c in common if not c.startswith("population.size=")],
                  f"population.size={s['population_size'] * s['scale_factor']}", f"seed=range(0,{s['scale_seeds']})"],
    }
    conditions: dict[str, dict[str, Any]] = {}
    for claim in claims:
        for which in ("base", "other"):
            conditions.setdefault(claim.label(which), getattr(claim, which))
    # conditions that set one and the same parameter run as one sweep over its values (one Hydra start-up)
    single: dict[str, list[str]] = {}
    heads: list[list[str]] = []
    for over in conditions.values():
        if len(over) == 1:
            (key, value), = over.items()
            single.setdefault(key, []).append(_format_value(value))
        else:
            heads.append(_override_lines(over))
    heads += [[f"{key}={','.join(values)}"] for key, values in single.items()]

    def combined(head: list[str], lines: list[str]) -> list[str]:  # a condition's own value wins over the scale's
        keys = {h.partition("=")[0] for h in head}
        return [*head, *[line for line in lines if line.partition("=")[0] not in keys]]

    folders: dict[tuple[str, str], list[Path]] = {}
    for context, lines in contexts.items():
        for head in heads:
            run_sweep(root / context, combined(head, lines),
                      hydra_overrides=hydra_extra if context == "posterior" else ())
        for label, over in conditions.items():
            names = sweep_job_names(combined(_override_lines(over), lines))
            folders[context, label] = [root / context / j for j in names]
    rows = []
    for claim in claims:
        for context in contexts:
            for which in ("base", "other"):
                for folder in folders[context, claim.label(which)]:
                    job = dict(line.partition("=")[::2] for line in folder.name.split(","))
                    rows.append({"claim": claim.name, "context": context, "draw": job.get("+posterior", ""),
                                 "condition": which, "seed": int(job["seed"]),
                                 "value": run_outcome(folder, claim.outcome), "run": str(folder)})
    return pd.DataFrame(rows)


def hinge(effects: pd.Series, parameters: pd.DataFrame, sign: int) -> dict[str, Any]:
    """The draw parameter whose value best separates the draws where a claim's sign holds from those where it
    does not: the largest absolute Spearman correlation with the per-draw effect ``effects`` (index: draws).

    Returns ``hinges_on`` (the parameter), ``hinge_rho`` (its correlation with the effect), ``holds_when``
    (``above`` or ``below``) and ``flip_threshold``: the midpoint between two neighbouring draws' values at
    which a one-cut rule (the sign holds on one side) classifies the most draws correctly (NaN when the sign
    holds in every draw or in none).
    """
    from scipy import stats

    out = {"hinges_on": "", "hinge_rho": np.nan, "holds_when": "", "flip_threshold": np.nan}
    params = parameters.reindex(effects.index).apply(pd.to_numeric, errors="coerce")
    params = params.loc[:, params.notna().all() & (params.nunique() > 1)]
    if params.empty or len(effects) < 3 or effects.nunique() < 2:  # no variation to explain
        return out
    rhos = {c: stats.spearmanr(params[c], effects).statistic for c in params}
    rhos = {c: r for c, r in rhos.items() if np.isfinite(r)}
    if not rhos:
        return out
    best = max(rhos, key=lambda c: (abs(rhos[c]), c))
    holds = (np.sign(effects) == sign).to_numpy()
    above = rhos[best] * sign > 0  # a higher value moves the effect towards the claimed sign
    out.update(hinges_on=best, hinge_rho=float(rhos[best]), holds_when="above" if above else "below")
    if holds.all() or not holds.any():
        return out
    x = params[best].to_numpy(float)
    values = np.unique(x)
    cuts = (values[1:] + values[:-1]) / 2
    correct = [np.sum((x > c) == holds) if above else np.sum((x < c) == holds) for c in cuts]
    out["flip_threshold"] = float(cuts[int(np.argmax(correct))])
    return out


def robustness_table(claims: Sequence[Claim], runs: pd.DataFrame, parameters: pd.DataFrame | None = None, *,
                     scale_factor: float = np.nan, method: str = "holm") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The robustness map from :func:`run_robustness`'s runs: (one row per claim, one row per claim and draw).

    Per claim: the baseline :func:`paired_contrast` (its p-values adjusted across the claims by ``method``),
    the share of posterior draws whose mean paired difference has the claimed sign, the effect at the larger
    population, the verdict (``holds`` when the baseline effect has the claimed sign and the sign holds in at
    least :data:`HOLDS_SHARE` of the draws; ``conditional`` when it holds in fewer; ``reversed`` when the
    baseline effect has the opposite sign), and from :func:`hinge` the draw parameter it hinges on.
    """
    parameters = parameters if parameters is not None else pd.DataFrame()
    base_rows, rows, draw_rows = [], [], []
    for claim in claims:
        mine = runs[runs["claim"] == claim.name]
        base = paired_contrast(mine[mine.context == "baseline"], "value", "condition", "base", "other")
        base_rows.append(base)
        effects = {}
        post = mine[mine.context == "posterior"]
        for draw, g in post.groupby("draw", sort=True):
            c = paired_contrast(g, "value", "condition", "base", "other")
            effects[draw] = c["diff"]
            draw_rows.append({"claim": claim.name, "draw": draw, "n_seeds": c.n_seeds, "diff": c["diff"],
                              "ci_lo": c.ci_lo, "ci_hi": c.ci_hi, "sign_holds": bool(np.sign(c["diff"]) == claim.sign),
                              **(parameters.loc[draw].to_dict() if draw in parameters.index else {})})
        effects = pd.Series(effects, dtype=float)
        share = float((np.sign(effects) == claim.sign).mean()) if len(effects) else np.nan
        big = paired_contrast(mine[mine.context == "scale"], "value", "condition", "base", "other")
        if np.sign(base["diff"]) != claim.sign:
            verdict = "reversed"
        else:
            verdict = "holds" if share >= HOLDS_SHARE else "conditional"
        rows.append({"claim": claim.name, "statement": claim.statement, "outcome": claim.outcome,
                     "base": claim.label("base"), "other": claim.label("other"),
                     "claimed_sign": "+" if claim.sign > 0 else "-",
                     **{k: base[k] for k in ("n_seeds", "base_mean", "other_mean", "diff", "ci_lo", "ci_hi",
                                             "seed_sd", "diff_sd", "p")},
                     "n_draws": len(effects), "draws_sign_holds": share,
                     "scale_factor": scale_factor, "scale_n_seeds": big.n_seeds, "scale_diff": big["diff"],
                     "scale_ci_lo": big.ci_lo, "scale_ci_hi": big.ci_hi, "verdict": verdict,
                     **hinge(effects, parameters, claim.sign)})
    table = pd.DataFrame(rows)
    adjusted = contrast_table(base_rows, method)
    table.insert(table.columns.get_loc("p") + 1, "p_adj", adjusted["p_adj"].to_numpy())
    table.insert(table.columns.get_loc("p_adj") + 1, "p_method", method)
    return table, pd.DataFrame(draw_rows)


# --- output --------------------------------------------------------------------------------------------
def save_table(df: pd.DataFrame, name: str, experiment: str, *, index: bool = False) -> Path:
    """Write ``df`` to ``results/EXPERIMENT/NAME.csv`` (6 significant digits) and return the path."""
    path = results_dir(experiment) / f"{name}.csv"
    df.to_csv(path, index=index, float_format="%.6g")
    return path


def save_figure(fig, name: str, experiment: str, dpi: int = 110) -> Path:
    """Write ``fig`` to ``results/EXPERIMENT/NAME.png`` and return the path."""
    path = results_dir(experiment) / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def effects_frame(rows: Iterable[dict], experiment: str) -> pd.DataFrame:
    """The effect rows (from :func:`paired_effect`, :func:`within_effect`) as a table with an experiment column."""
    df = pd.DataFrame(list(rows))
    df.insert(0, "experiment", experiment)
    return df


def fmt_effect(row: dict | pd.Series, digits: int = 3) -> str:
    """'0.012 [0.004, 0.020]'."""
    return f"{row['diff']:+.{digits}f} [{row['lo']:+.{digits}f}, {row['hi']:+.{digits}f}]"


# --- Sobol sensitivity analysis -------------------------------------------------------------------------
#: the parameters varied by the sensitivity analysis and their ranges. ``popularity_share`` is the weight of
#: popularity in a random/popularity mixture recommender; ``engagement_timeline`` >= 0.5 ranks the timeline
#: by engagement (a two-level factor); whole-number parameters (:data:`SOBOL_INTEGERS`) are rounded.
SOBOL_PARAMETERS: dict[str, tuple[float, float]] = {
    "platform.openness": (0.02, 1.0),
    "popularity_share": (0.0, 1.0),
    "platform.attention": (5, 50),
    "engagement_timeline": (0.0, 1.0),
    "meetups.rate": (0.0, 0.1),
    "adoption.elite_early_adoption": (0.0, 2.0),
    "population.reach_sigma": (0.5, 2.0),
    "population.skill_reach_correlation": (0.0, 0.9),
    "behaviour.prominence": (0.0, 1.0),
    "behaviour.follow_slope": (1.0, 5.0),
    "behaviour.appeal_noise": (0.05, 0.5),
    "intimacy.reply_budget": (0, 5),
    "intimacy.exploration": (0.0, 2.0),
    "intimacy.closeness_gain_reply": (0.1, 1.0),
    "leaving.disappointment_exit": (0.0, 0.5),
    "leaving.tolerance": (0.0, 0.5),
    "leaving.expectation_memory": (50, 400),
}
SOBOL_INTEGERS = ("platform.attention", "intimacy.reply_budget", "leaving.expectation_memory")
SOBOL_OUTPUTS = ("gini_followers", "top1_share_followers", "spearman_skill_followers", "spearman_reach_followers",
                 "spearman_join_order_followers", "top_k_turnover", "low_skill_connected_share",
                 "shy_connected_share", "low_skill_new_tie_share", "shy_new_tie_share", "close_ties_per_member",
                 "intimacy_gap", "local_tie_share", "reciprocity", "members")
#: ``n``: SALib's base sample (a power of 2; the design has n x (parameters + 2) rows, first-order and total
#: indices only); ``seeds``: the model seeds every row is run with (common random numbers: the same seeds, so
#: the same populations, for every row; an output is averaged over them).
SOBOL_FULL = {"n": 64, "seeds": (0,), "population.size": 2000, "run.steps": 365}
SOBOL_CI = {"n": 2, "seeds": (0,), "population.size": 300, "run.steps": 60}


def sobol_problem() -> dict:
    """SALib's problem definition of :data:`SOBOL_PARAMETERS`."""
    return {"num_vars": len(SOBOL_PARAMETERS), "names": list(SOBOL_PARAMETERS),
            "bounds": [list(b) for b in SOBOL_PARAMETERS.values()]}


def sobol_design(n: int, seed: int = 2009) -> np.ndarray:
    """SALib's Saltelli design (scrambled Sobol' sequence) for first-order and total indices: n x (D + 2) rows."""
    sobol_sample = require("SALib.sample.sobol", "study", "the Sobol design")

    return sobol_sample.sample(sobol_problem(), n, calc_second_order=False, seed=seed)


def design_overrides(row: Sequence[float]) -> dict[str, Any]:
    """Model parameters (dotted) for one row of the sensitivity design."""
    out: dict[str, Any] = {}
    for name, value in zip(SOBOL_PARAMETERS, row):
        if name == "popularity_share":
            out["platform.recommender"] = "mixture"
            out["platform.recommender_mix"] = {"random": float(1 - value), "popularity": float(value)}
        elif name == "engagement_timeline":
            out["platform.timeline"] = "engagement" if value >= 0.5 else "chronological"
        elif name in SOBOL_INTEGERS:
            out[name] = int(round(value))
        else:
            out[name] = float(value)
    return out


def _design_job(params_dict: dict, out: str, meta: dict) -> float:
    from .io import is_complete, run_to_folder
    from .params import Params

    if is_complete(out):  # finished in an earlier, interrupted invocation
        return 0.0
    params = Params.from_dict(params_dict)
    summary, _ = run_to_folder(params, out, meta=meta)
    return summary["wall_time_s"]


def run_sobol(*, n_jobs: int = 2, settings: dict | None = None) -> tuple[Path, np.ndarray]:
    """Run the Sobol design in process with joblib: every design row once per seed in ``settings["seeds"]``
    (the same seeds for every row: common random numbers), into ``sweeps_dir()/sensitivity/sample=NNNNN,seed=S``;
    complete runs are skipped. Returns the folder and the design matrix (also written there as design.csv)."""
    from joblib import Parallel, delayed

    from .params import Params

    s = dict(settings or (SOBOL_CI if scale() == "ci" else SOBOL_FULL))
    design = sobol_design(int(s["n"]))
    root = sweeps_dir() / "sensitivity"
    root.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(design, columns=list(SOBOL_PARAMETERS)).to_csv(root / "design.csv", index_label="sample")
    share = list(SOBOL_PARAMETERS).index("popularity_share")
    jobs = []
    for i, row in enumerate(design):
        over = design_overrides(row)
        for seed in s["seeds"]:
            params = Params.from_dict({}, **{"population.size": s["population.size"], "run.steps": s["run.steps"],
                                             "seed": int(seed), **over})
            listed = [f"sample={i}", f"seed={seed}"] + [f"{k}={v}" for k, v in over.items()
                                                          if k != "platform.recommender_mix"]
            listed.append(f"popularity_share={row[share]}")
            jobs.append((params.to_dict(), str(root / f"sample={i:05d},seed={seed}"),
                         {"overrides": listed, "sample": i}))
    print(f"sensitivity: {len(jobs)} runs ({len(design)} design rows x {len(s['seeds'])} seeds) into {root}",
          flush=True)
    Parallel(n_jobs=n_jobs, verbose=5)(delayed(_design_job)(*j) for j in jobs)
    return root, design


def analyze_sobol(design: np.ndarray, runs: pd.DataFrame, outputs: Sequence[str] = SOBOL_OUTPUTS, *,
                  resamples: int = 1000, seed: int = 0) -> pd.DataFrame:
    """SALib's Sobol analysis of each output: first-order (S1) and total (ST) indices per parameter with the
    half-widths of their 95% bootstrap intervals (S1_conf, ST_conf; ``resamples`` resamples). ``runs`` needs a
    ``sample`` column (the design row); the runs of a row (one per seed) are averaged first."""
    sobol_analyze = require("SALib.analyze.sobol", "study", "the Sobol analysis")

    per_row = runs.groupby("sample")[list(outputs)].mean().sort_index()
    if list(per_row.index) != list(range(len(design))):
        raise ValueError("runs must hold at least one complete run of every design row")
    frames = []
    for out in outputs:
        y = per_row[out].to_numpy(float)
        if not np.isfinite(y).all() or np.ptp(y) == 0:
            continue  # an output that does not vary (or is undefined somewhere) has no indices
        res = sobol_analyze.analyze(sobol_problem(), y, calc_second_order=False, num_resamples=resamples,
                                    conf_level=0.95, seed=seed)
        df = pd.DataFrame({"parameter": list(SOBOL_PARAMETERS), "S1": res["S1"], "S1_conf": res["S1_conf"],
                           "ST": res["ST"], "ST_conf": res["ST_conf"]})
        df.insert(0, "output", out)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
