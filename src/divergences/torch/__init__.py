"""PyTorch layer: training losses built on the registry (requires ``divergences[torch]``).

Names load lazily from their modules, so ``import divergences.torch`` stays cheap and one module
can be used while another is being imported:

* distillation losses (token level, chunked, fused with the LM head, top-k teachers, token
  selection, mixtures, cosine): :mod:`.losses`, :mod:`.fused`, :mod:`.topk`, :mod:`.selection`,
  :mod:`.mixtures`, :mod:`.cosine`, all on the one chunk engine :mod:`._engine`, with the options
  object :class:`.options.DistillOptions`; vocab-parallel forms: :mod:`.distributed`;
* policy regularisers and preference losses: :mod:`.rl`, :mod:`.preference`;
* Sinkhorn distillation: :mod:`.sinkhorn`;
* speculative decoding (acceptance rate = 1 − TV, draft losses): :mod:`.speculative`; OFA-KD's
  target-enhanced loss: :mod:`.ofa`.
"""

from __future__ import annotations

from ..core.lazy import lazy_exports

_EXPORTS = {
    # distillation (token level)
    "DistillOptions": "options",
    "divergence_loss": "losses",
    "DivergenceLoss": "losses",
    "LossParts": "losses",
    "TeacherHead": "fused",
    "FusedLinearDivergenceLoss": "fused",
    "fused_linear_divergence_loss": "fused",
    "topk_divergence_loss": "topk",
    "token_entropy": "selection",
    "token_divergence": "selection",
    "select_tokens": "selection",
    "mixture": "mixtures",
    "Mixture": "mixtures",
    "balanced_kl_loss": "mixtures",
    "balanced_kl": "mixtures",
    "BalancedKL": "mixtures",
    "entropy_gap_weight": "mixtures",
    "cosine_similarity_loss": "cosine",
    "vocab_parallel_topk": "distributed",
    # RL regularisers and preference losses
    "kl_penalty": "rl",
    "importance_weighted_kl": "rl",
    "sampled_divergence": "rl",
    "f_weight": "rl",
    "f_prime": "rl",
    "sequence_match_chi2": "rl",
    "f_dpo_loss": "preference",
    "d2o_loss": "preference",
    "f_dpo_score": "preference",
    # speculative decoding (draft models) and OFA-KD
    "DRAFT_OBJECTIVES": "speculative",
    "acceptance_rate": "speculative",
    "log_acceptance_rate": "speculative",
    "draft_loss": "speculative",
    "ofa_loss": "ofa",
    # optimal transport
    "sinkhorn_distillation_loss": "sinkhorn",
    # objectives from the seed papers (samples as training objectives)
    "HarmonicHead": "objectives",
    "harmonic_loss": "objectives",
    "harmonic_logits": "objectives",
    "harmonic_distances": "objectives",
    "cs_divergence_loss": "objectives",
    "conditional_cs_divergence": "objectives",
    "monge_gap": "objectives",
    "plackett_luce_distillation_loss": "objectives",
    "soft_infonce_loss": "objectives",
    "distance_covariance": "objectives",
    "distance_correlation": "objectives",
    "jdcov": "objectives",
    "ccdcov": "objectives",
    "group_js_divergence": "objectives",
    "f_sft_loss": "objectives",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
