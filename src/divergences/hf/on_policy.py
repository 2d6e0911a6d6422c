r"""On-policy distillation: the student samples, the teacher grades every token of the student's own samples.

For prompts x, completions y ~ π_student(·|x) are sampled (:func:`~divergences.hf.sample_completions`), and the
loss is the per-token divergence between the teacher's and the student's next-token distributions along the
student's samples,

.. math:: L = \frac{1}{N}\sum_{t} D\big(\pi_{teacher}(\cdot\mid x, y_{<t})\,\big\|\,\pi_{student}(\cdot\mid x, y_{<t})\big),

reverse KL (``"reverse_kl"`` = KL(student ‖ teacher), mode seeking) by default, any registry divergence
allowed, over the full vocabulary (fused with the LM head, :func:`~divergences.hf.distillation_loss`) or the
teacher's top-k plus a tail bucket (``teacher_top_k``). Training on the student's own samples removes the
train/inference mismatch of distilling on fixed data (exposure bias): Agarwal et al. 2024 (GKD), Gu et al.
2024 (MiniLLM), and the on-policy distillation recipes of 2025 (Qwen3, Thinking Machines), which use the
per-token reverse KL as a dense reward.

``objective="reward"`` is that policy-gradient form: each sampled token gets the advantage
:math:`A_t = -\big(f(r_t) - r_t f'(r_t) + f'(1)\big)` with :math:`r_t = \pi_{teacher}(y_t)/\pi_{student}(y_t)` and
f the registry's generator (detached), and the loss is :math:`-\frac1N\sum_t A_t \log\pi_{student}(y_t)`; its
expected gradient is that of the per-token f-divergence D_f(teacher ‖ student) (for reverse KL,
A_t = log π_teacher(y_t) − log π_student(y_t), the recipe's reward). It needs only the log-probabilities of
the sampled tokens (a served teacher's ``logprobs`` suffice), at the cost of a noisier gradient.

Peers: TRL's ``GKDTrainer`` (``lmbda`` = the share of on-policy batches, ``beta`` the JSD mixture, ``seq_kd``)
and 1.16's ``DistillationTrainer`` (always on-policy, ``beta=1.0`` reverse KL): ``divergence=dv.spec("js",
beta=β)`` here (β = 0: ``"kl"``, β = 1: ``"reverse_kl"``); verl/ms-swift GKD likewise.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import torch

from ..torch.options import DistillOptions
from ..torch.rl import f_prime, sampled_divergence
from ._spec import DivergenceArg, divergence_arg, f_generator, keywords_checked
from .generation import prompts_of
from .loss import TopKTeacher, distillation_loss
from .trainer import DistillationTrainer

__all__ = ["ON_POLICY_OBJECTIVES", "OnPolicyDistillationTrainer", "on_policy_loss", "sampled_token_logprobs"]

Tensor = torch.Tensor

#: the objectives of :func:`on_policy_loss`
ON_POLICY_OBJECTIVES = ("divergence", "reward")


def sampled_token_logprobs(model: Any, batch: Mapping[str, Tensor], *, temperature: float = 1.0) -> Tensor:
    """(B, S − 1) log π(token t + 1 | tokens ≤ t) of the batch's own tokens (0 where labels are -100)."""
    from ..torch.engine import chunked
    from .alignment import _token_logprob_rows  # the chunked gather of one row per token

    logits = model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"), use_cache=False).logits
    z = logits[:, :-1]
    y = batch["input_ids"][:, 1:].to(z.device)
    v = z.shape[-1]
    lp = chunked(lambda a, b: _token_logprob_rows(a, b, float(temperature)), [z.reshape(-1, v), y.reshape(-1)], v,
                 None).reshape(y.shape)
    keep = batch["labels"][:, 1:].to(z.device) != -100
    return torch.where(keep, lp, torch.zeros_like(lp))


