"""Compatibility path: the exact verbs now live in :mod:`divergences.exact`."""

import warnings

from .exact.generic import divergence, entropy, f_divergence  # noqa: F401
from .exact.verbs import *  # noqa: F401,F403
from .exact.verbs import VERBS  # noqa: F401

globals().update(VERBS)

warnings.warn(
    "divergences.categorical moved to divergences.exact; the old path is kept for compatibility and will be removed",
    DeprecationWarning,
    stacklevel=2,
)
