"""What every layer reads: the pointwise-term contract, the registry record, backend plumbing and
input validation. Imports NumPy and array-api-compat only."""

from . import backend, record, special, terms, validation
from .record import Spec, available, builtin, get, get_generator, register, unregister
from .terms import Generator, Pointwise, as_generator

__all__ = [
    "Generator",
    "Pointwise",
    "Spec",
    "as_generator",
    "available",
    "backend",
    "builtin",
    "get",
    "get_generator",
    "record",
    "register",
    "special",
    "terms",
    "unregister",
    "validation",
]
