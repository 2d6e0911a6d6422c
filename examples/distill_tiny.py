"""Distil a tiny randomly initialised teacher LM into a smaller student with the fused divergence loss.

Both models are built from `transformers` configs (nothing is downloaded). The student's LM head is
never applied to the whole batch: ``FusedLinearDivergenceLoss`` takes the student's last hidden
states and its LM-head weight and forms the logits chunk by chunk.

Run: ``python examples/distill_tiny.py --steps 30``
"""

from __future__ import annotations

import argparse
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

import divergences as dv
from divergences.torch import DistillOptions, FusedLinearDivergenceLoss


def build(vocab: int, hidden: int, layers: int, seed: int, init: float) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64,
                         initializer_range=init)
    return LlamaForCausalLM(config)


def main(steps: int = 30, divergence: str = "js", seed: int = 0) -> list[float]:
    vocab = 128
    # a larger initialisation gives the random teacher peaked, token-dependent next-token distributions
    teacher = build(vocab, hidden=64, layers=2, seed=seed, init=0.5).eval()
    student = build(vocab, hidden=32, layers=1, seed=seed + 1, init=0.02)
    params = {"beta": 0.5} if divergence == "js" else {}
    loss_fn = FusedLinearDivergenceLoss(dv.spec(divergence, **params), options=DistillOptions(chunk_size=64))
    opt = torch.optim.AdamW(student.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(seed)
    batch = torch.randint(0, vocab, (8, 24), generator=g)  # one fixed batch of prompts
    losses = []
    start = time.perf_counter()
    for step in range(steps):
        with torch.no_grad():
            teacher_logits = teacher(batch).logits
        hidden = student.model(batch).last_hidden_state
        loss = loss_fn(hidden, student.lm_head.weight, teacher_logits)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % max(1, steps // 8) == 0 or step == steps - 1:
            print(f"step {step:3d}  {divergence} loss {losses[-1]:.5f}")
    print(f"{steps} steps in {time.perf_counter() - start:.1f} s; loss {losses[0]:.5f} -> {losses[-1]:.5f}")
    return losses


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--divergence", default="js")
    args = parser.parse_args()
    main(args.steps, args.divergence)
