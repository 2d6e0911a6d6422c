"""Unlearning evaluation: top-k JS to a retrained oracle, metric agreement (Kendall τ), composite score.

An "original" tiny LM and a "retrained" one (the oracle, never trained on the forget set) are
interpolated to mimic unlearning methods of different strength; each method is scored by three
metrics, which are compared by Kendall τ and combined with Spearman weights.

Run: ``python examples/analysis_unlearning.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import llm_tiny  # noqa: E402

from divergences.llm import composite_score, metric_agreement, topk_js  # noqa: E402


def main(k: int = 50) -> dict:
    tok = llm_tiny.tokenizer()
    original, oracle = llm_tiny.llama(len(tok), seed=0, init=0.3), llm_tiny.llama(len(tok), seed=1, init=0.3)
    forget = tok(llm_tiny.zen_lines()[:6], return_tensors="pt", padding=True)
    with torch.no_grad():
        z_orig, z_oracle = original(**forget).logits, oracle(**forget).logits
    strengths = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]  # the "methods": how far each moved toward the oracle
    js, nll, conf = [], [], []
    ids, mask = forget["input_ids"], forget["attention_mask"]
    for s in strengths:
        z = (1 - s) * z_orig + s * z_oracle
        js.append(float(topk_js(z_oracle, z, k=k, attention_mask=mask).mean()))  # ε = 1e-10, renormalised
        logp = torch.log_softmax(z[:, :-1], -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        nll.append(float(-(logp * mask[:, 1:]).sum() / mask[:, 1:].sum()))
        conf.append(float(torch.softmax(z, -1).amax(-1).mean()))
    metrics = {"top-k JS": js, "forget NLL": nll, "confidence": conf}
    names, tau, _ = metric_agreement(metrics, higher_is_better={"top-k JS": False, "forget NLL": True,
                                                                "confidence": False})
    # oracle distance of each method: how far it stayed from the retrained model (here known: 1 − strength)
    composite, weights = composite_score(metrics, oracle_distance=[1 - s for s in strengths],
                                         higher_is_better={"top-k JS": False, "forget NLL": True, "confidence": False})
    for name, row in zip(names, tau):
        print(f"{name:12} τ with others: " + " ".join(f"{t:+.2f}" for t in row))
    print("Spearman weights:", {n: round(w, 3) for n, w in weights.items()})
    print("composite per method:", [round(float(c), 2) for c in composite])
    return {"metrics": metrics, "tau": tau, "weights": weights, "composite": composite}


if __name__ == "__main__":
    main()
