r"""Policy regularisers for RL fine-tuning, read from the registry's f-generators.

Every function here takes log-probabilities of *sampled* items (tokens or whole sequences), never
full distributions, and returns one value per item. Conventions shared by the module:

* **Direction.** :math:`D_f(P\|Q) = \sum_x q(x) f(p(x)/q(x)) = E_Q[f(r)]` with :math:`r = p/q`,
  exactly as in :mod:`divergences.core.record`. In RL fine-tuning take **P = π_ref** (the reference,
  as the teacher in distillation) and **Q = π_θ** (the policy): then ``"kl"`` is the mass-covering
  forward KL(π_ref‖π_θ) of DPH-RL and ``"reverse_kl"`` is the mode-seeking KL(π_θ‖π_ref) that
  PPO/GRPO penalise.
* **Computation.** Values are formed in float64 from the log-ratio ℓ = log p − log q (they are
  per-item scalars, cheap next to the model) and returned in the inputs' compute dtype (float64
  stays float64, float32 stays float32, float16/bfloat16 give float32), with autograd.
* **Clamps (documented, never silent).** No exponential of a log-ratio beyond
  ``LOG_RATIO_LIMIT`` = 300 is ever formed: each per-item function is evaluated exactly for
  |ℓ| ≤ 300 (e^300 ≈ 2·10^130 and its square stay finite in float64, so neither the values nor
  the gradients meet inf or inf·0 = NaN) and continued beyond along its tangent at ±300, with
  that slope as gradient. The continuation is exact where the function is affine in ℓ there
  (``log r`` terms, DPO's score u + 1; the neglected terms are below e^−300) and, where it grows
  exponentially, the value is far beyond the clip anyway. Results are then clipped to
  ``[-clip, clip]`` (``clip=1e30`` by default: the float32 range is 3.4e38, so sums over a
  million tokens stay finite); clipped entries have zero gradient. ``clip=None`` returns the
  values unclipped; they overflow to ±inf where they exceed the output dtype.
* **Refused inputs** (ValueError naming the argument): NaN anywhere; +inf as a log-probability (−inf, an
  impossible item, is allowed; log-ratios may be ±inf); meta tensors; a divergence that is 0 for every pair
  of distributions (``"js"`` with β = 0 or 1: TRL's ends are ``"kl"`` and ``"reverse_kl"``).
"""

from __future__ import annotations

from typing import Any

import torch

from ..core.divergence import DivergenceLike, spec
from ._keywords import keywords_checked
from ._log_ratio import (
    DEFAULT_CLIP,
    LOG_RATIO_LIMIT,
    as_tensor,
    check_clip,
    f_generator,
    finish,
    out_dtype,
    pair,
    tangent_extended,
)

__all__ = [
    "LOG_RATIO_LIMIT",
    "f_prime",
    "f_weight",
    "importance_weighted_kl",
    "kl_penalty",
    "sampled_divergence",
    "sequence_match_chi2",
]

# kl_penalty estimator names -> canonical name
_ESTIMATORS = {
    "k1": "k1", "kl": "k1",
    "abs": "abs",
    "k2": "k2", "mse": "k2",
    "k3": "k3",
    "low_var_kl": "low_var_kl",
    "k1+": "k1+", "k3+": "k3+", "low_var_kl+": "low_var_kl+",
}


# ---------------------------------------------------------------------------------------------
# KL penalties of the RL frameworks
# ---------------------------------------------------------------------------------------------


