"""On-policy distillation in a twenty-line loop: the student samples, the teacher grades every token.

Everything is local: a byte-level BPE tokenizer trained on ``tests/data/hf_corpus.txt``, a tiny Llama teacher
fitted on that text for a few steps (transformers' causal-LM loss), and a smaller random student. Each step
the student completes the prompts (the first four tokens of each line) with its own samples, and the loss is
the per-token reverse KL(student ‖ teacher) along those samples (``on_policy_loss``). The script prints the
reverse KL measured on fresh student samples (a fixed sampling seed) before and after.

Run: ``python examples/on_policy_loop.py --steps 20``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM

from divergences.hf import on_policy_loss, sample_completions

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "hf_corpus.txt"


def tokenizer(lines: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<unk>", "<eos>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    return tok


def llama(hidden: int, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=hidden, intermediate_size=2 * hidden,
                                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                        max_position_embeddings=64, pad_token_id=0, eos_token_id=2))


def fitted_teacher(ids: list[list[int]], steps: int = 40) -> LlamaForCausalLM:
    teacher = llama(48, seed=1)
    opt = torch.optim.Adam(teacher.parameters(), lr=3e-3)
    batch = torch.tensor([s[:16] for s in ids])
    for _ in range(steps):
        teacher(input_ids=batch, labels=batch).loss.backward()
        opt.step()
        opt.zero_grad()
    return teacher.eval()


@torch.no_grad()
def reverse_kl_on_fresh_samples(student, teacher, prompts, mask) -> float:
    torch.manual_seed(1234)
    batch = sample_completions(student, prompts, mask, max_new_tokens=12)
    return float(on_policy_loss(student, teacher, batch, "reverse_kl"))


def main(steps: int = 20, seed: int = 0) -> dict[str, float]:
    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    tok = tokenizer(lines)
    ids = [tok.encode(line).ids for line in lines]
    teacher, student = fitted_teacher(ids), llama(32, seed=seed)
    prompts = torch.tensor([s[:4] for s in ids])
    mask = torch.ones_like(prompts)
    before = reverse_kl_on_fresh_samples(student, teacher, prompts, mask)

    # ---- the loop ----------------------------------------------------------------------------
    opt = torch.optim.Adam(student.parameters(), lr=1e-2)
    torch.manual_seed(seed)
    for _ in range(steps):
        rows = torch.randperm(len(prompts))[:8]                              # a batch of prompts
        batch = sample_completions(student, prompts[rows], mask[rows],      # the student's own samples
                                   max_new_tokens=12)
        loss = on_policy_loss(student, teacher, batch, "reverse_kl")        # per-token KL(student ‖ teacher)
        loss.backward()
        opt.step()
        opt.zero_grad()
    # -------------------------------------------------------------------------------------------

    after = reverse_kl_on_fresh_samples(student, teacher, prompts, mask)
    print(f"reverse KL on fresh student samples: {before:.4f} before, {after:.4f} after {steps} steps")
    return {"before": before, "after": after}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    main(a.steps, a.seed)
