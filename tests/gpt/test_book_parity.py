"""Our GPT is the book's (chapter 4): same parameter names, same initial weights for a seed, same
logits, same LayerNorm and GELU formulas, and the same greedy tokens as the book's own
`generate_text_simple`. Checked against the book's package, `llms-from-scratch`."""

from __future__ import annotations

import math

import pytest
import torch

from core.gpt.generate import generate
from core.gpt.model import GELU, GPTModel, LayerNorm

book = pytest.importorskip(
    "llms_from_scratch.ch04", reason="the book's package is not installed: pip install --no-deps llms-from-scratch"
)

# The book's key names; small enough that each test takes milliseconds.
CFG = {"vocab_size": 97, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.1,
       "qkv_bias": False}


def both_models(seed: int = 123, **overrides) -> tuple[GPTModel, torch.nn.Module]:
    cfg = {**CFG, **overrides}
    torch.manual_seed(seed)
    ours = GPTModel(cfg)
    torch.manual_seed(seed)
    theirs = book.GPTModel(cfg)
    return ours.eval(), theirs.eval()


@pytest.mark.parametrize("qkv_bias", [False, True])
def test_same_parameter_names_and_initial_weights_for_a_seed(qkv_bias):
    ours, theirs = both_models(qkv_bias=qkv_bias)
    mine, book_params = dict(ours.named_parameters()), dict(theirs.named_parameters())
    assert list(mine) == list(book_params)
    for name, param in mine.items():
        assert param.shape == book_params[name].shape, name
        assert torch.equal(param, book_params[name]), name
    other, _ = both_models(seed=124)
    assert not torch.equal(other.tok_emb.weight, ours.tok_emb.weight)  # the seed matters


def test_same_logits_and_the_book_loads_our_weights():
    ours, theirs = both_models()
    idx = torch.randint(0, CFG["vocab_size"], (3, 11), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx), theirs(idx), atol=1e-6, rtol=0)
        trained = GPTModel(CFG).eval()  # other weights, loaded by name into the book's model
        missing, unexpected = theirs.load_state_dict(trained.state_dict(), strict=False)
        assert unexpected == [] and all(name.endswith(".att.mask") for name in missing)  # its causal-mask buffers
        torch.testing.assert_close(trained(idx), theirs(idx), atol=1e-6, rtol=0)


def test_layer_norm_is_the_books_formula():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 32) * 3 + 1
    norm = LayerNorm(32)
    with torch.no_grad():
        norm.scale.uniform_(0.5, 1.5)
        norm.shift.uniform_(-1, 1)
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)
    expected = norm.scale * (x - mean) / torch.sqrt(var + norm.eps) + norm.shift
    torch.testing.assert_close(norm(x), expected, atol=1e-5, rtol=1e-5)
    theirs = book.LayerNorm(32)
    theirs.load_state_dict(norm.state_dict())
    torch.testing.assert_close(norm(x), theirs(x), atol=1e-5, rtol=1e-5)


def test_gelu_is_gpt2s_tanh_approximation():
    x = torch.linspace(-6, 6, 241)
    expected = 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    torch.testing.assert_close(GELU()(x), expected, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(GELU()(x), book.GELU()(x), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_generation_gives_the_books_tokens(use_cache):
    ours, theirs = both_models(seed=7)
    prompt = torch.tensor([[5, 17, 42, 3]])
    with torch.no_grad():
        golden = book.generate_text_simple(theirs, prompt, max_new_tokens=20, context_size=CFG["context_length"])
    got = generate(ours, prompt, 20, context_size=CFG["context_length"], temperature=0.0, use_cache=use_cache)
    assert golden.shape == (1, 24)  # the window slides: 24 tokens do not fit a context of 16
    assert got.tolist() == golden.tolist()
