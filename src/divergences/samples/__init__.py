"""Divergences estimated from samples (requires ``divergences[samples]``: SciPy and POT).

* k-nearest neighbours: :func:`knn_kl`, :func:`knn_entropy` (:mod:`.knn`);
* kernels and distances: :func:`mmd`, :func:`energy`, :func:`cauchy_schwarz` (:mod:`.kernels`);
* optimal transport: :func:`wasserstein` (exact), :func:`sliced_wasserstein`, :func:`sinkhorn` (log
  domain, ε-scaling) (:mod:`.transport`); the plan and its potentials :func:`sinkhorn_plan`
  (:class:`TransportPlan`, lazy) (:mod:`.plan`); unbalanced OT :func:`unbalanced_sinkhorn` (:mod:`.unbalanced`);
  :func:`gromov_wasserstein`, :func:`fused_gromov_wasserstein` (:mod:`.gromov`); barycenters
  :func:`wasserstein_barycenter`, :func:`bures_barycenter` (:mod:`.barycenters`); large n:
  :func:`quantized_sinkhorn` (:mod:`.quantized`);
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

from .barycenters import BarycenterResult, bures_barycenter, wasserstein_barycenter
from .gromov import GromovResult, fused_gromov_wasserstein, gromov_wasserstein
from .histogram import histogram
from .independence import dcov_test, hsic_test
from .kernels import cauchy_schwarz, energy, median_bandwidth, mmd
from .knn import knn_entropy, knn_kl
from .log_variance import log_variance
from .plan import TransportPlan, sinkhorn_plan
from .quantized import QuantizedSinkhorn, quantized_sinkhorn
from .resampling import BootstrapResult, PermutationResult, bootstrap, permutation_test
from .transport import SinkhornConvergenceError, SinkhornConvergenceWarning, sinkhorn, sliced_wasserstein, wasserstein
from .two_sample import SignificanceResult, block_mmd_test, linear_mmd_test, mmd_agg_test, mmd_test, power_bandwidth
from .unbalanced import unbalanced_sinkhorn
from .variational import causal_f_bound, donsker_varadhan_bound, f_gan_bound, nwj_bound, optimal_critic

__all__ = [
    "BarycenterResult",
    "BootstrapResult",
    "GromovResult",
    "PermutationResult",
    "QuantizedSinkhorn",
    "SignificanceResult",
    "SinkhornConvergenceError",
    "SinkhornConvergenceWarning",
    "TransportPlan",
    "block_mmd_test",
    "bootstrap",
    "bures_barycenter",
    "cauchy_schwarz",
    "causal_f_bound",
    "dcov_test",
    "donsker_varadhan_bound",
    "energy",
    "f_gan_bound",
    "fused_gromov_wasserstein",
    "gromov_wasserstein",
    "histogram",
    "hsic_test",
    "knn_entropy",
    "knn_kl",
    "linear_mmd_test",
    "log_variance",
    "median_bandwidth",
    "mmd",
    "mmd_agg_test",
    "mmd_test",
    "nwj_bound",
    "optimal_critic",
    "permutation_test",
    "power_bandwidth",
    "quantized_sinkhorn",
    "sinkhorn",
    "sinkhorn_plan",
    "sliced_wasserstein",
    "unbalanced_sinkhorn",
    "wasserstein",
    "wasserstein_barycenter",
]
