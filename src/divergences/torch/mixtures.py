r"""Mixtures of divergences in the token losses: fixed weights (``Σ_k w_k D_k``) and BD-KD's per-token balance.

:func:`mixture` (:mod:`divergences.core.mixture`, re-exported here) returns a pointwise term whose term and
partial derivatives are the weighted sums of its components'; each component keeps its own boundary
rule. It can be passed as ``divergence=`` to every token loss (dense, fused, top-k, vocab-parallel),
with closed-form gradients when every component has them, and to the exact layer on NumPy arrays.

* torchtune's ``SymmetricKLLoss`` (the average of forward and reverse KL) is
  ``mixture({"kl": 0.5, "reverse_kl": 0.5})`` (Jeffreys / 2).
* BD-KD (Amara et al., 2022) weighs forward and reverse KL per sample by the entropy gap between
  student and teacher: :func:`balanced_kl` (a ``divergence=`` for every loss), :func:`balanced_kl_loss`
  (the weight alone: :func:`entropy_gap_weight`); a
  fixed-weight balance is ``mixture({"kl": 1 - w, "reverse_kl": w})`` (the mixture's weights are
  constants).

>>> import torch
>>> from divergences.torch import divergence_loss, mixture
>>> z = torch.randn(4, 7, dtype=torch.float64); t = torch.randn(4, 7, dtype=torch.float64)
>>> sym = divergence_loss(z, t, mixture({"kl": 0.5, "reverse_kl": 0.5}))
>>> bool(torch.isclose(sym, 0.5 * divergence_loss(z, t, "jeffreys")))
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ..core.divergence import spec
from ..core.mixture import Mixture, mixture
from ..core.validation import check_real
from ._divergence import RowDivergence
from ._engine import Comm
from ._keywords import keywords_checked
from .options import DistillOptions, LossKeywords

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["BalancedKL", "Mixture", "balanced_kl", "balanced_kl_loss", "entropy_gap_weight", "mixture"]


_GATES = ("student_more_uncertain", "student_more_confident")


def _check_gate(sharpness: float | None, reverse_when: str) -> float | None:
    if reverse_when not in _GATES:
        raise ValueError(f"reverse_when must be one of {_GATES}, got {reverse_when!r}")
    return None if sharpness is None else check_real(sharpness, "sharpness", low=0.0, low_open=True)


def _gate(gap: torch.Tensor, sharpness: float | None, reverse_when: str) -> torch.Tensor:
    """The weight of the reverse KL from the (detached) entropy gap H(student) − H(teacher)."""
    if reverse_when == "student_more_confident":
        gap = -gap
    if sharpness is None:
        return (torch.sign(gap) + 1) / 2
    return torch.sigmoid(sharpness * gap)


class BalancedKL(RowDivergence):
    r"""BD-KD's per-token balance (1 − w)·KL(p‖q) + w·KL(q‖p), w from the entropy gap (built by
    :func:`balanced_kl`). One pass: the two entropies and the two KL sums are four row sums of the same
    chunk (one all-reduce of four floats per token on a sharded vocabulary)."""

    def __init__(self, sharpness: float | None = None, reverse_when: str = "student_more_uncertain") -> None:
        self.sharpness = _check_gate(sharpness, reverse_when)
        self.reverse_when = reverse_when
        self.name = f"balanced_kl(sharpness={self.sharpness}, reverse_when={reverse_when!r})"
        self._kl = spec("kl").term()
        self._rkl = spec("reverse_kl").term()
        self._ce = spec("cross_entropy").term()  # the entropy is the cross-entropy of p with itself

    def __repr__(self) -> str:
        return self.name

    def rows(self, a: torch.Tensor, b: torch.Tensor, comm: Comm) -> torch.Tensor:
        h_t, h_s, fwd, rev = comm.row_sums(self._ce.phi(a, a), self._ce.phi(b, b),
                                           self._kl.phi(a, b), self._rkl.phi(a, b))
        w = _gate((h_s - h_t).detach(), self.sharpness, self.reverse_when)
        return (1 - w) * fwd + w * rev

    def rows_dphi(self, a: torch.Tensor, b: torch.Tensor, comm: Comm, masked: bool):
        """The rows and their log-space partials in closed form (the gate is a constant)."""
        from ._kernels import pointwise_terms

        t_f, da_f, db_f = pointwise_terms(self._kl, a, b, True, masked)
        t_r, da_r, db_r = pointwise_terms(self._rkl, a, b, True, masked)
        h_t, h_s, fwd, rev = comm.row_sums(self._ce.phi(a, a), self._ce.phi(b, b), t_f, t_r)
        w = _gate(h_s - h_t, self.sharpness, self.reverse_when)
        wc = w.unsqueeze(-1)
        da = torch.lerp(da_f, da_r, wc)   # (1 − w)·∂KL + w·∂RKL
        db = torch.lerp(db_f, db_r, wc)
        return torch.lerp(fwd, rev, w), da, db


def balanced_kl(sharpness: float | None = None, reverse_when: str = "student_more_uncertain") -> BalancedKL:
    r"""BD-KD's balanced divergence as a ``divergence=`` for every token loss (dense, fused, top-k,
    vocab-parallel, the Hugging Face trainer): per token
    :math:`(1 - w)\,KL(p\|q) + w\,KL(q\|p)`, p = teacher, q = student, with the gate w of
    :func:`entropy_gap_weight` (held constant: no gradient flows through it).

    >>> import torch
    >>> from divergences.torch import balanced_kl, divergence_loss, fused_linear_divergence_loss
    >>> h = torch.randn(6, 16); w = torch.randn(50, 16); t = torch.randn(6, 50)
    >>> a = fused_linear_divergence_loss(h, w, t, balanced_kl(sharpness=2.0))
    >>> b = divergence_loss(h @ w.T, t, balanced_kl(sharpness=2.0))
    >>> bool(torch.isclose(a, b, rtol=1e-5))
    True
    """
    return BalancedKL(sharpness, reverse_when)


def entropy_gap_weight(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    temperature: float = 1.0,
    sharpness: float | None = None,
    reverse_when: str = "student_more_uncertain",
    chunk_size: int | None = None,
    process_group: Any = None,
) -> torch.Tensor:
    r"""BD-KD's per-token weight of the reverse KL, from the entropy gap Δ = H(q) − H(p), detached.

    H(q), H(p) are the entropies (nats) of the student's and the teacher's ``softmax(logits / T)``,
    each computed as the cross-entropy of a distribution with itself on the chunk engine (so a
    vocabulary sharded over ``process_group`` works). With ``reverse_when="student_more_uncertain"``
    (default) the weight is :math:`w = \mathbb{1}[\Delta > 0]` (½ where Δ = 0) or, with
    ``sharpness=κ``, the smooth :math:`w = \sigma(\kappa\Delta)`: a student less confident than its
    teacher is pulled by the mode-seeking reverse KL, an over-confident one by the mass-covering
    forward KL (the "balance of the student's confidence" of BD-KD). ``"student_more_confident"`` flips
    the gate (w computed from −Δ). The paper's own thresholds and constants could not be read from the
    stored sources; this is the rule as its abstract states it, with the direction a parameter.

    Returns shape ``logits.shape[:-1]`` in the compute dtype, no gradient.
    """
    sharpness = _check_gate(sharpness, reverse_when)
    from .losses import divergence_loss

    options = DistillOptions(temperature=temperature, chunk_size=chunk_size, reduction="none")

    def entropy(z: torch.Tensor) -> torch.Tensor:
        z = z.detach()
        return divergence_loss(z, z, "cross_entropy", options=options, process_group=process_group)

    return _gate(entropy(student_logits) - entropy(teacher_logits), sharpness, reverse_when)


@keywords_checked()
def balanced_kl_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, *, sharpness: float | None = None,
                     reverse_when: str = "student_more_uncertain", **keywords: Unpack[LossKeywords]) -> torch.Tensor:
    r"""BD-KD's balanced divergence: per token :math:`(1 - w_i)\,KL(p_i\|q_i) + w_i\,KL(q_i\|p_i)`.

    p = teacher, q = student (``softmax(logits / T)``), :math:`w_i` = :func:`entropy_gap_weight` (a
    constant: no gradient flows through the gate). ``divergence_loss(student_logits, teacher_logits,
    balanced_kl(sharpness, reverse_when), **keywords)``: the keywords (``labels``, ``mask``, ``weights``,
    ``options``, a :class:`~divergences.torch.DistillOptions` with temperature, reduction, hard term, ...,
    ``num_items_in_batch`` and ``process_group``) are those of :func:`~divergences.torch.divergence_loss`. One pass over the vocabulary (the entropies and both KL sums together),
    gradients in closed form (the top-k path: by autograd on its k + 1 buckets). A constant ``w`` is ``mixture({"kl": 1 - w, "reverse_kl": w})``;
    torchtune's ``SymmetricKLLoss`` is w = ½.

    >>> import torch
    >>> from divergences.torch import balanced_kl_loss, divergence_loss
    >>> t = torch.tensor([[4.0, 0.0, 0.0]]); s = torch.zeros(1, 3)   # student more uncertain
    >>> bool(torch.isclose(balanced_kl_loss(s, t), divergence_loss(s, t, "reverse_kl")))
    True
    """
    from .losses import divergence_loss

    return divergence_loss(student_logits, teacher_logits, balanced_kl(sharpness, reverse_when), **keywords)
