"""Divergences estimated from samples (requires ``divergences[samples]``: SciPy and POT).

* k-nearest neighbours: :func:`knn_kl`, :func:`knn_entropy` (:mod:`.knn`);
* kernels and distances: :func:`mmd`, :func:`energy`, :func:`cauchy_schwarz` (:mod:`.kernels`);
* optimal transport: :func:`wasserstein` (exact), :func:`sliced_wasserstein`, :func:`sinkhorn` (log
  domain, ε-scaling) (:mod:`.transport`);
* :func:`log_variance` (:mod:`.log_variance`);
* critic-based lower bounds :func:`f_gan_bound`, :func:`nwj_bound`, :func:`donsker_varadhan_bound`
  and the propensity bound :func:`causal_f_bound` (:mod:`.variational`);
* any registered divergence between binned samples: :func:`histogram` (:mod:`.histogram`);
* uncertainty for any of them: :func:`permutation_test`, :func:`bootstrap` (:mod:`.resampling`);
* two-sample tests with calibrated p-values: :func:`mmd_test` (median or power-selected bandwidth),
  :func:`mmd_agg_test` (several bandwidths, min-p aggregation), :func:`linear_mmd_test`,
  :func:`block_mmd_test` (:mod:`.two_sample`); independence tests :func:`dcov_test`, :func:`hsic_test`
  (:mod:`.independence`).

SciPy and POT are imported inside the functions that use them, so importing this package is cheap.
Every estimator except the kNN and histogram ones also takes torch tensors and then returns a
differentiable tensor (autograd), in memory-bounded tiles; torch is imported only then.
Conventions (scale, squares, ½ factors) are stated in each docstring and in ``docs/samples.md``.
"""

from __future__ import annotations

from .histogram import histogram
from .independence import dcov_test, hsic_test
from .kernels import cauchy_schwarz, energy, median_bandwidth, mmd
from .knn import knn_entropy, knn_kl
from .log_variance import log_variance
from .resampling import BootstrapResult, PermutationResult, bootstrap, permutation_test
from .transport import SinkhornConvergenceError, SinkhornConvergenceWarning, sinkhorn, sliced_wasserstein, wasserstein
from .two_sample import SignificanceResult, block_mmd_test, linear_mmd_test, mmd_agg_test, mmd_test, power_bandwidth
from .variational import causal_f_bound, donsker_varadhan_bound, f_gan_bound, nwj_bound, optimal_critic

__all__ = [
    "BootstrapResult",
    "PermutationResult",
    "SignificanceResult",
    "SinkhornConvergenceError",
    "SinkhornConvergenceWarning",
    "block_mmd_test",
    "bootstrap",
    "causal_f_bound",
    "donsker_varadhan_bound",
    "f_gan_bound",
    "cauchy_schwarz",
    "dcov_test",
    "energy",
    "histogram",
    "hsic_test",
    "knn_entropy",
    "linear_mmd_test",
    "knn_kl",
    "log_variance",
    "median_bandwidth",
    "mmd",
    "mmd_agg_test",
    "mmd_test",
    "nwj_bound",
    "optimal_critic",
    "permutation_test",
    "power_bandwidth",
    "sinkhorn",
    "sliced_wasserstein",
    "wasserstein",
]