def _teacher_topk(teacher: torch.nn.Module, batch: Mapping[str, Tensor], k: int, temperature: float) -> TopKTeacher:
    with torch.no_grad():
        logits = teacher(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"), use_cache=False).logits
        lp, ix = torch.log_softmax(logits.float() / temperature, dim=-1).topk(k, dim=-1)
    return TopKTeacher(lp, ix, temperature)


@keywords_checked(options=False)
def on_policy_loss(
    student: torch.nn.Module,
    teacher: Any,
    batch: Mapping[str, Tensor],
    divergence: DivergenceArg = "reverse_kl",
    *,
    temperature: float = 1.0,
    teacher_top_k: int | None = None,
    objective: str = "divergence",
    num_items_in_batch: Any = None,
) -> Tensor:
    r"""The on-policy distillation loss of a batch of the student's samples (see the module notes).

    Measured without gradient (``torch.no_grad()``), ``objective="divergence"`` with ``"reverse_kl"`` is the
    reverse KL of the two models on the student's samples, the quantity on-policy training lowers.

    :param student: the student, a causal LM.
    :param teacher: a causal LM with the student's vocabulary (or anything
        :func:`~divergences.hf.distillation_loss` accepts, for ``objective="divergence"``).
    :param batch: what :func:`~divergences.hf.sample_completions` returns (``labels`` mark the completion
        tokens).
    :param divergence: D(teacher ‖ student), reverse KL by default: a registered name, a ``dv.spec(...)`` value
        with its parameters (``dv.spec("js", beta=0.9)``), a term or an f callable.
    :param temperature: the temperature of both models' distributions.
    :param teacher_top_k: compare on the teacher's k most likely tokens plus a tail bucket.
    :param objective: ``"divergence"`` (the per-token divergence) or ``"reward"`` (the sampled-token
        policy-gradient form; f-divergences only).
    :param num_items_in_batch: the normaliser (default: the number of completion tokens).
    :returns: the scalar loss.
    :raises ValueError: for a bad argument or batch, each named.
    :raises TypeError: for ``params=`` or a divergence parameter beside the name (use ``dv.spec(...)``).
    """
    value = divergence_arg(divergence, needs="f" if objective == "reward" else "tokens")
    if objective not in ON_POLICY_OBJECTIVES:
        raise ValueError(f"objective must be one of {ON_POLICY_OBJECTIVES}, got {objective!r}")
    opts = DistillOptions(temperature=temperature)
    for key in ("input_ids", "labels"):
        if key not in batch:
            raise ValueError(f"batch must hold {key!r} (as sample_completions returns it)")
    if objective == "divergence":
        if teacher_top_k is not None:
            if isinstance(teacher_top_k, bool) or not isinstance(teacher_top_k, int) or teacher_top_k < 1:
                raise ValueError(f"teacher_top_k must be a positive integer or None, got {teacher_top_k!r}")
            teacher = _teacher_topk(teacher, batch, teacher_top_k, opts.temperature)
        return distillation_loss(student, teacher, batch, value, options=opts, num_items_in_batch=num_items_in_batch)
    if not isinstance(teacher, torch.nn.Module):
        raise ValueError("objective='reward' needs the teacher as a model (its log-probabilities of the samples)")
    gen = f_generator(divergence_arg(value, needs="f"))
    keep = batch["labels"][:, 1:] != -100
    lq = sampled_token_logprobs(student, batch, temperature=opts.temperature)
    with torch.no_grad():
        lp = sampled_token_logprobs(teacher, batch, temperature=opts.temperature).to(lq.device)
        ell = (lp - lq.detach())[keep.to(lq.device)]
        f_r = sampled_divergence(ell, torch.zeros_like(ell), gen, samples_from="q", control_variate=False
                                 ).to(torch.float64)
        r = torch.exp(ell.to(torch.float64).clamp(max=300.0))
        slope = f_prime(ell, gen).to(torch.float64)
        at_one = f_prime(torch.zeros(1, dtype=torch.float64), gen)
        advantage = -(f_r - r * slope + at_one)
    count = float(num_items_in_batch) if num_items_in_batch is not None else float(max(int(keep.sum()), 1))
    return -(advantage.to(lq.dtype) * lq[keep.to(lq.device)]).sum() / count + 0.0 * lq.sum()


class OnPolicyDistillationTrainer(DistillationTrainer):
    """A :class:`~divergences.hf.DistillationTrainer` that trains on completions the student samples itself.

    Each training batch's prompts (the tokens before the first label ≠ -100) are completed by the student
    (:func:`~divergences.hf.sample_completions` with ``generation``) with probability ``lmbda`` (1.0: always, as
    TRL 1.16's ``DistillationTrainer``; GKD's default is 0.5), else by the teacher when ``seq_kd=True``, else the
    batch's own completions are kept; the loss is :func:`on_policy_loss` (``divergence="reverse_kl"`` by
    default) on the result, normalised by its completion tokens (and by the gradient-accumulation steps).

    :param lmbda: the share of batches completed by the student, in [0, 1]; drawn per batch from ``seed``.
    :param objective: as :func:`on_policy_loss`.
    :param teacher_top_k: as :func:`on_policy_loss`.
    :param seed: the seed of the on-policy/off-policy draws.
    :param divergence: as :class:`~divergences.hf.DistillationTrainer` (reverse KL by default).
    :param args: those of :class:`~divergences.hf.DistillationTrainer` and ``transformers.Trainer``.
    :param kwargs: those of :class:`~divergences.hf.DistillationTrainer` (``teacher_model``, ``options``,
        ``generation``, ``seq_kd``, ``teacher_tokenizer`` with ``objective="divergence"``, ...) and of
        ``transformers.Trainer``.
    :raises ValueError: for a bad argument, named, at construction.
    """

    def __init__(self, *args: Any, lmbda: float = 1.0, objective: str = "divergence", teacher_top_k: int | None = None,
                 seed: int = 0, divergence: DivergenceArg = "reverse_kl", **kwargs: Any) -> None:
        if not (isinstance(lmbda, (int, float)) and not isinstance(lmbda, bool) and 0.0 <= lmbda <= 1.0):
            raise ValueError(f"lmbda must be a number in [0, 1], got {lmbda!r}")
        if objective not in ON_POLICY_OBJECTIVES:
            raise ValueError(f"objective must be one of {ON_POLICY_OBJECTIVES}, got {objective!r}")
        if objective == "reward":
            divergence_arg(divergence, needs="f")
        super().__init__(*args, divergence=divergence, **kwargs)
        opts = self.options
        if (objective == "reward" or teacher_top_k is not None) and (
                opts.hard_weight != 0.0 or opts.soft_weight != 1.0 or opts.t_squared):
            raise ValueError("objective='reward' and teacher_top_k take the loss as it is: hard_weight=0, "
                             "soft_weight=1 and t_squared=False")
        if self.cross is not None and (objective == "reward" or teacher_top_k is not None):
            raise ValueError("objective='reward' and teacher_top_k need a shared tokenizer; with teacher_tokenizer use "
                             "objective='divergence' (the vocabulary union)")
        self.lmbda = float(lmbda)
        self.objective = objective
        self.teacher_top_k = teacher_top_k
        self._draws = random.Random(seed)

    def _training_batch(self, model: Any, inputs: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
        if self._draws.random() < self.lmbda:
            pad = self._pad_id()
            prompts, pmask = prompts_of(inputs, pad)
            return self.generation.sample(self.accelerator.unwrap_model(model), prompts, pmask), True
        return super()._training_batch(model, inputs)

    def _soft_loss(self, model: Any, batch: Mapping[str, Any], num_items_in_batch: Any) -> Tensor:
        if self.cross is not None or (self.objective == "divergence" and self.teacher_top_k is None):
            return super()._soft_loss(model, batch, num_items_in_batch)
        return on_policy_loss(model, self.teacher_model, batch, self.divergence, temperature=self.options.temperature,
                              teacher_top_k=self.teacher_top_k, objective=self.objective,
                              num_items_in_batch=num_items_in_batch)
