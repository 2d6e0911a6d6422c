"""Logits processors on tiny Llama / GPT-2 models: identities, direct re-computations, batch + left padding."""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")
from scipy.spatial.distance import jensenshannon  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
import _tiny_lm as tiny  # noqa: E402

import divergences as dv  # noqa: E402
from divergences.hf.processors import (  # noqa: E402
    DivergenceMonitor,
    NGramPriorLogitsProcessor,
    USCDLogitsProcessor,
    base_perplexity,
    style_perplexity,
    uscd_generate,
)
from divergences.llm import NGramPrior  # noqa: E402

PROMPTS = ["def add(a, b):", "The model predicts the next token from"]
LAME = ["def", "The model"]


@pytest.fixture(scope="module")
def tok():
    return tiny.tokenizer()


@pytest.fixture(scope="module")
def model():
    return tiny.llama(seed=0)


@pytest.fixture(scope="module")
def prior(tok):
    return NGramPrior.fit(tiny.corpus_lines(), vocab_size=len(tok), tokenizer=tok, order=3, k=0.5,
                          weights=(0.2, 0.3, 0.5))


def _gen(model, tok, ids, mask, **kw):
    kw.setdefault("max_new_tokens", 6)
    return model.generate(input_ids=ids, attention_mask=mask, pad_token_id=tok.pad_token_id, **kw)


def _full_next(model, row_ids):
    """Next-token logits of one unpadded sequence, by a full forward (no cache, no padding)."""
    with torch.no_grad():
        return model(input_ids=torch.tensor([row_ids])).logits[0, -1].double()


def _unpadded(ids, mask):
    return [r[m.bool()].tolist() for r, m in zip(ids, mask)]


# ----------------------------------------------------------------------------------------- USCD
@pytest.mark.parametrize("do_sample", [False, True])
def test_uscd_weight_zero_is_plain_decoding(model, tok, do_sample):
    ids, mask = tiny.batch(PROMPTS)
    lids, lmask = tiny.batch(LAME)
    torch.manual_seed(3)
    plain = _gen(model, tok, ids, mask, do_sample=do_sample)
    torch.manual_seed(3)
    out, proc = uscd_generate(model, ids, lids, attention_mask=mask, lame_attention_mask=lmask, weight=0.0,
                              uncertainty_threshold=1.0, do_sample=do_sample, max_new_tokens=6,
                              pad_token_id=tok.pad_token_id)
    assert torch.equal(out, plain)
    scores = torch.randn(2, len(tok))
    assert proc(ids, scores) is scores


def _uscd_direct(p_s, p_l, w, threshold, plausibility):
    """USCD rule on float64 NumPy vectors, token by token (written independently of the processor)."""
    v = p_s.size
    mu = p_s.sum() / v
    std = math.sqrt(((p_s - mu) ** 2).sum() / (v - 1))
    if std > threshold:
        return None  # confident: plain decoding
    best, best_tok = -math.inf, None
    for t in range(v):
        if p_s[t] >= plausibility / v or t == int(np.argmax(p_s)):
            c = p_s[t] - w * p_l[t]
            if c > 0 and math.log(c) > best:
                best, best_tok = math.log(c), t
    return best_tok


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_uscd_greedy_matches_direct_rule_with_left_padding(arch, tok):
    model = tiny.llama(seed=0) if arch == "llama" else tiny.gpt2(seed=0)
    ids, mask = tiny.batch(PROMPTS)
    lids, lmask = tiny.batch(LAME)
    assert (mask == 0).any() and (lmask == 0).any()  # both batches are left padded
    steps = 5
    out, proc = uscd_generate(model, ids, lids, attention_mask=mask, lame_attention_mask=lmask, weight=0.7,
                              uncertainty_threshold=1.0, plausibility=0.666667, do_sample=False,
                              max_new_tokens=steps, pad_token_id=tok.pad_token_id)
    gen = out[:, ids.shape[1]:]
    std_rows, lame_rows = _unpadded(ids, mask), _unpadded(lids, lmask)
    for b in range(2):
        for t in range(steps):
            so_far = gen[b, :t].tolist()
            p_s = torch.softmax(_full_next(model, std_rows[b] + so_far), -1).numpy()
            p_l = torch.softmax(_full_next(model, lame_rows[b] + so_far), -1).numpy()
            expected = _uscd_direct(p_s, p_l, 0.7, 1.0, 0.666667)
            assert expected is not None
            assert gen[b, t].item() == expected, (b, t)
    assert len(proc.uncertain) == steps and all(u.all() for u in proc.uncertain)


