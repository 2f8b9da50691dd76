"""Hydra configuration of socialsim: schemas, cfg -> Params, one-line errors, and ``compose_params``.

The :class:`socialsim.params.Params` dataclasses are the single source of truth. They are registered in
Hydra's ConfigStore as the schema of the primary config (``socialsim/conf/config.yaml``, shipped in the
package), so a wrong type or an unknown key fails while the config is composed; allowed ranges and choices
are checked by :func:`socialsim.params.validate` before any run folder is created (see
:class:`PreflightCallback`).

``compose_params(["population.size=500", "scenario=twitter2009"])`` builds the same ``Params`` the command
line would, for tests and notebooks.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

from hydra.core.config_store import ConfigStore
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from .params import RUN_CONTROL, ParameterError, Params, allowed, config_hash, flat_params, iter_fields
from .population import check_memory

#: the Hydra configs, shipped inside the package (``socialsim/conf/``), so an installed wheel finds them too
CONFIG_DIR = Path(__file__).resolve().parent / "conf"
CONFIG_NAME = "config"
SCHEMA_NAME = "socialsim_schema"


def register_configs() -> None:
    """Register the schemas in Hydra's ConfigStore (idempotent: storing again replaces the same nodes)."""
    cs = ConfigStore.instance()
    cs.store(name=SCHEMA_NAME, node=Params)


register_configs()


# --- cfg -> Params ------------------------------------------------------------------------------
def to_params(cfg: DictConfig | dict, overrides: Iterable[str] | None = None) -> Params:
    """Build and validate Params from a composed config (a ``hydra`` node, if present, is ignored).

    With ``population.offline_network``, ``population.size`` (and with ``offline_towns``, ``population.towns``)
    come from the files; ``overrides`` (the command line's, read from the ``hydra`` node when not given) may set
    them only to the same values.
    """
    if isinstance(cfg, DictConfig):
        if overrides is None:
            overrides = OmegaConf.select(cfg, "hydra.overrides.task", default=None)
        data = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)
    else:
        data = dict(cfg)
    assert isinstance(data, dict)
    data.pop("hydra", None)
    population = data.get("population")
    if isinstance(population, dict) and population.get("offline_network"):
        _take_network_shape(population, overrides or ())
    return Params.from_dict(data)


def _take_network_shape(population: dict, overrides: Iterable[str]) -> None:
    """Set population.size (and towns) from the offline network's files; a different value given on the
    command line is an error."""
    from .population import network_shape

    given = {}
    for line in overrides:
        key, _, value = str(line).lstrip("+~").partition("=")
        given[key] = value
    people, towns = network_shape(population["offline_network"], population.get("offline_towns") or "")
    sources = {"size": (people, "people", "offline_network"), "towns": (towns, "towns", "offline_towns")}
    for key, (value, what, source) in sources.items():
        if value is None:
            continue
        if f"population.{key}" in given and given[f"population.{key}"].strip() != str(value):
            raise ParameterError(f"population.{key} comes from {population[source]} ({value:,} {what}); leave "
                                 f"population.{key} out; got {given[f'population.{key}']}")
        population[key] = value
    for source in ("offline_network", "offline_towns"):  # absolute: the same run when resumed from elsewhere
        if population.get(source):
            population[source] = str(Path(population[source]).expanduser().resolve())


# --- one-line errors ------------------------------------------------------------------------------
_FIELDS = {name: f for name, f, _ in iter_fields()}
_GROUP_FIELDS: dict[str, list[str]] = {}
for _name in _FIELDS:
    _group, _, _leaf = _name.rpartition(".")
    _GROUP_FIELDS.setdefault(_group, []).append(_leaf)
_KIND = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "a name", "dict": "a mapping"}


def describe(name: str) -> str:
    """What a parameter accepts, e.g. 'a number in [0, 1]'."""
    f = _FIELDS.get(name)
    if f is None:
        return "a known parameter"
    kind = _KIND.get(f.type if isinstance(f.type, str) else getattr(f.type, "__name__", ""), "a value")
    meta = dict(f.metadata)
    if "choices" in meta:
        return allowed(meta)
    if "range" in meta:
        return f"{kind} {allowed(meta)}"
    return kind


