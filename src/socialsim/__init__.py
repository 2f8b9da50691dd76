"""socialsim: does an open social platform entrench the elite or spread connection?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("socialsim")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

from .params import ParameterError, Params  # noqa: E402

__all__ = ["PlatformModel", "Params", "ParameterError", "__version__"]


def __getattr__(name: str):
    # the model pulls in Mesa, SciPy and Numba: import it only when asked, so `--help` and errors are quick
    if name == "PlatformModel":
        from .model import PlatformModel

        return PlatformModel
    raise AttributeError(f"module 'socialsim' has no attribute {name!r}")
