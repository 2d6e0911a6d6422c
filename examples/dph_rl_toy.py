"""Toy reproduction of DPH-RL's claim: mass-covering divergences keep Pass@k from collapsing.

A categorical policy over a few hundred answers (a context-free "model" shared by all prompts)
is fine-tuned with a verifiable reward: each prompt has a few correct answers, reward 1 when the
sampled answer is one of them. The policy gradient is GRPO-like (group of samples per prompt,
advantage = reward − group mean), plain SGD on the logits. Four regularisers toward the initial
policy π_0, all from :mod:`divergences.torch`:

(a) ``none``: no divergence;
(b) ``reverse_kl``: KL(π_θ‖π_0) on the policy's own samples (needs π_0's log-probabilities of
    each new sample, i.e. an online reference model): ``kl_penalty(..., "k3+")`` (k3 value,
    k2 gradient, whose on-policy mean is ∇KL(π_θ‖π_0));
(c) ``forward_kl``: KL(π_0‖π_θ) from a pool of samples drawn *once* from π_0 (their log π_0
    stored once; no reference model afterwards): ``sampled_divergence(..., "kl",
    samples_from="p")``;
(d) ``js``: the same with the Jensen–Shannon divergence (β = ½).

Reported, exactly from the final policy (mean ± std over seeds): Pass@k = mean over prompts of
1 − (1 − π(correct))^k for k = 1, 8, 64, and the number of correct answers still covered
(π(answer) ≥ 1e-3, i.e. seen about once per thousand samples) out of all correct answers.

Run: ``python examples/dph_rl_toy.py`` (about a minute on a CPU).
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, replace

import torch

from divergences.torch import kl_penalty, sampled_divergence

METHODS = ("none", "reverse_kl", "forward_kl", "js")
KS = (1, 8, 64)


@dataclass(frozen=True)
class Config:
    n_answers: int = 300  # answers of the categorical policy
    n_prompts: int = 40  # prompts (tasks) sharing the policy
    correct_per_prompt: int = 5  # correct answers of each prompt
    init_scale: float = 1.5  # std of the initial logits
    steps: int = 300
    group: int = 16  # samples per prompt and step
    lr: float = 20.0
    beta: float = 0.05  # weight of the divergence
    ref_pool: int = 8192  # samples drawn once from π_0 (forward KL, JS)
    ref_batch: int = 64  # of them per prompt and step
    cover_threshold: float = 1e-3
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)


def make_task(cfg: Config, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Initial logits (n_answers,) and the correct-answer mask (n_prompts, n_answers)."""
    gen = torch.Generator().manual_seed(10_000 + seed)
    logits0 = cfg.init_scale * torch.randn(cfg.n_answers, generator=gen, dtype=torch.float64)
    correct = torch.zeros(cfg.n_prompts, cfg.n_answers, dtype=torch.bool)
    for j in range(cfg.n_prompts):
        correct[j, torch.randperm(cfg.n_answers, generator=gen)[: cfg.correct_per_prompt]] = True
    return logits0, correct


def metrics(logits: torch.Tensor, correct: torch.Tensor, cfg: Config) -> dict[str, float]:
    """Exact Pass@k over prompts and the number of correct answers still covered."""
    probs = torch.softmax(logits, dim=-1).expand(correct.shape)  # (prompts, answers)
    solved = (correct * probs).sum(dim=-1)  # π(correct | prompt)
    out = {f"pass@{k}": float((1 - (1 - solved) ** k).mean()) for k in KS}
    out["covered"] = float(((probs >= cfg.cover_threshold) & correct).sum())
    out["n_correct"] = float(correct.sum())
    return out


