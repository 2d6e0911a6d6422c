"""Compatibility path: see :mod:`divergences.core.backend`."""

import warnings

from .core.backend import *  # noqa: F401,F403
from .core.backend import Array, as_float, compute_dtype, is_numpy, is_torch, namespace, result_dtype, safe_log  # noqa: F401

warnings.warn(
    "divergences._backend moved to divergences.core.backend; the old path is kept for compatibility and will be removed",
    DeprecationWarning,
    stacklevel=2,
)
