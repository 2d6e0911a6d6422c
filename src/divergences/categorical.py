"""Compatibility path: the exact verbs now live in :mod:`divergences.exact`."""

from .exact.verbs import *  # noqa: F401,F403
from .exact.verbs import VERBS, divergence, entropy, f_divergence  # noqa: F401

globals().update(VERBS)