def _unknown_key(full_key: str) -> str:
    group, _, leaf = full_key.rpartition(".")
    if not group:
        top = [k for k in _GROUP_FIELDS if k and "." not in k] + _GROUP_FIELDS.get("", [])
        return f"{full_key} is not a parameter or group; allowed: {', '.join(top)}"
    if group in _FIELDS:  # a key of a mapping parameter, e.g. platform.recommender_mix
        from .params import BASE_RECOMMENDERS

        hint = f" (keys: {', '.join(BASE_RECOMMENDERS)})" if group == "platform.recommender_mix" else ""
        return f"{group} has no key {leaf!r}; add it with +{full_key}=VALUE{hint}"
    if group in _GROUP_FIELDS:
        return f"{full_key} is not a parameter; allowed in {group}: {', '.join(_GROUP_FIELDS[group])}"
    return f"{full_key} is not a parameter"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def format_error(exc: BaseException) -> str | None:
    """A one-line message for a configuration error, or None if ``exc`` is not one (a bug: show the traceback)."""
    from hydra.errors import ConfigCompositionException, HydraException, MissingConfigException, OverrideParseException
    from omegaconf.errors import ConfigAttributeError, ConfigKeyError, OmegaConfBaseException, ValidationError

    import yaml

    from .recovery import RunError

    if isinstance(exc, (ParameterError, RunError)):
        return str(exc)
    bad_yaml = next((e for e in _chain(exc) if isinstance(e, yaml.YAMLError)), None)
    if bad_yaml is not None:
        mark = getattr(bad_yaml, "problem_mark", None)
        where = f"{mark.name} (line {mark.line + 1}, column {mark.column + 1})" if mark else "a config file"
        what = getattr(bad_yaml, "problem", None) or _one_line(bad_yaml)
        return f"{where} is not valid YAML: {what}; fix the file (YAML mappings look like 'key: value')"
    if isinstance(exc, MissingConfigException):
        missing = exc.missing_cfg_file or ""
        group, _, option = missing.rpartition("/")
        if exc.options is not None and group:
            return f"{group} must be one of {', '.join(sorted(exc.options))}; got {option!r}"
        match = re.search(r"Could not find '([^']+)/([^'/]+)'", str(exc))
        if match:
            return f"{match.group(1)} has no option {match.group(2)!r}"
        return _one_line(exc)
    cause = (exc.__cause__ or exc.__context__) if isinstance(exc, HydraException) else exc
    if isinstance(cause, OmegaConfBaseException):
        full_key = getattr(cause, "full_key", None) or ""
        value = getattr(cause, "value", None)
        in_file = re.match(r"In '([^']+)':", str(exc)) if exc is not cause else None
        where = f"{in_file.group(1)}.yaml: " if in_file else ""  # a config file of a group (maybe the user's)
        if isinstance(cause, (ConfigKeyError, ConfigAttributeError)) and full_key:
            if full_key.startswith("hydra."):
                return f"{full_key} is not a Hydra setting"
            return where + _unknown_key(full_key)
        first_line = _one_line(str(cause).splitlines()[0] if str(cause) else repr(cause))
        if isinstance(cause, ValidationError) and full_key in _GROUP_FIELDS:
            return (f"{where}{full_key} is a group of settings ({', '.join(_GROUP_FIELDS[full_key])}), not a value; "
                    f"set one with {full_key}.KEY=VALUE")
        if isinstance(cause, ValidationError) and full_key.startswith("hydra."):
            return f"{full_key}: {first_line}"
        if isinstance(cause, ValidationError) and full_key:
            return f"{where}{full_key} must be {describe(full_key)}; got {value!r}"
        if full_key:
            return f"{where}{full_key}: {first_line}"
    if isinstance(exc, OverrideParseException):
        text = _one_line(exc.message).split(" See https://")[0]
        return f"cannot parse override {exc.override!r}: {text}"
    if isinstance(exc, ConfigCompositionException):
        text = str(exc)
        match = re.match(r"Ambiguous value for argument '([^']+)'", text)
        if match:  # Hydra's own hint is on the lines that follow; keep it on this one
            key, _, value = match.group(1).partition("=")
            return (f"{key} has several values ({value}): to sweep over them add --multirun (-m); for a list "
                    f"write {key}=[{value}]; for a string quote it: {key}='{value}'")
        match = re.search(r"Could not override '([^']+)'", text)
        if match:
            return _unknown_key(match.group(1))
        match = re.search(r"Could not append to config\. An item is already at '([^']+)'", text)
        if match:
            return f"{match.group(1)} is already set; override it without '+'"
        return _one_line(text.splitlines()[0] if text else repr(exc))
    if isinstance(exc, HydraException):
        return _one_line(exc)
    if isinstance(exc, ValueError) and str(exc).startswith("Config group override"):  # e.g. platform=5
        return (f"{_one_line(exc).rstrip('.')}: a config group takes the name of one of its options, e.g. "
                f"platform=invite_only (python -m socialsim --help lists them)")
    if isinstance(exc, OSError) and exc.filename:  # e.g. an output folder that cannot be created
        return f"{exc.filename}: {exc.strerror or _one_line(exc)}"
    return None


def _chain(exc: BaseException | None):
    """``exc`` and the exceptions it was raised from or during."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


# --- validation before any folder is created -------------------------------------------------------
def _sweep_lists(cfg: DictConfig) -> tuple[list[str], list[list[str]]]:
    """The fixed overrides and the value lists of a multirun, as Hydra's BasicSweeper expands them."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = OmegaConf.select(cfg, "hydra.sweeper.params", default=None) or {}
    lines = [f"{k}={v}" for k, v in params.items()]
    lines += list(OmegaConf.to_container(cfg.hydra.overrides.task, resolve=False))
    entries: OrderedDict[str, list[str]] = OrderedDict()
    for override in OverridesParser.create().parse_overrides(lines):
        key = override.get_key_element()
        if override.is_sweep_override():
            if not override.is_discrete_sweep():
                raise ParameterError(f"{key}: only lists and range() sweeps are supported")
            entries[key] = [f"{key}={v}" for v in override.sweep_string_iterator()]
        else:
            entries[key] = [f"{key}={override.get_value_element_as_str()}"]
    fixed = [v[0] for v in entries.values() if len(v) == 1]
    sweeps = [v for v in entries.values() if len(v) > 1]
    return fixed, sweeps


