"""Offline top-k teachers: bytes per token of the Parquet cache, and how far the top-k loss lies from the full loss.

A tiny Llama teacher (hidden 64) and a smaller student (hidden 32) are fitted for a few steps on
``tests/data/hf_corpus.txt`` with a byte-level BPE tokenizer trained on the same text (vocabulary as large
as that text allows: 743 tokens; the models' vocabulary is ``--vocab``, 1024 by default, so ids above the
tokenizer's are never seen and carry little teacher mass). For k ∈ {8, 32, 128} the teacher's top-k is written
with :func:`divergences.hf.write_teacher_cache` (float16 and float32) and read back; the table prints

* bytes per token on disk (Parquet, compressed) beside the raw in-memory size k × (value + int32 index) and
  the full float32 row (4 × V bytes);
* the teacher's mean tail mass 1 − Σ_k p;
* for KL(teacher‖student), reverse KL and JS (β = ½): the top-k loss (k entries + tail bucket, as
  :func:`divergences.torch.topk_divergence_loss`, through :func:`divergences.hf.distillation_loss`) and its
  relative deviation from the full-vocabulary loss on the same tokens (float32 cache; the float16 cache's
  deviation from the float32 one is printed too).

Run: ``python benchmarks/bench_teacher_topk.py`` (about a minute on a laptop CPU).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM

import divergences as dv
from divergences.hf import TeacherCache, TeacherCacheCollator, distillation_loss, write_teacher_cache

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "hf_corpus.txt"
DIVERGENCES = (("kl", dv.spec("kl")), ("reverse_kl", dv.spec("reverse_kl")), ("js", dv.spec("js", beta=0.5)))


def _tokenizer(lines: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=4000, special_tokens=["<pad>", "<unk>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    return tok


def _fit(model: LlamaForCausalLM, batch: dict, steps: int) -> LlamaForCausalLM:
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        model(**batch).loss.backward()
        opt.step()
    return model.eval()


def _llama(vocab: int, hidden: int, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden,
                                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                        max_position_embeddings=64, pad_token_id=0))


def main(vocab: int = 1024, teacher_steps: int = 80, student_steps: int = 15) -> list[dict]:
    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    tok = _tokenizer(lines)
    if tok.get_vocab_size() > vocab:
        raise SystemExit(f"--vocab must be at least the tokenizer's {tok.get_vocab_size()}")
    data = [{"input_ids": tok.encode(line).ids[:48]} for line in lines]
    collate = TeacherCacheCollator(pad_token_id=0)
    batch = collate(data)
    teacher = _fit(_llama(vocab, 64, seed=1), batch, teacher_steps)
    student = _fit(_llama(vocab, 32, seed=0), batch, student_steps)
    n_tokens = sum(len(d["input_ids"]) for d in data)
    with torch.no_grad():
        full = {name: float(distillation_loss(student, teacher, batch, d)) for name, d in DIVERGENCES}

    rows = []
    work = Path(tempfile.mkdtemp())
    for k in (8, 32, 128):
        got: dict[str, dict] = {}
        for dtype in ("float32", "float16"):
            folder = work / f"k{k}-{dtype}"
            write_teacher_cache(teacher, data, folder, k=k, tokenizer=tok, model_id="tiny-llama-64", dtype=dtype)
            size = sum(f.stat().st_size for f in folder.glob("part-*.parquet"))
            cache = TeacherCache(folder, tokenizer=tok, temperature=1.0, k=k, vocab_size=vocab)
            b = collate([cache[i] for i in range(len(cache))])
            keep = b["labels"][:, 1:] != -100
            tail = float((1 - b["teacher_topk_logprobs"][:, :-1][keep].double().exp().sum(-1)).mean())
            with torch.no_grad():
                losses = {name: float(distillation_loss(student, None, b, d)) for name, d in DIVERGENCES}
            got[dtype] = {"bytes": size / n_tokens, "tail": tail, "losses": losses}
        rows.append({"k": k, **got})

    print(f"tiny Llama teacher (hidden 64) → student (hidden 32), V = {vocab}, {n_tokens} tokens, "
          f"tokenizer vocabulary {tok.get_vocab_size()}")
    print(f"full float32 teacher row: {4 * vocab} bytes per token")
    print(f"{'k':>4} {'f32 B/tok':>10} {'f16 B/tok':>10} {'raw f32':>8} {'raw f16':>8} {'tail':>7}  "
          + "  ".join(f"{name + ' full':>15} {'top-k':>9} {'rel dev':>8} {'f16 dev':>8}" for name, _ in DIVERGENCES))
    for r in rows:
        f32, f16 = r["float32"], r["float16"]
        cells = []
        for name, _ in DIVERGENCES:
            top, half = f32["losses"][name], f16["losses"][name]
            cells.append(f"{full[name]:15.5f} {top:9.5f} {(top - full[name]) / full[name]:+8.2%} "
                         f"{(half - top) / top:+8.1e}")
        print(f"{r['k']:>4} {f32['bytes']:10.1f} {f16['bytes']:10.1f} {8 * r['k']:8d} {6 * r['k']:8d} "
              f"{f32['tail']:7.4f}  " + "  ".join(cells))
    return rows


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vocab", type=int, default=1024)
    p.add_argument("--teacher-steps", type=int, default=80)
    p.add_argument("--student-steps", type=int, default=15)
    a = p.parse_args()
    main(a.vocab, a.teacher_steps, a.student_steps)