def test_uscd_confident_rows_untouched_and_sampling_runs(model, tok):
    ids, mask = tiny.batch(PROMPTS)
    lids, lmask = tiny.batch(LAME)
    proc = USCDLogitsProcessor(model, lids, lmask, weight=0.7, uncertainty_threshold=0.0)
    scores = torch.randn(2, len(tok))
    assert torch.equal(proc(ids, scores), scores)  # std > 0 ≥ threshold: nothing is uncertain
    torch.manual_seed(0)
    out, _ = uscd_generate(model, ids, lids, attention_mask=mask, lame_attention_mask=lmask, weight=0.5,
                           uncertainty_threshold=1.0, do_sample=True, temperature=0.9, top_p=0.95,
                           num_return_sequences=2, max_new_tokens=4, pad_token_id=tok.pad_token_id)
    assert out.shape == (4, ids.shape[1] + 4)


def test_uscd_sampling_draws_only_surviving_tokens(model, tok):
    ids, mask = tiny.batch(PROMPTS)
    lids, lmask = tiny.batch(LAME)
    torch.manual_seed(5)
    w, plaus, steps = 0.9, 1.0, 5
    out, _ = uscd_generate(model, ids, lids, attention_mask=mask, lame_attention_mask=lmask, weight=w,
                           uncertainty_threshold=1.0, plausibility=plaus, do_sample=True, max_new_tokens=steps,
                           pad_token_id=tok.pad_token_id)
    gen = out[:, ids.shape[1]:]
    std_rows, lame_rows = _unpadded(ids, mask), _unpadded(lids, lmask)
    for b in range(2):
        for t in range(steps):
            so_far = gen[b, :t].tolist()
            p_s = torch.softmax(_full_next(model, std_rows[b] + so_far), -1)
            p_l = torch.softmax(_full_next(model, lame_rows[b] + so_far), -1)
            allowed = (p_s >= plaus / p_s.numel()) & (p_s - w * p_l > 0)
            assert allowed.any() and allowed[gen[b, t]], (b, t)


def test_uscd_log_contrast(model, tok):
    ids, mask = tiny.batch(PROMPTS[:1])
    lids, lmask = tiny.batch(LAME[:1])
    proc = USCDLogitsProcessor(model, lids, lmask, weight=0.5, uncertainty_threshold=1.0, contrast="log",
                               plausibility=0.0)
    with torch.no_grad():
        scores = model(input_ids=ids, attention_mask=mask).logits[:, -1]
    got = proc(ids, scores)[0].double()
    ls = torch.log_softmax(scores[0].double(), -1)
    ll = torch.log_softmax(_full_next(model, _unpadded(lids, lmask)[0]), -1)
    torch.testing.assert_close(got, (ls - 0.5 * ll), atol=1e-5, rtol=1e-5)


def test_uscd_bad_input(model, tok):
    ids, mask = tiny.batch(PROMPTS)
    lids, lmask = tiny.batch(LAME)
    other = tiny.gpt2(vocab_size=len(tok) + 8)
    proc = USCDLogitsProcessor(model, lids, lmask, weight=0.7, uncertainty_threshold=1.0, lame_model=other)
    with pytest.raises(ValueError, match="lame_model.*vocabulary"):
        proc(ids, torch.randn(2, len(tok)))
    with pytest.raises(ValueError, match="lame_input_ids"):
        uscd_generate(model, ids, lids[:1])
    with pytest.raises(ValueError, match="weight"):
        USCDLogitsProcessor(model, lids, weight=-1.0)
    with pytest.raises(ValueError, match="contrast"):
        USCDLogitsProcessor(model, lids, contrast="ratio")


# ----------------------------------------------------------------------------------- n-gram prior
def _direct_ngram_logprior(lines, tok, context, vocab, k, weights):
    """Σₙ wₙ log pₙ by re-counting n-grams with Counter over the corpus, then log-normalised."""
    seqs = [tok.encode(line) for line in lines]
    out = np.zeros(vocab)
    for n, w in enumerate(weights, start=1):
        h = tuple(context[-(n - 1):]) if n > 1 else ()
        h = h if len(context) >= n - 1 else tuple(context)
        grams = Counter()
        for s in seqs:
            for i in range(len(s)):
                if i >= len(h) and tuple(s[i - len(h):i]) == h:
                    grams[s[i]] += 1
        total = sum(grams.values())
        out += w * np.log((np.array([grams[t] for t in range(vocab)]) + k) / (total + k * vocab))
    return out - np.log(np.exp(out).sum())


