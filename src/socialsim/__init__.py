"""socialsim: does an open social platform entrench the elite or spread connection?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("socialsim")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

from .params import ParameterError, Params  # noqa: E402

__all__ = ["LAYERS", "PlatformModel", "Params", "ParameterError", "__version__"]

#: The package's layers, lowest first. A module imports only from its own layer or the layers below it
#: (never in a circle); tests/test_layers.py checks every import, including those inside functions.
#: ``socialsim`` itself re-exports the model, so it sits with the engines.
LAYERS: tuple[tuple[str, ...], ...] = (
    # the model's parts: parameters, people, the follow graph, state, rules, what is measured
    ("extras", "params", "population", "graph", "state", "rules", "agents", "metrics", "invariants", "snapshot"),
    ("phases",),  # the steps of the fast engine (socialsim.phases and its modules)
    ("model", "reference", ""),  # the fast engine, the per-agent reference engine, the package
    ("runfolder", "recovery", "io"),  # run folders: layout and completeness, crash safety, running into one
    ("config", "__main__", "cluster"),  # Hydra configuration, the command line and the SLURM launcher
    ("analysis", "study", "validation", "compare", "svg", "app", "viz", "export"),  # results, experiments, the app, graph export
    ("calibrate",),  # fitting parameters to measurements by simulation-based inference
)


def __getattr__(name: str):
    # the model pulls in Mesa, SciPy and Numba: import it only when asked, so `--help` and errors are quick
    if name == "PlatformModel":
        from .model import PlatformModel

        return PlatformModel
    raise AttributeError(f"module 'socialsim' has no attribute {name!r}")
