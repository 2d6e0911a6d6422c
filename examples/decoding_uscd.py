"""USCD: selective contrastive decoding of a standard prompt against its "lame" version.

The lame prompt is the few-shot prompt without its examples; it runs step by step with its own KV
cache. Where the standard next-token distribution is uncertain, the implausible tokens are removed
and the rest scored by log(p_standard − w·p_lame). At w = 0 the output is plain decoding.

Run: ``python examples/decoding_uscd.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import llm_tiny  # noqa: E402

from divergences.hf.processors import uscd_generate  # noqa: E402


def main(max_new_tokens: int = 12, weight: float = 0.7, threshold: float = 0.03) -> dict:
    tok = llm_tiny.tokenizer()
    model = llm_tiny.llama(len(tok))
    examples = "Beautiful is better than ugly.\nSimple is better than complex.\n"
    queries = ["Flat is better than", "Readability"]
    std = tok([examples + q for q in queries], return_tensors="pt", padding=True)
    lame = tok(queries, return_tensors="pt", padding=True)
    # the repository's 0.005 was tuned for a 32k vocabulary; a one-hot row has std ≈ 1/√V, so scale it
    common = dict(uncertainty_threshold=threshold, attention_mask=std["attention_mask"], lame_attention_mask=lame["attention_mask"],
                  do_sample=False, max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id)
    plain = model.generate(input_ids=std["input_ids"], attention_mask=std["attention_mask"], do_sample=False,
                           max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id)
    zero, _ = uscd_generate(model, std["input_ids"], lame["input_ids"], weight=0.0, **common)
    out, proc = uscd_generate(model, std["input_ids"], lame["input_ids"], weight=weight, **common)
    n = std["input_ids"].shape[1]
    uncertain = torch.stack(proc.uncertain, 1).float().mean().item()
    print(f"w = 0 equals plain greedy decoding: {torch.equal(zero, plain)}")
    changed = (out[:, n:] != plain[:, n:]).float().mean().item()
    print(f"share of uncertain steps (std of p ≤ {proc.threshold}): {uncertain:.2f}; tokens changed: {changed:.2f}")
    for q, row, base in zip(queries, out[:, n:], plain[:, n:]):
        print(f"{q!r:24} plain: {tok.decode(base)!r}\n{'':24} USCD : {tok.decode(row)!r}")
    return {"identity": torch.equal(zero, plain), "uncertain_share": uncertain, "changed_share": changed}


if __name__ == "__main__":
    main()
