"""Sampling (book section 5.3) and KV-cache decoding in core.gpt.generate."""

from __future__ import annotations

import pytest
import torch

from core.errors import UserError
from core.gpt.generate import (
    MAX_NEW_TOKENS,
    MIN_TOP_P,
    generate,
    generate_text,
    make_generator,
    next_token_distribution,
    sample_next,
    sampling_stages,
)
from core.gpt.model import GPTModel

CFG = {"vocab_size": 500, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.1}


@pytest.fixture(scope="module")
def model() -> GPTModel:
    torch.manual_seed(0)
    return GPTModel(CFG).eval()


@pytest.fixture(scope="module")
def gpt2_vocab_model() -> GPTModel:
    torch.manual_seed(0)
    return GPTModel({**CFG, "vocab_size": 50257}).eval()


def prompt(length: int, batch: int = 1, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, CFG["vocab_size"], (batch, length), generator=torch.Generator().manual_seed(seed))


def book_greedy(model: GPTModel, idx: torch.Tensor, max_new_tokens: int, context_size: int) -> torch.Tensor:
    """The book's generate_text_simple: full recomputation, argmax of the last position."""
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(idx[:, -context_size:])[:, -1]
            idx = torch.cat([idx, logits.argmax(dim=-1, keepdim=True)], dim=1)
    return idx


@pytest.mark.parametrize("length", [1, 5, 13, 16, 40])
def test_greedy_with_and_without_cache_matches_full_recomputation(model, length):
    idx = prompt(length, batch=2)
    expected = book_greedy(model, idx, 12, CFG["context_length"])  # 13 + 12 crosses the 16-token window
    assert torch.equal(generate(model, idx, 12, use_cache=False), expected)
    assert torch.equal(generate(model, idx, 12, use_cache=True), expected)


def test_cache_is_exact_with_a_context_size_smaller_than_the_window(model):
    idx = prompt(3)
    expected = book_greedy(model, idx, 10, context_size=6)
    assert torch.equal(generate(model, idx, 10, context_size=6, use_cache=True), expected)


def test_seeded_sampling_repeats_with_and_without_cache_and_leaves_global_rng_alone(model):
    idx = prompt(4)
    rng_before = torch.get_rng_state()
    settings = dict(temperature=1.5, top_k=50, top_p=0.95, seed=7)
    a = generate(model, idx, 15, use_cache=True, **settings)
    b = generate(model, idx, 15, use_cache=False, **settings)
    assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), rng_before)
    other = generate(model, idx, 15, use_cache=True, **{**settings, "seed": 8})
    assert not torch.equal(a, other)


def test_top_k_of_one_is_greedy_at_any_temperature(model):
    idx = prompt(5)
    assert torch.equal(generate(model, idx, 8, temperature=2.0, top_k=1, seed=3), generate(model, idx, 8))


def test_greedy_ignores_top_k_and_top_p_which_always_keep_the_best_token(model):
    idx = prompt(5, batch=2)
    expected = book_greedy(model, idx, 8, CFG["context_length"])
    for use_cache in (True, False):
        assert torch.equal(generate(model, idx, 8, top_k=3, top_p=0.2, use_cache=use_cache), expected)


def test_generation_stops_at_eos_without_appending_it(model):
    idx = prompt(5)
    greedy = generate(model, idx, 10)
    eos = int(greedy[0, 5 + 3])  # the fourth generated token
    first_hit = (greedy[0, 5:] == eos).nonzero()[0].item()
    out = generate(model, idx, 10, eos_id=eos)
    assert torch.equal(out, greedy[:, : 5 + first_hit])


def test_finished_rows_are_padded_with_eos_in_a_batch(model):
    idx = prompt(5, batch=2)
    greedy = generate(model, idx, 6)
    eos = int(greedy[0, 5])  # row 0 ends at once; row 1 usually goes on
    out = generate(model, idx, 6, eos_id=eos)
    assert torch.all(out[0, 5:] == eos)
    row1_hits = (greedy[1, 5:] == eos).nonzero()
    row1_end = 5 + (row1_hits[0].item() if len(row1_hits) else 6)
    assert torch.equal(out[1, :row1_end], greedy[1, :row1_end])


def test_zero_new_tokens_returns_the_prompt_and_model_mode_is_restored(model):
    idx = prompt(4)
    model.train()
    try:
        assert torch.equal(generate(model, idx, 0), idx)
        generate(model, idx, 2)
        assert model.training
    finally:
        model.eval()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": -0.5}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"temperature": 1e-9}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": 501}, "top_k"),
        ({"top_k": 2.5}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"context_size": 17}, "context_size"),
        ({"context_size": 0}, "context_size"),
        ({"eos_id": 500}, "eos_id"),
        ({"max_new_tokens": -1}, "max_new_tokens"),
        ({"max_new_tokens": MAX_NEW_TOKENS + 1}, "max_new_tokens"),
        ({"max_new_tokens": 10**12}, "max_new_tokens"),
        ({"top_p": 1e-300}, "top_p"),
        ({"top_p": MIN_TOP_P / 2}, "top_p"),
    ],
)
def test_out_of_range_settings_raise_clear_value_errors(model, kwargs, message):
    args = {"max_new_tokens": 3, **kwargs}
    with pytest.raises(UserError, match=message):
        generate(model, prompt(3), **args)


