r"""Preference losses from any f-divergence of the registry: f-DPO and D2O.

Conventions: sequence log-probabilities (summed over tokens) in, one loss out (``reduction``
``"mean"``, ``"sum"`` or ``"none"``). The implicit reward's log-ratio is
u = log π_θ(y) − log π_ref(y). Divergences follow the registry with **P = π_ref and Q = π_θ**
(as in :mod:`divergences.torch.rl`): the regulariser of f-DPO is D_f(π_ref‖π_θ) =
Σ π_θ f(π_ref/π_θ), so ``"reverse_kl"`` (f(t) = −log t) is KL(π_θ‖π_ref), the constraint of
RLHF and DPO. Scores are formed in float64 and the losses returned in the inputs' compute dtype;
the clamps are those of :mod:`divergences.torch.rl` (tangent continuation beyond |u| = 300,
scores clipped to ±``clip``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from ..core.divergence import DivergenceLike
from ._keywords import keywords_checked
from ._log_ratio import DEFAULT_CLIP, as_tensor, check_clip, f_generator, finish, out_dtype, tangent_extended

__all__ = ["d2o_loss", "f_dpo_loss", "f_dpo_score"]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_coefficient(value: float, name: str, *, positive: bool = False) -> float:
    """A finite real number (> 0 with ``positive``, else ≥ 0), naming the argument."""
    if isinstance(value, (bool, str)) or not hasattr(value, "__float__"):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError, RuntimeError):  # e.g. a tensor of several entries
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if positive and v <= 0:
        raise ValueError(f"{name} must be positive, got {value!r} (β ≤ 0 drops the regulariser or reverses the "
                         "preference)")
    if not positive and v < 0:
        raise ValueError(f"{name} must be ≥ 0, got {value!r}")
    return v


def _log_ratios(names: tuple[str, ...], *tensors: Any) -> tuple[list[torch.Tensor], torch.dtype]:
    ts = [as_tensor(t, n, log_prob=True) for t, n in zip(tensors, names)]
    try:
        torch.broadcast_shapes(*(t.shape for t in ts))
    except RuntimeError:
        shapes = ", ".join(f"{n} {tuple(t.shape)}" for n, t in zip(names, ts))
        raise ValueError(f"shapes do not broadcast: {shapes}") from None
    return [t.to(torch.float64) for t in ts], out_dtype(*ts)


@keywords_checked(options=False)
def f_dpo_score(log_ratio: Any, divergence: DivergenceLike = "reverse_kl", *, clip: float | None = DEFAULT_CLIP
                ) -> torch.Tensor:
    r"""The f-DPO reward map S(u), u = log π_θ(y)/π_ref(y), derived from the generator's f'.

    With the regulariser D_f(π_ref‖π_θ) = E_{π_ref}[g(π_θ/π_ref)], g(v) = v f(1/v) (the f-DPO
    paper's generator, applied to v = π_θ/π_ref), the optimal policy satisfies
    β g'(π_θ/π_ref) = reward − const, so S(u) = g'(e^u) = f(e^{−u}) − e^{−u} f'(e^{−u}), which is
    ∂φ/∂b of the registry's pointwise term at (log p, log q) = (−u, 0). Constants cancel in the
    loss. Closed forms (registry scale):

    ======================  ==========================  ===========================================
    divergence              S(u) (+ const)              f-DPO paper / TRL ``f_divergence_type``
    ======================  ==========================  ===========================================
    ``"reverse_kl"``        u                           reverse KL: DPO
    ``"kl"``                −e^{−u}                     forward KL
    ``"js"`` (β = ½)        ½ log σ(u)                  JS: TRL's ``log σ(u)`` is twice ours
    ``"alpha"`` (α)         −e^{−αu}/α                  the paper's α; TRL's coef c ↔ α = 1 − c
    ``"jeffreys"``          u − e^{−u}
    ``"pearson"``           −e^{−2u}
    ``"neyman"``            2 e^{u}
    ``"hellinger"``         −½ e^{−u/2}
    ======================  ==========================  ===========================================

    >>> import torch
    >>> from divergences.torch.preference import f_dpo_score
    >>> u = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64)
    >>> f_dpo_score(u, "reverse_kl") - 1   # u
    tensor([-1.,  0.,  1.], dtype=torch.float64)
    >>> f_dpo_score(u, "kl")   # −e^{−u}
    tensor([-2.7183, -1.0000, -0.3679], dtype=torch.float64)
    """
    clip = check_clip(clip)
    gen = f_generator(divergence)
    u = as_tensor(log_ratio, "log_ratio")
    dtype = out_dtype(u)
    score = tangent_extended(lambda x: gen.dphi(-x, torch.zeros_like(x))[1], u.to(torch.float64))
    return finish(score, dtype, clip)


@keywords_checked(options=False)
def f_dpo_loss(
    chosen_logps: Any,
    rejected_logps: Any,
    ref_chosen_logps: Any,
    ref_rejected_logps: Any,
    *,
    beta: float = 0.1,
    divergence: DivergenceLike = "reverse_kl",
    reduction: str = "mean",
    clip: float | None = DEFAULT_CLIP,
) -> torch.Tensor:
    r"""f-DPO: −log σ(β [S(u_w) − S(u_l)]), S from the generator's f' (:func:`f_dpo_score`).

    u_w = ``chosen_logps − ref_chosen_logps`` and u_l = ``rejected_logps − ref_rejected_logps``
    (sequence log-probabilities). ``divergence`` is a registered name, a ``dv.spec(...)`` value carrying
    its parameters, a :class:`~divergences.core.terms.Generator` or a callable f(t); user-registered
    generators work (S is then formed from f and a numerical f'). ``"reverse_kl"`` reproduces the DPO loss
    exactly, at every u. β is the weight of the regulariser D_f(π_ref‖π_θ) in the registry's
    scale, so for the JS divergence (β_JS = ½, bounded by log 2) TRL's ``js_divergence`` at β is
    ours at 2β. ``beta`` is DPO's; the divergence's own parameters travel inside it, so JS's mixture weight
    is ``divergence=dv.spec("js", beta=0.3)`` beside DPO's ``beta=0.1``.

    **α convention.** ``divergence=dv.spec("alpha", alpha=α)`` is the registry's Amari α-divergence
    D_α(π_ref‖π_θ); as a function of v = π_θ/π_ref it is the f-DPO paper's
    f(v) = (v^{1−α} − (1−α)v − α)/(α(α−1)) with the *same* α, so S(u) = −e^{−αu}/α. α → 0 is
    reverse KL (DPO), α → 1 forward KL. TRL documents ``f_alpha_divergence_coef`` c as "the α in
    the u^−α regulariser" (the paper's α, ours), but its code computes the scores
    e^{(c−1)u}/(c−1), i.e. our α = 1 − c, and falls back to DPO at c = 1 (our α = 0). Earlier TRL
    versions computed (e^{−c u_l} − e^{−c u_w})/c, which is our α = c. The two coincide at the
    default c = ½. TRL also clamps the exponent (c − 1)u at 80 (11 in float16); we do not.

    Refused (ValueError naming the argument): β ≤ 0 or not finite (β = 0 is a constant loss, β < 0 reverses
    the preference), NaN or +inf log-probabilities, a divergence that is 0 everywhere (``JensenShannon(beta=0)``).

    >>> import torch
    >>> from divergences.torch import f_dpo_loss
    >>> cw, rw = torch.tensor([-10.0]), torch.tensor([-12.0])
    >>> ref_cw, ref_rw = torch.tensor([-11.0]), torch.tensor([-11.0])
    >>> f_dpo_loss(cw, rw, ref_cw, ref_rw, beta=0.5)   # DPO: −log σ(0.5·(1 − (−1)))
    tensor(0.3133)
    >>> import divergences as dv
    >>> f_dpo_loss(cw, rw, ref_cw, ref_rw, beta=0.5, divergence=dv.spec("alpha", alpha=0.5))
    tensor(0.3021)
    """
    _check_reduction(reduction)
    beta = _check_coefficient(beta, "beta", positive=True)
    (cw, rl, rcw, rrl), dtype = _log_ratios(
        ("chosen_logps", "rejected_logps", "ref_chosen_logps", "ref_rejected_logps"),
        chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps,
    )
    s_w = f_dpo_score(cw - rcw, divergence, clip=clip)
    s_l = f_dpo_score(rl - rrl, divergence, clip=clip)
    loss = -F.logsigmoid(beta * (s_w - s_l))
    return _reduce(loss, reduction).to(dtype)


@keywords_checked(options=False)
def d2o_loss(
    negative_logps: Any,
    ref_negative_logps: Any,
    sample_logps: Any,
    ref_sample_logps: Any,
    *,
    beta: float = 0.1,
    alpha: float = 0.1,
    reduction: str = "mean",
) -> torch.Tensor:
    r"""D2O (distributional dispreference optimisation) from negatives only.

    loss = −log σ( (β/K) Σ_i log(π_θ(y_i)/π_ref(y_i)) − α log(π_θ(y_l)/π_ref(y_l)) )

    with y_l the human-labelled negative (``negative_logps``, ``ref_negative_logps``: shape
    ``(...)``) and y_1..y_K responses self-sampled from the reference policy (``sample_logps``,
    ``ref_sample_logps``: shape ``(..., K)``, K on the last dimension). As in the D2O paper α
    multiplies the negative's log-ratio directly (not β·α); the two references may differ
    (D2O uses one for the samples and one for the negative). The averaged samples act as the
    positive distribution, which gives D2O its implicit Jeffreys-type regularisation toward the
    reference. Log-ratios enter linearly, so ±100 in float32 is safe. β must be positive and α ≥ 0 (finite);
    NaN or +inf log-probabilities are refused, naming the argument.

    >>> import torch
    >>> from divergences.torch import d2o_loss
    >>> neg, ref_neg = torch.tensor([-20.0]), torch.tensor([-18.0])
    >>> samples, ref_samples = torch.tensor([[-9.0, -11.0]]), torch.tensor([[-10.0, -10.0]])
    >>> d2o_loss(neg, ref_neg, samples, ref_samples, beta=0.1, alpha=0.1)   # −log σ(0 + 0.2)
    tensor(0.5981)
    """
    _check_reduction(reduction)
    beta = _check_coefficient(beta, "beta", positive=True)
    alpha = _check_coefficient(alpha, "alpha")
    neg = as_tensor(negative_logps, "negative_logps", log_prob=True)
    samples = as_tensor(sample_logps, "sample_logps", log_prob=True)
    if samples.ndim == 0 or samples.shape[-1] == 0:
        raise ValueError(f"sample_logps must have K ≥ 1 samples on its last dimension, got shape {tuple(samples.shape)}")
    (n, rn), dtype_n = _log_ratios(("negative_logps", "ref_negative_logps"), neg, ref_negative_logps)
    (s, rs), dtype_s = _log_ratios(("sample_logps", "ref_sample_logps"), samples, ref_sample_logps)
    sample_term = (s - rs).mean(dim=-1)
    try:
        torch.broadcast_shapes(sample_term.shape, torch.broadcast_shapes(n.shape, rn.shape))
    except RuntimeError:
        raise ValueError(
            f"negative_logps {tuple(n.shape)} must match sample_logps without its last (K) dimension "
            f"{tuple(sample_term.shape)}"
        ) from None
    loss = -F.logsigmoid(beta * sample_term - alpha * (n - rn))
    dtype = torch.float64 if torch.float64 in (dtype_n, dtype_s) else torch.float32
    return _reduce(loss, reduction).to(dtype)
