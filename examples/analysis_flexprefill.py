"""FlexPrefill pattern choice on the attention of a tiny Llama: √JS(block estimate, true) per head.

Query and key states of every head are taken from the model's first attention layer (with
rotary embeddings applied); heads whose block-pooled estimate is faithful (D < τ) use the
query-aware pattern, the others vertical-slash; blocks are kept until they cover γ of the mass
(``sparse_block_mask`` returns the causal block mask of each head).

Run: ``python examples/analysis_flexprefill.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
import llm_tiny  # noqa: E402

from divergences.llm import sparse_block_mask  # noqa: E402


def main(block_size: int = 8, tau: float = 0.1, gamma: float = 0.9) -> dict:
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    tok = llm_tiny.tokenizer()
    model = llm_tiny.llama(len(tok), init=0.5)
    ids = tok(" ".join(llm_tiny.zen_lines()[:6]), return_tensors="pt")["input_ids"][:, :96]
    captured = {}
    attn = model.model.layers[0].self_attn
    hook = model.model.layers[0].input_layernorm.register_forward_hook(lambda m, i, o: captured.setdefault("h", o))
    with torch.no_grad():
        model(ids)
    hook.remove()
    h = captured["h"]
    shape = (*h.shape[:-1], -1, attn.head_dim)
    q = attn.q_proj(h).view(shape).transpose(1, 2)
    k = attn.k_proj(h).view(shape).transpose(1, 2)
    pos = torch.arange(ids.shape[1])[None]
    cos, sin = model.model.rotary_emb(h, pos)
    q, k = apply_rotary_pos_emb(q, k, cos, sin)
    k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)  # grouped-query attention: one key head per query head
    with torch.no_grad():
        mask, choice = sparse_block_mask(q, k, block_size=block_size, tau=tau, gamma=gamma)
    causal = mask.shape[-1] * (mask.shape[-1] + 1) // 2
    for head in range(q.shape[1]):
        pattern = "query-aware" if choice.query_aware[0, head] else "vertical-slash"
        print(f"head {head}: D = {choice.distance[0, head]:.3f} → {pattern:14} active blocks for γ={gamma}: "
              f"{int(mask[0, head].sum())}/{causal} causal blocks")
    return {"distance": choice.distance, "query_aware": choice.query_aware, "mask": mask}


if __name__ == "__main__":
    main()