def kl_penalty(logprobs: Any, ref_logprobs: Any, estimator: str = "k3", *, clip: float | None = DEFAULT_CLIP) -> torch.Tensor:
    r"""Per-token estimates of KL(π_θ‖π_ref) from tokens sampled from the policy π_θ.

    With :math:`k = \log π_θ(x) − \log π_{ref}(x)` (``logprobs − ref_logprobs``), ``x ~ π_θ``:

    * ``"k1"`` (alias ``"kl"``): k. Mean KL(π_θ‖π_ref) (unbiased; single values can be < 0).
    * ``"abs"``: |k|. Biased upward.
    * ``"k2"`` (alias ``"mse"``): ½ k². Biased (≈ KL for close policies).
    * ``"k3"``: e^{−k} − 1 + k. Mean KL(π_θ‖π_ref) (unbiased, every value ≥ 0).
    * ``"low_var_kl"``: k3 with the clamps of verl and OpenRLHF, clamp(e^c − 1 − c, −10, 10) with
      c = clamp(−k, −20, 20); biased where the clamps bite, zero gradient there.
    * ``"k1+"``, ``"k3+"``, ``"low_var_kl+"``: straight-through variants (verl): the value of
      k1 / k3 / low_var_kl, the gradient of k2, whose on-policy mean E[k ∇log π_θ] is
      ∇KL(π_θ‖π_ref).

    k3 is :func:`sampled_divergence` ``(ref_logprobs, logprobs, "reverse_kl", samples_from="q")``:
    the registry's reverse KL with P = π_ref, Q = π_θ and its control variate. Numerics: k3 is
    formed in float64 with k clamped to ±:data:`LOG_RATIO_LIMIT` inside the exponential and the
    result clipped to ±``clip`` (k = −100 gives e^100 ≈ 2.7e43, beyond float32: it is returned as
    ``clip``). ``low_var_kl`` applies exactly the frameworks' clamps and ignores ``clip``.

    Note on gradients: differentiating the *value* of k1 or k3 with respect to θ does not give
    ∇KL(π_θ‖π_ref) (the sampling distribution depends on θ); put k1 in the reward, or use k2 or a
    ``+`` variant in the loss.

    >>> import torch
    >>> from divergences.torch import kl_penalty
    >>> lp, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])
    >>> kl_penalty(lp, ref, "k1")
    tensor([ 0.5000, -1.0000])
    >>> kl_penalty(lp, ref, "k3")
    tensor([0.1065, 0.7183])
    """
    canonical = _ESTIMATORS.get(estimator) if isinstance(estimator, str) else None
    if canonical is None:
        raise ValueError(f"estimator must be one of {sorted(_ESTIMATORS)}, got {estimator!r}")
    clip = check_clip(clip)
    lp, ref, dtype = pair(logprobs, ref_logprobs, ("logprobs", "ref_logprobs"))
    k = lp - ref
    base = canonical.rstrip("+")
    if base == "k1":
        value = k
    elif base == "abs":
        value = torch.abs(k)
    elif base == "k2":
        value = 0.5 * k * k
    elif base == "k3":
        # the registry's reverse KL with P = π_ref, Q = π_θ, sampled from Q, with its control variate
        value = sampled_divergence(ref, lp, "reverse_kl", samples_from="q", clip=None).to(torch.float64)
    else:  # low_var_kl: the clamps of verl / OpenRLHF, verbatim in meaning
        c = torch.clamp(-k, -20.0, 20.0)
        return _straight_through(torch.clamp(torch.expm1(c) - c, -10.0, 10.0), k, canonical).to(dtype)
    return finish(_straight_through(value, k, canonical), dtype, clip)


def _straight_through(value: torch.Tensor, k: torch.Tensor, canonical: str) -> torch.Tensor:
    if not canonical.endswith("+"):
        return value
    k2 = 0.5 * k * k
    return value.detach() + (k2 - k2.detach())


# ---------------------------------------------------------------------------------------------
# any f-divergence from samples
# ---------------------------------------------------------------------------------------------


