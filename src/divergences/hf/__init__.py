"""Hugging Face glue (requires ``divergences[hf]``): distillation inside ``transformers.Trainer``, a drop-in
for TRL's GKD loss, teachers that are not in memory (a Parquet top-k cache, a served model's ``logprobs``)
and logits processors.

Names load lazily from their modules: ``import divergences.hf`` imports neither torch nor transformers;
the first use of a name imports what it needs.

* :func:`distillation_loss` (:mod:`.loss`): the loss for any ``compute_loss``, fused with the LM head;
* :class:`DistillationTrainer` (:mod:`.trainer`): a ``transformers.Trainer`` that uses it;
* :func:`generalized_jsd_loss`, :func:`fused_gkd_trainer` (:mod:`.gkd`): TRL's GKD loss, same signature and value,
  and its ``GKDTrainer`` with the fused loss;
* :func:`write_teacher_cache`, :class:`TeacherCache`, :class:`TeacherCacheCollator` (:mod:`.teacher_cache`);
* :func:`parse_logprobs`, :class:`ServedTopK`, :func:`served_teacher` (:mod:`.served`): top-k from OpenAI / vLLM responses;
* cross-tokenizer distillation (:mod:`.cross_tokenizer`, :mod:`.alignment`): :func:`uld_loss`,
  :func:`vocabulary_map` and :func:`vocabulary_divergence` (the vocabulary union with tail buckets),
  :func:`transport_loss` (entropic OT with a string cost), span alignment (:func:`align_offsets`,
  :func:`token_offsets`, :func:`align_batch`, :func:`span_logprobs`, :func:`span_divergence`);
* on-policy and sequence-level distillation (:mod:`.on_policy`, :mod:`.generation`):
  :class:`OnPolicyDistillationTrainer`, :func:`on_policy_loss`, :func:`sample_completions`,
  :class:`GenerationOptions`;
* DPH-RL in TRL's ``GRPOTrainer`` (:mod:`.grpo`): :class:`DPHGRPOTrainer`, :class:`DPHConfig`,
  :func:`reference_pool`, :func:`dph_regulariser`;
* logits processors from :mod:`.processors` (``USCDLogitsProcessor``, ``NGramPriorLogitsProcessor``,
  ``DivergenceMonitor``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.lazy import lazy_exports

if TYPE_CHECKING:  # what a type checker reads; at run time the names load on first use (below)
    from .alignment import (
        AlignedBatch,
        Alignment,
        align_batch,
        align_offsets,
        span_divergence,
        span_logprobs,
        token_offsets,
    )
    from .cross_distill import CrossTokenizer, cross_tokenizer_distillation_loss
    from .cross_tokenizer import (
        VocabularyMap,
        ngram_embedding,
        token_strings,
        transport_loss,
        uld_loss,
        vocabulary_divergence,
        vocabulary_map,
    )
    from .generation import GenerationOptions, prompts_of, retokenize, sample_completions
    from .gkd import fused_gkd_trainer, generalized_jsd_loss, gkd_compute_loss, gkd_divergence
    from .grpo import DPHConfig, DPHGRPOTrainer, ReferencePool, completion_logprobs, dph_regulariser, reference_pool
    from .loss import TopKTeacher, distillation_loss, lm_head
    from .on_policy import OnPolicyDistillationTrainer, on_policy_loss, sampled_token_logprobs
    from .processors import (
        DivergenceMonitor,
        NGramPriorLogitsProcessor,
        USCDLogitsProcessor,
        base_perplexity,
        style_perplexity,
        uscd_generate,
    )
    from .served import ServedTopK, decoded_vocab, parse_logprobs, served_teacher
    from .teacher_cache import CacheManifest, TeacherCache, TeacherCacheCollator, tokenizer_hash, write_teacher_cache
    from .trainer import DistillationTrainer

_EXPORTS = {
    "distillation_loss": "loss",
    "TopKTeacher": "loss",
    "lm_head": "loss",
    "DistillationTrainer": "trainer",
    "generalized_jsd_loss": "gkd",
    "gkd_compute_loss": "gkd",
    "gkd_divergence": "gkd",
    "fused_gkd_trainer": "gkd",
    "CacheManifest": "teacher_cache",
    "TeacherCache": "teacher_cache",
    "TeacherCacheCollator": "teacher_cache",
    "tokenizer_hash": "teacher_cache",
    "write_teacher_cache": "teacher_cache",
    "ServedTopK": "served",
    "parse_logprobs": "served",
    "decoded_vocab": "served",
    "served_teacher": "served",
    # cross-tokenizer distillation
    "VocabularyMap": "cross_tokenizer",
    "vocabulary_map": "cross_tokenizer",
    "token_strings": "cross_tokenizer",
    "uld_loss": "cross_tokenizer",
    "vocabulary_divergence": "cross_tokenizer",
    "transport_loss": "cross_tokenizer",
    "ngram_embedding": "cross_tokenizer",
    "Alignment": "alignment",
    "AlignedBatch": "alignment",
    "align_offsets": "alignment",
    "align_batch": "alignment",
    "token_offsets": "alignment",
    "span_logprobs": "alignment",
    "span_divergence": "alignment",
    "CrossTokenizer": "cross_distill",
    "cross_tokenizer_distillation_loss": "cross_distill",
    # on-policy and sequence-level distillation
    "OnPolicyDistillationTrainer": "on_policy",
    "on_policy_loss": "on_policy",
    "sampled_token_logprobs": "on_policy",
    "sample_completions": "generation",
    "GenerationOptions": "generation",
    "prompts_of": "generation",
    "retokenize": "generation",
    # DPH-RL in TRL's GRPOTrainer
    "DPHConfig": "grpo",
    "DPHGRPOTrainer": "grpo",
    "ReferencePool": "grpo",
    "reference_pool": "grpo",
    "dph_regulariser": "grpo",
    "completion_logprobs": "grpo",
    # decoding-time processors
    "USCDLogitsProcessor": "processors",
    "NGramPriorLogitsProcessor": "processors",
    "DivergenceMonitor": "processors",
    "uscd_generate": "processors",
    "base_perplexity": "processors",
    "style_perplexity": "processors",
}

__all__ = [
    "AlignedBatch",
    "Alignment",
    "CacheManifest",
    "CrossTokenizer",
    "DPHConfig",
    "DPHGRPOTrainer",
    "DistillationTrainer",
    "DivergenceMonitor",
    "GenerationOptions",
    "NGramPriorLogitsProcessor",
    "OnPolicyDistillationTrainer",
    "ReferencePool",
    "ServedTopK",
    "TeacherCache",
    "TeacherCacheCollator",
    "TopKTeacher",
    "USCDLogitsProcessor",
    "VocabularyMap",
    "align_batch",
    "align_offsets",
    "base_perplexity",
    "completion_logprobs",
    "cross_tokenizer_distillation_loss",
    "decoded_vocab",
    "distillation_loss",
    "dph_regulariser",
    "fused_gkd_trainer",
    "generalized_jsd_loss",
    "gkd_compute_loss",
    "gkd_divergence",
    "lm_head",
    "ngram_embedding",
    "on_policy_loss",
    "parse_logprobs",
    "prompts_of",
    "reference_pool",
    "retokenize",
    "sample_completions",
    "sampled_token_logprobs",
    "served_teacher",
    "span_divergence",
    "span_logprobs",
    "style_perplexity",
    "token_offsets",
    "token_strings",
    "tokenizer_hash",
    "transport_loss",
    "uld_loss",
    "uscd_generate",
    "vocabulary_divergence",
    "vocabulary_map",
    "write_teacher_cache",
]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
