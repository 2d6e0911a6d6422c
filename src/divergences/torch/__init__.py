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

from typing import TYPE_CHECKING

from ..core.lazy import lazy_exports

_EXPORTS = {
    # distillation (token level)
    "DistillOptions": "options",
    "DivergenceArg": "_divergence",
    "LossKeywords": "options",
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

if TYPE_CHECKING:  # the static surface: a type checker sees each name's real signature (loaded lazily at run time)
    from ._divergence import DivergenceArg as DivergenceArg
    from .cosine import cosine_similarity_loss as cosine_similarity_loss
    from .distributed import vocab_parallel_topk as vocab_parallel_topk
    from .fused import FusedLinearDivergenceLoss as FusedLinearDivergenceLoss
    from .fused import TeacherHead as TeacherHead
    from .fused import fused_linear_divergence_loss as fused_linear_divergence_loss
    from .losses import DivergenceLoss as DivergenceLoss
    from .losses import LossParts as LossParts
    from .losses import divergence_loss as divergence_loss
    from .mixtures import BalancedKL as BalancedKL
    from .mixtures import Mixture as Mixture
    from .mixtures import balanced_kl as balanced_kl
    from .mixtures import balanced_kl_loss as balanced_kl_loss
    from .mixtures import entropy_gap_weight as entropy_gap_weight
    from .mixtures import mixture as mixture
    from .objectives import HarmonicHead as HarmonicHead
    from .objectives import ccdcov as ccdcov
    from .objectives import conditional_cs_divergence as conditional_cs_divergence
    from .objectives import cs_divergence_loss as cs_divergence_loss
    from .objectives import distance_correlation as distance_correlation
    from .objectives import distance_covariance as distance_covariance
    from .objectives import f_sft_loss as f_sft_loss
    from .objectives import group_js_divergence as group_js_divergence
    from .objectives import harmonic_distances as harmonic_distances
    from .objectives import harmonic_logits as harmonic_logits
    from .objectives import harmonic_loss as harmonic_loss
    from .objectives import jdcov as jdcov
    from .objectives import monge_gap as monge_gap
    from .objectives import plackett_luce_distillation_loss as plackett_luce_distillation_loss
    from .objectives import soft_infonce_loss as soft_infonce_loss
    from .ofa import ofa_loss as ofa_loss
    from .options import DistillOptions as DistillOptions
    from .options import LossKeywords as LossKeywords
    from .preference import d2o_loss as d2o_loss
    from .preference import f_dpo_loss as f_dpo_loss
    from .preference import f_dpo_score as f_dpo_score
    from .rl import f_prime as f_prime
    from .rl import f_weight as f_weight
    from .rl import importance_weighted_kl as importance_weighted_kl
    from .rl import kl_penalty as kl_penalty
    from .rl import sampled_divergence as sampled_divergence
    from .rl import sequence_match_chi2 as sequence_match_chi2
    from .selection import select_tokens as select_tokens
    from .selection import token_divergence as token_divergence
    from .selection import token_entropy as token_entropy
    from .sinkhorn import sinkhorn_distillation_loss as sinkhorn_distillation_loss
    from .speculative import DRAFT_OBJECTIVES as DRAFT_OBJECTIVES
    from .speculative import acceptance_rate as acceptance_rate
    from .speculative import draft_loss as draft_loss
    from .speculative import log_acceptance_rate as log_acceptance_rate
    from .topk import topk_divergence_loss as topk_divergence_loss

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