@keywords_checked(options=False)
def sampled_divergence(
    logp: Any,
    logq: Any,
    divergence: DivergenceLike = "kl",
    *,
    samples_from: str = "p",
    control_variate: bool = True,
    clip: float | None = DEFAULT_CLIP,
) -> torch.Tensor:
    r"""Per-sample values whose mean is an unbiased estimate of the f-divergence D(P‖Q).

    ``logp`` and ``logq`` are the log-probabilities of the *same sampled items* under P and
    under Q; the items were drawn from P (``samples_from="p"``) or from Q (``"q"``). With
    r = p/q and f the registry's generator of ``divergence`` (a name, a ``dv.spec(...)`` value carrying
    its parameters, a :class:`~divergences.core.terms.Generator`, or a callable f(t); user-registered
    generators work):

    * ``samples_from="q"``: value f(r); control variate: f(r) − f'(1)(r − 1) (E_Q[r] = 1);
    * ``samples_from="p"``: value f(r)/r (= E_P-form, since E_Q[f(r)] = E_P[f(r)/r]); control
      variate: f(r)/r + f'(1)(1/r − 1) (E_P[1/r] = 1).

    Both control variates keep the mean and, f being convex, make every value ≥ 0 (the tangent
    at 1 lies below f). For ``"kl"`` from P and ``"reverse_kl"`` from Q they are the k3
    estimator. Unbiasedness needs the support of the unseen side inside that of the sampled one
    (a sample from P with q = 0 is handled exactly: value p·lim f(t)/t, +inf for KL; mass of Q
    where p = 0 cannot be seen from P-samples). Each sampled item must have a finite
    log-probability under the side it was drawn from.

    DPH-RL's regulariser: P = π_ref with samples drawn once from π_ref and ``logp`` stored, Q =
    π_θ evaluated on those samples (``logq`` carries the gradient), ``divergence="kl"`` or
    ``"js"``; no online reference model is needed, and because the samples do not depend on θ the
    gradient of the mean is an unbiased estimate of ∇_θ D(π_ref‖π_θ).

    Numerics: see the module docstring (float64, ±300 limit where an exponential of ℓ is formed,
    values clipped to ±``clip``).

    >>> import torch
    >>> from divergences.torch import sampled_divergence
    >>> logp = torch.log(torch.tensor([0.5, 0.25]))   # items drawn from P
    >>> logq = torch.log(torch.tensor([0.25, 0.5]))
    >>> sampled_divergence(logp, logq, "kl", samples_from="p", control_variate=False)  # log r
    tensor([ 0.6931, -0.6931])
    >>> sampled_divergence(logp, logq, "kl", samples_from="p")  # log r + 1/r − 1 ≥ 0
    tensor([0.1931, 0.3069])
    """
    if samples_from not in ("p", "q"):
        raise ValueError(f"samples_from must be 'p' or 'q', got {samples_from!r}")
    clip = check_clip(clip)
    gen = f_generator(divergence)
    a_in, b_in, dtype = pair(logp, logq, ("logp", "logq"))
    slope = gen.f_prime_one if control_variate else 0.0
    if samples_from == "q":
        # f(r) − f'(1)(r − 1) = φ(ℓ, 0) − f'(1) expm1(ℓ): the pointwise term at p = r, q = 1
        def from_q(ell):
            return gen.phi(ell, torch.zeros_like(ell)) - slope * torch.expm1(ell)

        value = tangent_extended(from_q, a_in - b_in, exact_at_inf=True)
    else:
        # f(r)/r + f'(1)(1/r − 1) = φ(0, m) + f'(1) expm1(m), m = −ℓ: the term at p = 1, q = 1/r
        def from_p(m):
            return gen.phi(torch.zeros_like(m), m) + slope * torch.expm1(m)

        value = tangent_extended(from_p, b_in - a_in, exact_at_inf=True)
    return finish(value, dtype, clip)


# ---------------------------------------------------------------------------------------------
# f'(r) and the f-distill / f-DPG weight r² f''(r)
# ---------------------------------------------------------------------------------------------


@keywords_checked(options=False)
def f_prime(log_ratio: Any, divergence: DivergenceLike = "kl", *, clip: float | None = DEFAULT_CLIP) -> torch.Tensor:
    r"""The generator's derivative f'(r) at r = exp(``log_ratio``), for any f-divergence.

    ``log_ratio`` is log p − log q (the registry's D(P‖Q) = E_Q f(p/q)). Built-in generators use
    their closed forms in log space (f'(r) = ∂φ/∂a at p = 1, q = 1/r; e.g. ``"kl"`` gives
    log r + 1 at any ℓ); a user generator without ``f_prime`` uses its f by central differences.
    f' is the reward-shaping map of f-DPO and the policy-gradient signal of f-DPG. Numerics: see
    the module docstring.

    >>> import torch
    >>> from divergences.torch import f_prime
    >>> f_prime(torch.tensor([0.0, 1.0]), "kl")   # log r + 1
    tensor([1., 2.])
    >>> f_prime(torch.tensor([0.0, 1.0]), "reverse_kl")   # −1/r
    tensor([-1.0000, -0.3679])
    """
    clip = check_clip(clip)
    gen = f_generator(divergence)
    ell = as_tensor(log_ratio, "log_ratio")
    dtype = out_dtype(ell)
    value = tangent_extended(lambda x: gen.dphi(torch.zeros_like(x), -x)[0], ell.to(torch.float64))
    return finish(value, dtype, clip)


