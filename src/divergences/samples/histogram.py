"""Any registered divergence between two samples of a numeric variable, through shared bins."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import binning
from ..exact.generic import divergence as _categorical_divergence
from ._inputs import as_pair

__all__ = ["histogram"]


def histogram(x: Any, y: Any, divergence: Any = "js", bins: int = 10, *, reference: str = "y",
              smoothing: float = 0.0, **params: Any) -> Any:
    r"""A divergence D(P̂_x‖P̂_y) between the histograms of two 1-D samples on reference-quantile bins.

    Bins come from :func:`divergences.binning.quantile_edges` on the ``reference`` sample ("y", the
    default, as Q is the reference in KL(P‖Q) and PSI; or "x"): inner edges at its quantiles
    1/B … (B−1)/B, right-closed, with open outer bins, so they never move with the sample under
    comparison; tied quantiles are merged (fewer bins). Both samples are counted on those bins and
    the counts go to ``divergences.divergence(divergence, counts_x, counts_y, normalize=True,
    **params)``: any name of :func:`divergences.available` (including divergences registered by the
    user), or a generator object. Empty bins get no silent epsilon: a KL with mass where the other
    histogram has none is +inf. ``smoothing=c`` adds the pseudo-count c to every bin of both
    histograms (opt-in, named). NaN input is refused. Units and scale are those of the divergence.

    >>> import numpy as np
    >>> x = np.arange(100.0)
    >>> float(histogram(x, x, "jeffreys"))
    0.0
    """
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
    if divergence is None or isinstance(divergence, bool):
        raise ValueError(f"divergence must be a registered name, a Generator or a callable f(t), got {divergence!r}")
    return _categorical_divergence(divergence, p, q, normalize=True, **params)
