"""Served teachers: OpenAI / vLLM logprobs formats parsed onto the student vocabulary; lacking tokens go to the
tail, counted; the result feeds distillation_loss and equals the direct bucket formula."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")

import divergences as dv  # noqa: E402
from divergences.hf import ServedTopK, decoded_vocab, distillation_loss, parse_logprobs, served_teacher  # noqa: E402
from divergences.torch import DistillOptions  # noqa: E402

V = 300


def _chat(positions):
    """A chat-completions response; positions: [(sampled token, lp, [(token, lp), ...]), ...]."""
    content = [{"token": tok, "logprob": lp, "bytes": list(tok.encode()),
                "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in tops]}
               for tok, lp, tops in positions]
    return {"id": "x", "choices": [{"index": 0, "message": {"content": ""}, "logprobs": {"content": content}}]}


def _completions(positions):
    return {"choices": [{"text": "", "logprobs": {"tokens": [p[0] for p in positions],
                                                   "token_logprobs": [p[1] for p in positions],
                                                   "top_logprobs": [dict(p[2]) for p in positions]}}]}


@pytest.fixture(scope="module")
def vocab(tokenizer):
    return decoded_vocab(tokenizer)


def _lp(*ps):
    return [math.log(p) for p in ps]


@pytest.fixture(scope="module")
def served(vocab):
    words = [w for w, i in sorted(vocab.items(), key=lambda e: e[1]) if i >= 259][:6]  # merged tokens
    assert len(words) == 6 and all(len(w) >= 2 for w in words), words
    a, b, c, d = _lp(0.5, 0.2, 0.1, 0.05)
    return [
        (words[0], a, [(words[0], a), (words[1], b), ("☃unknown", c)]),        # one token the student lacks
        (words[2], d, [(words[3], a), (words[4], b)]),                          # the sampled token not in the top
        (words[5], a, [(words[5], a), (words[1], b), ("☃unknown", c), ("ℵ", d)]),
    ]


def test_chat_and_completions_agree(served, vocab):
    a = parse_logprobs(_chat(served), vocab)
    b = parse_logprobs(json.dumps(_completions(served)), vocab)
    assert torch.equal(a.indices, b.indices) and torch.allclose(a.logprobs, b.logprobs)
    assert a.missing == b.missing == 3
    assert a.missing_tokens == {"☃unknown": 2, "ℵ": 1}
    assert torch.allclose(a.missing_mass, torch.tensor([0.1, 0.0, 0.15]))
    assert a.logprobs.shape == (3, 3)
    # position 1 holds the sampled token (appended) with its log-prob
    assert vocab[served[1][0]] in a.indices[1].tolist()
    assert a.chosen.tolist() == [vocab[p[0]] for p in served]
    assert math.isinf(float(a.logprobs[0, 2])) and float(a.logprobs[0, 0]) == pytest.approx(math.log(0.5))
    assert all(len(set(r)) == 3 for r in a.indices.tolist())
    assert "3 teacher entries" in a.report()


def test_vllm_token_ids_and_prompt_logprobs():
    resp = {"choices": [{"logprobs": {"content": [
        {"token": "token_id:5", "logprob": -0.1, "top_logprobs": [{"token": "token_id:5", "logprob": -0.1},
                                                                   {"token": "token_id:9", "logprob": -3.0}]}]}}]}
    out = parse_logprobs(resp, {}, vocab_size=20)
    assert out.indices[0, :2].tolist() == [5, 9] and out.missing == 0
    prompt = [None, {"3": {"logprob": -0.5, "rank": 1, "decoded_token": "x"}, "7": {"logprob": -1.5, "rank": 2}}]
    got = parse_logprobs({"prompt_logprobs": prompt, "logprobs": None}, {}, vocab_size=20)
    assert got.logprobs.shape == (2, 2) and torch.isinf(got.logprobs[0]).all()
    assert got.indices[1].tolist() == [3, 7]
    with pytest.raises(ValueError, match="vocab_size"):
        parse_logprobs(resp, {}, vocab_size=8)


def test_duplicates_merge_and_k_truncates():
    resp = {"choices": [{"logprobs": {"top_logprobs": [{"A": math.log(0.3), "a": math.log(0.2), "b": math.log(0.1)}],
                                      "tokens": ["A"], "token_logprobs": [math.log(0.3)]}}]}
    out = parse_logprobs(resp, {"A": 1, "a": 1, "b": 2})
    assert out.merged == 1 and out.indices[0].tolist() == [1, 2]
    assert float(out.logprobs[0, 0].exp()) == pytest.approx(0.5)
    one = parse_logprobs(resp, {"A": 1, "a": 1, "b": 2}, k=1)
    assert one.truncated == 1 and one.indices.tolist() == [[1]]


def test_served_teacher_feeds_the_loss(served, vocab, hfh, encoded):
    """Lacking tokens' mass ends in the tail bucket: the loss equals the (kept + tail) formula written out."""
    items = [parse_logprobs(_chat(served), vocab), parse_logprobs(_chat(served[:2]), vocab)]
    ids = [encoded[0][:4] + [vocab[p[0]] for p in served], encoded[1][:6] + [vocab[p[0]] for p in served[:2]]]
    batch = hfh.make_batch(ids)
    batch["labels"][0, :4] = -100
    batch["labels"][1, :6] = -100
    teacher = served_teacher(items, batch["input_ids"].shape[1], [4, 6])
    student = hfh.tiny_gpt2(V, seed=0).double()
    loss = distillation_loss(student, teacher, batch, "kl")
    z = student(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    terms = []
    for row, (it, first) in enumerate(zip(items, [4, 6])):
        for j in range(it.logprobs.shape[0]):
            q = torch.softmax(z[row, first - 1 + j], -1)
            keep = torch.isfinite(it.logprobs[j])
            p = it.logprobs[j][keep].double().exp()
            qk = q[it.indices[j][keep]]
            p_tail, q_tail = 1 - p.sum(), 1 - qk.sum()
            terms.append((p * (p / qk).log()).sum() + p_tail * (p_tail / q_tail).log())
    ref = torch.stack(terms).mean()
    assert torch.allclose(loss, ref, rtol=1e-9)
    w = student.get_output_embeddings().weight
    (g_loss,) = torch.autograd.grad(loss, w)
    (g_ref,) = torch.autograd.grad(ref, w)
    assert torch.allclose(g_loss, g_ref, rtol=1e-7, atol=1e-12)
    # the hard-label term and a temperature go through the same path
    both = distillation_loss(student, teacher, batch, "kl", options=DistillOptions(hard_weight=0.5, soft_weight=2.0),
                             fused=False)
    keep = batch["labels"][:, 1:] != -100
    ce = torch.nn.functional.cross_entropy(z[:, :-1][keep], batch["labels"][:, 1:][keep])
    assert torch.allclose(both, 2.0 * ref + 0.5 * ce, rtol=1e-9)
    with pytest.raises(ValueError, match="not pointwise"):
        distillation_loss(student, teacher, batch, dv.spec("renyi", alpha=0.5))


def test_bad_responses():
    with pytest.raises(ValueError, match="no logprobs"):
        parse_logprobs({"choices": [{"logprobs": None}]}, {"a": 0})
    with pytest.raises(ValueError, match="not a log-probability"):
        parse_logprobs(_chat([("a", 0.5, [("a", 0.5)])]), {"a": 0})
    with pytest.raises(ValueError, match="non-numeric"):
        parse_logprobs(_chat([("a", None, [("a", "x")])]), {"a": 0})
    with pytest.raises(ValueError, match="choice"):
        parse_logprobs(_chat([("a", -1.0, [])]), {"a": 0}, choice=2)
    with pytest.raises(ValueError, match="vocab must be"):
        parse_logprobs(_chat([("a", -1.0, [])]), 3)
    with pytest.raises(ValueError, match="first"):
        parse_logprobs(_chat([("a", -1.0, [])]), {"a": 0}).to_positions(1, 2)
    assert isinstance(parse_logprobs(_chat([("a", -1e-9, [])]), {"a": 0}), ServedTopK)


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.lists(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "A", "zz", "ℵ"]),
                                   st.floats(0.001, 0.2)), min_size=1, max_size=5), min_size=1, max_size=4))
def test_mass_is_conserved(rows):
    """Per position: kept mass + mass of lacking tokens = the served mass (merged duplicates added)."""
    vocab = {"a": 0, "b": 1, "c": 2, "A": 0}
    positions = []
    for entries in rows:
        merged: dict[str, float] = {}
        for tok, p in entries:
            merged[tok] = p  # a completions dict has one entry per token string
        positions.append([(t, math.log(p)) for t, p in merged.items()])
    resp = {"choices": [{"logprobs": {"top_logprobs": [dict(p) for p in positions]}}]}
    out = parse_logprobs(resp, vocab)
    for t, entries in enumerate(positions):
        served_mass = sum(math.exp(v) for _, v in entries)
        kept = float(out.logprobs[t].double().exp().sum())
        assert kept + float(out.missing_mass[t]) == pytest.approx(served_mass, rel=1e-5)
        assert len(set(out.indices[t].tolist())) == out.indices.shape[1]
    assert out.missing == sum(tok in ("zz", "ℵ") for entries in positions for tok, _ in entries)