@keywords_checked(options=False)
def f_weight(log_ratio: Any, divergence: DivergenceLike = "kl", *, clip: float | None = DEFAULT_CLIP) -> torch.Tensor:
    r"""The f-distill weight r² f''(r) at r = exp(``log_ratio``), for any f-divergence.

    ``log_ratio`` is log p − log q. In the registry's scale: reverse KL 1, KL r, Jeffreys 1 + r,
    JS(β) β(1−β) r/(βr + 1 − β) (½·r/(1+r) at β = ½), Hellinger ¼√r, Neyman 2/r, Pearson 2r²,
    α-divergence r^α. A user generator without ``f_second`` uses central differences of f.
    Numerics: r is formed in float64 from ℓ clamped to ±:data:`LOG_RATIO_LIMIT`; results clipped
    to ±``clip``.

    >>> import torch
    >>> from divergences.torch import f_weight
    >>> f_weight(torch.tensor([0.0, 2.0]), "kl")   # r
    tensor([1.0000, 7.3891])
    >>> f_weight(torch.tensor([0.0, 2.0]), "reverse_kl")
    tensor([1., 1.])
    """
    clip = check_clip(clip)
    gen = f_generator(divergence)
    ell = as_tensor(log_ratio, "log_ratio")
    dtype = out_dtype(ell)
    value = tangent_extended(lambda x: gen.weight(torch.exp(x)), ell.to(torch.float64))
    return finish(value, dtype, clip)


# ---------------------------------------------------------------------------------------------
# SequenceMatch
# ---------------------------------------------------------------------------------------------


def sequence_match_chi2(
    logp: Any,
    logq: Any,
    *,
    samples_from: str | None = None,
    control_variate: bool = True,
    dim: int = -1,
    clip: float | None = DEFAULT_CLIP,
) -> torch.Tensor:
    r"""SequenceMatch's χ²-mixture divergence χ²(P‖M) = Σ (p − m)²/m with M = (P + Q)/2.

    It equals half the triangular discrimination, Σ (p − q)²/(p + q) / 2 ∈ [0, 1]; P is the data
    (expert) distribution, Q the model. Read from the registry's ``"triangular"`` generator:

    * ``samples_from=None``: ``logp``, ``logq`` are full log-distributions along ``dim`` (e.g.
      log-softmax over a vocabulary); returns the exact value per row, stable in log space;
    * ``samples_from="p"`` or ``"q"``: per-sample unbiased estimates from items drawn from P (the
      data) or from Q (the model), as :func:`sampled_divergence` (f'(1) = 0 here, so the control
      variate changes nothing).

    >>> import torch
    >>> from divergences.torch import sequence_match_chi2
    >>> p, q = torch.tensor([0.5, 0.5]), torch.tensor([0.9, 0.1])
    >>> sequence_match_chi2(p.log(), q.log())
    tensor(0.1905)
    """
    if samples_from is not None:
        half = sampled_divergence(
            logp, logq, "triangular", samples_from=samples_from, control_variate=control_variate, clip=None,
        )
        return finish(0.5 * half, half.dtype, check_clip(clip))
    clip = check_clip(clip)
    a, b, dtype = pair(logp, logq, ("logp", "logq"))
    a, b = torch.broadcast_tensors(a, b)
    if a.ndim == 0:
        raise ValueError("logp must have a category dimension when samples_from is None")
    if isinstance(dim, bool) or not isinstance(dim, int) or not -a.ndim <= dim < a.ndim:
        raise ValueError(f"dim must be an axis of logp (an integer in [{-a.ndim}, {a.ndim})), got {dim!r}")
    terms = spec("triangular").term().phi(a, b)
    return finish(0.5 * terms.sum(dim=dim), dtype, clip)


