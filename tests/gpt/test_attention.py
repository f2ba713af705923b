"""Attention, step by step and as a module (book chapter 3)."""

import pytest
import torch

from core.errors import UserError
from core.gpt.attention import (
    MAX_STEP_DIM,
    MAX_STEP_TOKENS,
    TOY_INPUTS,
    TOY_TOKENS,
    MultiHeadAttention,
    attention_steps,
    projection_weights,
)


def test_simplified_attention_reproduces_the_book():
    steps = attention_steps(TOY_INPUTS)
    assert len(TOY_TOKENS) == 6 and TOY_INPUTS.shape == (6, 3)
    # Section 3.3.1: unscaled scores of "journey" against every token.
    expected = torch.tensor([0.9544, 1.4950, 1.4754, 0.8434, 0.7070, 1.0865])
    torch.testing.assert_close(steps.scores[1], expected, atol=1e-4, rtol=0)
    torch.testing.assert_close(steps.weights.sum(-1), torch.ones(6))
    torch.testing.assert_close(steps.scaled_scores, steps.scores / 3**0.5)
    torch.testing.assert_close(steps.context, steps.weights @ TOY_INPUTS)


def test_trainable_projections_and_causal_mask():
    w_q, w_k, w_v = projection_weights(3, 2, seed=123)
    steps = attention_steps(TOY_INPUTS, w_q, w_k, w_v, causal=True)
    assert steps.queries.shape == (6, 2)
    assert steps.causal_mask is not None and steps.causal_mask[0, 1] and not steps.causal_mask[1, 0]
    assert torch.all(steps.weights.triu(1) == 0)
    torch.testing.assert_close(steps.weights.sum(-1), torch.ones(6))
    torch.testing.assert_close(steps.weights[0], torch.tensor([1.0, 0, 0, 0, 0, 0]))


def test_dropout_is_seeded_and_rescales_survivors():
    a = attention_steps(TOY_INPUTS, dropout=0.5, seed=7)
    b = attention_steps(TOY_INPUTS, dropout=0.5, seed=7)
    c = attention_steps(TOY_INPUTS, dropout=0.5, seed=8)
    assert torch.equal(a.dropout_mask, b.dropout_mask)
    assert not torch.equal(a.dropout_mask, c.dropout_mask)
    kept = ~a.dropout_mask
    torch.testing.assert_close(a.dropped_weights[kept], a.weights[kept] * 2)
    assert torch.all(a.dropped_weights[a.dropout_mask] == 0)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"dropout": 1.0}, "dropout"), ({"w_query": torch.eye(3)}, "all three")],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        attention_steps(TOY_INPUTS, **kwargs)
    with pytest.raises(ValueError, match="non-empty"):
        attention_steps(torch.zeros(0, 3))


@pytest.mark.parametrize(
    "shape", [(MAX_STEP_TOKENS + 1, 3), (4, MAX_STEP_DIM + 1)],
)
def test_a_step_by_step_pass_too_big_to_show_is_refused_before_it_runs(shape):
    with pytest.raises(UserError, match="step-by-step"):
        attention_steps(torch.zeros(shape))


def test_projection_sizes_are_bounded_before_allocating():
    with pytest.raises(UserError, match="output dimensions"):
        projection_weights(3, 10**9)
    with pytest.raises(UserError, match="input dimensions"):
        projection_weights(0, 2)


@pytest.mark.parametrize("qkv_bias", [False, True])
def test_explicit_weights_path_agrees_with_fused_path(qkv_bias):
    torch.manual_seed(0)
    mha = MultiHeadAttention(d_in=24, d_out=24, context_length=32, dropout=0.2, num_heads=3, qkv_bias=qkv_bias).eval()
    x = torch.randn(2, 11, 24)
    fast, none = mha(x)
    slow, weights = mha(x, need_weights=True)
    assert none is None and weights.shape == (2, 3, 11, 11)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


def test_cached_chunks_agree_on_both_paths():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 16, 32, 0.0, 4).eval()
    x = torch.randn(1, 9, 16)
    full, _ = mha(x)
    for need_weights in (False, True):
        from core.gpt.attention import KVCache

        cache = KVCache(1)
        first, _ = mha(x[:, :4], cache, 0, need_weights)
        rest, _ = mha(x[:, 4:], cache, 0, need_weights)
        torch.testing.assert_close(torch.cat([first, rest], 1), full, atol=1e-5, rtol=1e-5)
