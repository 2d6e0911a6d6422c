"""divergences: every divergence between probability distributions that machine learning uses.

A divergence is defined once, as a record in the registry (:mod:`divergences.catalogue`, one module
per family, or :func:`register` for your own), and served by every layer: exact values on arrays of
any backend (this module, :mod:`divergences.exact`), chunked training losses
(:mod:`divergences.torch`), estimators from samples (:mod:`divergences.samples`) and comparisons of
whole tables (:mod:`divergences.tabular`). A divergence with its parameters is one value,
:func:`spec` (``dv.spec("js", beta=0.3)``), accepted wherever a name is.

>>> import divergences as dv
>>> round(float(dv.kl([0.5, 0.5], [0.9, 0.1])), 4)
0.5108
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import catalogue, core, exact  # noqa: F401
from .core.divergence import Divergence, spec
from .core.record import Record, available, get, records, register, unregister
from .core.terms import Generator, Pointwise
from .exact import verbs as _verbs
from .exact.generic import divergence, entropy, f_divergence
from .exact.verbs import *  # noqa: F403  (the generated verbs: kl, js, tv, ...)

if TYPE_CHECKING:  # the optional layers, loaded on first use at run time (see __getattr__)
    from . import binning as binning
    from . import gaussian as gaussian
    from . import hf as hf
    from . import llm as llm
    from . import samples as samples
    from . import tabular as tabular
    from . import torch as torch

__version__ = "0.1.0"

# Layers above the core load on first use (``dv.samples``, ``dv.gaussian``, ``dv.tabular``,
# ``dv.torch``, ``dv.llm``, ``dv.hf``), so ``import divergences`` imports only NumPy and never
# initialises a GPU. Only submodules are served this way; every function is defined statically above.
_SUBMODULES = ("binning", "gaussian", "samples", "tabular", "torch", "llm", "hf")


def __getattr__(name: str):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'divergences' has no attribute {name!r}")


__all__ = [
    "Divergence",
    "Generator",
    "Pointwise",
    "Record",
    "available",
    "catalogue",
    "core",
    "divergence",
    "entropy",
    "exact",
    "f_divergence",
    "get",
    "records",
    "register",
    "spec",
    "unregister",
]
__all__ += _verbs.__all__
