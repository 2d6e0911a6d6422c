"""A user's script calling each layer as the docs show it: pyright must find no error here
(``tests/typing/test_pyright.py``); its twin ``user_script_typos.py`` must be reported."""

from __future__ import annotations

import numpy as np
import torch

import divergences as dv

p = np.array([0.5, 0.3, 0.2])
q = np.array([0.4, 0.4, 0.2])

kl: float = float(dv.kl(p, q))
bits = dv.js(p, q, beta=0.3, base=2)
batch = dv.tv(np.stack([p, q]), np.stack([q, p]))
print(kl, bits, batch.shape, dv.divergence("renyi", p, q, alpha=2.0))
js03 = dv.spec("js", beta=0.3)
print(js03(p, q), dv.divergence(js03, p, q), dv.entropy(p, base=2))

student = torch.randn(4, 16, requires_grad=True)
teacher = torch.randn(4, 16)
loss: torch.Tensor = dv.js(teacher, student, from_logits=True).mean()
loss.backward()

from divergences.torch import DistillOptions, LossParts, divergence_loss, fused_linear_divergence_loss  # noqa: E402

opts = DistillOptions(temperature=2.0, hard_weight=0.5)
labels = torch.tensor([1, 2, 3, 4])
kd: torch.Tensor = divergence_loss(student, teacher, js03, labels=labels, options=opts)
parts: LossParts = divergence_loss(student, teacher, "kl", labels=labels, options=opts, return_parts=True)
fused: torch.Tensor = fused_linear_divergence_loss(torch.randn(4, 8), torch.randn(16, 8), teacher, js03)
either = divergence_loss(student, teacher, {"kl": 0.5, "reverse_kl": 0.5}, return_parts=bool(len(labels)), mask=None)
print(kd.item(), parts.soft.item(), fused.item())

from divergences.torch import cosine_similarity_loss, topk_divergence_loss  # noqa: E402

top_lp, top_ix = teacher.log_softmax(-1).topk(4)
topk: torch.Tensor = topk_divergence_loss(student, top_lp, top_ix, "kl", labels=labels, options=opts)
in_place: torch.Tensor = topk_divergence_loss(student, top_lp[:, :2], top_ix[:, :2].long(), "kl", num_items_in_batch=4)
cos: torch.Tensor = cosine_similarity_loss(student, teacher, mask=None, num_items_in_batch=4)
print(topk.item(), cos.item(), in_place.item())
