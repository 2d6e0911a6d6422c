"""Divergences at analysis time, on tensors (requires ``divergences[torch]``; no ``transformers``).

Scores from the papers our users come from, each a small function over logits or attention
scores that reads its divergence from the registry:

* pretraining-data detection (DC-PDD): :mod:`.dcpdd` (:class:`FrequencyTable`, :func:`dcpdd_score`);
* zero-shot generated-text test ℓ − h: :mod:`.detection`;
* unlearning evaluation (top-k JS, Kendall τ agreement, Spearman-weighted composite): :mod:`.unlearning`;
* FlexPrefill sparse-attention pattern choice: :mod:`.flexprefill`;
* safe step radius of cross-entropy ("ghosts of softmax") and a step-capping optimizer wrapper:
  :mod:`.safe_step`;
* the n-gram style prior used by :class:`divergences.hf.processors.NGramPriorLogitsProcessor`: :mod:`.ngram`.

Names load lazily, so ``import divergences.llm`` does not import torch until a name is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.lazy import lazy_exports

if TYPE_CHECKING:  # what a type checker reads; at run time the names load on first use (below)
    from .dcpdd import FrequencyTable, dcpdd_score, first_occurrence_mask
    from .detection import (
        calibrated_epsilon,
        concentration_epsilon,
        false_positive_rate,
        perplexity_entropy_gap,
        zero_shot_test,
    )
    from .flexprefill import block_attention, choose_pattern, select_blocks, sparse_block_mask
    from .ngram import NGramPrior
    from .safe_step import StepRadiusCap, binary_step_radius, directional_logit_derivatives, step_radius
    from .unlearning import composite_score, metric_agreement, topk_js

_EXPORTS = {
    "FrequencyTable": "dcpdd",
    "dcpdd_score": "dcpdd",
    "first_occurrence_mask": "dcpdd",
    "perplexity_entropy_gap": "detection",
    "concentration_epsilon": "detection",
    "calibrated_epsilon": "detection",
    "false_positive_rate": "detection",
    "zero_shot_test": "detection",
    "topk_js": "unlearning",
    "metric_agreement": "unlearning",
    "composite_score": "unlearning",
    "block_attention": "flexprefill",
    "choose_pattern": "flexprefill",
    "select_blocks": "flexprefill",
    "sparse_block_mask": "flexprefill",
    "directional_logit_derivatives": "safe_step",
    "step_radius": "safe_step",
    "binary_step_radius": "safe_step",
    "StepRadiusCap": "safe_step",
    "NGramPrior": "ngram",
}

__all__ = [
    "FrequencyTable",
    "NGramPrior",
    "StepRadiusCap",
    "binary_step_radius",
    "block_attention",
    "calibrated_epsilon",
    "choose_pattern",
    "composite_score",
    "concentration_epsilon",
    "dcpdd_score",
    "directional_logit_derivatives",
    "false_positive_rate",
    "first_occurrence_mask",
    "metric_agreement",
    "perplexity_entropy_gap",
    "select_blocks",
    "sparse_block_mask",
    "step_radius",
    "topk_js",
    "zero_shot_test",
]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