def test_ngram_prior_matches_recount(tok, prior):
    ctx = tok.encode("def add(a, b):")
    got = prior.log_prob([ctx])[0].numpy()
    want = _direct_ngram_logprior(tiny.corpus_lines(), tok, ctx, len(tok), 0.5, (0.2, 0.3, 0.5))
    np.testing.assert_allclose(got, want, atol=1e-10)


def test_ngram_processor_zero_is_bit_identical_and_adds_prior(model, tok, prior):
    ids, mask = tiny.batch(PROMPTS)
    scores = torch.randn(2, len(tok))
    zero = NGramPriorLogitsProcessor(prior, strength=0.0, pad_token_id=tok.pad_token_id)
    assert zero(ids, scores) is scores
    torch.manual_seed(1)
    plain = _gen(model, tok, ids, mask, do_sample=True)
    torch.manual_seed(1)
    assert torch.equal(_gen(model, tok, ids, mask, do_sample=True, logits_processor=[zero]), plain)
    lam = 0.8
    proc = NGramPriorLogitsProcessor(prior, strength=lam, pad_token_id=tok.pad_token_id)
    got = proc(ids, scores)
    for b, row in enumerate(_unpadded(ids, mask)):
        want = scores[b].double() + lam * torch.from_numpy(
            _direct_ngram_logprior(tiny.corpus_lines(), tok, row, len(tok), 0.5, (0.2, 0.3, 0.5)))
        torch.testing.assert_close(got[b].double(), want, atol=1e-5, rtol=1e-5)


def test_ngram_bad_input(tok, prior):
    with pytest.raises(ValueError, match="prior.*vocabulary"):
        NGramPriorLogitsProcessor(prior, strength=1.0)(torch.zeros(1, 3, dtype=torch.long), torch.randn(1, 17))
    with pytest.raises(ValueError, match="corpus is empty"):
        NGramPrior.fit([[], []], vocab_size=10)
    with pytest.raises(ValueError, match="weights"):
        NGramPrior.fit([[1, 2]], vocab_size=10, order=2, weights=(0.9, 0.9))
    with pytest.raises(ValueError, match="outside"):
        NGramPrior.fit([[1, 12]], vocab_size=10)


def test_perplexities_match_direct(model, tok, prior):
    ids, mask = tiny.batch(PROMPTS)
    proc = NGramPriorLogitsProcessor(prior, strength=1.5, pad_token_id=tok.pad_token_id)
    out = _gen(model, tok, ids, mask, do_sample=False, logits_processor=[proc])
    plen = ids.shape[1]
    base = base_perplexity(model, out, prompt_length=plen, attention_mask=mask)
    style = style_perplexity(prior, out, prompt_length=plen, pad_token_id=tok.pad_token_id)
    nll_model, nll_prior = [], []
    for b, row in enumerate(_unpadded(ids, mask)):
        gen = out[b, plen:].tolist()
        for t, token in enumerate(gen):
            ctx = row + gen[:t]
            nll_model.append(-torch.log_softmax(_full_next(model, ctx), -1)[token].item())
            lp = _direct_ngram_logprior(tiny.corpus_lines(), tok, ctx, len(tok), 0.5, (0.2, 0.3, 0.5))
            nll_prior.append(-lp[token])
    assert base == pytest.approx(math.exp(np.mean(nll_model)), rel=1e-4)
    assert style == pytest.approx(math.exp(np.mean(nll_prior)), rel=1e-8)


