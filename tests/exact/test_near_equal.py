"""Near-equal distributions keep their digits: every divergence of the registry against 60-digit mpmath.

For P close to Q a divergence is of second order in P − Q while the terms a kernel sums are of first
order; a kernel that rounds log(p/q) loses about |log10(|p/q − 1|)| digits. The inputs here are
exact binary fractions summing to exactly 1 (so the value is that of the distributions, not of a
rounding of their normalisation), perturbed pairwise so that Q sums to exactly 1 too; the reference
is each divergence's definition evaluated in 60-digit arithmetic on the same floats.

A new divergence needs its row in ``REFERENCES`` (its definition in mpmath); the enumeration below
fails, naming it, until it has one.
"""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest

import divergences as dv
from divergences.core import record

mp.mp.dps = 60
M = mp.mpf


def _js(P, Q, beta=0.5):
    b = M(beta)
    return sum(b * p * mp.log(p / (b * p + (1 - b) * q)) + (1 - b) * q * mp.log(q / (b * p + (1 - b) * q))
               for p, q in zip(P, Q))


def _alpha(P, Q, alpha=0.5):
    a = M(alpha)
    if a == 1:
        return REFERENCES["kl"](P, Q)
    if a == 0:
        return REFERENCES["reverse_kl"](P, Q)
    return sum(q * ((p / q) ** a - a * p / q - (1 - a)) for p, q in zip(P, Q)) / (a * (a - 1))


def _renyi(P, Q, alpha=0.5):
    a = M(alpha)
    if a == 1:
        return REFERENCES["kl"](P, Q)
    return mp.log(sum(p**a * q ** (1 - a) for p, q in zip(P, Q))) / (a - 1)


def _jensen_tsallis(P, Q, order=2.0):
    o = M(order)
    return sum((p**o + q**o) / 2 - ((p + q) / 2) ** o for p, q in zip(P, Q)) / (o - 1)


#: each divergence's definition, written directly in mpmath
REFERENCES = {
    "kl": lambda P, Q: sum(p * mp.log(p / q) for p, q in zip(P, Q)),
    "reverse_kl": lambda P, Q: sum(q * mp.log(q / p) for p, q in zip(P, Q)),
    "jeffreys": lambda P, Q: sum((p - q) * mp.log(p / q) for p, q in zip(P, Q)),
    "js": _js,
    "tv": lambda P, Q: sum(abs(p - q) for p, q in zip(P, Q)) / 2,
    "hellinger": lambda P, Q: sum((mp.sqrt(p) - mp.sqrt(q)) ** 2 for p, q in zip(P, Q)) / 2,
    "pearson": lambda P, Q: sum((p - q) ** 2 / q for p, q in zip(P, Q)),
    "neyman": lambda P, Q: sum((p - q) ** 2 / p for p, q in zip(P, Q)),
    "triangular": lambda P, Q: sum((p - q) ** 2 / (p + q) for p, q in zip(P, Q)),
    "le_cam": lambda P, Q: sum((p - q) ** 2 / (p + q) for p, q in zip(P, Q)) / 2,
    "alpha": _alpha,
    "skew_kl": lambda P, Q, skew=0.1: sum(p * mp.log(p / (M(skew) * p + (1 - M(skew)) * q)) for p, q in zip(P, Q)),
    "skew_reverse_kl": lambda P, Q, skew=0.1: sum(
        q * mp.log(q / ((1 - M(skew)) * p + M(skew) * q)) for p, q in zip(P, Q)),
    "jensen_tsallis": _jensen_tsallis,
    "renyi": _renyi,
    "bhattacharyya": lambda P, Q: -mp.log(sum(mp.sqrt(p * q) for p, q in zip(P, Q))),
    "wasserstein": lambda P, Q: sum(abs(sum(P[: k + 1]) - sum(Q[: k + 1])) for k in range(len(P) - 1)),
    "cauchy_schwarz": lambda P, Q: -mp.log(
        sum(p * q for p, q in zip(P, Q)) ** 2 / (sum(p * p for p in P) * sum(q * q for q in Q))),
}
#: parameter values exercised per divergence (the defaults, and values away from them)
PARAMS = {
    "js": [{}, {"beta": 0.1}, {"beta": 0.9}],
    "alpha": [{"alpha": 0.3}, {"alpha": 2.5}, {"alpha": -1.0}, {"alpha": 1.0}, {"alpha": 0.0}],
    "renyi": [{"alpha": 0.5}, {"alpha": 2.0}, {"alpha": 1.0}, {"alpha": 0.999}],
    "skew_kl": [{}, {"skew": 0.5}],
    "skew_reverse_kl": [{}, {"skew": 0.5}],
    "jensen_tsallis": [{"order": 2.0}, {"order": 0.5}, {"order": 3.5}],
}
DIVERGENCES = [s.name for s in record.records()
               if s.builtin and s.inputs != "vectors" and s.term_attribute("is_divergence")]
