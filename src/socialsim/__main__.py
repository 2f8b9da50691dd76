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
        update.step = int(model.steps)
        bar.set_postfix(members=int(model.metrics.get("members", 0)), refresh=False)
        bar.update(model.steps - bar.n)  # from the checkpoint's step when resuming

    update.step = 0
    return bar, update


def interrupted_message(out: Path, step: int, checkpoint_every: int) -> str:
    """The line printed on Ctrl-C: where the run stopped, and how to resume it when a checkpoint exists."""
    from socialsim.recovery import CHECKPOINT, read_checkpoint

    text = f"interrupted at step {step}; {out} is marked incomplete"
    if checkpoint_every and (out / CHECKPOINT).exists():
        try:
            saved = read_checkpoint(out, header_only=True)["step"]
        except Exception:  # noqa: BLE001 - a damaged checkpoint: resuming will say so
            saved = None
        at = f" from step {saved}" if saved is not None else ""
        return f"{text}; add run.resume=true to the same command to continue{at}"
    return f"{text}; run the same command again to start it over"


@hydra.main(version_base="1.3", config_path=str(CONFIG_DIR), config_name=CONFIG_NAME)
def app(cfg: DictConfig) -> dict:
    """Run one job of the composed config into Hydra's output folder and report it."""
    from socialsim.io import remove_hydra_leftovers, run_to_folder

    hc = HydraConfig.get()
    out = Path(hc.runtime.output_dir)
    try:
        params = to_params(cfg, list(hc.overrides.task))
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
    except KeyboardInterrupt:  # Ctrl-C: the folder keeps its INCOMPLETE marker, as after a kill
        if multirun:
            raise
        bar.close()
        print(f"socialsim: {interrupted_message(out, update.step, params.run.checkpoint_every)}", file=sys.stderr)
        raise SystemExit(130) from None
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


#: the options of Hydra's command line (``python -m socialsim --hydra-help``)
HYDRA_OPTIONS = ("--help", "--hydra-help", "--version", "--cfg", "--resolve", "--package", "--run", "--multirun",
                 "--shell-completion", "--config-path", "--config-name", "--config-dir", "--experimental-rerun",
                 "--info")


def _unknown_option(args: list[str]) -> str | None:
    """A one-line hint for an option Hydra does not have, e.g. ``--population.size=100`` (overrides take no
    dashes); None when every option is Hydra's."""
    for arg in args:
        if arg == "--":
            return None
        if arg.startswith("--") and arg.split("=", 1)[0] not in HYDRA_OPTIONS:
            key, eq, value = arg[2:].partition("=")
            if eq and key:
                return f"unknown option {arg}; overrides take no dashes: write {key}={value}"
            return f"unknown option {arg}; overrides are written key=value (python -m socialsim --help lists them)"
    return None


def main() -> int:
    """Run the Hydra app on ``sys.argv``; configuration errors become one line on stderr and exit code 2."""
    from hydra.core.global_hydra import GlobalHydra

    previous = os.environ.get("HYDRA_FULL_ERROR")
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let errors reach us instead of Hydra's multi-line report
    unknown = _unknown_option(sys.argv[1:])
    if unknown:
        print(f"socialsim: error: {unknown}", file=sys.stderr)
        return 2
    try:
        app()
    except KeyboardInterrupt:
        print("socialsim: interrupted", file=sys.stderr)
        return 130
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
