r"""f-divergence SFT objectives: supervised fine-tuning as implicit-reward learning (Wang et al., 2025).

**The view.** RL fine-tuning maximises :math:`E_{\pi}[r] - \beta\,D_f(\pi_{ref}\|\pi)` with the
regulariser in the registry's direction P = π_ref, Q = π_θ (as f-DPO, :mod:`divergences.torch.preference`):
:math:`D_f(\pi_{ref}\|\pi_\theta) = E_{\pi_{ref}}[g(v)]` with :math:`v = \pi_\theta/\pi_{ref}` and
:math:`g(v) = v f(1/v)`. A policy is optimal for the reward :math:`r_\theta = \beta g'(v_\theta)` (its
*implicit reward*, f-DPO's score S(u) = g'(e^u), u = log v). Learning that reward from demonstrations
(maximise the data's reward minus the best value the reward allows) gives, per context,

.. math::  \mathcal{L}_f(\theta) = \beta\Big(-E_{y\sim\text{data}}\big[g'(v_y)\big]
           + E_{v\sim\pi_{ref}}\big[g^*(g'(v))\big]\Big)
           = \beta\Big(-S(u_y) - \sum_v \pi_{ref}(v)\, f'\big(\pi_{ref}(v)/\pi_\theta(v)\big)\Big),

using :math:`g^*(g'(v)) = v g'(v) - g(v) = -f'(1/v)`. It is the negative f-GAN lower bound of
:math:`D_g(\text{data}\|\pi_{ref})` with the critic parametrised by the policy, so it is minimised at
π_θ = the data distribution, where it equals :math:`-\beta D_f(\pi_{ref}\|\text{data})`.

**SFT is the KL case, and its KL term is constant.** For ``"reverse_kl"`` (f(t) = −log t, i.e. DPO's
KL(π_θ‖π_ref)): S(u) = u + 1 and :math:`-\sum_v \pi_{ref} f'(\pi_{ref}/\pi_\theta) = \sum_v \pi_\theta = 1`,
so :math:`\mathcal{L} = \beta(-\log\pi_\theta(y) + \log\pi_{ref}(y))`: the negative log-likelihood plus a
constant. The second term (the regulariser's trace) does not depend on θ: SFT does not constrain how far
π_θ moves from π_ref (the paper's observation; its remedy for plain SFT is a smaller learning rate, which
``beta`` < 1 is). Every other generator keeps that term active, e.g. ``"kl"`` (f = t log t):
:math:`-\sum_v \pi_{ref}(\log(\pi_{ref}/\pi_\theta) + 1) = -KL(\pi_{ref}\|\pi_\theta) - 1`, with the
data term :math:`\pi_{ref}(y)/\pi_\theta(y)`; their sum is still minimised at the data distribution.

**Computation.** Token level, as SFT is: the logits of the policy and of the frozen reference at each
position, the target token ``labels`` (already shifted, as in :func:`~divergences.torch.divergence_loss`).
The vocabulary sum runs on the chunk engine (the term −∂φ/∂a of the registry's pointwise term; no
(tokens × vocab) intermediate beyond a chunk; autograd within each chunk); the data term is f-DPO's
score :func:`~divergences.torch.preference.f_dpo_score` at u = log π_θ(y) − log π_ref(y) (float64,
with its documented clamps). The reference receives no gradient.

The paper (arXiv 2507.00018) states the objectives per generator; this module derives them from the
registry's generator once, so every f-divergence (and a user's generator) has its SFT objective.
"""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np
import torch

from ...core.divergence import DivergenceLike
from ...core.terms import Generator, Pointwise
from ...core.validation import check_real
from ..losses import divergence_loss
from ..options import DistillOptions
from ..preference import f_dpo_score
from ..rl import DEFAULT_CLIP
from ._checks import f_generator, logits
from ._checks import reduction as check_reduction

__all__ = ["f_sft_loss"]

Tensor = torch.Tensor


