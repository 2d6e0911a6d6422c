"""The twin of ``user_script.py`` with the mistakes a type checker must report (never run)."""

from __future__ import annotations

import numpy as np

import divergences as dv

p = np.array([0.5, 0.5])
q = np.array([0.9, 0.1])

dv.kl(p, q, bse=2)  # typo of base
dv.js(p, q, beta="0.3")  # a string where a number is expected
dv.renyi(p, q, alfa=2.0)  # typo of alpha
dv.kl_divergence(p, q)  # no such verb

import torch  # noqa: E402

from divergences.torch import DistillOptions, cosine_similarity_loss, divergence_loss, topk_divergence_loss  # noqa: E402

s, t = torch.randn(2, 5), torch.randn(2, 5)
divergence_loss(s, t, "js", beta=0.3)  # reported: the divergence's parameter goes in dv.spec("js", beta=0.3)
divergence_loss(s, t, "kl", temperature=2.0)  # reported: a loss knob goes in options=DistillOptions(...)
divergence_loss(s, t, "kl", options=DistillOptions(temprature=2.0))  # reported: typo of temperature
divergence_loss(s, t, "kl", lables=torch.tensor([0, 1]))  # reported: typo of labels (the shared loss keywords)
divergence_loss(s, t, {"kl": 0.5, "tv": "half"})  # reported: a mixture's weights are numbers
cosine_similarity_loss(s, t, wieghts=None)  # reported: typo of weights (it forwards the shared loss keywords)
topk_divergence_loss(s, t[:, :2], t[:, :2].long(), "kl", num_items=4)  # reported: typo of num_items_in_batch

from divergences.tabular import compare  # noqa: E402

compare("ref.csv", "cur.csv", threshhold=0.1)  # reported: typo of threshold
