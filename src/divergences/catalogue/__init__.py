"""The catalogue: one module per family, each divergence registered where it is defined.

Importing this package fills the registry with the built-in records (protected names). Adding a
divergence is one module here (see CONTRIBUTING.md) plus its test row: every layer reads the record.
"""

from . import alpha, cauchy_schwarz, chi2, entropy, geometry, hellinger_tv, jensen_tsallis, js, kl, renyi
from .alpha import Alpha
from .chi2 import LeCam, Neyman, Pearson, Triangular
from .entropy import CrossEntropy
from .hellinger_tv import Hellinger, TotalVariation
from .jensen_tsallis import JensenTsallis
from .js import JensenShannon
from .kl import KL, Jeffreys, ReverseKL, SkewKL, SkewReverseKL

__all__ = [
    "KL",
    "Alpha",
    "CrossEntropy",
    "Hellinger",
    "Jeffreys",
    "JensenShannon",
    "JensenTsallis",
    "LeCam",
    "Neyman",
    "Pearson",
    "ReverseKL",
    "SkewKL",
    "SkewReverseKL",
    "TotalVariation",
    "Triangular",
    "alpha",
    "cauchy_schwarz",
    "chi2",
    "entropy",
    "geometry",
    "hellinger_tv",
    "jensen_tsallis",
    "js",
    "kl",
    "renyi",
]