def preflight_multirun(cfg: DictConfig) -> int:
    """Compose and validate every value of every swept parameter (with the first value of the others).

    Every combination checked is a real job of the sweep, so nothing valid is refused; a bad value fails
    before the sweep folder exists. Returns the number of jobs the sweep will run.
    """
    from hydra.core.global_hydra import GlobalHydra

    fixed, sweeps = _sweep_lists(cfg)
    loader = GlobalHydra.instance().config_loader()
    firsts = [values[0] for values in sweeps]
    seen: set[str] = set()
    checks = [list(firsts)]
    for i, values in enumerate(sweeps):
        for value in values[1:]:
            checks.append(firsts[:i] + [value] + firsts[i + 1:])
    for combo in checks:
        key = "\n".join(combo)
        if key in seen:
            continue
        seen.add(key)
        job_cfg = loader.load_sweep_config(cfg, fixed + combo)
        check_memory(to_params(job_cfg).population)
    n = 1
    for values in sweeps:
        n *= len(values)
    return n


def _exit_on_config_error(check, config: DictConfig) -> None:
    """Run ``check(config)``; on a configuration error print one line and exit with code 2.

    Hydra turns exceptions in callbacks into warnings, so a bad configuration ends the program here
    (SystemExit passes through Hydra), before any run or sweep folder is created.
    """
    import sys

    try:
        check(config)
    except Exception as exc:  # noqa: BLE001
        message = format_error(exc)
        if message is None:
            raise
        print(f"socialsim: error: {message}", file=sys.stderr)
        raise SystemExit(2) from None


def preflight_run(cfg: DictConfig) -> Params:
    """Validate one run and its folder (writable; no other configuration's run in it; something to resume)."""
    from .recovery import check_folder

    experiment = OmegaConf.select(cfg, "hydra.runtime.choices.experiment", default=None)
    if experiment is not None:
        raise ParameterError(f"+experiment={experiment} is a sweep: run it with -m "
                             f"(python -m socialsim -m +experiment={experiment} ...)")
    params = to_params(cfg)
    check_memory(params.population)
    out = Path(str(OmegaConf.select(cfg, "hydra.run.dir")))
    check_folder(out, params, config_hash(params), replace_other=False, single=True, setting="hydra.run.dir")
    return params


def preflight_sweep(cfg: DictConfig) -> int:
    """Validate a sweep's values (:func:`preflight_multirun`) and that its folder can be written."""
    from .recovery import check_writable

    n = preflight_multirun(cfg)
    check_writable(Path(str(OmegaConf.select(cfg, "hydra.sweep.dir"))), "hydra.sweep.dir")
    return n


class PreflightCallback(Callback):
    """Validates the composed configuration before Hydra creates a run or sweep folder."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Check one run before its folder is made."""
        _exit_on_config_error(preflight_run, config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Check every job of a sweep before the sweep folder is made."""
        _exit_on_config_error(preflight_sweep, config)


# --- compose API ------------------------------------------------------------------------------------
def compose_config(overrides: Iterable[str] = (), return_hydra_config: bool = False) -> DictConfig:
    """The composed config for these overrides, exactly as ``python -m socialsim`` would build it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    overrides = list(overrides)
    outer = GlobalHydra.instance().hydra if GlobalHydra.instance().is_initialized() else None
    GlobalHydra.instance().clear()  # e.g. called inside a running Hydra app: put its state back afterwards
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3", job_name="socialsim"):
            return compose(config_name=CONFIG_NAME, overrides=overrides, return_hydra_config=return_hydra_config)
    finally:
        GlobalHydra.instance().clear()
        if outer is not None:
            GlobalHydra.instance().initialize(outer)


def compose_params(overrides: Iterable[str] = ()) -> Params:
    """Params from Hydra overrides, e.g. ``compose_params(["scenario=twitter2009", "population.size=500"])``.

    Raises :class:`ParameterError` with a one-line message for any bad input (unknown key, group or option,
    wrong type, value out of range).
    """
    overrides = list(overrides)
    try:
        cfg = compose_config(overrides)
    except Exception as exc:  # noqa: BLE001 - turned into one line when it is a config error
        message = format_error(exc)
        if message is None:
            raise
        raise ParameterError(message) from None
    return to_params(cfg, overrides)


def defaults_yaml() -> str:
    """The schema's defaults as YAML (for docs)."""
    return OmegaConf.to_yaml(OmegaConf.structured(Params))


__all__ = ["CONFIG_DIR", "RUN_CONTROL", "compose_config", "compose_params", "config_hash", "flat_params",
           "format_error", "register_configs", "to_params", "PreflightCallback"]