def train(method: str, cfg: Config, seed: int) -> dict[str, float]:
    """Fine-tune the policy from π_0 with regulariser ``method``; metrics of the final policy."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    logits0, correct = make_task(cfg, seed)
    logp0 = torch.log_softmax(logits0, dim=-1)
    shared = logits0.clone().requires_grad_(True)  # what all prompts share (a "model")
    own = torch.zeros(cfg.n_prompts, cfg.n_answers, dtype=logits0.dtype, requires_grad=True)  # per prompt
    opt = torch.optim.SGD([shared, own], lr=cfg.lr)
    gen = torch.Generator().manual_seed(seed)
    # DPH-RL: samples drawn once from the reference policy, their log-probabilities stored once
    pool = torch.multinomial(logp0.exp(), cfg.ref_pool, replacement=True, generator=gen)
    pool_logp0 = logp0[pool]
    rows = torch.arange(cfg.n_prompts).unsqueeze(1)
    for _ in range(cfg.steps):
        logp = torch.log_softmax(shared + own, dim=-1)  # (prompts, answers)
        with torch.no_grad():
            answers = torch.multinomial(logp.exp(), cfg.group, replacement=True, generator=gen)
            reward = torch.gather(correct, 1, answers).to(logp.dtype)
            advantage = reward - reward.mean(dim=1, keepdim=True)
        loss = -(advantage * logp[rows, answers]).mean()
        if method == "reverse_kl":
            loss = loss + cfg.beta * kl_penalty(logp[rows, answers], logp0[answers], "k3+").mean()
        elif method in ("forward_kl", "js"):
            idx = torch.randint(cfg.ref_pool, (cfg.n_prompts, cfg.ref_batch), generator=gen)
            name = "kl" if method == "forward_kl" else "js"
            reg = sampled_divergence(pool_logp0[idx], logp[rows, pool[idx]], name, samples_from="p")
            loss = loss + cfg.beta * reg.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return metrics((shared + own).detach(), correct, cfg)


def _mean_std(values: list[float]) -> tuple[float, float]:
    m = sum(values) / len(values)
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return m, s


def main(cfg: Config | None = None) -> str:
    """Train every method on every seed; print and return the table."""
    cfg = cfg or Config()
    start = time.perf_counter()
    rows: dict[str, dict[str, list[float]]] = {}
    init: dict[str, list[float]] = {}
    for seed in cfg.seeds:
        logits0, correct = make_task(cfg, seed)
        for key, v in metrics(logits0, correct, cfg).items():
            init.setdefault(key, []).append(v)
        for method in METHODS:
            for key, v in train(method, cfg, seed).items():
                rows.setdefault(method, {}).setdefault(key, []).append(v)
    n_correct = _mean_std(init["n_correct"])[0]
    header = f"{'policy':<12}" + "".join(f"{'Pass@' + str(k):>16}" for k in KS) + f"{'covered':>16}"
    lines = [
        f"DPH-RL toy: {cfg.n_answers} answers, {cfg.n_prompts} prompts x {cfg.correct_per_prompt} correct, "
        f"{cfg.steps} steps, beta={cfg.beta}, {len(cfg.seeds)} seeds (mean ± std); "
        f"covered = correct answers with prob >= {cfg.cover_threshold:g}, of {n_correct:.0f}",
        header,
        "-" * len(header),
    ]
    for name, table in [("initial", init)] + [(m, rows[m]) for m in METHODS]:
        cells = []
        for key in [f"pass@{k}" for k in KS] + ["covered"]:
            m, s = _mean_std(table[key])
            cells.append(f"{m:.3f} ± {s:.3f}" if key != "covered" else f"{m:.1f} ± {s:.1f}")
        lines.append(f"{name:<12}" + "".join(f"{c:>16}" for c in cells))
    lines.append(f"({time.perf_counter() - start:.1f} s)")
    text = "\n".join(lines)
    print(text)
    return text


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=Config.steps)
    parser.add_argument("--beta", type=float, default=Config.beta)
    parser.add_argument("--seeds", type=int, default=len(Config.seeds))
    args = parser.parse_args()
    torch.set_num_threads(1)  # tiny tensors: one thread is fastest
    torch.set_flush_denormal(True)  # collapsed policies have subnormal probabilities: slow on CPUs
    main(replace(Config(), steps=args.steps, beta=args.beta, seeds=tuple(range(args.seeds))))
