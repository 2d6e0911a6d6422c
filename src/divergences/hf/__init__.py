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

from ..core.lazy import lazy_exports

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

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _EXPORTS)
