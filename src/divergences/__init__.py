"""divergences: every divergence between probability distributions that machine learning uses.

A divergence is defined once, as a record in the registry (:mod:`divergences.catalogue`, one module
per family, or :func:`register` for your own), and served by every layer: exact values on arrays of
any backend (this module, :mod:`divergences.exact`), chunked training losses
(:mod:`divergences.torch`), estimators from samples (:mod:`divergences.samples`) and comparisons of
whole tables (:mod:`divergences.tabular`).

>>> import divergences as dv
>>> round(float(dv.kl([0.5, 0.5], [0.9, 0.1])), 4)
0.5108
"""

from __future__ import annotations

from . import catalogue, core, exact, generators, registry
from .core.terms import Generator, Pointwise
from .exact import VERBS, divergence, entropy, f_divergence
from .registry import available, register, unregister

__version__ = "0.1.0"

globals().update(VERBS)

# Layers above the core load on first use (``dv.samples``, ``dv.gaussian``, ``dv.tabular``,
# ``dv.torch``, ``dv.llm``, ``dv.hf``), so ``import divergences`` imports only NumPy and never
# initialises a GPU.
_SUBMODULES = ("binning", "gaussian", "samples", "tabular", "torch", "llm", "hf", "categorical")


def __getattr__(name: str):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'divergences' has no attribute {name!r}")


__all__ = [
    "Generator",
    "Pointwise",
    "available",
    "catalogue",
    "core",
    "divergence",
    "entropy",
    "exact",
    "f_divergence",
    "generators",
    "register",
    "registry",
    "unregister",
]
__all__.extend(sorted(VERBS))
