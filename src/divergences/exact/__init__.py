"""Exact values between categorical distributions: one block runner and the verbs generated from the
registry records (see :mod:`divergences.exact.verbs` for the shared keywords and conventions)."""

from . import evaluate, runner, verbs
from .verbs import VERBS, divergence, entropy, f_divergence

__all__ = ["VERBS", "divergence", "entropy", "evaluate", "f_divergence", "runner", "verbs", *sorted(VERBS)]
globals().update(VERBS)