def test_bad_prompts_raise_value_errors(model):
    with pytest.raises(ValueError, match="empty"):
        generate(model, torch.zeros(1, 0, dtype=torch.long), 3)
    with pytest.raises(ValueError, match="vocabulary"):
        generate(model, torch.tensor([[5, 500]]), 3)
    with pytest.raises(ValueError, match="integer token IDs"):
        generate(model, torch.rand(1, 3), 3)


def test_stages_follow_top_k_then_temperature_then_softmax_then_top_p():
    logits = torch.tensor([4.0, 3.0, 2.0, 1.0, 0.0, -1.0])
    s = sampling_stages(logits, temperature=2.0, top_k=4, top_p=0.6)
    assert torch.equal(s.logits, logits)
    assert torch.isinf(s.top_k_logits[4:]).all() and torch.equal(s.top_k_logits[:4], logits[:4])
    assert torch.allclose(s.scaled_logits[:4], logits[:4] / 2)
    expected = torch.softmax(logits[:4] / 2, dim=0)
    assert torch.allclose(s.probs[:4], expected) and torch.all(s.probs[4:] == 0)
    # 0.43 + 0.26 reaches 0.6: the nucleus is the two best tokens, renormalised.
    assert torch.allclose(s.top_p_probs[:2], expected[:2] / expected[:2].sum()) and torch.all(s.top_p_probs[2:] == 0)
    assert torch.equal(s.final, s.top_p_probs) and not s.greedy


def test_greedy_stages_put_all_mass_on_the_best_token():
    s = sampling_stages(torch.tensor([0.5, 2.0, 1.0]), temperature=0.0)
    assert s.greedy and torch.equal(s.final, torch.tensor([0.0, 1.0, 0.0]))
    assert torch.allclose(s.probs.sum(), torch.tensor(1.0))


def test_top_p_always_keeps_the_most_likely_token():
    s = sampling_stages(torch.tensor([5.0, 0.0, 0.0]), temperature=1.0, top_p=0.01)
    assert torch.equal(s.final, torch.tensor([1.0, 0.0, 0.0]))


@pytest.mark.parametrize("top_p", [MIN_TOP_P, 1e-5, 0.001])
def test_the_smallest_top_p_gives_a_distribution_not_nan(top_p):
    logits = torch.tensor([0.3, 0.1, 0.0, -0.2])  # the best token has far more than p
    s = sampling_stages(logits, temperature=1.0, top_p=top_p)
    assert torch.isfinite(s.final).all() and torch.equal(s.final, torch.tensor([1.0, 0.0, 0.0, 0.0]))
    with pytest.raises(UserError, match="top_p"):
        sampling_stages(logits, temperature=1.0, top_p=1e-300)


def test_the_largest_generation_is_allowed(model):
    first = int(generate(model, prompt(3), 1)[0, -1])
    # The bound itself is accepted; making that token the end of text stops the greedy run at once.
    assert torch.equal(generate(model, prompt(3), max_new_tokens=MAX_NEW_TOKENS, eos_id=first), prompt(3))


def test_step_api_matches_generate(model):
    idx = prompt(6)
    stages = next_token_distribution(model, idx[0].tolist(), temperature=0.0)
    token, prob = sample_next(model, idx, temperature=0.0)
    assert token == int(generate(model, idx, 1)[0, -1]) == int(stages.final.argmax())
    assert prob == 1.0
    assert stages.logits.shape == (CFG["vocab_size"],)


def test_step_api_sampling_is_reproducible_with_a_generator(model):
    idx = prompt(6)
    draws = [sample_next(model, idx, temperature=1.0, top_k=20, generator=make_generator(11)) for _ in range(2)]
    assert draws[0] == draws[1]
    token, prob = draws[0]
    stages = next_token_distribution(model, idx, temperature=1.0, top_k=20)
    assert prob == pytest.approx(float(stages.final[token])) and prob > 0


def test_step_api_crops_a_long_context_and_refuses_batches(model):
    long = prompt(100)
    assert torch.equal(
        next_token_distribution(model, long, 0.0).logits, next_token_distribution(model, long[:, -16:], 0.0).logits
    )
    with pytest.raises(ValueError, match="one sequence"):
        next_token_distribution(model, prompt(3, batch=2))


def test_generate_text_handles_empty_special_and_huge_prompts(gpt2_vocab_model, gpt2_encoding):
    model = gpt2_vocab_model
    with pytest.raises(ValueError, match="empty"):
        generate_text(model, "", 5)
    with pytest.raises(ValueError, match="surrogate"):
        generate_text(model, "half an emoji \ud83d", 5)
    special_only = generate_text(model, "<|endoftext|>", 5)
    assert isinstance(special_only, str) and len(gpt2_encoding.encode(special_only, disallowed_special=())) >= 1
    huge = "All work and no play. " * 50_000  # about 1 MB
    tail = generate_text(model, huge[-2_000:], 5)
    assert generate_text(model, huge, 5) == tail  # cropped to the same last 16 tokens
