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
