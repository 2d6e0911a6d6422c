"""divergences: every divergence between probability distributions that machine learning uses.

A divergence is defined once (an f-generator or a function in :mod:`divergences.registry`) and
served by every layer: exact values on arrays of any backend (this module), chunked training
losses (:mod:`divergences.torch`), estimators from samples (:mod:`divergences.samples`) and
comparisons of whole tables (:mod:`divergences.tabular`).

>>> import divergences as dv
>>> round(float(dv.kl([0.5, 0.5], [0.9, 0.1])), 4)
0.5108
"""

from __future__ import annotations

from . import generators
from .categorical import (
    alpha,
    bhattacharyya,
    cauchy_schwarz,
    cross_entropy,
    divergence,
    entropy,
    f_divergence,
    hellinger,
    hellinger_distance,
    jeffreys,
    js,
    js_distance,
    kl,
    neyman,
    pearson,
    renyi,
    reverse_kl,
    skew_kl,
    skew_reverse_kl,
    triangular,
    tv,
)
from .generators import Generator
from .registry import available, register, unregister

__version__ = "0.1.0"

# Layers above the core load on first use (``dv.samples``, ``dv.gaussian``, ``dv.tabular``,
# ``dv.torch``), so ``import divergences`` imports only NumPy and never initialises a GPU.
_SUBMODULES = ("binning", "gaussian", "samples", "tabular", "torch", "registry", "categorical")


def __getattr__(name: str):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'divergences' has no attribute {name!r}")

__all__ = [
    "Generator",
    "alpha",
    "available",
    "bhattacharyya",
    "cauchy_schwarz",
    "cross_entropy",
    "divergence",
    "entropy",
    "f_divergence",
    "generators",
    "hellinger",
    "hellinger_distance",
    "jeffreys",
    "js",
    "js_distance",
    "kl",
    "neyman",
    "pearson",
    "register",
    "renyi",
    "reverse_kl",
    "skew_kl",
    "skew_reverse_kl",
    "triangular",
    "tv",
    "unregister",
]
