"""The registry of named divergences (public path of :mod:`divergences.core.record`)."""

from . import catalogue  # noqa: F401  (the built-in records)
from .core.record import (  # noqa: F401
    SHARED_KEYWORDS,
    Record,
    available,
    builtin,
    builtin_sums,
    get,
    get_generator,
    records,
    register,
    unregister,
)

__all__ = ["Record", "available", "get", "get_generator", "records", "register", "unregister"]
