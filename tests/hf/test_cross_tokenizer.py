"""Cross-tokenizer distillation: ULD, the vocabulary union with tail buckets, entropic OT with a string cost,
and span alignment — each against an independent implementation written here (NumPy, dictionaries of
strings, POT, TRL GOLD's ULDLoss), with identical tokenizers giving the ordinary losses."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

torch = pytest.importorskip("torch")

import divergences as dv  # noqa: E402
from divergences.hf import (  # noqa: E402
    Alignment,
    VocabularyMap,
    align_batch,
    align_offsets,
    ngram_embedding,
    span_divergence,
    span_logprobs,
    token_offsets,
    token_strings,
    transport_loss,
    uld_loss,
    vocabulary_divergence,
    vocabulary_map,
)
from divergences.torch import DistillOptions, divergence_loss, topk_divergence_loss  # noqa: E402

TEXT = "The student learns from a teacher, naïve café — 日本."


def _softmax(z):
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _logits(*shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 2 * torch.randn(*shape, generator=g, dtype=torch.float64)


@pytest.fixture(scope="module")
def tokenizers_pair(tokenizer, hfh):
    """The session tokenizer (300) and another BPE (360) trained on other text (tests/data/llm_corpus.txt and half
    of the corpus): 294 tokens in common, 6 only in the first, 66 only in the second."""
    from pathlib import Path

    other = Path(__file__).resolve().parents[1] / "data" / "llm_corpus.txt"
    lines = [line for line in other.read_text(encoding="utf-8").splitlines() if line.strip()]
    return tokenizer, hfh.train_tokenizer(360, lines + hfh.corpus_lines()[10:])


# ---------------------------------------------------------------------------------------------
# ULD
# ---------------------------------------------------------------------------------------------


def _uld_reference(s, t, temperature):
    p = np.sort(_softmax(t / temperature), -1)[..., ::-1]
    q = np.sort(_softmax(s / temperature), -1)[..., ::-1]
    w = max(p.shape[-1], q.shape[-1])
    p = np.pad(p, [(0, 0)] * (p.ndim - 1) + [(0, w - p.shape[-1])])
    q = np.pad(q, [(0, 0)] * (q.ndim - 1) + [(0, w - q.shape[-1])])
    return np.abs(p - q).sum(-1)


@pytest.mark.parametrize("temperature", [1.0, 2.0])
def test_uld_matches_sorted_l1_with_zero_padding(temperature):
    s, t = _logits(2, 3, 17, seed=1), _logits(2, 3, 11, seed=2)
    got = uld_loss(s, t, temperature=temperature, reduction="none")
    np.testing.assert_allclose(got.numpy(), _uld_reference(s.numpy(), t.numpy(), temperature), rtol=1e-12)
    mask = torch.tensor([[True, False, True], [True, True, False]])
    assert torch.isclose(uld_loss(s, t, temperature=temperature, mask=mask), got[mask].mean())
    assert torch.isclose(uld_loss(s, t, chunk_size=1, reduction="sum"), uld_loss(s, t, reduction="sum"))


def test_uld_is_at_most_twice_tv_on_one_vocabulary_and_zero_for_permutations():
    s, t = _logits(8, 20, seed=3), _logits(8, 20, seed=4)
    tv = divergence_loss(s, t, "tv", options=DistillOptions(reduction="none"))
    assert torch.all(uld_loss(s, t, reduction="none") <= 2 * tv + 1e-12)
    perm = torch.randperm(20, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(uld_loss(s[:, perm], s, reduction="none"), torch.zeros(8, dtype=torch.float64), atol=1e-15)


def test_uld_gradcheck():
    s, t = _logits(3, 7, seed=5).requires_grad_(True), _logits(3, 5, seed=6).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda s, t: uld_loss(s, t, temperature=1.5), (s, t))


def test_uld_matches_trl_gold():
    pytest.importorskip("trl")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from trl.experimental.gold.gold_config import GOLDConfig
        from trl.experimental.gold.gold_trainer import ULDLoss

        cfg = GOLDConfig(output_dir="unused", use_uld_loss=True, uld_crossentropy_weight=0.0, uld_distillation_weight=1.0,
                         report_to=[], bf16=False, use_cpu=True, use_extended_uld=False)
    s, t = _logits(2, 7, 13, seed=7).float(), _logits(2, 7, 9, seed=8).float()
    labels = torch.tensor([[-100, -100, 3, 4, 5, 6, 1], [-100, 1, 2, 3, 4, 5, -100]])
    trl = ULDLoss(cfg)(s, t, labels, labels, labels.clamp(min=0), labels.clamp(min=0))
    # GOLD: rows [first label, first label + count − 1) (its EOS skipped), sorted L1 averaged per sequence, then over
    # the batch (no causal shift in its "observed" mode)
    per_row = uld_loss(s, t, reduction="none")
    ours = torch.stack([per_row[0, 2:6].mean(), per_row[1, 1:5].mean()]).mean()
    assert torch.isclose(ours, trl, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# vocabulary union
# ---------------------------------------------------------------------------------------------


def test_token_strings_are_the_decoded_bytes(tokenizer):
    strings = token_strings(tokenizer)
    assert len(strings) == 300
    for i in range(300):
        text = tokenizer.decode([i], skip_special_tokens=False)
        if "\ufffd" not in text:  # complete characters: the decoded text itself
            assert strings[i] == text.encode("utf-8"), i
    # partial UTF-8 bytes are known exactly (byte-level), not collapsed to U+FFFD
    partial = [s for s in strings if s is not None and "\ufffd" in s.decode("utf-8", errors="replace")]
    assert partial and len(set(partial)) == len(partial)
    assert token_strings(tokenizer, 310)[300:] == [None] * 10


def test_vocabulary_map_of_two_tokenizers(tokenizers_pair):
    small, large = tokenizers_pair
    m = vocabulary_map(small, large)
    assert (m.student_size, m.teacher_size) == (300, 360)
    s_str, t_str = token_strings(small), token_strings(large)
    assert 0 < m.matched < 300
    for ti, si in zip(m.teacher_ids.tolist(), m.student_ids.tolist()):
        assert t_str[ti] == s_str[si] is not None
    # every string present once in both vocabularies is matched
    common = {s for s in s_str if s is not None} & {s for s in t_str if s is not None}
    assert m.matched == len(common)
    assert "tail" in m.report()
    same = vocabulary_map(small, small)
    assert same.is_identity() and same.matched == 300
    padded = vocabulary_map(small, large, student_size=320, teacher_size=370)
    assert padded.matched == m.matched and padded.student_size == 320
    eos = vocabulary_map(small, large, pairs={2: 0})
    assert (2, 0) in list(zip(eos.teacher_ids.tolist(), eos.student_ids.tolist()))
    with pytest.raises(ValueError, match="pairs"):
        vocabulary_map(small, large, pairs={2: 0, 3: 0})
    with pytest.raises(ValueError, match="outside"):
        vocabulary_map(small, large, pairs={5000: 0})


def _union_reference(s_logits, t_logits, s_strings, t_strings):
    """Bucket distributions built from dictionaries of strings (the teacher's and student's unmatched tails)."""
    p, q = _softmax(t_logits), _softmax(s_logits)
    s_index = {s: i for i, s in enumerate(s_strings)}
    shared = [s for s in t_strings if s in s_index]
    tp = [p[..., t_strings.index(s)] for s in shared]
    sq = [q[..., s_index[s]] for s in shared]
    tp.append(1 - np.sum(tp, axis=0))
    sq.append(1 - np.sum(sq, axis=0))
    return np.stack(tp, -1), np.stack(sq, -1)


def test_vocabulary_divergence_against_dictionaries_of_strings():
    t_strings = ["a", "b", "c", "d", "e", "f"]
    s_strings = ["x", "c", "a", "y", "f"]

    class Toy:
        def __init__(self, pieces):
            self.pieces = pieces

        def __len__(self):
            return len(self.pieces)

        def convert_ids_to_tokens(self, i):
            return self.pieces[i]

        def decode(self, ids, **kw):
            return "".join(self.pieces[i] for i in ids)

        def encode(self, text, **kw):
            return [self.pieces.index(text)] if text in self.pieces else []

    m = vocabulary_map(Toy(s_strings), Toy(t_strings))
    assert sorted(zip(m.teacher_ids.tolist(), m.student_ids.tolist())) == [(0, 2), (2, 1), (5, 4)]
    s, t = _logits(4, 5, seed=9), _logits(4, 6, seed=10)
    p, q = _union_reference(s.numpy(), t.numpy(), s_strings, t_strings)
    kl = np.sum(p * np.log(p / q), -1)
    np.testing.assert_allclose(vocabulary_divergence(s, t, m, "kl", reduction="none").numpy(), kl, rtol=1e-12)
    js = vocabulary_divergence(s, t, m, dv.spec("js", beta=0.3), reduction="none")
    mix = 0.3 * p + 0.7 * q
    np.testing.assert_allclose(js.numpy(), 0.3 * np.sum(p * np.log(p / mix), -1) + 0.7 * np.sum(q * np.log(q / mix), -1),
                               rtol=1e-10)
    # unmatched="drop": both conditioned on the shared tokens
    pd, qd = p[:, :-1] / p[:, :-1].sum(-1, keepdims=True), q[:, :-1] / q[:, :-1].sum(-1, keepdims=True)
    np.testing.assert_allclose(vocabulary_divergence(s, t, m, "kl", unmatched="drop", reduction="none").numpy(),
                               np.sum(pd * np.log(pd / qd), -1), rtol=1e-10)
    # data processing: the coarsening never exceeds the divergence on the finer common refinement (7 strings)
    universe = sorted(set(s_strings) | set(t_strings))
    pu = np.zeros((4, len(universe)))
    qu = np.zeros((4, len(universe)))
    for i, x in enumerate(t_strings):
        pu[:, universe.index(x)] = _softmax(t.numpy())[:, i]
    for i, x in enumerate(s_strings):
        qu[:, universe.index(x)] = _softmax(s.numpy())[:, i]
    tv_fine = 0.5 * np.abs(pu - qu).sum(-1)
    assert np.all(vocabulary_divergence(s, t, m, "tv", reduction="none").numpy() <= tv_fine + 1e-12)
    sg = s.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda z: vocabulary_divergence(z, t, m, "js"), (sg,))


@pytest.mark.parametrize("divergence,params", [("kl", None), ("reverse_kl", None), ("js", {"beta": 0.2}),
                                               ("tv", None), ("renyi", {"alpha": 0.5})])
def test_identical_tokenizers_give_the_ordinary_loss(tokenizer, divergence, params):
    m = vocabulary_map(tokenizer, tokenizer)
    s, t = _logits(2, 5, 300, seed=11), _logits(2, 5, 300, seed=12)
    mask = torch.tensor([[True, True, False, True, True], [False, True, True, True, True]])
    got = vocabulary_divergence(s, t, m, dv.spec(divergence, **(params or {})), mask=mask, temperature=1.7)
    ref = divergence_loss(s, t, dv.spec(divergence, **(params or {})), mask=mask, options=DistillOptions(temperature=1.7))
    assert torch.allclose(got, ref, rtol=1e-10, atol=1e-13)


def test_vocabulary_divergence_bad_inputs(tokenizers_pair):
    small, large = tokenizers_pair
    m = vocabulary_map(small, large)
    s, t = _logits(2, 300), _logits(2, 360)
    with pytest.raises(ValueError, match="vocab_map is for"):
        vocabulary_divergence(t, s, m)
    with pytest.raises(ValueError, match="unmatched"):
        vocabulary_divergence(s, t, m, unmatched="crop")
    with pytest.raises(ValueError, match="divergence"):
        vocabulary_divergence(s, t, m, "nope")
    with pytest.raises(ValueError, match="vocab_map must be"):
        vocabulary_divergence(s, t, {"a": 1})
    with pytest.raises(ValueError, match="matches no token"):
        vocabulary_divergence(s, t, VocabularyMap(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long),
                                                  360, 300))


# ---------------------------------------------------------------------------------------------
# entropic OT with a string cost
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_transport_loss_matches_pot():
    ot = pytest.importorskip("ot")
    s_strings = [b"the", b" the", b"a", b"cat", b"dog"]
    t_strings = [b"the", b"at", b" dog", b"a"]
    xs, xt = ngram_embedding(s_strings), ngram_embedding(t_strings)
    s, t = _logits(3, 5, seed=13), _logits(3, 4, seed=14)
    eps = 0.25
    got = transport_loss(s, t, xs, xt, epsilon=eps, top_k=10, reduction="none")

    def ot_eps(a, b, x, y):  # OT_ε(a, b) = <π, C> + ε KL(π‖a⊗b), π from POT's Sinkhorn
        cost = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
        plan = ot.sinkhorn(a, b, cost, reg=eps, numItermax=20_000, stopThr=1e-12)
        nz = plan > 0
        return np.sum(plan * cost) + eps * np.sum(plan[nz] * np.log(plan[nz] / np.outer(a, b)[nz]))

    def ot_self(a, x):  # OT_ε(a, a): symmetric log-domain iterations f ← ½(f + T(f)) (alternating ones oscillate)
        cost = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
        f = np.zeros(len(a))
        for _ in range(400):
            f = 0.5 * (f - eps * special.logsumexp(np.log(a)[None, :] + (f[None, :] - cost) / eps, axis=1))
        return 2 * float(a @ f)

    for r in range(3):
        a, b = _softmax(t.numpy()[r]), _softmax(s.numpy()[r])
        x, y = xt.numpy(), xs.numpy()
        ref = ot_eps(a, b, x, y) - 0.5 * ot_self(a, x) - 0.5 * ot_self(b, y)
        assert got[r].item() == pytest.approx(ref, abs=2e-6)
    sg = s.clone().requires_grad_(True)
    transport_loss(sg, t, xs, xt, epsilon=eps).backward()
    assert torch.isfinite(sg.grad).all() and sg.grad.abs().sum() > 0


def test_transport_loss_is_zero_for_identical_models_and_checks_inputs(tokenizer):
    pts = ngram_embedding(token_strings(tokenizer))
    z = _logits(2, 300, seed=15)
    assert abs(float(transport_loss(z, z, pts, pts, top_k=16))) < 1e-6
    with pytest.raises(ValueError, match="student_points"):
        transport_loss(z, z, pts[:10], pts)
    with pytest.raises(ValueError, match="epsilon"):
        transport_loss(z, z, pts, pts, epsilon=0)
    with pytest.raises(ValueError, match="top_k"):
        transport_loss(z, z, pts, pts, top_k=0)


# ---------------------------------------------------------------------------------------------
# alignment
# ---------------------------------------------------------------------------------------------


def test_align_offsets_hand_made_cases():
    s = [(0, 0), (0, 1), (1, 3), (3, 7)]  # a special token first (zero width)
    t = [(0, 3), (3, 5), (5, 7)]
    al = align_offsets(s, t)
    assert al.student_spans == ((1, 3), (3, 4)) and al.teacher_spans == ((0, 1), (1, 3))
    assert al.dropped_student == 1 and al.dropped_teacher == 0
    # a character split into two tokens (equal offsets) is never a boundary
    s = [(0, 1), (1, 2), (1, 2), (2, 3)]
    t = [(0, 1), (1, 2), (2, 3)]
    al = align_offsets(s, t)
    assert al.student_spans == ((0, 1), (1, 3), (3, 4)) and al.teacher_spans == ((0, 1), (1, 2), (2, 3))
    # a tail without a common end is dropped and counted
    al = align_offsets([(0, 2), (2, 5)], [(0, 2), (2, 4)])
    assert al.student_spans == ((0, 1),) and al.dropped_student == 1 and al.dropped_teacher == 1
    with pytest.raises(ValueError, match="student_offsets"):
        align_offsets([(3, 1)], t)


def test_spans_cover_the_same_text_for_two_real_tokenizers(tokenizers_pair, hfh):
    small, large = tokenizers_pair
    for text in [TEXT, *hfh.corpus_lines()[:5]]:
        es, et = small.encode(text), large.encode(text)
        al = align_offsets(es.offsets, et.offsets)
        assert al.student_spans and len(al.student_spans) == len(al.teacher_spans)
        for (a, b), (c, d) in zip(al.student_spans, al.teacher_spans):
            s_text = text[es.offsets[a][0]:es.offsets[b - 1][1]]
            t_text = text[et.offsets[c][0]:et.offsets[d - 1][1]]
            assert s_text == t_text
        # spans are consecutive and cover every token
        assert [s[0] for s in al.student_spans[1:]] == [s[1] for s in al.student_spans[:-1]]
        assert al.dropped_student == 0 and al.dropped_teacher == 0
    same = align_offsets(small.encode(TEXT).offsets, small.encode(TEXT).offsets)
    assert all(b - a == 1 for a, b in same.student_spans) or len({o for o in small.encode(TEXT).offsets}) < len(
        small.encode(TEXT).offsets)


def test_token_offsets_of_canonical_and_sampled_sequences(tokenizers_pair):
    small, large = tokenizers_pair
    enc = small.encode(TEXT)
    text, offsets = token_offsets(small, enc.ids)
    assert text == TEXT
    ends = [e for _, e in offsets]
    assert ends == sorted(ends) and ends[-1] == len(TEXT)
    # wherever a token ends a whole character, its end is the tokenizer's own end offset
    for (_, e), (_, e_tok) in zip(offsets, enc.offsets):
        if e == e_tok:
            continue
        assert e > e_tok  # a partial character: pushed to the next clean end
    # a non-canonical sequence: single bytes of the text; it still aligns with the teacher's tokenization
    single = [small.token_to_id("Ġ" if c == " " else c) for c in "the teacher"]
    ids = single + small.encode(" the teacher").ids
    text, offsets = token_offsets(small, ids)
    assert text == "the teacher the teacher"
    t_enc = large.encode(text)
    al = align_offsets(offsets, t_enc.offsets)
    covered = sum(b - a for a, b in al.student_spans)
    assert covered == len(ids)


def test_span_logprobs_sum_token_logprobs_and_the_text_likelihood(tokenizers_pair, hfh):
    small, large = tokenizers_pair
    s_model, t_model = hfh.tiny_llama(300, seed=1), hfh.tiny_llama(360, seed=2)
    text = hfh.corpus_lines()[1]
    es, et = small.encode(text), large.encode(text)
    s_ids = torch.tensor([[2, *es.ids]])  # a BOS gives every token a predicting position
    t_ids = torch.tensor([[2, *et.ids]])
    s_off = [(0, 0), *es.offsets]
    t_off = [(0, 0), *et.offsets]
    al = align_offsets(s_off, t_off)
    batch = align_batch([al])
    with torch.no_grad():
        s_logits = s_model(s_ids).logits.double()
        t_logits = t_model(t_ids).logits.double()
    s_span = span_logprobs(s_logits, s_ids, batch.student_spans, batch.batch)
    t_span = span_logprobs(t_logits, t_ids, batch.teacher_spans, batch.batch)
    # direct: log_softmax gathered token by token, summed over each span
    lp = torch.log_softmax(s_logits[0, :-1], -1).gather(-1, s_ids[0, 1:, None]).squeeze(-1)
    for k, (a, b) in enumerate(batch.student_spans.tolist()):
        assert torch.isclose(s_span[k], lp[a - 1:b - 1].sum())
    # all spans together are the whole text: its log-likelihood under each model, whatever the tokenizer
    assert torch.isclose(s_span.sum(), lp.sum())
    lt = torch.log_softmax(t_logits[0, :-1], -1).gather(-1, t_ids[0, 1:, None]).squeeze(-1)
    assert torch.isclose(t_span.sum(), lt.sum())
    value = span_divergence(s_span, t_span, "js")
    assert value > 0 and torch.isfinite(value)


def test_identical_tokenizers_every_cross_tokenizer_loss_is_the_ordinary_loss(tokenizer, hfh):
    """Align a batch tokenized twice by the same tokenizer: every span is one token, the span-start rows are
    the ordinary shifted positions, and each loss equals its ordinary counterpart."""
    lines = hfh.corpus_lines()[:3]
    encs = [tokenizer.encode(line) for line in lines]
    n = max(len(e.ids) for e in encs) + 1
    ids = torch.zeros(3, n, dtype=torch.long)
    keep = torch.zeros(3, n, dtype=torch.bool)
    alignments = []
    for r, e in enumerate(encs):
        ids[r, 0] = 2
        ids[r, 1:len(e.ids) + 1] = torch.tensor(e.ids)
        keep[r, 1:len(e.ids) + 1] = True
        off = [(0, 0), *e.offsets]
        alignments.append(align_offsets(off, off))
    batch = align_batch(alignments, keep)
    distinct = keep.clone()  # tokens that share a split character are grouped into one span; count the rest
    for r, e in enumerate(encs):
        for k in range(1, len(e.offsets)):
            if e.offsets[k] == e.offsets[k - 1]:
                distinct[r, k + 1] = False
    assert torch.equal(batch.student_row, batch.teacher_row)
    s, t = _logits(3, n, 300, seed=16), _logits(3, n, 300, seed=17)
    m = vocabulary_map(tokenizer, tokenizer)
    b, r = batch.batch, batch.student_row
    single = (batch.student_spans[:, 1] - batch.student_spans[:, 0]) == 1
    b, r = b[single], r[single]
    cross = vocabulary_divergence(s[b, r], t[b, r], m, "kl")
    ordinary = divergence_loss(s[:, :-1], t[:, :-1], "kl", mask=distinct[:, 1:] & keep[:, 1:])
    assert torch.isclose(cross, ordinary, rtol=1e-12)
    assert torch.isclose(uld_loss(s[b, r], t[b, r]), uld_loss(s[:, :-1], t[:, :-1], mask=distinct[:, 1:]))
    # span level: the binary coarsening {observed token, rest} = the top-1 teacher loss on the observed token
    spans = batch.student_spans[single]
    s_span = span_logprobs(s, ids, spans, b)
    t_span = span_logprobs(t, ids, spans, b)
    y = ids[b, spans[:, 0]]
    t_lp = torch.log_softmax(t[b, r], -1).gather(-1, y[:, None])
    top1 = topk_divergence_loss(s[b, r], t_lp, y[:, None], "kl")
    assert torch.isclose(span_divergence(s_span, t_span, "kl"), top1, rtol=1e-10)


def test_align_batch_and_span_inputs_are_checked():
    al = Alignment(((0, 1), (1, 3)), ((0, 2), (2, 3)))
    batch = align_batch([al])
    assert len(batch) == 1 and batch.dropped == 1  # the first span has no predicting position
    keep = torch.tensor([[True, True, False]])
    assert len(align_batch([al], keep)) == 0
    with pytest.raises(ValueError, match="alignments"):
        align_batch(["no"])
    with pytest.raises(ValueError, match="keep"):
        align_batch([al], torch.ones(3, dtype=torch.bool))
    z = _logits(1, 3, 5)
    with pytest.raises(ValueError, match="spans"):
        span_logprobs(z, torch.zeros(1, 3, dtype=torch.long), torch.tensor([[0, 1]]), torch.tensor([0]))
    with pytest.raises(ValueError, match="log-probabilities"):
        span_divergence(torch.tensor([0.5]), torch.tensor([-1.0]))
    with pytest.raises(ValueError, match="same shape"):
        span_divergence(torch.tensor([-0.5]), torch.tensor([-1.0, -2.0]))
    assert math.isfinite(float(span_divergence(torch.tensor([0.0]), torch.tensor([-1.0]), "js")))
