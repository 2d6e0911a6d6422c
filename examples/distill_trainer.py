"""Distil a tiny Llama teacher into a smaller student with ``DistillationTrainer``, from the model and from a cache.

Everything is local: a byte-level BPE tokenizer is trained on ``tests/data/hf_corpus.txt``, the teacher is a
tiny Llama built from a config and fitted on that text with transformers' own ``Trainer`` (its causal-LM
loss), then a smaller student is distilled

1. from the teacher model (hidden states + heads through the fused loss, student logits never materialised),
2. from a Parquet top-k cache of the teacher (``write_teacher_cache`` → ``TeacherCache`` →
   ``TeacherCacheCollator``; the teacher is not needed during training).

Run: ``python examples/distill_trainer.py --steps 40``
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

from divergences.hf import DistillationTrainer, TeacherCache, TeacherCacheCollator, write_teacher_cache

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "hf_corpus.txt"


def tokenizer(lines: list[str], vocab_size: int = 300) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<unk>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    return tok


def llama(vocab: int, hidden: int, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden,
                                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                        max_position_embeddings=64, pad_token_id=0))


def args(out: str, steps: int, lr: float) -> TrainingArguments:
    return TrainingArguments(output_dir=out, max_steps=steps, per_device_train_batch_size=4, learning_rate=lr,
                             logging_steps=max(steps // 4, 1), report_to="none", save_strategy="no", use_cpu=True,
                             disable_tqdm=True, seed=0)


@torch.no_grad()
def perplexity(model: LlamaForCausalLM, batch: dict) -> float:
    model.eval()
    return math.exp(float(model(**batch).loss))


def main(steps: int = 40, teacher_steps: int = 60, divergence: str = "kl") -> dict[str, float]:
    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    tok = tokenizer(lines)
    vocab = tok.get_vocab_size()
    data = [{"input_ids": tok.encode(line).ids[:32]} for line in lines]
    collate = TeacherCacheCollator(pad_token_id=0)
    everything = collate(data)
    work = tempfile.mkdtemp()

    teacher = llama(vocab, 64, seed=1)
    Trainer(model=teacher, args=args(work, teacher_steps, 3e-3), train_dataset=data, data_collator=collate).train()
    results = {"teacher ppl": perplexity(teacher, everything)}

    student = llama(vocab, 32, seed=0)
    results["student ppl before"] = perplexity(student, everything)
    DistillationTrainer(model=student, teacher_model=teacher, divergence=divergence, args=args(work, steps, 3e-3),
                        train_dataset=data, data_collator=collate).train()
    results["student ppl (distilled from the model)"] = perplexity(student, everything)

    folder = Path(work) / "teacher-cache"
    m = write_teacher_cache(teacher, data, folder, k=32, tokenizer=tok, model_id="tiny-llama-64", dtype="float16")
    cache = TeacherCache(folder, tokenizer=tok, temperature=1.0, k=32, vocab_size=vocab)
    size = sum(f.stat().st_size for f in folder.glob("part-*.parquet"))
    results["cache bytes per token"] = size / sum(len(d["input_ids"]) for d in data)
    cached_student = llama(vocab, 32, seed=0)
    DistillationTrainer(model=cached_student, teacher_model=None, divergence=divergence,
                        args=args(work, steps, 3e-3), train_dataset=cache, data_collator=collate).train()
    results["student ppl (distilled from the cache)"] = perplexity(cached_student, everything)
    print(f"cache: k={m.k}, {m.dtype}, {m.n_examples} examples")
    for name, value in results.items():
        print(f"{name:>40}: {value:.3f}")
    return results


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--teacher-steps", type=int, default=60)
    p.add_argument("--divergence", default="kl")
    a = p.parse_args()
    main(a.steps, a.teacher_steps, a.divergence)