# -------------------------------------------------------------------------------------- monitor
def test_monitor_js_zero_at_lambda_zero_and_matches_scipy(model, tok, prior):
    ids, mask = tiny.batch(PROMPTS)
    mon0 = DivergenceMonitor(NGramPriorLogitsProcessor(prior, strength=0.0), divergence="js")
    _gen(model, tok, ids, mask, do_sample=False, logits_processor=[mon0])
    assert mon0.steps.shape == (2, 6) and torch.equal(mon0.steps, torch.zeros(2, 6))
    lam = 1.0
    mon = DivergenceMonitor(NGramPriorLogitsProcessor(prior, strength=lam, pad_token_id=tok.pad_token_id),
                            divergence="js")
    out = _gen(model, tok, ids, mask, do_sample=False, max_new_tokens=4, logits_processor=[mon])
    plen = ids.shape[1]
    for b, row in enumerate(_unpadded(ids, mask)):
        for t in range(4):
            ctx = row + out[b, plen:plen + t].tolist()
            z = _full_next(model, ctx).numpy()
            lp = _direct_ngram_logprior(tiny.corpus_lines(), tok, ctx, len(tok), 0.5, (0.2, 0.3, 0.5))
            p, q = np.exp(z - z.max()), np.exp(z + lam * lp - (z + lam * lp).max())
            want = jensenshannon(p / p.sum(), q / q.sum()) ** 2
            assert mon.steps[b, t].item() == pytest.approx(want, rel=2e-4, abs=1e-7)
    s = mon.summary()
    torch.testing.assert_close(s["mean"], mon.steps.mean(-1))
    torch.testing.assert_close(s["max"], mon.steps.amax(-1))


def test_monitor_two_models_and_eos(model, tok):
    ids, mask = tiny.batch(PROMPTS)
    other = tiny.gpt2(seed=1)
    mon = DivergenceMonitor(reference_model=other, reference_attention_mask=mask, divergence="kl")
    out = _gen(model, tok, ids, mask, do_sample=False, max_new_tokens=3, logits_processor=[mon])
    plen = ids.shape[1]
    for b, row in enumerate(_unpadded(ids, mask)):
        for t in range(3):
            ctx = row + out[b, plen:plen + t].tolist()
            p = torch.softmax(_full_next(other, ctx), -1).numpy()
            q = torch.softmax(_full_next(model, ctx), -1).numpy()
            assert mon.steps[b, t].item() == pytest.approx(float(np.sum(p * np.log(p / q))), rel=2e-4)
    # eos: a monitor told that the first generated token is the end of sequence records NaN afterwards
    first = out[0, plen].item()
    mon_eos = DivergenceMonitor(NGramPriorLogitsProcessor(NGramPrior.fit([[1, 2]], vocab_size=len(tok)),
                                                          strength=1.0), eos_token_id=first)
    _gen(model, tok, ids, mask, do_sample=False, max_new_tokens=3, logits_processor=[mon_eos])
    assert torch.isnan(mon_eos.steps[0, 1:]).all() and not torch.isnan(mon_eos.steps[0, 0])
    assert mon_eos.summary()["steps"][0].item() == 1


def test_monitor_bad_input(model, tok):
    ids, mask = tiny.batch(PROMPTS)
    with pytest.raises(ValueError, match="processor"):
        DivergenceMonitor()
    with pytest.raises(ValueError, match="unknown divergence"):
        DivergenceMonitor(lambda i, s: s, divergence="no_such_divergence")
    big = tiny.gpt2(vocab_size=len(tok) + 4)
    mon = DivergenceMonitor(reference_model=big, reference_attention_mask=mask)
    with pytest.raises(ValueError, match="reference_model.*vocabulary"):
        _gen(model, tok, ids, mask, do_sample=False, max_new_tokens=2, logits_processor=[mon])


# ------------------------------------------------------------------------------------- extremes
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_processors_with_masked_and_half_precision_scores(model, tok, prior, dtype):
    ids, mask = tiny.batch(PROMPTS)
    lids, lmask = tiny.batch(LAME)
    scores = (torch.randn(2, len(tok), generator=torch.Generator().manual_seed(0)) * 1e3).to(dtype)
    scores[:, :50] = -torch.inf  # masked by an earlier processor
    uscd = USCDLogitsProcessor(model, lids, lmask, weight=0.7, uncertainty_threshold=1.0, plausibility=0.0)
    monitor = DivergenceMonitor(uscd, divergence="js")
    out = monitor(ids, scores)
    assert out.dtype == dtype and not torch.isnan(out).any()
    assert torch.isneginf(out[:, :50]).all()
    assert torch.isfinite(monitor.steps).all() and (monitor.steps >= -1e-6).all()
    ng = NGramPriorLogitsProcessor(prior, strength=2.0, pad_token_id=tok.pad_token_id)
    out = ng(ids, scores)
    assert out.dtype == dtype and not torch.isnan(out).any() and torch.isneginf(out[:, :50]).all()


