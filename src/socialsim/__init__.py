"""socialsim: does an open social platform entrench the elite or spread connection?"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("socialsim")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

from .model import PlatformModel  # noqa: E402
from .params import ParameterError, Params  # noqa: E402

__all__ = ["PlatformModel", "Params", "ParameterError", "__version__"]
