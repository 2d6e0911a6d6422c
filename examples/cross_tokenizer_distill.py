"""Distil a teacher that uses another tokenizer: ``DistillationTrainer(teacher_tokenizer=...)``.

Two byte-level BPE tokenizers are trained on different local text (``tests/data``), so they split words
differently and share only part of their vocabularies. A tiny Llama teacher with the second tokenizer is fitted
on the corpus for a few steps; a smaller random student with the first tokenizer is then distilled from it:
each batch's text is re-tokenized for the teacher, the two tokenizations are aligned on the character spans
both cover, and at each span start the next-token distributions are compared over the union of the two
vocabularies (tokens matched by their bytes, the rest of each side's mass in one tail bucket).

Run: ``python examples/cross_tokenizer_distill.py --steps 30``
"""

from __future__ import annotations

import argparse
import math
import tempfile
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, TrainingArguments

from divergences.hf import DistillationTrainer

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def tokenizer(lines: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<unk>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", unk_token="<unk>")


def llama(vocab: int, hidden: int, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden,
                                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                        max_position_embeddings=64, pad_token_id=0))


def batch_of(tok: PreTrainedTokenizerFast, lines: list[str]) -> dict[str, torch.Tensor]:
    enc = tok(lines, return_tensors="pt", padding=True, truncation=True, max_length=24)
    return {**enc, "labels": enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)}


def fitted(model: LlamaForCausalLM, batch: dict, steps: int) -> LlamaForCausalLM:
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        model(**batch).loss.backward()
        opt.step()
        opt.zero_grad()
    return model.eval()


@torch.no_grad()
def perplexity(model: LlamaForCausalLM, batch: dict) -> float:
    model.eval()
    return math.exp(float(model(**batch).loss))


def main(steps: int = 30, teacher_steps: int = 60) -> dict[str, float]:
    corpus = [line for line in (DATA / "hf_corpus.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    other = [line for line in (DATA / "llm_corpus.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    student_tok, teacher_tok = tokenizer(corpus, 300), tokenizer(other + corpus[10:], 360)
    teacher = fitted(llama(len(teacher_tok), 48, seed=1), batch_of(teacher_tok, corpus), teacher_steps)
    student = llama(len(student_tok), 32, seed=0)
    evaluation = batch_of(student_tok, corpus)
    before = perplexity(student, evaluation)

    rows = [{"text": line} for line in corpus]

    def collate(items: list[dict]) -> dict:
        return batch_of(student_tok, [r["text"] for r in items])

    with tempfile.TemporaryDirectory() as work:
        args = TrainingArguments(output_dir=work, max_steps=steps, per_device_train_batch_size=8, learning_rate=1e-2,
                                 report_to="none", save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0,
                                 logging_steps=max(steps // 3, 1), remove_unused_columns=False)
        trainer = DistillationTrainer(model=student, teacher_model=teacher, processing_class=student_tok,
                                      teacher_tokenizer=teacher_tok, divergence="kl", args=args, train_dataset=rows,
                                      data_collator=collate)
        print(trainer.cross.vocab_map.report())
        trainer.train()
    after = perplexity(student, evaluation)
    result = {"student ppl before": before, "student ppl after": after,
              "matched tokens": float(trainer.cross.vocab_map.matched)}
    for name, value in result.items():
        print(f"{name:>20}: {value:.3f}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--teacher-steps", type=int, default=60)
    a = parser.parse_args()
    main(a.steps, a.teacher_steps)
