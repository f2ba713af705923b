"""Inputs, heads and real-model maps for the attention visualizer (chapter 3)."""

import pytest
import torch

from core.errors import UserError
from core.gpt.attention import TOY_TOKENS, attention_steps, projection_weights
from core.gpt.config import get_preset
from core.gpt.model import GPTModel
from core.widgets import attention_view as av


def test_toy_inputs_are_the_books_and_a_copy():
    inputs = av.toy_inputs()
    assert inputs.labels == TOY_TOKENS and inputs.inputs.shape == (6, 3)
    inputs.inputs[0, 0] = 99.0
    assert av.toy_inputs().inputs[0, 0] == pytest.approx(0.43)


def test_one_head_equals_plain_attention():
    x = av.toy_inputs().inputs
    (head,) = av.multi_head_steps(x, n_heads=1, head_dim=2, causal=True)
    plain = attention_steps(x, *projection_weights(3, 2), causal=True)
    assert torch.allclose(head.context, plain.context)


def test_heads_use_their_own_column_slices():
    x = av.toy_inputs().inputs
    heads = av.multi_head_steps(x, n_heads=2, head_dim=2)
    w_q, w_k, w_v = projection_weights(3, 4)
    second = attention_steps(x, w_q[:, 2:], w_k[:, 2:], w_v[:, 2:], seed=124)
    assert torch.allclose(heads[1].weights, second.weights)
    assert av.combined_context(heads).shape == (6, 4)
    assert not torch.allclose(heads[0].weights, heads[1].weights)


def test_dropout_masks_differ_per_head_and_repeat_per_seed():
    x = av.toy_inputs().inputs
    a = av.multi_head_steps(x, 2, 2, dropout=0.5, seed=7)
    b = av.multi_head_steps(x, 2, 2, dropout=0.5, seed=7)
    assert torch.equal(a[0].dropout_mask, b[0].dropout_mask)
    assert not torch.equal(a[0].dropout_mask, a[1].dropout_mask)


@pytest.mark.parametrize(
    ("n_heads", "head_dim", "message"),
    [(0, 2, "n_heads"), (2, 0, "head_dim"), (2.5, 2, "n_heads"), (True, 2, "n_heads"),
     (10**6, 2, "at most"), (av.MAX_HEADS + 1, 1, "at most"), (2, 10**9, "output dimensions")],
)
def test_bad_head_settings_are_refused_at_once(n_heads, head_dim, message):
    with pytest.raises(UserError, match=message):
        av.multi_head_steps(av.toy_inputs().inputs, n_heads, head_dim)


def test_the_most_heads_still_run():
    heads = av.multi_head_steps(av.toy_inputs().inputs, av.MAX_HEADS, 1)
    assert len(heads) == av.MAX_HEADS


def test_text_inputs_cap_tokens(gpt2_encoding):
    inputs = av.text_inputs("one two three four five six", dim=4, max_tokens=4)
    assert inputs.labels == ["one", "␣two", "␣three", "␣four"]
    assert inputs.inputs.shape == (4, 4) and inputs.dropped_tokens == 2
    with pytest.raises(ValueError):
        av.text_inputs("   ")


def test_model_attention_rows_are_causal_distributions():
    model = GPTModel(get_preset("tiny", n_layers=2)).eval()
    maps = av.model_attention(model, [5, 6, 7])
    assert maps.shape == (2, 4, 3, 3)
    assert torch.allclose(maps.sum(-1), torch.ones(2, 4, 3))
    assert torch.all(maps[:, :, 0, 1:] == 0)
    mean = av.attended_by(maps, layer=1, head=None, query=2)
    assert torch.allclose(mean, maps[1, :, 2].mean(0))
    assert torch.equal(av.attended_by(maps, 0, 3, 1), maps[0, 3, 1])


def test_model_attention_refuses_bad_calls():
    model = GPTModel(get_preset("tiny", n_layers=1, context_length=4))
    with pytest.raises(ValueError, match="eval"):
        av.model_attention(model, [1, 2])
    model.eval()
    with pytest.raises(ValueError, match="context"):
        av.model_attention(model, [1] * 5)
    with pytest.raises(ValueError):
        av.model_attention(model, [])


def test_unscaled_simplified_attention_is_the_books_section_3_3():
    steps = attention_steps(av.toy_inputs().inputs, scale=False)
    assert torch.equal(steps.scaled_scores, steps.scores)
    book = torch.tensor([0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581])
    assert torch.allclose(steps.weights[1], book, atol=1e-4)
    assert torch.allclose(steps.context[1], torch.tensor([0.4419, 0.6515, 0.5683]), atol=1e-4)
