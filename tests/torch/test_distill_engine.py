"""The chunk engine, the options object and the per-call checks (issues 9 and 10, torch part)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

import dataclasses  # noqa: E402

import divergences as dv  # noqa: E402
from divergences.catalogue import JensenShannon  # noqa: E402
from divergences.torch import (  # noqa: E402
    DistillOptions,
    DivergenceLoss,
    FusedLinearDivergenceLoss,
    LossParts,
    _engine,
    _kernels,
    cosine_similarity_loss,
    divergence_loss,
    fused_linear_divergence_loss,
    mixture,
    token_entropy,
    topk_divergence_loss,
)
from divergences.torch._divergence import resolve  # noqa: E402

F64 = torch.float64


def _r(*shape, seed=0, dtype=F64, scale=1.5):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype) * scale


# --- one kernel, no host synchronisation: it traces under torch.compile(fullgraph=True) ----------


@pytest.mark.slow
def test_per_chunk_kernel_compiles_with_fullgraph_and_gives_equal_values():
    kernel = _kernels.dense_kernel(resolve(dv.spec("js", beta=0.3)), 1.7, 2.0, masked=True, block=None)
    z, t = _r(6, 11, seed=1), _r(6, 11, seed=2)
    t[0, 3] = -math.inf  # the masked form handles a boundary without a Python branch
    z[1, 4] = -math.inf
    compiled = torch.compile(lambda a, b: kernel(a, [b], True, True), fullgraph=True, backend="eager")
    got, want = compiled(z, t), kernel(z, [t], True, True)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-12, atol=1e-14)


def test_masked_and_interior_forms_agree():
    z, t = _r(7, 13, seed=3).requires_grad_(), _r(7, 13, seed=4).requires_grad_()
    for name in ("kl", "js", "pearson", "hellinger", "alpha"):
        a = torch.autograd.grad(divergence_loss(z, t, name), [z, t])
        b = torch.autograd.grad(divergence_loss(z, t, name, options=DistillOptions(validate=False)), [z, t])  # masked form
        la, lb = divergence_loss(z, t, name), divergence_loss(z, t, name, options=DistillOptions(validate=False))
        torch.testing.assert_close(la, lb, rtol=1e-12, atol=1e-14)
        for g, h in zip(a, b):
            torch.testing.assert_close(g, h, rtol=1e-12, atol=1e-14)


def test_chunk_rows_per_device():
    assert _engine.chunk_rows(None, 32000, torch.device("cpu")) == (1 << 22) // 32000
    assert _engine.chunk_rows(None, 32000, torch.device("cuda")) == (1 << 26) // 32000
    assert _engine.chunk_rows(7, 32000, torch.device("cuda")) == 7
    assert _engine.block_elements(torch.device("cpu")) == 1 << 17
    assert _engine.block_elements(torch.device("cuda")) is None


# --- the options object ---------------------------------------------------------------------------


def test_options_object_equals_keywords_in_every_loss():
    z, t = _r(2, 4, 9, seed=5), _r(2, 4, 9, seed=6)
    labels = torch.tensor([[1, -1, 2, 3], [0, 0, -1, 8]])
    opts = DistillOptions(temperature=1.7, t_squared=True, ignore_index=-1, reduction="sum", soft_weight=0.6,
                          hard_weight=0.3, chunk_size=3)
    kw = dict(temperature=1.7, t_squared=True, ignore_index=-1, reduction="sum", soft_weight=0.6, hard_weight=0.3,
              chunk_size=3)
    a = divergence_loss(z, t, dv.spec("js", beta=0.2), labels=labels, options=opts)
    assert DistillOptions(**kw) == opts
    with pytest.raises(TypeError, match=r"options=DistillOptions\(temperature="):
        divergence_loss(z, t, dv.spec("js", beta=0.2), labels=labels, **kw)
    torch.testing.assert_close(a, divergence_loss(z, t, dv.spec("js", **{"beta": 0.2}), labels=labels, options=opts))
    torch.testing.assert_close(a, divergence_loss(z, t, JensenShannon(beta=0.2), options=opts, labels=labels))
    torch.testing.assert_close(a, DivergenceLoss(dv.spec("js", **{"beta": 0.2}), options=opts)(z, t, labels=labels))
    h, w = _r(2, 4, 5, seed=7), _r(9, 5, seed=8)
    f = fused_linear_divergence_loss(h, w, t, "kl", options=opts, labels=labels)
    torch.testing.assert_close(f, divergence_loss(h @ w.T, t, "kl", options=opts, labels=labels))
    torch.testing.assert_close(f, FusedLinearDivergenceLoss("kl", options=opts)(h, w, t, labels=labels))
    lp, ix = t.log_softmax(-1).topk(4)
    k = topk_divergence_loss(z, lp, ix, "kl", options=opts, labels=labels)
    torch.testing.assert_close(k, topk_divergence_loss(z, lp, ix, dv.spec("kl"), options=opts, labels=labels))
    with pytest.raises(TypeError, match=r"options=DistillOptions\(temperature="):
        topk_divergence_loss(z, lp, ix, "kl", labels=labels, **kw)


def test_keyword_overrides_options_and_options_are_frozen():
    z, t = _r(3, 7, seed=9), _r(3, 7, seed=10)
    opts = DistillOptions(temperature=3.0)
    torch.testing.assert_close(divergence_loss(z, t, options=dataclasses.replace(opts, temperature=2.0)),
                               divergence_loss(z, t, options=DistillOptions(temperature=2.0)))
    torch.testing.assert_close(divergence_loss(z, t, options=opts), divergence_loss(z, t, options=DistillOptions(temperature=3.0)))
    with pytest.raises(AttributeError):
        opts.temperature = 1.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"temperature": None}, "temperature"),
        ({"temperature": "2"}, "temperature"),
        ({"temperature": 0.0}, "temperature"),
        ({"temperature": math.nan}, "temperature"),
        ({"reduction": "avg"}, "reduction"),
        ({"reduction": None}, "reduction"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": "4"}, "chunk_size"),
        ({"chunk_size": 2.5}, "chunk_size"),
        ({"chunk_size": True}, "chunk_size"),
        ({"hard_weight": None}, "hard_weight"),
        ({"soft_weight": math.inf}, "soft_weight"),
        ({"t_squared": "no"}, "t_squared"),
        ({"validate": "yes"}, "validate"),
        ({"ignore_index": "x"}, "ignore_index"),
        ({"ignore_index": 1.5}, "ignore_index"),
        ({"vocab_mismatch": "trim"}, "vocab_mismatch"),
        ({"options": {"temperature": 2}}, "options"),
        ({"num_items_in_batch": 0}, "num_items_in_batch"),
        ({"num_items_in_batch": "8"}, "num_items_in_batch"),
        ({"num_items_in_batch": 8, "options": DistillOptions(reduction="sum")}, "num_items_in_batch"),
        ({"labels": [1, 2, 3]}, "labels"),
        ({"weights": torch.ones(3, dtype=torch.bool)}, "weights"),
    ],
)
def test_every_keyword_is_checked_with_an_error_naming_it(kwargs, match):
    z, t = _r(3, 5, seed=11), _r(3, 5, seed=12)
    div = "js"
    with pytest.raises(ValueError, match=match):
        if set(kwargs) <= {f.name for f in dataclasses.fields(DistillOptions)}:
            divergence_loss(z, t, div, options=DistillOptions(**kwargs))
        else:
            divergence_loss(z, t, div, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"params": {"beta": 0.2}}, r"params=: .*divergence=dv.spec\('js', beta=0.3\)"),
        ({"beta": 0.3}, r"beta=: .*divergence=dv.spec\('js', beta=...\)"),
        ({"temperature": 2.0}, r"temperature=: .*options=DistillOptions\(temperature=...\)"),
    ],
)
def test_removed_keyword_spellings_name_the_new_one(kwargs, match):
    z, t = _r(3, 5, seed=11), _r(3, 5, seed=12)
    for call in (lambda: divergence_loss(z, t, "js", **kwargs), lambda: DivergenceLoss("js", **kwargs),
                 lambda: topk_divergence_loss(z, *t.log_softmax(-1).topk(2), "js", **kwargs),
                 lambda: fused_linear_divergence_loss(_r(3, 2), _r(5, 2), t, "js", **kwargs)):
        with pytest.raises(TypeError, match=match):
            call()


def test_a_misspelt_keyword_is_refused_by_every_loss_although_they_take_keywords():
    """The losses take their keywords as ``**keywords: Unpack[LossKeywords]``: Python itself would accept any key,
    so the check is theirs (a type checker reports the same call)."""
    from divergences.torch import cosine_similarity_loss

    z, t = _r(3, 5, seed=11), _r(3, 5, seed=12)
    labels = torch.zeros(3, dtype=torch.long)
    for name, call in (("divergence_loss", lambda **k: divergence_loss(z, t, "js", **k)),
                       ("topk_divergence_loss", lambda **k: topk_divergence_loss(z, *t.log_softmax(-1).topk(2), **k)),
                       ("fused_linear_divergence_loss",
                        lambda **k: fused_linear_divergence_loss(_r(3, 2), _r(5, 2), t, **k)),
                       ("cosine_similarity_loss", lambda **k: cosine_similarity_loss(z, t, **k))):
        with pytest.raises(TypeError, match=rf"{name}\(\) got an unexpected keyword argument 'lables'"):
            call(lables=labels)
        assert torch.isfinite(call(labels=labels, options=DistillOptions(hard_weight=0.5)))


def test_divergence_argument_errors():
    z, t = _r(3, 5, seed=11), _r(3, 5, seed=12)
    with pytest.raises(ValueError, match="not to JensenShannon"):
        divergence_loss(z, t, dv.spec(JensenShannon(0.3), beta=0.2))
    with pytest.raises(ValueError, match="takes no parameter"):
        divergence_loss(z, t, dv.spec("renyi", beta=0.2))
    with pytest.raises(ValueError, match="bad parameter|beta"):
        divergence_loss(z, t, dv.spec("js", gamma=0.2))
    with pytest.raises(ValueError, match="None"):
        divergence_loss(z, t, None)
    with pytest.raises(ValueError, match="return_parts"):
        divergence_loss(z, t, "kl", options=DistillOptions(reduction="none"), return_parts=True)
    with pytest.raises(ValueError, match="ordered categories"):
        divergence_loss(z, t, "wasserstein")


# --- per-call checks of the logits -----------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_or_inf_logits_are_an_error_naming_the_tensor(bad):
    z, t = _r(3, 6, seed=13), _r(3, 6, seed=14)
    zb, tb = z.clone(), t.clone()
    zb[1, 2], tb[2, 0] = bad, bad
    what = "NaN" if math.isnan(bad) else r"\+inf"
    with pytest.raises(ValueError, match=f"student_logits holds {what}"):
        divergence_loss(zb, t)
    with pytest.raises(ValueError, match=f"teacher_logits holds {what}"):
        divergence_loss(z, tb)
    with pytest.raises(ValueError, match=f"logits holds {what}"):
        token_entropy(zb)
    lp, ix = t.log_softmax(-1).topk(3)
    with pytest.raises(ValueError, match=f"student_logits holds {what}"):
        topk_divergence_loss(zb, lp, ix)
    h, w = _r(3, 4, seed=15), _r(6, 4, seed=16)
    hb, wb = h.clone(), w.clone()
    hb[0, 0], wb[5, 3] = bad, bad
    with pytest.raises(ValueError, match="student_hidden must be finite"):
        fused_linear_divergence_loss(hb, w, t)
    with pytest.raises(ValueError, match="lm_head_weight must be finite"):
        fused_linear_divergence_loss(h, wb, t)
    with pytest.raises(ValueError, match=f"teacher_logits holds {what}"):
        fused_linear_divergence_loss(h, w, tb)
    # validate=False skips the check (trusted input): no error, and the NaN shows
    assert not torch.isfinite(divergence_loss(zb, t, options=DistillOptions(validate=False))) or math.isnan(float(divergence_loss(zb, t, options=DistillOptions(validate=False))))


def test_a_row_that_is_all_minus_inf_is_an_error():
    z, t = _r(3, 6, seed=17), _r(3, 6, seed=18)
    z[1] = -math.inf
    with pytest.raises(ValueError, match="student_logits has a row that is all -inf"):
        divergence_loss(z, t)
    with pytest.raises(ValueError, match="logits has a row that is all -inf"):
        token_entropy(z)
    with pytest.raises(ValueError, match="teacher_logits has a row that is all -inf"):
        divergence_loss(t, z)


# --- top-k with k = V equals the dense loss (tails below rounding count as zero) ---------------------


@pytest.mark.parametrize("name", ["kl", "reverse_kl", "js", "pearson"])
def test_topk_with_k_equal_v_equals_dense_over_20_seeds(name):
    for seed in range(20):
        z, t = _r(5, 17, seed=100 + seed, scale=3.0), _r(5, 17, seed=200 + seed, scale=3.0)
        lp, ix = t.log_softmax(-1).topk(17)
        zt = z.clone().requires_grad_()
        got = topk_divergence_loss(zt, lp, ix, name)
        want = divergence_loss(z, t, name)
        assert math.isfinite(float(got.detach())), (seed, float(got.detach()))
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-12)
        got.backward()
        zd = z.clone().requires_grad_()
        divergence_loss(zd, t, name).backward()
        torch.testing.assert_close(zt.grad, zd.grad, rtol=1e-8, atol=1e-11)


# --- χ² losses at the extremes: +inf, never a NaN gradient ------------------------------------------


@pytest.mark.parametrize("name", ["pearson", "neyman"])
@pytest.mark.parametrize("case", ["logits_1e4", "temperature_1e-8", "fp16_x1e3"])
def test_chi2_extremes_give_inf_or_finite_loss_and_never_nan_gradients(name, case):
    z, t = _r(4, 40, seed=19, dtype=torch.float32), _r(4, 40, seed=20, dtype=torch.float32)
    temperature = 1.0
    if case == "logits_1e4":
        z, t = torch.sign(z) * 1e4, -torch.sign(t) * 1e4
    elif case == "temperature_1e-8":
        temperature = 1e-8
    else:
        z, t = (z * 1e3).half(), (t * 1e3).half()
    zs, ts = z.clone().requires_grad_(), t.clone().requires_grad_()
    loss = divergence_loss(zs, ts, name, options=DistillOptions(temperature=temperature))
    assert not math.isnan(float(loss)) and float(loss) >= 0
    loss.backward()
    assert not torch.isnan(zs.grad).any() and not torch.isnan(ts.grad).any()
    hs = torch.eye(4).requires_grad_()
    ws = z.float().T.contiguous().requires_grad_()  # (V, 4): the logits h Wᵀ are z
    fused = fused_linear_divergence_loss(hs, ws, t, name, options=DistillOptions(temperature=temperature))
    fused.backward()
    assert not torch.isnan(hs.grad).any() and not torch.isnan(ws.grad).any()
    lp, ix = torch.log_softmax(t.float() / temperature, -1).topk(5)
    zk = z.clone().requires_grad_()
    topk_divergence_loss(zk, lp, ix, name, options=DistillOptions(temperature=temperature)).backward()
    assert not torch.isnan(zk.grad).any()


# --- num_items_in_batch: summed micro-batch losses equal the full-batch mean ------------------------


def test_num_items_in_batch_makes_micro_batches_sum_to_the_full_batch_mean():
    z, t = _r(8, 6, 11, seed=21), _r(8, 6, 11, seed=22)
    labels = torch.randint(0, 11, (8, 6), generator=torch.Generator().manual_seed(0))
    labels[labels < 3] = -100
    n_items = int((labels != -100).sum())
    zf = z.clone().requires_grad_()
    full = divergence_loss(zf, t, "js", labels=labels, options=DistillOptions(hard_weight=0.5))
    full.backward()
    zm = z.clone().requires_grad_()
    total = sum(divergence_loss(zm[i : i + 2], t[i : i + 2], "js", labels=labels[i : i + 2], num_items_in_batch=torch.tensor(n_items), options=DistillOptions(hard_weight=0.5)) for i in range(0, 8, 2))
    total.backward()
    torch.testing.assert_close(total, full, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(zm.grad, zf.grad, rtol=1e-12, atol=1e-14)
    h, w = _r(8, 6, 5, seed=23), _r(11, 5, seed=24)
    fused_full = fused_linear_divergence_loss(h, w, t, "kl", labels=labels)
    fused_sum = sum(fused_linear_divergence_loss(h[i : i + 4], w, t[i : i + 4], "kl", labels=labels[i : i + 4],
                                                 num_items_in_batch=n_items) for i in (0, 4))
    torch.testing.assert_close(fused_sum, fused_full, rtol=1e-12, atol=1e-14)


# --- fused: reduction="none", softcap, logit scale; parts; cosine; mixtures -----------------------


def test_fused_reduction_none_equals_dense_per_token_with_gradients():
    h, w, b = _r(3, 4, 6, seed=25).requires_grad_(), _r(13, 6, seed=26).requires_grad_(), _r(13, seed=27).requires_grad_()
    t = _r(3, 4, 13, seed=28)
    labels = torch.tensor([[1, -100, 2, 3], [0, 0, -100, 12], [5, 6, 7, 8]])
    v = torch.linspace(-1, 2, 12, dtype=F64).reshape(3, 4)  # a non-uniform upstream gradient
    got = fused_linear_divergence_loss(h, w, t, "js", bias=b, labels=labels, weights=v.abs(), options=DistillOptions(reduction="none", chunk_size=5, hard_weight=0.3))
    gg = torch.autograd.grad((got * v).sum(), [h, w, b])
    want = divergence_loss(h @ w.T + b, t, "js", labels=labels, weights=v.abs(), options=DistillOptions(reduction="none", hard_weight=0.3))
    gw = torch.autograd.grad((want * v).sum(), [h, w, b])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    for a, c in zip(gg, gw):
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-12)


def test_softcap_and_logit_scale_equal_the_dense_loss_of_the_transformed_logits():
    h, w = _r(5, 6, seed=29).requires_grad_(), _r(17, 6, seed=30, scale=3.0).requires_grad_()
    t = _r(5, 17, seed=31)
    got = fused_linear_divergence_loss(h, w, t, "reverse_kl", options=DistillOptions(softcap=4.0, logit_scale=0.7, chunk_size=2))
    gg = torch.autograd.grad(got, [h, w])
    z = 4.0 * torch.tanh(0.7 * (h @ w.T) / 4.0)
    want = divergence_loss(z, t, "reverse_kl")
    gw = torch.autograd.grad(want, [h, w])
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    for a, c in zip(gg, gw):
        torch.testing.assert_close(a, c, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="softcap"):
        fused_linear_divergence_loss(h, w, t, options=DistillOptions(softcap=-1.0))


def test_return_parts_gives_soft_and_hard_terms_separately():
    z, t = _r(2, 5, 9, seed=32), _r(2, 5, 9, seed=33)
    labels = torch.randint(0, 9, (2, 5), generator=torch.Generator().manual_seed(1))
    opts = DistillOptions(hard_weight=0.4, soft_weight=0.6, temperature=2.0)
    parts = divergence_loss(z, t, "kl", options=opts, labels=labels, return_parts=True)
    assert isinstance(parts, LossParts)
    loss, soft, hard = parts
    torch.testing.assert_close(soft, divergence_loss(z, t, "kl", labels=labels, options=DistillOptions(soft_weight=0.6, temperature=2.0)))
    ce = torch.nn.functional.cross_entropy(z.reshape(-1, 9), labels.reshape(-1))
    torch.testing.assert_close(hard, 0.4 * ce)
    torch.testing.assert_close(loss, soft + hard)
    assert loss.requires_grad is False or loss.grad_fn is not None
    h, w = _r(2, 5, 4, seed=34), _r(9, 4, seed=35)
    fl, fs, fh = fused_linear_divergence_loss(h, w, t, "kl", options=opts, labels=labels, return_parts=True)
    torch.testing.assert_close(fl, divergence_loss(h @ w.T, t, "kl", options=opts, labels=labels))
    kl, ks, kh = topk_divergence_loss(z, *t.log_softmax(-1).topk(9), "kl", options=opts, labels=labels,
                                      return_parts=True)
    torch.testing.assert_close(kl, ks + kh)
    torch.testing.assert_close(fl, fs + fh)


def test_cosine_loss_matches_torch_cosine_similarity_with_gradients():
    s, t = _r(3, 4, 8, seed=36).requires_grad_(), _r(3, 4, 8, seed=37).requires_grad_()
    mask = torch.rand(3, 4, generator=torch.Generator().manual_seed(2)) > 0.3
    got = cosine_similarity_loss(s, t, mask=mask, options=DistillOptions(chunk_size=5))
    want = (1 - torch.nn.functional.cosine_similarity(s, t, dim=-1))[mask].mean()
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)
    for a, b in zip(torch.autograd.grad(got, [s, t]), torch.autograd.grad(want, [s, t])):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    h, w = _r(3, 4, 5, seed=38).requires_grad_(), _r(8, 5, seed=39).requires_grad_()
    fused = fused_linear_divergence_loss(h, w, t.detach(), "cosine")
    ref = (1 - torch.nn.functional.cosine_similarity(h @ w.T, t.detach(), dim=-1)).mean()
    torch.testing.assert_close(fused, ref, rtol=1e-10, atol=1e-12)
    for a, b in zip(torch.autograd.grad(fused, [h, w]), torch.autograd.grad(ref, [h, w])):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)
    assert float(cosine_similarity_loss(s.detach(), s.detach())) == 0.0


def test_mixture_equals_the_weighted_sum_in_one_pass():
    z, t = _r(4, 9, seed=40).requires_grad_(), _r(4, 9, seed=41).requires_grad_()
    mix = mixture([("kl", 0.3), ("reverse_kl", 0.5), (("js", {"beta": 0.2}), 0.2)])
    got = divergence_loss(z, t, mix, options=DistillOptions(temperature=1.5))
    want = (0.3 * divergence_loss(z, t, "kl", options=DistillOptions(temperature=1.5)) + 0.5 * divergence_loss(z, t, "reverse_kl", options=DistillOptions(temperature=1.5))
            + 0.2 * divergence_loss(z, t, dv.spec("js", beta=0.2), options=DistillOptions(temperature=1.5)))
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-14)
    for a, b in zip(torch.autograd.grad(got, [z, t]), torch.autograd.grad(want, [z, t])):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-13)
    # torchtune's symmetric KL: the average of forward and reverse KL
    sym = divergence_loss(z, t, {"kl": 0.5, "reverse_kl": 0.5})
    torch.testing.assert_close(sym, 0.5 * divergence_loss(z, t, "jeffreys"))
    # the mixture is a pointwise term: exact values in the core too
    p, q = torch.softmax(t.detach(), -1), torch.softmax(z.detach(), -1)
    torch.testing.assert_close(mix.term(p, q).sum(-1), 0.3 * dv.kl(p, q) + 0.5 * dv.reverse_kl(p, q)
                               + 0.2 * dv.js(p, q, beta=0.2))
    with pytest.raises(ValueError, match="not a sum of pointwise terms"):
        mixture({"renyi": 1.0})
    with pytest.raises(ValueError, match="weight"):
        mixture({"kl": math.nan})
