"""GPTModel and config validation (book chapter 4)."""

import pytest
import torch

from core.gpt.config import PRESETS, get_preset, validate_config
from core.gpt.model import GPTModel

SMALL = {"vocab_size": 100, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.1}


def test_logits_shape_and_book_architecture():
    model = GPTModel(SMALL)
    logits = model(torch.randint(0, 100, (3, 10)))
    assert logits.shape == (3, 10, 100)
    block = model.trf_blocks[0]
    assert block.ff.layers[0].out_features == 4 * SMALL["emb_dim"]
    assert model.out_head.bias is None
    assert block.att.W_query.bias is None


@pytest.mark.parametrize(
    "change, message",
    [
        ({"emb_dim": 30}, "divisible by n_heads"),
        ({"n_layers": 0}, "n_layers must be a positive integer"),
        ({"vocab_size": -5}, "vocab_size must be a positive integer"),
        ({"drop_rate": 1.0}, r"drop_rate must be in \[0, 1\)"),
        ({"drop_rate": -0.1}, "drop_rate"),
        ({"context_length": 2.5}, "context_length"),
        ({"qkv_bias": "yes"}, "qkv_bias must be true or false"),
    ],
)
def test_invalid_configs_raise_clear_errors(change, message):
    with pytest.raises(ValueError, match=message):
        GPTModel({**SMALL, **change})


def test_missing_key_and_unknown_preset():
    with pytest.raises(ValueError, match="missing emb_dim"):
        validate_config({k: v for k, v in SMALL.items() if k != "emb_dim"})
    with pytest.raises(ValueError, match="unknown preset"):
        get_preset("gpt5")


def test_input_longer_than_context_is_rejected():
    model = GPTModel(SMALL)
    with pytest.raises(ValueError, match="context window of 16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="tokens >= 1"):
        model(torch.zeros(1, 0, dtype=torch.long))


def test_presets_follow_the_book():
    small = PRESETS["gpt2-small"]
    assert (small["emb_dim"], small["n_layers"], small["n_heads"], small["context_length"]) == (768, 12, 12, 1024)
    xl = PRESETS["gpt2-xl"]
    assert (xl["emb_dim"], xl["n_layers"], xl["n_heads"]) == (1600, 48, 25)
    for cfg in PRESETS.values():
        validate_config(cfg)


def test_kv_cache_matches_full_forward():
    torch.manual_seed(0)
    model = GPTModel(SMALL).eval()
    idx = torch.randint(0, 100, (2, 12))
    full = model(idx)
    cache = model.new_cache()
    pieces = [model(idx[:, :5], cache), model(idx[:, 5:6], cache), model(idx[:, 6:], cache)]
    assert len(cache) == 12
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="context window"):
        model(idx[:, :5], cache)  # 12 cached + 5 new > 16


def test_weight_tying_shares_one_matrix():
    model = GPTModel({**SMALL, "tie_weights": True})
    assert model.out_head.weight is model.tok_emb.weight


def test_attention_maps_are_causal_distributions():
    model = GPTModel(SMALL).eval()
    maps = model.attention_maps(torch.randint(0, 100, (1, 7)))
    assert maps.shape == (2, 1, 4, 7, 7)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 1, 4, 7))
    assert torch.all(maps.triu(1) == 0)


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    model = GPTModel({**SMALL, "drop_rate": 0.5})
    idx = torch.randint(0, 100, (1, 8))
    model.eval()
    assert torch.equal(model(idx), model(idx))
    model.train()
    assert not torch.equal(model(idx), model(idx))


def test_tied_head_scores_are_the_hidden_states_times_the_token_embedding():
    torch.manual_seed(0)
    model = GPTModel({**SMALL, "tie_weights": True}).eval()
    idx = torch.randint(0, SMALL["vocab_size"], (2, 6))
    with torch.no_grad():
        expected = model.hidden_states(idx) @ model.tok_emb.weight.T
        torch.testing.assert_close(model(idx), expected, atol=1e-5, rtol=1e-5)