class _RewardTrace(Pointwise):
    r"""−∂φ/∂a(a, b) = −p f′(p/q): the vocabulary term of the f-SFT objective (a = log π_ref,
    b = log π_θ). Homogeneous of degree 1 (as φ); at q = 0 it is −p·f′(∞) = −p·lim f(t)/t (the
    generator's own boundary value, negated); at p = 0 it is probed from the formula."""

    degree = 1.0
    value_p_zero = None
    value_q_zero = None
    is_divergence = False

    def __init__(self, gen: Generator) -> None:
        self.gen = gen
        self.value_q_zero = -float(gen.phi(np.asarray(0.0), np.asarray(-np.inf)))  # −φ(1, 0)
        self.name = f"f_sft_trace({gen.name})"

    def _phi(self, a, b, xp):
        return -self.gen.dphi(a, b)[0]


def _label_logprob(logits: Tensor, index: Tensor) -> Tensor:
    """log softmax(logits)[index] without a (tokens × vocab) log-softmax in the forward pass."""
    return logits.gather(-1, index).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def _reduce(per_token: Tensor, kept: Tensor, reduction: str, num_items_in_batch: Any, lead: tuple) -> Tensor:
    if reduction == "none":
        return per_token.reshape(lead)
    total = per_token.sum()
    if reduction == "sum":
        return total
    count = kept.sum() if num_items_in_batch is None else torch.as_tensor(num_items_in_batch)
    count = count.to(total.device, total.dtype)
    return total / count.clamp_min(1)


