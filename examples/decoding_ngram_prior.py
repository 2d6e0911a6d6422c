"""n-gram style prior injection, watched by a divergence monitor.

An interpolated 1–3-gram model (add-k) fitted on the Zen of Python with the model's tokenizer is
added to the logits, λ·log p_prior; the monitor records JS(original, steered) at every step; the
output's style perplexity (under the n-gram model) and base perplexity (under the LM) are reported.

Run: ``python examples/decoding_ngram_prior.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import llm_tiny  # noqa: E402

from divergences.hf.processors import (  # noqa: E402
    DivergenceMonitor,
    NGramPriorLogitsProcessor,
    base_perplexity,
    style_perplexity,
)
from divergences.llm import NGramPrior  # noqa: E402


def main(max_new_tokens: int = 16, strengths: tuple[float, ...] = (0.0, 0.5, 2.0)) -> list[dict]:
    tok = llm_tiny.tokenizer()
    model = llm_tiny.llama(len(tok))
    prior = NGramPrior.fit(llm_tiny.zen_lines(), vocab_size=len(tok), tokenizer=tok, order=3, k=0.1,
                           weights=(0.2, 0.3, 0.5))
    enc = tok(["Errors should", "Now is better"], return_tensors="pt", padding=True)
    n = enc["input_ids"].shape[1]
    rows = []
    for lam in strengths:
        monitor = DivergenceMonitor(NGramPriorLogitsProcessor(prior, strength=lam, pad_token_id=tok.pad_token_id),
                                    divergence="js")
        out = model.generate(**enc, do_sample=False, max_new_tokens=max_new_tokens, pad_token_id=tok.pad_token_id,
                             logits_processor=[monitor])
        summary = monitor.summary()
        row = {"lambda": lam, "js_mean": float(summary["mean"].mean()) + 0.0, "js_max": float(summary["max"].max()),
               "style_ppl": style_perplexity(prior, out, prompt_length=n, pad_token_id=tok.pad_token_id),
               "base_ppl": base_perplexity(model, out, prompt_length=n, attention_mask=enc["attention_mask"]),
               "text": tok.decode(out[0, n:])}
        rows.append(row)
        print(f"λ={lam:<4} JS mean {row['js_mean']:.4f} max {row['js_max']:.4f}  style ppl {row['style_ppl']:8.2f}"
              f"  base ppl {row['base_ppl']:8.2f}  {row['text']!r}")
    return rows


if __name__ == "__main__":
    main()
