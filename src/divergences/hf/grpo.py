r"""DPH-RL inside TRL's ``GRPOTrainer``: an f-divergence regulariser toward the reference policy.

DPH-RL (Li et al. 2025, "The Choice of Divergence: A Neglected Key to Mitigating Diversity Collapse in
Reinforcement Learning with Verifiable Reward") replaces GRPO's mode-seeking KL(π_θ‖π_ref) penalty by a
*mass-covering* f-divergence D_f(π_ref‖π_θ) — forward KL, JS, α-divergences — so that the policy keeps the
answers the reference could produce, which keeps Pass@k from collapsing. The divergence is estimated from
samples with the registry's generator f (:func:`divergences.torch.sampled_divergence`), in two forms:

* ``samples="reference"`` (the paper's form, no online reference model): completions drawn *once* from the
  reference policy with their per-token reference log-probabilities stored (:func:`reference_pool`); each step a
  batch of them is scored by π_θ, and the regulariser is the mean of
  ``sampled_divergence(ref_logps, policy_logps, divergence, samples_from="p")``. The samples do not depend on θ,
  so its gradient is an unbiased estimate of ∇_θ D_f(π_ref‖π_θ).
* ``samples="policy"``: GRPO's own completions (drawn from π_old), scored by a frozen reference model; the
  regulariser is the mean of ``sampled_divergence(ref_logps, policy_logps, divergence, samples_from="q")``; in the
  loss each value is multiplied by the importance ratio π_θ/π_old (as :func:`divergences.torch.importance_weighted_kl`
  does for k3), so that value and gradient stay unbiased for samples from π_old.

``level="token"`` compares per-token conditionals along the samples (the mean over completion tokens; for KL
their sum is the sequence KL by the chain rule); ``level="sequence"`` uses the whole completion's log-ratio (the
divergence between sequence distributions, exact in expectation but with a larger variance).

:class:`DPHGRPOTrainer` adds ``coef`` × regulariser to GRPO's loss and logs it as ``dph/regulariser`` (with
``dph/coef``); set ``GRPOConfig(beta=0.0)`` to drop TRL's own k3 penalty. Conventions: ``"kl"`` is
KL(π_ref‖π_θ) (P = reference, Q = policy, as in :mod:`divergences.torch.rl`); DPH-RL's α-divergence with
parameter α' is our ``"alpha"`` with α = 1 − α'.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from trl.trainer.grpo_trainer import GRPOTrainer

from ..torch.rl import sampled_divergence
from ._spec import DivergenceArg, divergence_arg, f_generator, keywords_checked
from .generation import sample_completions

__all__ = ["DPH_LEVELS", "DPH_SAMPLES", "DPHConfig", "DPHGRPOTrainer", "ReferencePool", "completion_logprobs", "dph_regulariser", "reference_pool"]

Tensor = torch.Tensor


@dataclass(frozen=True)
class ReferencePool:
    """Completions drawn once from the reference policy, with their per-token reference log-probabilities.

    :ivar prompt_ids: (N, P) the prompts, left padded.
    :ivar prompt_mask: (N, P), 0 on the prompts' padding.
    :ivar completion_ids: (N, C) the completions, right padded.
    :ivar completion_mask: (N, C), 0 on the padding after the end-of-sequence token.
    :ivar ref_logps: (N, C) log π_ref of each completion token (0 where the mask is 0).
    :ivar temperature: the temperature the log-probabilities were taken at (the trainer's must equal it).
    """

    prompt_ids: Tensor
    prompt_mask: Tensor
    completion_ids: Tensor
    completion_mask: Tensor
    ref_logps: Tensor
    temperature: float = 1.0

    def __len__(self) -> int:
        return int(self.prompt_ids.shape[0])


def completion_logprobs(model: Any, prompt_ids: Tensor, prompt_mask: Tensor, completion_ids: Tensor,
                        completion_mask: Tensor, *, temperature: float = 1.0) -> Tensor:
    """(N, C) log π(completion token | prompt, earlier tokens) at ``temperature`` (0 where the mask is 0)."""
    ids = torch.cat([prompt_ids, completion_ids], dim=1)
    mask = torch.cat([prompt_mask, completion_mask], dim=1)
    logits = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    width = completion_ids.shape[1]
    rows = logits[:, -width - 1:-1].float() if logits.dtype in (torch.float16, torch.bfloat16) else logits[:, -width - 1:-1]
    lp = torch.log_softmax(rows / temperature, dim=-1).gather(-1, completion_ids.unsqueeze(-1).to(rows.device)).squeeze(-1)
    return torch.where(completion_mask.to(lp.device) != 0, lp, torch.zeros_like(lp))


def reference_pool(model: Any, tokenizer: Any, prompts: Sequence[str], *, samples_per_prompt: int = 4,
                   max_new_tokens: int = 32, temperature: float = 1.0, seed: int = 0) -> ReferencePool:
    """Draw ``samples_per_prompt`` completions per prompt from ``model`` (the reference policy) once.

    Prompts are tokenized by ``tokenizer`` (a transformers tokenizer; left padded), completions sampled at
    ``temperature`` (:func:`~divergences.hf.sample_completions`, under ``torch.manual_seed(seed)``), and their
    per-token log-probabilities taken at the same temperature. Keep the pool (``torch.save``) to train without
    the reference model.
    """
    if isinstance(samples_per_prompt, bool) or not isinstance(samples_per_prompt, int) or samples_per_prompt < 1:
        raise ValueError(f"samples_per_prompt must be a positive integer, got {samples_per_prompt!r}")
    if not prompts or not all(isinstance(p, str) for p in prompts):
        raise ValueError("prompts must be a non-empty sequence of strings")
    side = getattr(tokenizer, "padding_side", "right")
    tokenizer.padding_side = "left"
    try:
        enc = tokenizer(list(prompts), return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tokenizer.padding_side = side
    ids = enc["input_ids"].repeat_interleave(samples_per_prompt, dim=0)
    mask = enc["attention_mask"].repeat_interleave(samples_per_prompt, dim=0)
    torch.manual_seed(seed)
    batch = sample_completions(model, ids, mask, max_new_tokens=max_new_tokens, temperature=temperature)
    width = ids.shape[1]
    comp, cmask = batch["input_ids"][:, width:], batch["attention_mask"][:, width:]
    with torch.no_grad():
        lp = completion_logprobs(model, ids, mask, comp, cmask, temperature=temperature)
    return ReferencePool(ids, mask, comp, cmask, lp.detach(), float(temperature))


#: where :class:`DPHConfig` draws its samples, and the levels of :func:`dph_regulariser`
DPH_SAMPLES = ("reference", "policy")
DPH_LEVELS = ("token", "sequence")


@keywords_checked(options=False)
def dph_regulariser(ref_logps: Tensor, policy_logps: Tensor, mask: Tensor, divergence: DivergenceArg = "kl", *,
                    samples_from: str = "p", level: str = "token") -> tuple[Tensor, Tensor]:
    r"""The DPH-RL regulariser from per-token log-probabilities: ``(mean, per-item values)``.

    ``level="token"``: the per-token values of :func:`~divergences.torch.sampled_divergence` (with its control
    variate) averaged over the real tokens; ``level="sequence"``: the values of the sequence log-probabilities
    (sums over the tokens), averaged over the completions.

    :param ref_logps: (N, C) log π_ref of the completion tokens.
    :param policy_logps: (N, C) log π_θ of the same tokens.
    :param mask: (N, C), nonzero on the real tokens.
    :param divergence: the f-divergence D(π_ref ‖ π_θ): a registered name or a ``dv.spec(...)`` value with its
        parameters (``dv.spec("js", beta=0.5)``), a generator or an f callable.
    :param samples_from: ``"p"`` when the completions were drawn from π_ref, ``"q"`` when from the policy.
    :param level: ``"token"`` or ``"sequence"``.
    :returns: the mean and the per-token (or per-completion) values.
    :raises ValueError: for a divergence that is not an f-divergence, a bad ``level`` or shapes that differ.
    :raises TypeError: for ``params=`` or a divergence parameter beside the name (use ``dv.spec(...)``).
    """
    gen = f_generator(divergence_arg(divergence, needs="f"))
    if level not in DPH_LEVELS:
        raise ValueError(f"level must be one of {DPH_LEVELS}, got {level!r}")
    if not (ref_logps.shape == policy_logps.shape == mask.shape) or ref_logps.ndim != 2:
        raise ValueError(f"ref_logps, policy_logps and mask must share one (N, C) shape, got {tuple(ref_logps.shape)}, "
                         f"{tuple(policy_logps.shape)} and {tuple(mask.shape)}")
    keep = mask.to(policy_logps.device) != 0
    ref = ref_logps.to(policy_logps.device)
    if level == "sequence":
        zero = torch.zeros_like(policy_logps)
        values = sampled_divergence(torch.where(keep, ref, zero).sum(-1), torch.where(keep, policy_logps, zero).sum(-1),
                                    gen, samples_from=samples_from)
        return values.mean(), values
    values = sampled_divergence(ref, policy_logps, gen, samples_from=samples_from)
    values = torch.where(keep, values, torch.zeros_like(values))
    return values.sum() / keep.sum().clamp_min(1), values


@dataclass(frozen=True)
class DPHConfig:
    """The regulariser of :class:`DPHGRPOTrainer` (checked at construction).

    :param divergence: the f-divergence D(π_ref ‖ π_θ): a registered name (``"kl"``) or a ``dv.spec(...)``
        value with its parameters (``dv.spec("js", beta=0.5)``, ``dv.spec("alpha", alpha=0.5)``); read as a
        :class:`~divergences.Divergence`.
    :param coef: its weight in the loss.
    :param samples: ``"reference"`` (a :class:`ReferencePool`) or ``"policy"`` (GRPO's completions and a
        reference model).
    :param level: ``"token"`` or ``"sequence"``.
    :param batch_size: reference completions scored per micro-batch (``samples="reference"``).
    :param seed: the seed of the draws from the pool.
    :raises ValueError: for a bad field, named.
    :raises TypeError: for ``params=`` (use ``dv.spec(...)``).
    """

    divergence: DivergenceArg = "kl"
    coef: float = 0.05
    samples: str = "reference"
    level: str = "token"
    batch_size: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.coef, Mapping):
            shown = ", ".join(f"{k}={v!r}" for k, v in self.coef.items())
            raise TypeError(f"DPHConfig: a divergence's parameters travel inside it, "
                            f"DPHConfig(divergence=dv.spec({self.divergence!r}, {shown})); the params field was removed")
        object.__setattr__(self, "divergence", divergence_arg(self.divergence, what="DPHConfig.divergence",
                                                              needs="f"))
        if self.samples not in DPH_SAMPLES:
            raise ValueError(f"samples must be one of {DPH_SAMPLES}, got {self.samples!r}")
        if self.level not in DPH_LEVELS:
            raise ValueError(f"level must be one of {DPH_LEVELS}, got {self.level!r}")
        if isinstance(self.coef, bool) or not isinstance(self.coef, (int, float)) or not math.isfinite(self.coef):
            raise ValueError(f"coef must be a finite number, got {self.coef!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size!r}")


DPHConfig.__init__ = keywords_checked(options=False, owner="DPHConfig")(DPHConfig.__init__)  # params= names its new spelling


class DPHGRPOTrainer(GRPOTrainer):
    """TRL's ``GRPOTrainer`` with DPH-RL's f-divergence regulariser added to its loss (see the module notes).

    :param dph: a :class:`DPHConfig`.
    :param reference_pool: the :class:`ReferencePool` (``dph.samples == "reference"``).
    :param reference_model: the frozen reference policy for ``dph.samples == "policy"`` (default: a frozen copy of
        ``model`` as given, i.e. the initial policy).
    :param args: those of ``trl.GRPOTrainer``.
    :param kwargs: those of ``trl.GRPOTrainer`` (``GRPOConfig(beta=0.0)`` drops its own KL penalty).

    After training, ``dph_history`` holds one record per micro-batch: the regulariser value logged, and the
    samples it was computed on (pool indices, or the completions with their reference log-probabilities).
    """

    def __init__(self, *args: Any, dph: DPHConfig | None = None, reference_pool: ReferencePool | None = None,
                 reference_model: Any = None, **kwargs: Any) -> None:
        dph = dph if dph is not None else DPHConfig()
        if not isinstance(dph, DPHConfig):
            raise ValueError(f"dph must be a DPHConfig, got {type(dph).__name__}")
        if dph.samples == "reference" and not isinstance(reference_pool, ReferencePool):
            raise ValueError("dph.samples == 'reference' needs reference_pool= (a ReferencePool from reference_pool())")
        model = kwargs.get("model", args[0] if args else None)
        if dph.samples == "policy" and reference_model is None:
            if not isinstance(model, torch.nn.Module):
                raise ValueError("dph.samples == 'policy' needs reference_model= when model is not a loaded model")
            reference_model = copy.deepcopy(model)
        super().__init__(*args, **kwargs)
        if reference_pool is not None and not math.isclose(reference_pool.temperature, float(self.temperature)):
            raise ValueError(f"reference_pool: its log-probabilities were taken at temperature "
                             f"{reference_pool.temperature}, the trainer samples at {self.temperature}; they must match")
        if reference_model is not None:
            reference_model.requires_grad_(False)
            reference_model.eval()
            reference_model.to(self.accelerator.device)
        self.dph = dph
        self.reference_pool = reference_pool
        self.dph_reference_model = reference_model
        self.dph_history: list[dict[str, Any]] = []
        self._dph_draws = torch.Generator().manual_seed(dph.seed)
        self._dph_capture: list[Tensor] | None = None

    # -- the policy form: reference log-probabilities of GRPO's completions, and the policy's own ones -----------

    def _generate_and_score_completions(self, inputs: Any) -> dict[str, Any]:
        out = super()._generate_and_score_completions(inputs)
        if self.dph.samples == "policy":
            with torch.no_grad():
                out["dph_ref_logps"] = completion_logprobs(self.dph_reference_model, out["prompt_ids"],
                                                           out["prompt_mask"], out["completion_ids"],
                                                           out["completion_mask"], temperature=self.temperature)
        return out

    def _get_per_token_logps_and_entropies(self, *args: Any, **kwargs: Any) -> Any:
        result = super()._get_per_token_logps_and_entropies(*args, **kwargs)
        if self._dph_capture is not None and torch.is_grad_enabled():
            self._dph_capture.append(result[0])
        return result

    def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> Tensor:
        self._dph_capture = [] if self.dph.samples == "policy" else None
        try:
            loss = super()._compute_loss(model, inputs)
            captured = self._dph_capture
        finally:
            self._dph_capture = None
        mode = "train" if model.training else "eval"
        if self.dph.samples == "policy":
            if not captured:
                raise RuntimeError("DPH-RL: the policy's log-probabilities of the completions were not computed")
            reg, in_loss, record = self._policy_form(captured[0], inputs)
        else:
            reg, in_loss, record = self._reference_form(model)
        normalizer = self.current_gradient_accumulation_steps if mode == "train" else 1.0
        loss = loss + self.dph.coef * in_loss / normalizer
        gathered: Any = self.accelerator.gather(reg.detach().reshape(1))
        value = float(gathered.mean())
        self._metrics[mode]["dph/regulariser"].append(value)
        self._metrics[mode]["dph/coef"].append(float(self.dph.coef))
        record["value"] = value
        record["step"] = int(self.state.global_step)
        self.dph_history.append(record)
        return loss

    def _reference_form(self, model: Any) -> tuple[Tensor, Tensor, dict[str, Any]]:
        pool = self.reference_pool
        assert pool is not None
        n = min(self.dph.batch_size, len(pool))
        idx = torch.randperm(len(pool), generator=self._dph_draws)[:n]
        device = self.accelerator.device
        p_ids, p_mask = pool.prompt_ids[idx].to(device), pool.prompt_mask[idx].to(device)
        c_ids, c_mask = pool.completion_ids[idx].to(device), pool.completion_mask[idx].to(device)
        lp, _, _ = self._get_per_token_logps_and_entropies(model, torch.cat([p_ids, c_ids], 1),
                                                           torch.cat([p_mask, c_mask], 1), c_ids.shape[1])
        reg, _ = dph_regulariser(pool.ref_logps[idx].to(lp.device), lp, c_mask, self.dph.divergence,
                                 samples_from="p", level=self.dph.level)
        return reg, reg, {"indices": idx}

    def _policy_form(self, policy_logps: Tensor, inputs: Mapping[str, Any]) -> tuple[Tensor, Tensor, dict[str, Any]]:
        mask = inputs["completion_mask"]
        ref = inputs["dph_ref_logps"].to(policy_logps.device)
        reg, values = dph_regulariser(ref, policy_logps, mask, self.dph.divergence, samples_from="q",
                                      level=self.dph.level)
        old = inputs.get("old_per_token_logps")
        old = policy_logps.detach() if old is None else old.to(policy_logps.device)
        keep = mask.to(policy_logps.device) != 0
        if self.dph.level == "sequence":
            zero = torch.zeros_like(policy_logps)
            log_rho = torch.where(keep, policy_logps - old, zero).sum(-1)
            in_loss = (torch.exp(log_rho.clamp(max=20.0)) * values).mean()
        else:
            rho = torch.exp((policy_logps - old).clamp(max=20.0))
            in_loss = torch.where(keep, rho * values, torch.zeros_like(values)).sum() / keep.sum().clamp_min(1)
        record = {"prompt_ids": inputs["prompt_ids"].detach().cpu(), "prompt_mask": inputs["prompt_mask"].detach().cpu(),
                  "completion_ids": inputs["completion_ids"].detach().cpu(), "completion_mask": mask.detach().cpu(),
                  "ref_logps": ref.detach().cpu()}
        return reg, in_loss, record