def f_sft_loss(
    policy_logits: Tensor,
    ref_logits: Tensor,
    labels: Tensor,
    divergence: DivergenceLike = "reverse_kl",
    *,
    beta: float = 1.0,
    ignore_index: int = -100,
    mask: Tensor | None = None,
    weights: Tensor | None = None,
    reduction: str = "mean",
    num_items_in_batch: Any = None,
    chunk_size: int | None = None,
    clip: float | None = DEFAULT_CLIP,
    **params: NoReturn,
) -> Tensor:
    r"""The f-divergence SFT objective of every registry generator (module docstring for the derivation).

    Per kept token i with target y_i, u_i = log π_θ(y_i) − log π_ref(y_i):

    .. math::  \ell_i = \beta\Big(-S(u_i) - \sum_v \pi_{ref}(v)\,f'\big(\pi_{ref}(v)/\pi_\theta(v)\big)\Big),

    S = :func:`~divergences.torch.preference.f_dpo_score` (S(u) = f(e^{−u}) − e^{−u} f′(e^{−u})).
    ``"reverse_kl"`` (the default) is SFT: ℓ = β(−log π_θ(y) + log π_ref(y)), the cross-entropy plus a
    constant (its gradient is exactly ``F.cross_entropy``'s). Closed forms (registry scale), data term
    −S(u_y) and trace −Σ π_ref f′(π_ref/π_θ): ``"kl"`` π_ref(y)/π_θ(y) and −KL(π_ref‖π_θ) − 1;
    ``"pearson"`` (π_ref(y)/π_θ(y))² and −2(Σ π_ref²/π_θ − 1); any other generator from its f and f′.

    Peers: TRL's ``SFTTrainer`` loss is the ``"reverse_kl"`` case minus the constant log π_ref(y) term
    (TRL does not need the reference); there is no peer implementation of the other generators (the
    paper's repository was not available to compare with).

    >>> import torch
    >>> from divergences.torch import f_sft_loss
    >>> z = torch.randn(3, 5, dtype=torch.float64); r = torch.randn(3, 5, dtype=torch.float64)
    >>> y = torch.tensor([0, 4, 2])
    >>> nll = torch.nn.functional.cross_entropy(z, y)
    >>> ref = -torch.nn.functional.cross_entropy(r, y)
    >>> bool(torch.isclose(f_sft_loss(z, r, y), nll + ref))   # SFT plus a constant
    True

    :param policy_logits: (..., V) logits of the model being trained (float16/bfloat16 computed in float32).
    :param ref_logits: (..., V) logits of the frozen reference model at the same positions (no gradient).
    :param labels: (...) integer targets, already shifted; ``ignore_index`` drops a token.
    :param divergence: an f-divergence: a registered name, a ``dv.spec(...)`` value carrying its
        parameters (``dv.spec("alpha", alpha=0.5)``), a generator object or a callable f(t) — f-DPO's
        convention: the regulariser is D_f(π_ref‖π_θ), so ``"reverse_kl"`` is KL(π_θ‖π_ref).
    :param beta: the regulariser's weight β > 0 (the implicit reward is β·S); it scales the loss. It is
        the loss's own parameter: JS's mixture weight goes inside the spec, ``dv.spec("js", beta=0.3)``.
    :param ignore_index: the label value of dropped tokens.
    :param mask: (...) boolean, True = keep (and-ed with the labels' ignore mask).
    :param weights: (...) per-token multipliers (constants).
    :param reduction: ``"mean"`` (over kept tokens, or divided by ``num_items_in_batch``), ``"sum"`` or
        ``"none"`` (per token, 0 at dropped tokens).
    :param num_items_in_batch: the token count to divide by under ``"mean"`` (gradient accumulation).
    :param chunk_size: rows per chunk of the vocabulary sum (None: the engine's choice).
    :param clip: bound on the data term's score (f-DPO's clamps; ``None`` for none).
    :param params: none: a divergence parameter given here (``alpha=0.5``) is a TypeError saying to
        put it in ``dv.spec(...)``.
    :returns: the loss: a 0-d tensor, or per token (shape ``labels.shape``) with ``reduction="none"``.
    :raises ValueError: naming the argument: logits that are not floating, NaN, +inf or all −inf along
        a row, shapes that differ, labels out of range or not integers, β ≤ 0, an unknown reduction, a
        divergence that is not an f-divergence.
    :raises TypeError: for a divergence parameter given beside the divergence.
    """
    if params:
        raise TypeError(f"f_sft_loss takes the divergence's parameters inside dv.spec(...), e.g. "
                        f"divergence=dv.spec('alpha', alpha=0.5), not {sorted(params)} beside it (beta is the "
                        f"loss's weight)")
    check_reduction(reduction)
    beta = check_real(beta, "beta", low=0.0, low_open=True)
    gen = f_generator(divergence)  # a ValueError naming the f-divergences otherwise
    logits(policy_logits, "policy_logits")
    logits(ref_logits, "ref_logits")
    if policy_logits.shape != ref_logits.shape:
        raise ValueError(f"ref_logits must have the shape {tuple(policy_logits.shape)} of policy_logits, "
                         f"got {tuple(ref_logits.shape)}")
    lead = tuple(policy_logits.shape[:-1])
    vocab = policy_logits.shape[-1]
    if not isinstance(labels, torch.Tensor) or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError("labels must be an integer tensor of target token ids")
    if tuple(labels.shape) != lead:
        raise ValueError(f"labels must have the leading shape {lead} of policy_logits, got {tuple(labels.shape)}")

    keep = labels != ignore_index
    if mask is not None:
        if tuple(mask.shape) != lead:
            raise ValueError(f"mask must have the leading shape {lead}, got {tuple(mask.shape)}")
        keep = keep & mask.to(torch.bool)
    bad = keep & ((labels < 0) | (labels >= vocab))
    if bool(bad.any()):
        raise ValueError(f"labels must be in [0, {vocab}) or ignore_index={ignore_index}; "
                         f"got {labels[bad][0].item()}")
    # the vocabulary trace (the logits were checked above, not again in the engine), on the chunk engine (0 at dropped tokens)
    trace = divergence_loss(policy_logits, ref_logits.detach(), _RewardTrace(gen), mask=keep,
                            options=DistillOptions(reduction="none", chunk_size=chunk_size, validate=False))
    # the data term: f-DPO's score at the target token
    safe = torch.where(keep, labels, torch.zeros_like(labels)).unsqueeze(-1)
    dtype = trace.dtype
    logp_y = _label_logprob(policy_logits.to(dtype), safe)
    logr_y = _label_logprob(ref_logits.detach().to(dtype), safe)
    score = f_dpo_score(logp_y - logr_y, gen, clip=clip).to(dtype)
    zero = torch.zeros((), dtype=dtype, device=trace.device)
    per_token = beta * torch.where(keep, trace - score, zero)
    if weights is not None:
        if tuple(weights.shape) != lead:
            raise ValueError(f"weights must have the leading shape {lead}, got {tuple(weights.shape)}")
        per_token = per_token * weights.detach().to(dtype)
    return _reduce(per_token, keep, reduction, num_items_in_batch, lead)
