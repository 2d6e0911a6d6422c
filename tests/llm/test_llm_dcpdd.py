"""DC-PDD: frequency table (Laplace, save/load), first occurrences, clipped score vs a direct loop."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from divergences.llm import FrequencyTable, dcpdd_score, first_occurrence_mask  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))


def _direct(logits, ids, counts, a, mask=None):
    """Per row: softmax by hand, skip repeated tokens with a Python set, clip with min()."""
    vocab = len(counts)
    total = sum(counts)
    out = []
    for b in range(ids.shape[0]):
        seen, vals = set(), []
        for t in range(1, ids.shape[1]):
            if mask is not None and not mask[b, t]:
                continue
            tok = int(ids[b, t])
            if tok in seen:
                continue
            seen.add(tok)
            z = logits[b, t - 1].tolist()
            m = max(z)
            prob = math.exp(z[tok] - m) / sum(math.exp(v - m) for v in z)
            f = (counts[tok] + 1) / (total + vocab)
            vals.append(min(prob * math.log(1 / f), a))
        out.append(sum(vals) / len(vals))
    return out


def test_table_laplace_save_load(tmp_path):
    table = FrequencyTable.from_corpus([[0, 1, 1, 3], np.array([3, 3])], vocab_size=5)
    assert table.counts.tolist() == [1, 2, 0, 3, 0]
    np.testing.assert_allclose(table.frequencies(), (np.array([1, 2, 0, 3, 0]) + 1) / (6 + 5))
    path = tmp_path / "freq.npz"
    table.save(path)
    again = FrequencyTable.load(path)
    assert np.array_equal(again.counts, table.counts)


def test_table_from_texts_with_tokenizer():
    pytest.importorskip("tokenizers")
    pytest.importorskip("transformers")
    import _tiny_lm as tiny

    tok = tiny.tokenizer()
    lines = tiny.corpus_lines()
    table = FrequencyTable.from_corpus(lines, vocab_size=len(tok), tokenizer=tok)
    assert table.total == sum(len(tok.encode(line)) for line in lines)
    # the raw `tokenizers.Tokenizer` (Encoding with .ids) gives the same counts
    raw = FrequencyTable.from_corpus(lines, vocab_size=len(tok), tokenizer=tok.backend_tokenizer)
    assert np.array_equal(raw.counts, table.counts)


def test_first_occurrence_mask():
    ids = torch.tensor([[5, 3, 5, 2, 3, 7], [0, 0, 4, 4, 1, 4]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1]])
    got = first_occurrence_mask(ids, mask)
    assert got.tolist() == [[True, True, False, True, False, True], [False, False, True, False, True, False]]


@pytest.mark.parametrize("a", [0.01, 0.5, 10.0])
def test_score_matches_direct(a):
    g = torch.Generator().manual_seed(0)
    vocab = 11
    logits = torch.randn(3, 9, vocab, generator=g, dtype=torch.float64) * 2
    ids = torch.randint(0, vocab, (3, 9), generator=g)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, :3] = 0  # left padding
    counts = torch.randint(0, 50, (vocab,), generator=g).tolist()
    table = FrequencyTable(np.array(counts))
    got = dcpdd_score(logits, ids, table, a=a, attention_mask=mask)
    want = _direct(logits, ids, counts, a, mask.bool())
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def test_score_bad_input():
    logits = torch.randn(1, 4, 6)
    ids = torch.randint(0, 6, (1, 4))
    table = FrequencyTable(np.arange(6))
    with pytest.raises(ValueError, match="a must be"):
        dcpdd_score(logits, ids, table, a="0.01")
    with pytest.raises(ValueError, match="vocabulary mismatch"):
        dcpdd_score(logits, ids, FrequencyTable(np.arange(7)))
    with pytest.raises(ValueError, match="corpus is empty"):
        FrequencyTable.from_corpus([[], []], vocab_size=6)
    with pytest.raises(ValueError, match="outside"):
        FrequencyTable.from_corpus([[1, 9]], vocab_size=6)
    with pytest.raises(ValueError, match="no scored token"):
        dcpdd_score(logits, ids, table, attention_mask=torch.tensor([[1, 0, 0, 0]]))
