"""The log-variance divergence from log-densities evaluated at common samples."""

from __future__ import annotations

import numpy as np

from ..core.backend import Array, as_float, is_numpy, namespace, result_dtype

__all__ = ["log_variance"]


def log_variance(log_p: Array, log_q: Array, *, axis: int = -1, ddof: int = 1) -> Array:
    r"""Log-variance divergence :math:`D_{LV}(P, Q) = \mathrm{Var}_{X\sim R}\big[\log p(X) - \log q(X)\big]`.

    ``log_p`` and ``log_q`` are log-densities of P and Q at the same samples X drawn from a reference
    R (often Q itself, or a detached copy of the model in diffusion-path samplers; Richter et al.,
    2020; Nüsken & Richter, 2021). Either may be unnormalised: an additive constant does not change
    the variance, which is why this divergence trains samplers whose normalising constant is
    unknown. It is 0 iff p ∝ q on the support of R. The sample variance along ``axis`` uses
    ``ddof`` (1: the unbiased estimator of the variance; 0: the plug-in). Inputs broadcast; NumPy or
    torch (differentiable), the result on the caller's backend; units: squared nats.

    >>> float(log_variance([0.0, 1.0, 2.0], [5.0, 5.0, 5.0]))
    1.0
    """
    xp = namespace(log_p, log_q)
    if is_numpy(xp):
        log_p, log_q = np.asarray(log_p), np.asarray(log_q)
    dtype = result_dtype(xp, log_p, log_q)
    with np.errstate(invalid="ignore"):  # inf − inf is reported below as a ValueError
        diff = as_float(log_p, xp, dtype) - as_float(log_q, xp, dtype)
    if diff.ndim == 0:
        raise ValueError("log_p and log_q must have at least one axis of samples")
    if not isinstance(ddof, (int, np.integer)) or ddof < 0:
        raise ValueError(f"ddof must be a non-negative integer, got {ddof!r}")
    n = diff.shape[axis]
    if n <= ddof:
        raise ValueError(f"the sample axis (axis={axis}) has {n} value(s); ddof={ddof} needs at least {ddof + 1}")
    if bool(xp.any(xp.isnan(diff))):
        raise ValueError("log_p − log_q contains NaN (or log_p and log_q are both infinite at a sample)")
    centred = diff - xp.mean(diff, axis=axis, keepdims=True)
    value = xp.sum(centred * centred, axis=axis) / (n - ddof)
    return value[()] if is_numpy(xp) and value.ndim == 0 else value
