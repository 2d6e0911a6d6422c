"""DC-PDD pretraining-data detection with a frequency table built once from a corpus and saved.

A tiny LM is fine-tuned for a few steps on half of the Zen of Python ("members"); DC-PDD scores
every line, calibrating the model's token probabilities by the corpus token frequencies.

Run: ``python examples/analysis_dcpdd.py``
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import llm_tiny  # noqa: E402

from divergences.llm import FrequencyTable, dcpdd_score  # noqa: E402


def main(steps: int = 40, a: float = 0.01) -> dict:
    tok = llm_tiny.tokenizer()
    lines = llm_tiny.zen_lines()
    members, others = lines[::2], lines[1::2]
    with tempfile.TemporaryDirectory() as tmp:  # built once, saved, loaded where it is used
        FrequencyTable.from_corpus(lines, vocab_size=len(tok), tokenizer=tok).save(Path(tmp) / "freq.npz")
        table = FrequencyTable.load(Path(tmp) / "freq.npz")
    model = llm_tiny.llama(len(tok), init=0.02).train()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    enc = tok(members, return_tensors="pt", padding=True)
    labels = enc["input_ids"].masked_fill(enc["attention_mask"] == 0, -100)
    for _ in range(steps):
        opt.zero_grad()
        model(**enc, labels=labels).loss.backward()
        opt.step()
    model.eval()

    def score(texts):
        e = tok(texts, return_tensors="pt", padding=True)
        with torch.no_grad():
            logits = model(**e).logits
        return dcpdd_score(logits, e["input_ids"], table, a=a, attention_mask=e["attention_mask"])

    s_in, s_out = score(members), score(others)
    auc = (s_in[:, None] > s_out[None, :]).float().mean().item()
    print(f"mean DC-PDD score: members {s_in.mean():.4f}, non-members {s_out.mean():.4f}; AUC {auc:.2f}")
    return {"members": s_in, "non_members": s_out, "auc": auc}


if __name__ == "__main__":
    main()
