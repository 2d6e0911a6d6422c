"""Compatibility path: see :mod:`divergences.core.backend`."""

from .core.backend import *  # noqa: F401,F403
from .core.backend import Array, as_float, compute_dtype, is_numpy, is_torch, namespace, result_dtype, safe_log  # noqa: F401
