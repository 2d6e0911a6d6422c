r"""Token selection for on-policy distillation: which tokens the loss should look at.

Per-token statistics (no gradient; computed chunk by chunk so they fit at vocabulary scale):

* :func:`token_entropy`: the student's entropy H(softmax(z/T)) per token;
* :func:`token_divergence`: D(teacher ‖ student) per token, for any divergence of the registry.

:func:`select_tokens` turns them into a boolean mask (usable as ``mask=`` of the losses): the
highest- or lowest-entropy tokens by quantile, the highest-divergence tokens, or the quadrant of
low student entropy *and* high teacher–student divergence (confident but wrong tokens).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ..core.divergence import spec
from ._checks import check_logits_tensor, scan_logits
from ._divergence import DivergenceArg
from ._engine import LOCAL, DenseRows, chunk_rows, compute_dtype, plan_tokens, run
from ._kernels import pointwise_terms
from ._keywords import keywords_checked
from .losses import divergence_loss
from .options import DistillOptions, check_options

__all__ = ["select_tokens", "token_divergence", "token_entropy"]

Tensor = torch.Tensor
_STRATEGIES = ("high_entropy", "low_entropy", "high_divergence", "low_entropy_high_divergence")


def token_entropy(logits: Tensor, *, temperature: float = 1.0, chunk_size: int | None = None,
                  validate: bool = True) -> Tensor:
    r"""Entropy :math:`H = -\sum_v p_v \log p_v` of ``softmax(logits / T)`` per token, in nats, detached.

    ``-inf`` logits are masked entries (0·log 0 = 0); NaN, +inf or a row that is all ``-inf`` is a
    ValueError (``validate=False`` skips the check). Returns shape ``logits.shape[:-1]`` in the
    compute dtype (float32, or float64 for float64 input). Runs on the chunk engine (no gradient).

    >>> import torch
    >>> from divergences.torch import token_entropy
    >>> token_entropy(torch.zeros(2, 4))  # uniform over 4: log 4
    tensor([1.3863, 1.3863])
    """
    opts = DistillOptions(temperature=temperature, chunk_size=chunk_size, validate=validate, reduction="none")
    check_logits_tensor(logits, "logits")
    vocab = logits.shape[-1]
    flat = logits.detach().reshape(-1, vocab)
    big = float(torch.finfo(compute_dtype(logits)).max)
    if opts.temperature < 1.0 / big:
        raise ValueError(f"temperature={opts.temperature!r} is so small that 1/T overflows the compute dtype "
                         f"{compute_dtype(logits)}; use T ≥ {1.0 / big:.3g} (or float64 logits)")
    overflow_at = big * opts.temperature / 2 if opts.temperature < 1.0 else None
    masked = scan_logits([("logits", logits)], LOCAL, overflow_at=overflow_at) if opts.validate else True
    term = spec("cross_entropy").term()
    temp = opts.temperature

    def kernel(z: Tensor, _teacher, _need_z: bool, _need_t: bool):
        dtype = torch.float64 if z.dtype == torch.float64 else torch.float32
        zf = z.to(dtype)
        (logp,) = LOCAL.log_softmax(zf, temperature=temp)
        return pointwise_terms(term, logp, logp, False, masked)[0].sum(dim=-1), None, None


    plan = plan_tokens((flat.shape[0],), labels=None, ignore_index=-100, mask=None, weights=None, reduction="none",
                       device=flat.device, dtype=flat.dtype)
    with torch.no_grad():
        out, _ = run(kernel, DenseRows(flat), [], plan, chunk_rows(opts.chunk_size, vocab, flat.device))
    return out.reshape(logits.shape[:-1])


@keywords_checked()
def token_divergence(
    student_logits: Tensor,
    teacher_logits: Tensor,
    divergence: DivergenceArg = "kl",
    *,
    options: DistillOptions | None = None,
) -> Tensor:
    """D(teacher ‖ student) per token, detached (``divergence_loss(..., options=DistillOptions(reduction="none"))`` without gradient).

    :param student_logits: (..., V) the student's logits.
    :param teacher_logits: (..., V) the teacher's logits.
    :param divergence: as :func:`~divergences.torch.divergence_loss` takes it (``dv.spec("js", beta=0.3)``).
    :param options: a :class:`~divergences.torch.DistillOptions` (temperature, chunk size, vocabulary
        mismatch, validation; its ``reduction`` is replaced by ``"none"``).
    :returns: shape ``(...)``, the per-token divergences, without gradient.

    >>> import torch
    >>> from divergences.torch import token_divergence
    >>> z = torch.tensor([[0.0, 0.0], [0.0, 0.0]]); t = torch.tensor([[0.0, 0.0], [0.0, -float("inf")]])
    >>> token_divergence(z, t, "tv").tolist()
    [0.0, 0.5]
    """
    with torch.no_grad():
        return divergence_loss(student_logits.detach(), teacher_logits.detach(), divergence,
                               options=replace(check_options(options), reduction="none"))


def _quantile(x: Tensor, keep: Tensor, q: float, name: str) -> Tensor:
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {q!r}")
    return torch.quantile(x[keep].to(torch.float64), q)


def select_tokens(
    entropy: Tensor | None = None,
    divergence: Tensor | None = None,
    *,
    strategy: str = "high_entropy",
    entropy_quantile: float = 0.8,
    divergence_quantile: float = 0.5,
    mask: Tensor | None = None,
) -> Tensor:
    """A boolean token mask from per-token entropy and/or divergence, by quantile thresholds.

    Quantiles are taken over the tokens where ``mask`` is True (all tokens if None), jointly over the
    batch, with linear interpolation (``torch.quantile``). Strategies:

    * ``"high_entropy"``: entropy ≥ its ``entropy_quantile`` quantile (0.8 keeps the ~20% highest-entropy
      "forking" tokens);
    * ``"low_entropy"``: entropy ≤ its ``entropy_quantile`` quantile;
    * ``"high_divergence"``: divergence ≥ its ``divergence_quantile`` quantile;
    * ``"low_entropy_high_divergence"``: both entropy ≤ its ``entropy_quantile`` quantile and divergence ≥
      its ``divergence_quantile`` quantile (the student is confident and far from the teacher).

    Tokens outside ``mask`` are never selected; with no token in ``mask`` the result is all False.

    >>> import torch
    >>> from divergences.torch import select_tokens
    >>> select_tokens(torch.tensor([0.1, 2.0, 0.5, 3.0]), entropy_quantile=0.5).tolist()
    [False, True, False, True]
    """
    if strategy not in _STRATEGIES:
        raise ValueError(f"strategy must be one of {_STRATEGIES}, got {strategy!r}")
    uses_entropy = strategy != "high_divergence"
    uses_divergence = "divergence" in strategy
    if uses_entropy and entropy is None:
        raise ValueError(f"strategy {strategy!r} needs entropy (see token_entropy)")
    if uses_divergence and divergence is None:
        raise ValueError(f"strategy {strategy!r} needs divergence (see token_divergence)")
    ref = entropy if uses_entropy else divergence
    assert ref is not None  # checked above
    if entropy is not None and divergence is not None and entropy.shape != divergence.shape:
        raise ValueError(f"entropy and divergence must have the same shape, got {tuple(entropy.shape)} "
                         f"and {tuple(divergence.shape)}")
    keep = torch.ones(ref.shape, dtype=torch.bool, device=ref.device)
    if mask is not None:
        mask = torch.as_tensor(mask, device=ref.device)
        if mask.shape != ref.shape:
            raise ValueError(f"mask must have shape {tuple(ref.shape)}, got {tuple(mask.shape)}")
        keep = mask.to(torch.bool)
    if not bool(keep.any()):
        return keep.clone()
    out = keep.clone()
    if uses_entropy and entropy is not None:
        e = entropy.detach()
        threshold = _quantile(e, keep, entropy_quantile, "entropy_quantile").to(e.dtype)
        out &= (e >= threshold) if strategy == "high_entropy" else (e <= threshold)
    if uses_divergence and divergence is not None:
        d = divergence.detach()
        out &= d >= _quantile(d, keep, divergence_quantile, "divergence_quantile").to(d.dtype)
    return out