def test_monitor_any_registry_divergence_with_parameters(model, tok, prior):
    from transformers import LogitsProcessorList

    ids, mask = tiny.batch(PROMPTS)
    steer = LogitsProcessorList([NGramPriorLogitsProcessor(prior, strength=1.0, pad_token_id=tok.pad_token_id)])
    mon = DivergenceMonitor(steer, divergence=dv.spec("renyi", alpha=2.0))
    scores = torch.randn(2, len(tok), dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    steered = mon(ids, scores)
    p, q = torch.softmax(scores, -1), torch.softmax(steered, -1)
    want = torch.log((p**2 / q).sum(-1))  # Rényi of order 2: log Σ p² / q
    torch.testing.assert_close(mon.steps[:, 0], want)


def test_processors_reused_across_generate_calls_start_afresh(model, tok, prior):
    ids, mask = tiny.batch(PROMPTS)
    lids, lmask = tiny.batch(LAME)
    uscd = USCDLogitsProcessor(model, lids, lmask, weight=0.7, uncertainty_threshold=1.0)
    mon = DivergenceMonitor(uscd, divergence="js")
    first = _gen(model, tok, ids, mask, do_sample=False, max_new_tokens=4, logits_processor=[mon])
    steps_first = mon.steps.clone()
    # a second call with other, longer prompts: not a continuation of the first call
    other_ids, other_mask = tiny.batch(["A language model predicts the next token", "Numbers such as 0 1 2 3 4 5"])
    assert other_ids.shape[1] > first.shape[1] - 1
    _gen(model, tok, other_ids, other_mask, do_sample=False, max_new_tokens=2, logits_processor=[mon])
    assert mon.steps.shape == (2, 2)
    # the first call's own output as the next prompt is indistinguishable from its next step: reset() says so
    mon.reset()
    _gen(model, tok, first, torch.ones_like(first), do_sample=False, max_new_tokens=2, logits_processor=[mon])
    assert mon.steps.shape == (2, 2)
    again = _gen(model, tok, ids, mask, do_sample=False, max_new_tokens=4, logits_processor=[mon])
    assert torch.equal(again, first) and torch.equal(mon.steps, steps_first)


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_cached_stepper_equals_full_forward_with_left_padding(arch, tok):
    from divergences.hf.processors import _CachedStepper

    model = tiny.llama(seed=2) if arch == "llama" else tiny.gpt2(seed=2)
    ids, mask = tiny.batch(LAME)
    stepper = _CachedStepper(model, ids, mask)
    rows = _unpadded(ids, mask)
    new = torch.zeros(2, 0, dtype=torch.long)
    extra = [[], []]
    for step in range(4):
        got = stepper(new).double()
        for b in range(2):
            torch.testing.assert_close(got[b], _full_next(model, rows[b] + extra[b]), atol=1e-5, rtol=1e-5)
        new = torch.tensor([[7 + step], [11 + 2 * step]])
        extra = [e + [int(t)] for e, t in zip(extra, new[:, 0])]


def test_ngram_linear_interpolation_matches_recount(tok):
    lines = tiny.corpus_lines()
    prior = NGramPrior.fit(lines, vocab_size=len(tok), tokenizer=tok, order=2, k=1.0, weights=(0.3, 0.7),
                           combine="linear")
    ctx = tok.encode("The model")
    seqs = [tok.encode(line) for line in lines]
    uni = Counter(t for s in seqs for t in s)
    bi = Counter(s[i] for s in seqs for i in range(1, len(s)) if s[i - 1] == ctx[-1])
    vocab = len(tok)
    p1 = (np.array([uni[t] for t in range(vocab)]) + 1.0) / (sum(uni.values()) + vocab)
    p2 = (np.array([bi[t] for t in range(vocab)]) + 1.0) / (sum(bi.values()) + vocab)
    np.testing.assert_allclose(prior.log_prob([ctx])[0].numpy(), np.log(0.3 * p1 + 0.7 * p2), atol=1e-12)


def test_ngram_prior_save_load_roundtrip(tmp_path, tok, prior):
    path = tmp_path / "prior.json"
    prior.save(path)
    again = NGramPrior.load(path)
    ctxs = [tok.encode("def add(a, b):"), tok.encode("The"), []]
    torch.testing.assert_close(again.log_prob(ctxs), prior.log_prob(ctxs), rtol=0, atol=0)
    assert (again.order, again.weights, again.k, again.combine) == (prior.order, prior.weights, prior.k, prior.combine)
