"""Exact values between categorical distributions: one block runner, the generic entry points
(:mod:`divergences.exact.generic`) and the verbs generated from the registry records
(:mod:`divergences.exact.verbs`, written by :mod:`divergences.exact.codegen`)."""

from . import evaluate, generic, runner, verbs
from .generic import divergence, entropy, f_divergence
from .verbs import *  # noqa: F403  (the generated verbs: dv.kl, dv.js, ...)
from .verbs import VERBS

__all__ = ["VERBS", "divergence", "entropy", "evaluate", "f_divergence", "generic", "runner", "verbs"]
__all__ += verbs.__all__
