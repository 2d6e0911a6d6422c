"""Any registered divergence between two samples of a numeric variable, through shared bins."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import binning
from ..core.array_types import NumPyValue
from ..core.divergence import DivergenceLike
from ..exact.generic import divergence as exact_divergence
from ._divergence import resolve
from ._inputs import as_pair

__all__ = ["histogram"]


def histogram(x: Any, y: Any, divergence: DivergenceLike = "js", bins: int = 10, *, reference: str = "y",
              smoothing: float = 0.0, **params: float) -> NumPyValue:
    r"""A divergence D(P̂_x‖P̂_y) between the histograms of two 1-D samples on reference-quantile bins.

    Bins come from :func:`divergences.binning.quantile_edges` on the ``reference`` sample ("y", the
    default, as Q is the reference in KL(P‖Q) and PSI; or "x"): inner edges at its quantiles
    1/B … (B−1)/B, right-closed, with open outer bins, so they never move with the sample under
    comparison; tied quantiles are merged (fewer bins). Both samples are counted on those bins and
    the counts go to ``divergences.divergence(divergence, counts_x, counts_y, normalize=True)``.

    ``divergence`` is any name of :func:`divergences.available` (including divergences registered by
    the user) with its parameters as keywords (``histogram(x, y, "js", beta=0.3)``), or the same as
    a :func:`divergences.spec` value (``histogram(x, y, dv.spec("js", beta=0.3))``), a term object
    or a generator callable f(t). A divergence over ordered categories (record
    ``inputs="ordered"``: ``"wasserstein"``) sees the bins as ordered categories one unit apart (its
    value is in bins); a comparison of raw vectors (``inputs="vectors"``: ``"cosine"``) is refused.
    Empty bins get no silent epsilon: a KL with mass where the other histogram has none is +inf.
    ``smoothing=c`` adds the pseudo-count c to every bin of both histograms (opt-in, named). NaN
    input is refused. Units and scale are those of the divergence.

    >>> import numpy as np
    >>> x = np.arange(100.0)
    >>> float(histogram(x, x, "jeffreys"))
    0.0

    :param x: the sample of P (1-D, or (n, 1)).
    :param y: the sample of Q.
    :param divergence: the divergence (name, ``dv.spec(...)``, term or f(t)); default ``"js"``.
    :param bins: the number of quantile bins B ≥ 1 (fewer where quantiles tie).
    :param reference: ``"y"`` (default) or ``"x"``: the sample whose quantiles place the edges.
    :param smoothing: a pseudo-count c ≥ 0 added to every bin of both histograms.
    :param params: the divergence's parameters (``beta=0.3`` for js), beside a name only.
    :returns: D(P̂_x‖P̂_y) as a NumPy float.
    :raises ValueError: naming the argument: NaN in x or y, samples of dimension > 1, an unknown
        ``reference``, ``bins`` < 1, a negative or non-finite ``smoothing``, an unknown divergence or
        parameter, parameters beside a ``dv.spec(...)`` value, a comparison of raw vectors.
    """
    value = resolve(divergence, params)
    if value.record is not None and value.record.inputs == "vectors":
        raise ValueError(f"divergence {value.name!r} compares raw vectors, not the binned distributions histogram "
                         "compares")
    xa, ya = as_pair(x, y)
    if xa.shape[1] != 1:
        raise ValueError(f"histogram compares 1-D samples; x has dimension {xa.shape[1]}")
    if reference not in ("x", "y"):
        raise ValueError(f"reference must be 'x' or 'y', got {reference!r}")
    smoothing = float(smoothing)
    if not (smoothing >= 0 and np.isfinite(smoothing)):
        raise ValueError(f"smoothing must be a finite pseudo-count ≥ 0, got {smoothing!r}")
    edges = binning.quantile_edges(ya[:, 0] if reference == "y" else xa[:, 0], bins)
    counts_x, _ = binning.bin_counts(xa[:, 0], edges)
    counts_y, _ = binning.bin_counts(ya[:, 0], edges)
    p = counts_x + smoothing
    q = counts_y + smoothing
    return exact_divergence(value, p, q, normalize=True)