CASES = [(name, params) for name in DIVERGENCES for params in PARAMS.get(name, [{}])]


def near_pair(n: int, delta: float, seed: int, bits: int = 52) -> tuple[np.ndarray, np.ndarray]:
    """P with entries k·2⁻ᵇ summing to exactly 1, each value twice; Q moves each pair by ±e (relative
    size ``delta``, a multiple of 2⁻ᵇ, so both stay exact and Q sums to exactly 1)."""
    rng = np.random.default_rng(seed)
    k = np.floor(rng.dirichlet(np.ones(n // 2)) * 2 ** (bits - 1)).astype(np.int64)
    k[0] += 2 ** (bits - 1) - k.sum()
    base = k * 2.0**-bits
    p = np.repeat(base, 2)
    e = np.round(delta * rng.standard_normal(n // 2) * k) * 2.0**-bits
    q = p.copy()
    q[0::2] += e
    q[1::2] -= e
    return p, q


def test_every_divergence_has_a_reference_row():
    missing = [n for n in DIVERGENCES if n not in REFERENCES]
    assert not missing, f"add the mpmath definition of {missing} to REFERENCES in this file"


@pytest.mark.parametrize("delta", [1e-3, 1e-6, 1e-9, 1e-12])
@pytest.mark.parametrize(("name", "params"), CASES, ids=[f"{n}-{p}" for n, p in CASES])
def test_near_equal_distributions_keep_full_relative_precision(name, params, delta):
    for seed in range(2):
        p, q = near_pair(40, delta, seed)
        P, Q = [M(float(x)) for x in p], [M(float(x)) for x in q]
        assert sum(P) == 1 and sum(Q) == 1
        reference = REFERENCES[name](P, Q, **params)
        assert reference > 0
        value = dv.divergence(name, p, q, **params)
        assert abs(M(float(value)) - reference) <= 4e-15 * reference, (name, params, delta, float(value))
        # batches of rows: the same values row by row
        rows = dv.divergence(name, np.stack([p, q]), np.stack([q, p]), **params)
        assert abs(M(float(rows[0])) - reference) <= 4e-15 * reference


@pytest.mark.parametrize("delta", [1e-3, 1e-5])
@pytest.mark.parametrize("name", ["kl", "js", "hellinger", "renyi", "cauchy_schwarz"])
def test_float32_near_equal_rows_keep_float32_precision(name, delta):
    p, q = near_pair(40, delta, 3, bits=23)
    p32, q32 = p.astype(np.float32), q.astype(np.float32)
    assert (p32 == p).all() and (q32 == q).all()
    reference = REFERENCES[name]([M(float(x)) for x in p32], [M(float(x)) for x in q32])
    value = dv.divergence(name, p32, q32)
    assert value.dtype == np.float32 and reference > 0
    assert abs(M(float(value)) - reference) <= 2e-7 * reference
