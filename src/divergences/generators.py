"""Compatibility path: the terms now live in :mod:`divergences.core.terms` (the contract) and
:mod:`divergences.catalogue` (one module per family). Import from there in new code."""

from .catalogue import (  # noqa: F401
    KL,
    Alpha,
    CrossEntropy,
    Hellinger,
    Jeffreys,
    JensenShannon,
    JensenTsallis,
    LeCam,
    Neyman,
    Pearson,
    ReverseKL,
    SkewKL,
    SkewReverseKL,
    TotalVariation,
    Triangular,
)
from .core.terms import Generator, Pointwise, as_generator  # noqa: F401

__all__ = [
    "KL", "Alpha", "CrossEntropy", "Generator", "Hellinger", "Jeffreys", "JensenShannon", "JensenTsallis",
    "LeCam", "Neyman", "Pearson", "Pointwise", "ReverseKL", "SkewKL", "SkewReverseKL", "TotalVariation",
    "Triangular", "as_generator",
]
