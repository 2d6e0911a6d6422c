"""What every layer reads: the pointwise-term contract, the registry record, backend plumbing and
input validation. Imports NumPy and array-api-compat only."""

from . import backend, divergence, mixture, near_equal, record, special, terms, validation
from .divergence import Divergence, spec
from .mixture import Mixture
from .record import Record, available, builtin, get, get_generator, register, unregister
from .terms import Generator, Pointwise, as_generator

__all__ = [
    "Divergence",
    "Generator",
    "Mixture",
    "Pointwise",
    "Record",
    "as_generator",
    "available",
    "backend",
    "builtin",
    "divergence",
    "get",
    "get_generator",
    "mixture",
    "near_equal",
    "record",
    "register",
    "spec",
    "special",
    "terms",
    "unregister",
    "validation",
]
