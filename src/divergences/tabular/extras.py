"""The optional dependencies of the tabular layer, imported with a message that names the extra."""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["MissingExtra", "require"]


class MissingExtra(ModuleNotFoundError):
    """An optional dependency is not installed; the message says which extra installs it."""


def require(module: str, extra: str = "tabular") -> ModuleType:
    """``import module``, or :class:`MissingExtra` (a ``ModuleNotFoundError``) naming the extra to install.

    >>> require("math").sqrt(4.0)
    2.0
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name != module and not module.startswith(exc.name + "."):
            raise
        raise MissingExtra(f"{module} is not installed: the tabular layer and the divergences command need the "
                           f"'{extra}' extra: pip install 'divergences[{extra}]'", name=module) from None
