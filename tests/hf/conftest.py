"""Fixtures of the Hugging Face tests: a tokenizer trained on tests/data/hf_corpus.txt, tiny Llama and GPT-2
models built from configs (nothing is downloaded), and batches of the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")

CORPUS = Path(__file__).resolve().parents[1] / "data" / "hf_corpus.txt"
PAD = 0


def train_tokenizer(vocab_size: int = 300, lines: list[str] | None = None):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<unk>", "<s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(lines if lines is not None else corpus_lines(), trainer=trainer)
    return tok


def corpus_lines() -> list[str]:
    return [line for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def tokenizer():
    return train_tokenizer()


@pytest.fixture(scope="session")
def encoded(tokenizer):
    """Token ids of each corpus line, truncated to 24 tokens."""
    return [tokenizer.encode(line).ids[:24] for line in corpus_lines()]


def make_batch(seqs: list[list[int]], pad_left: bool = False) -> dict:
    """input_ids / attention_mask / labels (-100 at pads), right padding unless pad_left."""
    n = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), n), PAD, dtype=torch.long)
    mask = torch.zeros((len(seqs), n), dtype=torch.long)
    for i, s in enumerate(seqs):
        sl = slice(n - len(s), n) if pad_left else slice(0, len(s))
        ids[i, sl] = torch.tensor(s)
        mask[i, sl] = 1
    labels = ids.masked_fill(mask == 0, -100)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def tiny_llama(vocab: int, seed: int = 0, hidden: int = 32, layers: int = 2):
    torch.manual_seed(seed)
    cfg = transformers.LlamaConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=2 * hidden,
                                   num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                                   max_position_embeddings=64, pad_token_id=PAD, bos_token_id=2, eos_token_id=2)
    return transformers.LlamaForCausalLM(cfg).eval()


def tiny_gpt2(vocab: int, seed: int = 0, hidden: int = 32, layers: int = 2):
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=vocab, n_embd=hidden, n_layer=layers, n_head=4, n_positions=64,
                                  pad_token_id=PAD, bos_token_id=2, eos_token_id=2, resid_pdrop=0.0,
                                  embd_pdrop=0.0, attn_pdrop=0.0)
    return transformers.GPT2LMHeadModel(cfg).eval()


@pytest.fixture(params=["llama", "gpt2"])
def arch(request):
    return request.param


def build(arch: str, vocab: int, seed: int = 0, **kw):
    return (tiny_llama if arch == "llama" else tiny_gpt2)(vocab, seed, **kw)


@pytest.fixture(scope="session")
def hfh():
    """The helpers above, for test modules (conftest is not importable under --import-mode=importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(make_batch=make_batch, build=build, tiny_llama=tiny_llama, tiny_gpt2=tiny_gpt2,
                           train_tokenizer=train_tokenizer, corpus_lines=corpus_lines, PAD=PAD)


@pytest.fixture(scope="session", autouse=True)
def _vocab_is_300(tokenizer):
    assert tokenizer.get_vocab_size() == 300
