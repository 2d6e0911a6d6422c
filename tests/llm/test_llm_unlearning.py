"""Unlearning evaluation: top-k JS vs SciPy's jensenshannon²; Kendall τ and Spearman-weighted composite."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from scipy.spatial.distance import jensenshannon  # noqa: E402
from scipy.stats import kendalltau, rankdata, spearmanr  # noqa: E402

from divergences.llm import composite_score, metric_agreement, topk_js  # noqa: E402


def _scipy_topk(pz, qz, k, eps, index_from="p"):
    p, q = torch.softmax(pz, -1).numpy(), torch.softmax(qz, -1).numpy()
    idx = np.argsort(-(p if index_from == "p" else q), kind="stable")[:k]
    a, b = p[idx] + eps, q[idx] + eps
    return jensenshannon(a / a.sum(), b / b.sum()) ** 2


@pytest.mark.parametrize("k,eps,index_from", [(5, 1e-10, "p"), (20, 0.0, "q"), (3, 1e-3, "p")])
def test_topk_js_matches_scipy(k, eps, index_from):
    g = torch.Generator().manual_seed(0)
    pz = torch.randn(2, 4, 20, generator=g, dtype=torch.float64) * 3
    qz = torch.randn(2, 4, 20, generator=g, dtype=torch.float64) * 3
    mask = torch.tensor([[1, 1, 1, 1], [0, 1, 1, 0]])
    got = topk_js(pz, qz, k=k, eps=eps, attention_mask=mask, index_from=index_from)
    for b in range(2):
        vals = [_scipy_topk(pz[b, t], qz[b, t], k, eps, index_from) for t in range(4) if mask[b, t]]
        assert got[b].item() == pytest.approx(np.mean(vals), rel=1e-9, abs=1e-15)


def test_topk_js_union_and_full_vocab_is_plain_js():
    g = torch.Generator().manual_seed(2)
    pz, qz = torch.randn(3, 9, generator=g, dtype=torch.float64), torch.randn(3, 9, generator=g, dtype=torch.float64)
    full = topk_js(pz, qz, k=9, eps=0.0, index_from="union")
    want = [jensenshannon(torch.softmax(pz[i], -1).numpy(), torch.softmax(qz[i], -1).numpy()) ** 2 for i in range(3)]
    # one position per sample: the per-sample mean is the value itself
    np.testing.assert_allclose(full.numpy(), want, rtol=1e-10)


def test_topk_js_bad_input():
    with pytest.raises(ValueError, match="k must be"):
        topk_js(torch.randn(2, 5), torch.randn(2, 5), k=6)
    with pytest.raises(ValueError, match="vocabulary mismatch"):
        topk_js(torch.randn(2, 5), torch.randn(2, 6), k=2)


def test_metric_agreement_matches_kendalltau_on_rankings():
    rng = np.random.default_rng(0)
    metrics = {"js": rng.random(6), "acc": rng.random(6), "mia": rng.random(6)}
    names, tau, pval = metric_agreement(metrics, higher_is_better={"acc": False})
    assert names == ["js", "acc", "mia"]
    # rank methods by each metric (best first), then τ of the rank vectors
    ranks = {"js": rankdata(-metrics["js"]), "acc": rankdata(metrics["acc"]), "mia": rankdata(-metrics["mia"])}
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            want = 1.0 if a == b else kendalltau(ranks[a], ranks[b]).statistic
            assert tau[i, j] == pytest.approx(want)
    assert np.allclose(tau, tau.T) and pval[0, 1] == pytest.approx(kendalltau(ranks["js"], ranks["acc"]).pvalue)


def test_composite_score_weights_from_spearman():
    rng = np.random.default_rng(1)
    oracle = rng.random(7)                       # distance to the retrained model: smaller is better
    metrics = {"js": oracle + 0.1 * rng.random(7),          # lower is better, tracks the oracle
               "ra": -oracle + 0.3 * rng.random(7),         # higher is better, tracks the oracle
               "noise": rng.random(7)}
    better = {"js": False, "ra": True, "noise": True}
    comp, weights = composite_score(metrics, oracle, higher_is_better=better)
    oriented = {n: (v if better[n] else -v) for n, v in metrics.items()}
    rho = {n: max(spearmanr(v, -oracle).statistic, 0.01) for n, v in oriented.items()}
    total = sum(rho.values())
    want = sum(rho[n] / total * (v - v.mean()) / v.std() for n, v in oriented.items())
    np.testing.assert_allclose(comp, want)
    assert sum(weights.values()) == pytest.approx(1.0) and min(weights.values()) > 0
    assert weights["js"] > weights["noise"] and weights["ra"] > weights["noise"]
    assert spearmanr(comp, -oracle).statistic > 0.8
    raw, _ = composite_score(metrics, oracle, higher_is_better=better, standardize=False)
    np.testing.assert_allclose(raw, sum(rho[n] / total * v for n, v in oriented.items()))
    with pytest.raises(ValueError, match="oracle_distance"):
        composite_score(metrics, oracle[:3])


def test_topk_js_sorted_reproduces_the_repository_rule():
    g = torch.Generator().manual_seed(7)
    pz = torch.randn(3, 12, generator=g, dtype=torch.float64) * 2
    perm = torch.randperm(12, generator=g)
    got = topk_js(pz, pz[:, perm], k=5, index_from="sorted")
    torch.testing.assert_close(got, torch.zeros(3, dtype=torch.float64), atol=1e-15, rtol=0)  # blind to the tokens
    assert (topk_js(pz, pz[:, perm], k=5) > 0).all()                                         # ours is not
    qz = torch.randn(3, 12, generator=g, dtype=torch.float64)
    for i in range(3):
        a = np.sort(torch.softmax(pz[i], -1).numpy())[::-1][:5] + 1e-10
        b = np.sort(torch.softmax(qz[i], -1).numpy())[::-1][:5] + 1e-10
        want = jensenshannon(a / a.sum(), b / b.sum()) ** 2
        assert topk_js(pz[i:i + 1], qz[i:i + 1], k=5, index_from="sorted").item() == pytest.approx(want, rel=1e-10)


def test_metric_agreement_per_group_mean_and_ttest():
    from scipy.stats import ttest_1samp

    rng = np.random.default_rng(3)
    groups = np.repeat(["d1/s1", "d1/s2", "d2/s1"], 5)
    metrics = {"a": rng.random(15), "b": rng.random(15)}
    _, tau, pval = metric_agreement(metrics, groups=groups)
    per = [kendalltau(metrics["a"][groups == g], metrics["b"][groups == g]).statistic for g in ["d1/s1", "d1/s2", "d2/s1"]]
    assert tau[0, 1] == pytest.approx(np.mean(per))
    assert pval[0, 1] == pytest.approx(ttest_1samp(per, 0).pvalue)
    with pytest.raises(ValueError, match="groups"):
        metric_agreement(metrics, groups=groups[:3])
