"""``python -m socialsim``: run the platform model from the Hydra configs in ``socialsim/conf/``, one run or a sweep.

Build Params from the composed config, run with a progress bar, write the run folder (see socialsim.io),
print the headline metrics and the folder. Bad input ends with one line on stderr and exit code 2.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from socialsim.config import CONFIG_DIR, CONFIG_NAME, format_error, to_params
from socialsim.params import ParameterError
from socialsim.recovery import RunError

log = logging.getLogger("socialsim")

HEADLINE = (
    "members", "follows", "reciprocity", "gini_followers", "top1_share_followers", "spearman_skill_followers",
    "spearman_join_order_followers", "top_k_turnover", "low_skill_connected_share", "shy_connected_share",
    "close_ties_per_member", "intimacy_gap",
)


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() and abs(x) >= 10 else f"{x:.3f}"


def summary_table(summary: dict) -> str:
    """The headline metrics of a run's summary as a two-column text table."""
    metrics = summary["metrics"]
    width = max(map(len, HEADLINE))
    lines = [f"{'metric':<{width}}  {'final':>10}"]
    lines += [f"{name:<{width}}  {_fmt(metrics[name]):>10}" for name in HEADLINE if name in metrics]
    return "\n".join(lines)


def _progress_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="socialsim", unit="step", disable=None if enabled else True,
               dynamic_ncols=True, leave=False)

    def update(model) -> None:
        bar.set_postfix(members=int(model.metrics.get("members", 0)), refresh=False)
        bar.update(model.steps - bar.n)  # from the checkpoint's step when resuming

    return bar, update


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=CONFIG_NAME)
def app(cfg: DictConfig) -> dict:
    """Run one job of the composed config into Hydra's output folder and report it."""
    from socialsim.io import remove_hydra_leftovers, run_to_folder

    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    try:
        params = to_params(cfg)
    except ParameterError:
        remove_hydra_leftovers(out, hc.job.name)
        raise
    multirun = hc.mode == RunMode.MULTIRUN
    choices = {k: v for k, v in OmegaConf.to_container(hc.runtime.choices).items() if not k.startswith("hydra")}
    meta = {"overrides": list(hc.overrides.task), "choices": choices}
    bar, update = _progress_bar(params.run.steps, enabled=not multirun)
    try:
        summary, skipped = run_to_folder(params, out, progress=update, meta=meta, replace_other=False,
                                         single=not multirun)
    except RunError as exc:  # a failed write or nothing to resume: the folder is kept, marked incomplete
        if multirun:
            raise  # Hydra names the failed job; the other jobs of the sweep go on
        bar.close()
        print(f"socialsim: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        bar.close()
    if skipped:
        log.info("skipped: %s already holds this run (config %s)", out, summary["config_hash"])
    elif multirun:
        log.info("done in %.1f s: %s", summary["wall_time_s"], out)
    if not multirun:
        p = params.population
        state = "already complete, not re-run" if skipped else f"{summary['wall_time_s']:.1f} s"
        print(f"socialsim {summary['socialsim_version']}: {p.size:,} people, {params.run.steps} steps, "
              f"seed {params.seed} ({state})")
        print(summary_table(summary))
        print(f"output: {out}")
    return {"output_dir": str(out), "skipped": skipped}


def main() -> int:
    """Run the Hydra app on ``sys.argv``; configuration errors become one line on stderr and exit code 2."""
    from hydra.core.global_hydra import GlobalHydra

    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let errors reach us instead of Hydra's multi-line report
    try:
        app()
    except Exception as exc:  # noqa: BLE001
        message = None if previous == "1" else format_error(exc)
        if message is None:
            raise
        print(f"socialsim: error: {message}", file=sys.stderr)
        return 2
    finally:
        if previous is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous
        GlobalHydra.instance().clear()  # so that main() can be called again in the same process
    return 0


if __name__ == "__main__":
    sys.exit(main())
