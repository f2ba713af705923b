"""The embedding step of chapter 2 with the book's numbers."""

import pytest
import torch

from core.widgets.embedding_view import embed_tokens


def test_matches_the_books_seeded_lookup():
    steps = embed_tokens([2, 3, 5, 1], vocab_size=6, emb_dim=3, context_length=4)
    expected_first = torch.tensor([1.2753, -0.2010, -0.1606])  # section 2.7, torch.manual_seed(123)
    assert torch.allclose(steps.token_embeddings[0], expected_first, atol=1e-4)
    assert torch.equal(steps.input_embeddings, steps.token_embeddings + steps.positional_embeddings)
    assert steps.token_table_shape == (6, 3) and steps.position_table_shape == (4, 3)


def test_same_token_same_row_different_positions():
    steps = embed_tokens([7, 7], vocab_size=10, emb_dim=4)
    assert torch.equal(steps.token_embeddings[0], steps.token_embeddings[1])
    assert not torch.equal(steps.input_embeddings[0], steps.input_embeddings[1])


def test_does_not_touch_the_global_random_state():
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    embed_tokens([1], vocab_size=5, emb_dim=2)
    assert torch.equal(torch.rand(1), expected)


@pytest.mark.parametrize(
    "ids, vocab, dim, context",
    [([], 5, 2, None), ([5], 5, 2, None), ([-1], 5, 2, None), ([1, 2, 3], 5, 2, 2), ([1], 0, 2, None),
     ([1], 5, 0, None)],
)
def test_bad_input_is_a_clear_error(ids, vocab, dim, context):
    with pytest.raises(ValueError):
        embed_tokens(ids, vocab, dim, context)
