r"""A weighted mixture of registry divergences, computed in one pass: ``Σ_k w_k D_k``.

:func:`mixture` returns a pointwise term (a :class:`~divergences.generators.Pointwise`) whose term and
partial derivatives are the weighted sums of its components'; each component keeps its own boundary
rule. It can be passed as ``divergence=`` to every token loss (dense, fused, top-k, vocab-parallel),
with closed-form gradients when every component has them.

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

import math
from collections.abc import Mapping
from typing import Any

import torch

from .. import registry
from ..core.validation import check_real
from ..generators import Pointwise
from ._divergence import RowDivergence

__all__ = ["BalancedKL", "Mixture", "balanced_kl", "balanced_kl_loss", "entropy_gap_weight", "mixture"]


class Mixture(Pointwise):
    """Σ_k w_k φ_k(a, b): the weighted sum of pointwise terms (built by :func:`mixture`)."""

    def __init__(self, components: list[tuple[float, Pointwise]]) -> None:
        self.components = components
        self.name = "mixture(" + ", ".join(f"{w:g}·{getattr(g, 'name', 'custom')}" for w, g in components) + ")"
        self.symmetric = all(g.symmetric for _, g in components)
        self.value_p_zero = sum(w * g.value_p_zero for w, g in components if w)
        self.value_q_zero = sum(w * g.value_q_zero for w, g in components if w)

    def __repr__(self) -> str:
        return self.name

    @property
    def has_closed_form_gradient(self) -> bool:
        return all(g.has_closed_form_gradient for _, g in self.components)

    def _phi(self, a, b, xp):
        return sum(w * g._phi(a, b, xp) for w, g in self.components)

    def _dphi(self, a, b, xp):
        parts = [(w, g._dphi(a, b, xp)) for w, g in self.components]
        return sum(w * d[0] for w, d in parts), sum(w * d[1] for w, d in parts)

    def _phi_dphi(self, a, b, xp):
        out = [(w, g._phi_dphi(a, b, xp)) for w, g in self.components]
        return tuple(sum(w * r[i] for w, r in out) for i in range(3))

    def phi(self, a, b):
        return sum(w * g.phi(a, b) for w, g in self.components)

    def dphi(self, a, b):
        parts = [(w, g.dphi(a, b)) for w, g in self.components]
        return sum(w * d[0] for w, d in parts), sum(w * d[1] for w, d in parts)

    def phi_dphi(self, a, b):
        out = [(w, g.phi_dphi(a, b)) for w, g in self.components]
        return tuple(sum(w * r[i] for w, r in out) for i in range(3))


def mixture(components: Mapping[Any, float] | list[tuple[Any, float]]) -> Mixture:
    """The mixture Σ_k w_k D_k of pointwise divergences.

    Args:
        components: ``{name_or_generator: weight}`` or a list of ``(divergence, weight)`` pairs; a
            divergence is a registered pointwise name, a configured generator instance, or a
            ``(name, params)`` pair (``(("js", {"beta": 0.2}), 1.0)``). Weights are finite numbers
            (any sign; a negative weight can make the sum negative).
    """
    items = list(components.items()) if isinstance(components, Mapping) else list(components)
    if not items:
        raise ValueError("mixture needs at least one (divergence, weight) component")
    out: list[tuple[float, Pointwise]] = []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2):
            raise ValueError(f"mixture components must be (divergence, weight) pairs, got {item!r}")
        div, w = item
        if isinstance(w, (bool, str)) or not hasattr(w, "__float__") or not math.isfinite(float(w)):
            raise ValueError(f"mixture weight of {div!r} must be a finite number, got {w!r}")
        if isinstance(div, tuple) and len(div) == 2 and isinstance(div[0], str):
            gen = registry.get_generator(div[0], **dict(div[1]))
        else:
            if isinstance(div, str) and registry.get(div).kind == "function":
                raise ValueError(f"mixture components must be pointwise divergences; {div!r} is a registry function")
            gen = registry.get_generator(div)
        out.append((float(w), gen))
    return Mixture(out)


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
        self._kl = registry.get_generator("kl")
        self._rkl = registry.get_generator("reverse_kl")
        self._ce = registry.get_generator("cross_entropy")  # the entropy is the cross-entropy of p with itself

    def __repr__(self) -> str:
        return self.name

    def rows(self, a: torch.Tensor, b: torch.Tensor, comm: Any) -> torch.Tensor:
        h_t, h_s, fwd, rev = comm.row_sums(self._ce.phi(a, a), self._ce.phi(b, b),
                                           self._kl.phi(a, b), self._rkl.phi(a, b))
        w = _gate((h_s - h_t).detach(), self.sharpness, self.reverse_when)
        return (1 - w) * fwd + w * rev

    def rows_dphi(self, a: torch.Tensor, b: torch.Tensor, comm: Any, masked: bool):
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

    def entropy(z: torch.Tensor) -> torch.Tensor:
        z = z.detach()
        return divergence_loss(z, z, "cross_entropy", temperature=temperature, reduction="none",
                               chunk_size=chunk_size, process_group=process_group)

    return _gate(entropy(student_logits) - entropy(teacher_logits), sharpness, reverse_when)


def balanced_kl_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    *,
    sharpness: float | None = None,
    reverse_when: str = "student_more_uncertain",
    **loss_options: Any,
) -> torch.Tensor:
    r"""BD-KD's balanced divergence: per token :math:`(1 - w_i)\,KL(p_i\|q_i) + w_i\,KL(q_i\|p_i)`.

    p = teacher, q = student (``softmax(logits / T)``), :math:`w_i` = :func:`entropy_gap_weight` (a
    constant: no gradient flows through the gate). ``divergence_loss(student_logits, teacher_logits,
    balanced_kl(sharpness, reverse_when), **loss_options)``: every option of
    :func:`~divergences.torch.divergence_loss` applies (``temperature``, ``labels``/``ignore_index``/
    ``mask``, per-token ``weights``, ``reduction``, ``num_items_in_batch``, ``process_group``,
    ``hard_weight``, ``options``). One pass over the vocabulary (the entropies and both KL sums together),
    gradients in closed form (the top-k path: by autograd on its k + 1 buckets). A constant ``w`` is ``mixture({"kl": 1 - w, "reverse_kl": w})``;
    torchtune's ``SymmetricKLLoss`` is w = ½.

    >>> import torch
    >>> from divergences.torch import balanced_kl_loss, divergence_loss
    >>> t = torch.tensor([[4.0, 0.0, 0.0]]); s = torch.zeros(1, 3)   # student more uncertain
    >>> bool(torch.isclose(balanced_kl_loss(s, t), divergence_loss(s, t, "reverse_kl")))
    True
    """
    from .losses import divergence_loss

    return divergence_loss(student_logits, teacher_logits, balanced_kl(sharpness, reverse_when), **loss_options)