# ---------------------------------------------------------------------------------------------
# bias-corrected KL for samples from an older (or another) policy
# ---------------------------------------------------------------------------------------------


def importance_weighted_kl(
    logprobs: Any,
    ref_logprobs: Any,
    sampling_logprobs: Any,
    estimator: str = "k3",
    *,
    clip: float | None = DEFAULT_CLIP,
) -> torch.Tensor:
    r"""Per-token estimates of KL(π_θ‖π_ref) from tokens sampled from another policy π_old (bias-corrected).

    PPO/GRPO reuse one batch of samples for several updates, and the sampler (vLLM, an older copy of
    the weights) is not π_θ: the k1/k3 estimators of :func:`kl_penalty` are then biased. With the importance
    ratio ρ = π_θ(x)/π_old(x) = exp(``logprobs − sampling_logprobs``), for x ~ π_old:

    .. math:: \widehat{KL} = \rho\,k(x), \qquad E_{\pi_{old}}[\rho\,k] = E_{\pi_\theta}[k] = \mathrm{KL}(\pi_\theta\|\pi_{ref})

    for ``estimator="k1"`` (k = log π_θ − log π_ref) and ``"k3"`` (k = e^{−k1} − 1 + k1, every value ≥ 0);
    ``"k2"`` (½k1², biased) is accepted for completeness. ρ carries the gradient through ``logprobs``, and
    then the *gradient* is unbiased too: Σ_x π_old ∇(ρ k3) = ∇ Σ_x π_θ k3 = ∇KL(π_θ‖π_ref), because
    Σ_x π_θ (π_ref/π_θ − 1) = 0 for every θ — unlike the plain k3 of the loss, whose on-policy gradient is
    that of the *forward* KL(π_ref‖π_θ). ``sampling_logprobs`` are constants (detached).

    Mapping: this is the "unbiased KL estimate" of DeepSeek-V3.2's GRPO and TRL's
    ``GRPOConfig(use_bias_correction_kl=True)`` (``per_token_kl * coef_1``, k3 times the token-level ratio to
    the old policy); verl and OpenRLHF compute k3 on the old samples without the ratio. Numerics: as
    :func:`kl_penalty` (float64, ρ formed with the log-ratio limited to ±:data:`LOG_RATIO_LIMIT`, then values
    clipped to ±``clip``).

    >>> import torch
    >>> from divergences.torch import importance_weighted_kl, kl_penalty
    >>> lp, ref = torch.tensor([-1.0, -2.0]), torch.tensor([-1.5, -1.0])
    >>> torch.allclose(importance_weighted_kl(lp, ref, lp), kl_penalty(lp, ref, "k3"))  # on-policy: ρ = 1
    True
    >>> importance_weighted_kl(lp, ref, lp - 0.5, "k1")   # ρ = e^0.5
    tensor([ 0.8244, -1.6487])
    """
    if estimator not in ("k1", "k2", "k3"):
        raise ValueError(f"estimator must be 'k1', 'k2' or 'k3', got {estimator!r}")
    clip = check_clip(clip)
    lp, ref, dtype = pair(logprobs, ref_logprobs, ("logprobs", "ref_logprobs"))
    old = as_tensor(sampling_logprobs, "sampling_logprobs")
    try:
        torch.broadcast_shapes(lp.shape, old.shape)
    except RuntimeError:
        raise ValueError(f"sampling_logprobs with shape {tuple(old.shape)} must broadcast with logprobs "
                         f"{tuple(lp.shape)}") from None
    if old.dtype == torch.float64:
        dtype = torch.float64
    old = old.detach().to(torch.float64)
    rho = tangent_extended(torch.exp, lp - old)
    k = kl_penalty(lp, ref, estimator, clip=None).to(torch.float64)
    return finish(rho * k, dtype, clip)
