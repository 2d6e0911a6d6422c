"""The same values on every backend; autograd gradients; numerics at the extremes."""

import math

import numpy as np
import pytest

import divergences as dv

from .conftest import random_simplex

torch = pytest.importorskip("torch")

NAMES = dv.available()
PARAMS = {"js": {"beta": 0.3}, "alpha": {"alpha": 0.7}, "renyi": {"alpha": 2.0}, "skew_kl": {"skew": 0.2},
          "skew_reverse_kl": {"skew": 0.2}}


def _d(name, p, q, **kw):
    return dv.divergence(name, p, q, **PARAMS.get(name, {}), **kw)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_equals_torch(rng, name):
    p = random_simplex(rng, (6, 13), 0.2)
    q = random_simplex(rng, (6, 13), 0.1)
    want = _d(name, p, q)
    got = _d(name, torch.from_numpy(p), torch.from_numpy(q))
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-15)
    with np.errstate(divide="ignore"):
        z_p, z_q = np.log(p) + 3.0, np.log(q) - 1.0  # unnormalised logits (−inf where p = 0)
        want_l = _d(name, z_p, z_q, from_logits=True)
    np.testing.assert_allclose(want_l, want, rtol=1e-10, atol=1e-14)
    got_l = _d(name, torch.from_numpy(z_p), torch.from_numpy(z_q), from_logits=True)
    np.testing.assert_allclose(got_l.numpy(), want, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_array_api_strict(rng, name):
    xps = pytest.importorskip("array_api_strict")
    p = random_simplex(rng, (4, 9), 0.2)
    q = random_simplex(rng, (4, 9))
    got = _d(name, xps.asarray(p), xps.asarray(q))
    assert type(got).__module__.startswith("array_api_strict")
    np.testing.assert_allclose(np.asarray(got), _d(name, p, q), rtol=1e-12, atol=1e-15)


def test_dtypes():
    p32 = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float32)
    q32 = torch.tensor([0.3, 0.3, 0.4], dtype=torch.float32)
    assert dv.kl(p32, q32).dtype == torch.float32
    for half in (torch.float16, torch.bfloat16):
        out = dv.js(p32.to(half), q32.to(half))
        assert out.dtype == torch.float32
        assert torch.isfinite(out)
    assert dv.kl(p32.double(), q32).dtype == torch.float64
    assert dv.kl(np.array([0.2, 0.8], np.float32), np.array([0.5, 0.5], np.float32)).dtype == np.float32
    assert dv.kl(np.array([2, 8]), np.array([5, 5]), normalize=True).dtype == np.float64
    assert dv.kl(np.array([0.2, 0.8], np.float16), np.array([0.5, 0.5], np.float16)).dtype == np.float32


def _logits(seed, shape=(3, 7)):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float64) * 2).requires_grad_()


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_from_logits(name):
    zp, zq = _logits(0), _logits(1)
    assert torch.autograd.gradcheck(lambda a, b: _d(name, a, b, from_logits=True), (zp, zq))


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_from_probabilities(name):
    g = torch.Generator().manual_seed(3)
    p = torch.softmax(torch.randn(2, 5, generator=g, dtype=torch.float64), -1).requires_grad_()
    q = torch.softmax(torch.randn(2, 5, generator=g, dtype=torch.float64), -1).requires_grad_()
    # perturbations leave the simplex, so check with normalize=True (the divergence of the normalised inputs)
    assert torch.autograd.gradcheck(lambda a, b: _d(name, a, b, normalize=True), (p, q))


@pytest.mark.parametrize("name", NAMES)
def test_masked_vocabulary_gives_finite_values_and_gradients(name):
    zp, zq = _logits(4, (2, 8)), _logits(5, (2, 8))
    mask = torch.zeros(2, 8, dtype=torch.bool)
    mask[:, 5:] = True  # the same entries masked on both sides
    a = zp.masked_fill(mask, -math.inf)
    b = zq.masked_fill(mask, -math.inf)
    v = _d(name, a, b, from_logits=True)
    v.sum().backward()
    assert torch.isfinite(v).all(), name
    assert torch.isfinite(zp.grad).all() and torch.isfinite(zq.grad).all(), name
    assert (zp.grad[mask] == 0).all() and (zq.grad[mask] == 0).all(), name
    # the masked columns contribute nothing: the value equals that on the unmasked columns alone
    np.testing.assert_allclose(v.detach().numpy(), _d(name, zp[:, :5].detach().numpy(), zq[:, :5].detach().numpy(),
                                                       from_logits=True), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_extreme_logits(name):
    g = torch.Generator().manual_seed(7)
    zp = (torch.randn(3, 50, generator=g, dtype=torch.float64) * 1e4).requires_grad_()
    zq = (torch.randn(3, 50, generator=g, dtype=torch.float64) * 1e4).requires_grad_()
    v = _d(name, zp, zq, from_logits=True)
    assert not torch.isnan(v).any(), name
    v.sum().backward()
    finite = torch.isfinite(v)
    for row in torch.nonzero(finite).flatten():
        assert torch.isfinite(zp.grad[row]).all() and torch.isfinite(zq.grad[row]).all(), name


def test_js_far_below_minus_100_does_not_underflow():
    """Interior-β JS with both log-probabilities below −104 (Liger returns NaN there)."""
    a = torch.tensor([[0.0, -200.0, -300.0, -150.0]], dtype=torch.float32)
    b = torch.tensor([[0.0, -250.0, -120.0, -400.0]], dtype=torch.float32)
    for beta in (0.1, 0.5, 0.9):
        v = dv.js(a, b, from_logits=True, beta=beta)
        assert torch.isfinite(v).all() and (v >= 0).all()
        want = dv.js(a.double().numpy(), b.double().numpy(), from_logits=True, beta=beta)
        np.testing.assert_allclose(v.numpy(), want, rtol=1e-4, atol=1e-6)  # float32 compute


def test_half_precision_inputs_match_float32():
    g = torch.Generator().manual_seed(11)
    z = torch.randn(4, 100, generator=g) * 5
    w = torch.randn(4, 100, generator=g) * 5
    for half in (torch.float16, torch.bfloat16):
        zh, wh = z.to(half), w.to(half)
        got = dv.kl(zh, wh, from_logits=True)
        want = dv.kl(zh.float(), wh.float(), from_logits=True)
        assert got.dtype == torch.float32
        torch.testing.assert_close(got, want)


def test_importing_the_core_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, divergences as dv; dv.kl([0.5, 0.5], [0.4, 0.6]); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_entropy_on_torch_and_gradcheck(rng):
    p = random_simplex(rng, (5, 11), 0.3)
    np.testing.assert_allclose(dv.entropy(torch.from_numpy(p)).numpy(), dv.entropy(p), rtol=1e-13)
    z = _logits(9)
    z_masked = z.detach().clone()
    z_masked[:, -2:] = -math.inf
    np.testing.assert_allclose(dv.entropy(z_masked, from_logits=True).numpy(),
                               dv.entropy(z_masked[:, :-2].numpy(), from_logits=True), rtol=1e-12)
    assert torch.autograd.gradcheck(lambda a: dv.entropy(a, from_logits=True), (z,))
