"""divergence_loss: values, reductions, masks, chunking, gradients and extremes."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import divergences as dv  # noqa: E402
from divergences.torch import DistillOptions, DivergenceLoss, divergence_loss  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from _distill_reference import CASES, direct, reduce  # noqa: E402

F64 = torch.float64


def _logits(*shape, seed=0, dtype=F64, scale=1.5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype) * scale


def _case_id(case):
    name, params = case
    return name + "".join(f"-{k}{v}" for k, v in params.items())


@pytest.mark.parametrize("case", CASES, ids=_case_id)
@pytest.mark.parametrize("reduction", ["mean", "sum", "batchmean", "none"])
def test_values_match_direct_formula_for_every_reduction_and_mask(case, reduction):
    name, params = case
    z, t = _logits(2, 5, 11, seed=1), _logits(2, 5, 11, seed=2)
    labels = torch.tensor([[3, -100, 1, 0, -100], [2, 2, 2, -100, 4]])
    mask = torch.tensor([[True, True, False, True, True], [True, True, True, True, False]])
    weights = torch.linspace(0.5, 2.0, 10, dtype=F64).reshape(2, 5)
    temperature = 1.3
    got = divergence_loss(z, t, dv.spec(name, **params), labels=labels, mask=mask, weights=weights, options=DistillOptions(temperature=temperature, reduction=reduction, chunk_size=3))
    per = direct(name, torch.softmax(t / temperature, -1), torch.softmax(z / temperature, -1), **params)
    want = reduce(per, (labels != -100) & mask, weights, reduction, batch=2)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_gradients_equal_autograd_of_direct_formula(case):
    name, params = case
    z = _logits(6, 9, seed=3).requires_grad_()
    t = _logits(6, 9, seed=4).requires_grad_()
    w = torch.linspace(-1.0, 2.0, 6, dtype=F64)
    got = torch.autograd.grad(divergence_loss(z, t, dv.spec(name, **params), weights=w, options=DistillOptions(chunk_size=4, temperature=0.7)), [z, t])
    ref = (direct(name, torch.softmax(t / 0.7, -1), torch.softmax(z / 0.7, -1), **params) * w).mean()
    want = torch.autograd.grad(ref, [z, t])
    for g, h in zip(got, want):
        torch.testing.assert_close(g, h, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", dv.available())
def test_gradcheck_every_registered_divergence(name):
    z = _logits(2, 4, seed=5).requires_grad_()
    t = _logits(2, 4, seed=6).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, b: divergence_loss(a, b, name, options=DistillOptions(temperature=1.4, reduction="none", chunk_size=1)), (z, t)
    )


def test_gradcheck_scalar_reduction_with_weights():
    z = _logits(3, 4, seed=5).requires_grad_()
    t = _logits(3, 4, seed=6).requires_grad_()
    w = torch.tensor([0.5, -1.0, 2.0], dtype=F64)
    assert torch.autograd.gradcheck(lambda a, b: divergence_loss(a, b, dv.spec("js", beta=0.3), weights=w, options=DistillOptions(chunk_size=2)), (z, t))


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 64])
@pytest.mark.parametrize("name", ["js", "tv", "renyi"])
def test_chunked_equals_unchunked(name, chunk_size):
    z = _logits(13, 17, seed=7).requires_grad_()
    t = _logits(13, 17, seed=8)
    mask = torch.arange(13) % 4 != 1
    one = divergence_loss(z, t, name, mask=mask, options=DistillOptions(chunk_size=13))
    (g1,) = torch.autograd.grad(one, z)
    many = divergence_loss(z, t, name, mask=mask, options=DistillOptions(chunk_size=chunk_size))
    (g2,) = torch.autograd.grad(many, z)
    torch.testing.assert_close(many, one, rtol=1e-13, atol=1e-15)
    torch.testing.assert_close(g2, g1, rtol=1e-13, atol=1e-15)


def test_user_generators_registered_and_plain():
    f = lambda t: (t - 1) ** 2 / (t + 1) + 0.5 * (t**0.5 - 1) ** 2  # noqa: E731
    z, t = _logits(4, 6, seed=9).requires_grad_(), _logits(4, 6, seed=10)
    plain = divergence_loss(z, t, f, options=DistillOptions(reduction="none"))
    want = dv.f_divergence(torch.softmax(t, -1), torch.softmax(z.detach(), -1), f)
    torch.testing.assert_close(plain.detach(), want, rtol=1e-9, atol=1e-12)
    dv.register("tri_plus_hel", f)
    try:
        named = divergence_loss(z, t, "tri_plus_hel")
        torch.testing.assert_close(named, plain.mean())
        assert torch.autograd.gradcheck(lambda a: divergence_loss(a, t, "tri_plus_hel", options=DistillOptions(chunk_size=3)),
                                        (z.detach().requires_grad_(),))
    finally:
        dv.unregister("tri_plus_hel")


def test_directions_and_kl_div_convention():
    z, t = _logits(5, 8, seed=11), _logits(5, 8, seed=12)
    lq, lp = torch.log_softmax(z, -1), torch.log_softmax(t, -1)
    fwd = torch.nn.functional.kl_div(lq, lp, reduction="sum", log_target=True)  # KL(teacher‖student)
    rev = torch.nn.functional.kl_div(lp, lq, reduction="sum", log_target=True)
    torch.testing.assert_close(divergence_loss(z, t, "kl", options=DistillOptions(reduction="sum")), fwd)
    torch.testing.assert_close(divergence_loss(z, t, "reverse_kl", options=DistillOptions(reduction="sum")), rev)


def test_hard_term_and_t_squared():
    z = _logits(2, 4, 7, seed=13).requires_grad_()
    t = _logits(2, 4, 7, seed=14)
    y = torch.tensor([[1, 2, -100, 6], [0, -100, 3, 3]])
    got = divergence_loss(z, t, dv.spec("js", beta=0.3), labels=y, options=DistillOptions(hard_weight=0.4, soft_weight=0.6, temperature=2.0, t_squared=True, chunk_size=3))
    soft = divergence_loss(z, t, dv.spec("js", beta=0.3), labels=y, options=DistillOptions(temperature=2.0))
    ce = torch.nn.functional.cross_entropy(z.reshape(-1, 7), y.reshape(-1), ignore_index=-100)
    want = 0.6 * 4.0 * soft + 0.4 * ce
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(torch.autograd.grad(got, z)[0], torch.autograd.grad(want, z)[0])


def test_module_equals_function():
    z, t = _logits(3, 9, seed=15), _logits(3, 9, seed=16)
    mod = DivergenceLoss(dv.spec("alpha", alpha=0.25), options=DistillOptions(temperature=1.5, reduction="sum"))
    torch.testing.assert_close(mod(z, t), divergence_loss(z, t, dv.spec("alpha", alpha=0.25), options=DistillOptions(temperature=1.5, reduction="sum")))
    assert "alpha" in repr(mod)


# --- extremes ----------------------------------------------------------------------------------


def _huge():
    z = (_logits(4, 10, seed=17, dtype=torch.float32).sign() * 1e4).requires_grad_()
    t = (_logits(4, 10, seed=18, dtype=torch.float32).sign() * 1e4).requires_grad_()
    return z, t


def _cannot_overflow(name: str) -> bool:
    """Whether the record's value is finite for every finite pair of logits, by its facts: a term bounded by
    a polynomial in the log-probabilities, or one with finite values at both boundaries (then bounded by
    (p + q)^degree); the log-sum-exp sums of the function records."""
    d = dv.spec(name)
    if d.kind == "function":
        return True
    return bool(d.attribute("bounded_gradient")) or all(
        math.isfinite(d.attribute(side)) for side in ("value_p_zero", "value_q_zero"))


@pytest.mark.parametrize("name", dv.available())
def test_huge_logits_are_finite(name):
    """The exact value with finite gradients; finite wherever the record's facts say it cannot overflow, else
    finite or +inf (the χ² family, below)."""
    z, t = _huge()
    loss = divergence_loss(z, t, name)
    want = dv.divergence(name, t.detach(), z.detach(), from_logits=True).mean()
    torch.testing.assert_close(loss.detach(), want)
    gz, gt = torch.autograd.grad(loss, [z, t])
    assert torch.isfinite(gz).all() and torch.isfinite(gt).all()
    assert torch.isfinite(loss) if _cannot_overflow(name) else (torch.isfinite(loss) or loss == math.inf)


@pytest.mark.parametrize("name", ["pearson", "neyman"])
def test_huge_logits_chi2_overflow_to_inf_not_nan(name):
    # (p − q)²/q with q = e^(−2e4): the true value is far beyond the float range
    z, t = _huge()
    assert divergence_loss(z, t, name) == math.inf


@pytest.mark.parametrize("name", dv.available(kind="f") + ["cross_entropy"])
def test_masked_vocabulary_entries(name):
    z, t = _logits(4, 10, seed=19), _logits(4, 10, seed=20)
    z[:, 7:] = -math.inf
    t[:, 7:] = -math.inf
    z.requires_grad_()
    loss = divergence_loss(z, t, name, options=DistillOptions(chunk_size=3))
    (g,) = torch.autograd.grad(loss, z)
    # the exact value on the seven unmasked entries (itself checked against direct definitions in tests/catalogue)
    want = dv.divergence(name, torch.softmax(t[:, :7], -1), torch.softmax(z.detach()[:, :7], -1)).mean()
    torch.testing.assert_close(loss, want, rtol=1e-10, atol=1e-12)
    assert torch.isfinite(g).all() and (g[:, 7:] == 0).all()


def test_student_masking_where_teacher_has_mass_gives_inf_not_nan():
    z, t = _logits(2, 5, seed=21), _logits(2, 5, seed=22)
    z[:, 0] = -math.inf
    z.requires_grad_()
    loss = divergence_loss(z, t, "kl")
    assert loss == math.inf
    assert torch.isfinite(torch.autograd.grad(loss, z)[0]).all()
    assert torch.isfinite(divergence_loss(z, t, "reverse_kl"))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_inputs_are_computed_in_float32(dtype):
    z32, t32 = _logits(6, 50, seed=23, dtype=torch.float32), _logits(6, 50, seed=24, dtype=torch.float32)
    z = z32.to(dtype).requires_grad_()
    t = t32.to(dtype)
    loss = divergence_loss(z, t, dv.spec("js", beta=0.5))
    assert loss.dtype == torch.float32
    ref = divergence_loss(z.detach().float(), t.float(), dv.spec("js", beta=0.5))
    torch.testing.assert_close(loss, ref, rtol=1e-6, atol=1e-7)
    (g,) = torch.autograd.grad(loss, z)
    assert g.dtype == dtype and torch.isfinite(g).all()


@pytest.mark.parametrize("reduction", ["mean", "sum", "batchmean", "none"])
def test_zero_kept_tokens(reduction):
    z = _logits(3, 6, seed=25).requires_grad_()
    t = _logits(3, 6, seed=26)
    loss = divergence_loss(z, t, "kl", labels=torch.full((3,), -100), options=DistillOptions(reduction=reduction))
    assert torch.all(loss == 0)
    (g,) = torch.autograd.grad(loss.sum(), z)
    assert torch.all(g == 0)


def test_teacher_gradient_only_when_required():
    z = _logits(3, 6, seed=27).requires_grad_()
    t = _logits(3, 6, seed=28)
    loss = divergence_loss(z, t, "kl")
    loss.backward()
    assert t.grad is None and z.grad is not None


# --- vocabulary mismatch and bad input ---------------------------------------------------------


def test_vocab_mismatch_errors_or_crops_or_pads():
    z, t = _logits(3, 8, seed=29).requires_grad_(), _logits(3, 10, seed=30)
    with pytest.raises(ValueError, match="vocabulary mismatch.*8.*10"):
        divergence_loss(z, t, "kl")
    crop = divergence_loss(z, t, "kl", options=DistillOptions(vocab_mismatch="crop"))
    torch.testing.assert_close(crop, divergence_loss(z, t[:, :8], "kl"))
    pad = divergence_loss(z, t, "reverse_kl", options=DistillOptions(vocab_mismatch="pad", chunk_size=2))
    t_pad_ref = divergence_loss(torch.cat([z, torch.full((3, 2), -math.inf, dtype=F64)], -1), t, "reverse_kl")
    torch.testing.assert_close(pad, t_pad_ref)
    (g,) = torch.autograd.grad(pad, z)
    assert g.shape == z.shape and torch.isfinite(g).all()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"reduction": "avg"}, "reduction"),
        ({"temperature": 0.0}, "temperature"),
        ({"options": {"chunk_size": 0}}, "chunk_size"),
        ({"labels": torch.zeros(4, dtype=torch.long)}, "labels"),
        ({"mask": torch.ones(2, dtype=torch.bool)}, "mask"),
        ({"options": {"hard_weight": 0.5}}, "labels"),
        ({"divergence": "nope"}, "unknown divergence"),
        ({"divergence": ("kl", {"beta": 0.5})}, "parameter"),
        ({"divergence": ("renyi", {"beta": 0.5})}, "parameter"),
        ({"options": {"vocab_mismatch": "trim"}}, "vocab_mismatch"),
    ],
)
def test_bad_input_names_the_argument(kwargs, match):
    z, t = _logits(3, 5, seed=31), _logits(3, 5, seed=32)
    fields = {f.name for f in dataclasses.fields(DistillOptions)}
    options = {k: v for k, v in kwargs.items() if k in fields}
    kwargs = {k: v for k, v in kwargs.items() if k not in fields}
    with pytest.raises(ValueError, match=match):
        if options:
            kwargs["options"] = DistillOptions(**options)
        if isinstance(kwargs.get("options"), dict):
            kwargs["options"] = DistillOptions(**kwargs["options"])
        if isinstance(kwargs.get("divergence"), tuple):
            kwargs["divergence"] = dv.spec(kwargs["divergence"][0], **kwargs["divergence"][1])
        divergence_loss(z, t, **kwargs)


def test_labels_out_of_range_for_hard_term():
    z, t = _logits(3, 5, seed=33), _logits(3, 5, seed=34)
    with pytest.raises(ValueError, match="labels"):
        divergence_loss(z, t, "kl", labels=torch.tensor([0, 5, 1]), options=DistillOptions(hard_weight=1.0))
