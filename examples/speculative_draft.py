"""Train a speculative-decoding draft model on −log(acceptance), and watch its acceptance rate rise.

A tiny Llama target is fitted on ``tests/data/hf_corpus.txt``; a smaller random draft is then trained to
maximise the probability that the target accepts its proposals, α = Σ_x min(p(x), q(x)) = 1 − TV(p, q), with the
loss −log α per position (``draft_loss``). The script prints the mean acceptance rate on the text and the
expected number of tokens per target call with γ = 4 drafted tokens, (1 − α^{γ+1})/(1 − α), before and after.

Run: ``python examples/speculative_draft.py --steps 60``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM

from divergences.torch import acceptance_rate, draft_loss

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "hf_corpus.txt"
GAMMA = 4


def llama(hidden: int, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    return LlamaForCausalLM(LlamaConfig(vocab_size=300, hidden_size=hidden, intermediate_size=2 * hidden,
                                        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                        max_position_embeddings=64, pad_token_id=0))


def corpus_batch() -> tuple[torch.Tensor, torch.Tensor]:
    lines = [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer, tok.decoder = pre_tokenizers.ByteLevel(add_prefix_space=False), decoders.ByteLevel()
    tok.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=300, special_tokens=["<pad>", "<unk>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                                       show_progress=False))
    ids = [tok.encode(line).ids[:20] for line in lines]
    width = max(len(s) for s in ids)
    batch = torch.zeros(len(ids), width, dtype=torch.long)
    mask = torch.zeros(len(ids), width, dtype=torch.long)
    for i, s in enumerate(ids):
        batch[i, :len(s)], mask[i, :len(s)] = torch.tensor(s), 1
    return batch, mask


@torch.no_grad()
def acceptance(draft, target, ids, mask) -> tuple[float, float]:
    alpha = acceptance_rate(draft(input_ids=ids, attention_mask=mask).logits,
                            target(input_ids=ids, attention_mask=mask).logits)[mask == 1]
    tokens = (1 - alpha ** (GAMMA + 1)) / (1 - alpha).clamp_min(1e-12)
    return float(alpha.mean()), float(tokens.mean())


def main(steps: int = 60, seed: int = 0) -> dict[str, float]:
    ids, mask = corpus_batch()
    target = llama(48, seed=1)
    opt = torch.optim.Adam(target.parameters(), lr=3e-3)
    labels = ids.masked_fill(mask == 0, -100)
    for _ in range(60):  # fit the target on the text
        target(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad()
    target.eval()
    draft = llama(16, seed=seed)
    before = acceptance(draft, target, ids, mask)
    opt = torch.optim.Adam(draft.parameters(), lr=1e-2)
    with torch.no_grad():
        target_logits = target(input_ids=ids, attention_mask=mask).logits
    for _ in range(steps):
        loss = draft_loss(draft(input_ids=ids, attention_mask=mask).logits, target_logits, mask=mask == 1)
        loss.backward()
        opt.step()
        opt.zero_grad()
    after = acceptance(draft, target, ids, mask)
    result = {"acceptance before": before[0], "acceptance after": after[0],
              f"tokens per call (γ={GAMMA}) before": before[1], f"tokens per call (γ={GAMMA}) after": after[1]}
    for name, value in result.items():
        print(f"{name:>30}: {value:.3f}")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()
    main(a.steps, a.seed)
