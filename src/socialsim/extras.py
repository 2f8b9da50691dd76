"""Optional libraries: import one, or stop with a one-line message naming the extra that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(ImportError):
    """An optional library is not installed; the message names the pip extra that installs it."""


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtra` saying ``feature`` needs ``pip install 'socialsim[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        if exc.name is not None and exc.name.split(".")[0] != top:
            raise  # the library is there but broken: show the real error
        raise MissingExtra(f"{feature} needs the {top} package: pip install 'socialsim[{extra}]'") from None
