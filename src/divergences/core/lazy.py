"""Lazy exports for the optional layers: ``divergences.torch``, ``divergences.llm`` and
``divergences.hf`` name their public objects in a table and import a module only when one of its
names is first used, so importing the package never imports torch or transformers."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, namespace: dict[str, Any], exports: dict[str, str]
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` serving ``exports`` (name -> submodule) lazily."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        try:
            mod = importlib.import_module(f".{module}", package)
        except ModuleNotFoundError as exc:
            if exc.name == f"{package}.{module}":
                raise AttributeError(f"{package}.{name} lives in {package}.{module}, which is not in this "
                                     "installation") from exc
            raise
        value = getattr(mod, name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
