"""The logit lens: every block's residual stream read through the model's own final norm and head."""

from __future__ import annotations

import pytest
import torch

from core.errors import UserError
from core.gpt.model import GPTModel
from core.widgets import logit_lens as ll

CFG = {"vocab_size": 40, "context_length": 32, "emb_dim": 32, "n_heads": 2, "n_layers": 2, "drop_rate": 0.1}


@pytest.fixture(scope="module")
def model() -> GPTModel:
    torch.manual_seed(0)
    return GPTModel(CFG).train()  # left in training mode on purpose: the lens must switch dropout off


def test_the_last_layer_is_the_models_own_output(model):
    ids = [3, 14, 15, 9, 2, 6, 5, 35]
    stream = ll.residual_stream(model, ids)
    assert len(stream) == CFG["n_layers"] + 1  # the embeddings and every block
    assert model.training, "the model's mode is restored"
    model.eval()
    with torch.no_grad():
        expected = model(torch.tensor([ids]))[0]
    model.train()
    assert torch.allclose(ll.lens_logits(model, stream[-1]), expected, atol=1e-5)
    lens = ll.logit_lens(model, ids)
    assert torch.equal(lens.top_ids[-1], expected.argmax(dim=-1))
    assert torch.allclose(lens.top_probs[-1], torch.softmax(expected, dim=-1).max(dim=-1).values, atol=1e-6)
    assert lens.layers == ["embeddings", "block 1", "block 2"]


def test_the_rank_of_the_true_next_token(model):
    ids = [1, 2, 3, 4, 5, 6]
    lens = ll.logit_lens(model, ids)
    assert lens.true_ranks.shape == (3, len(ids) - 1)
    stream = ll.residual_stream(model, ids)
    for layer, hidden in enumerate(stream):
        probs = torch.softmax(ll.lens_logits(model, hidden), dim=-1)
        for pos in range(len(ids) - 1):
            order = probs[pos].argsort(descending=True).tolist()
            assert lens.true_ranks[layer, pos] == order.index(ids[pos + 1]) + 1
            assert lens.true_probs[layer, pos] == pytest.approx(float(probs[pos, ids[pos + 1]]))


def test_a_token_the_head_favours_ranks_first():
    torch.manual_seed(1)
    model = GPTModel(CFG).eval()
    with torch.no_grad():  # every position's final scores: token 7 far ahead of the rest
        model.final_norm.scale.zero_()
        model.final_norm.shift.zero_()
        model.final_norm.shift[0] = 1.0
        model.out_head.weight.zero_()
        model.out_head.weight[7, 0] = 20.0
    lens = ll.logit_lens(model, [7, 7, 7])
    assert lens.true_ranks.tolist() == [[1, 1]] * 3
    assert lens.top_ids.unique().tolist() == [7]


def test_the_token_cap_keeps_the_start_and_counts_the_rest():
    assert ll.cap_tokens(range(100), 64) == ll.Capped(list(range(64)), 36)
    assert ll.cap_tokens([1, 2], 64) == ll.Capped([1, 2], 0)
    with pytest.raises(UserError):
        ll.cap_tokens([1], 0)


@pytest.mark.parametrize("ids", [[], list(range(33)), [40], [-1]])
def test_bad_token_lists_are_refused_clearly(model, ids):
    with pytest.raises(UserError):
        ll.logit_lens(model, ids)


def test_a_single_token_has_predictions_but_no_true_next_token(model):
    lens = ll.logit_lens(model, [5])
    assert lens.top_ids.shape == (3, 1) and lens.true_ranks.shape == (3, 0)


def test_rank_change_compares_two_models_on_the_same_text(model):
    torch.manual_seed(2)
    other = GPTModel(CFG)
    ids = [1, 2, 3, 4]
    a, b = ll.logit_lens(model, ids), ll.logit_lens(other, ids)
    change = ll.rank_change(a, b)
    assert torch.allclose(change, torch.log10(b.true_ranks.double() / a.true_ranks.double()))
    assert torch.equal(ll.rank_change(a, a), torch.zeros_like(change))
    with pytest.raises(UserError):
        ll.rank_change(a, ll.logit_lens(model, [1, 2, 3]))
