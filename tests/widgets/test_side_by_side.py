"""Two models on one prompt: their continuations, each token's probability, where they part ways."""

from __future__ import annotations

import pytest
import torch

from core.gpt.generate import next_token_distribution
from core.gpt.model import GPTModel
from core.widgets import side_by_side as sbs
from core.widgets.sampling_view import Strategy

CFG = {"vocab_size": 30, "context_length": 8, "emb_dim": 32, "n_heads": 2, "n_layers": 2}


def tiny(seed: int) -> GPTModel:
    torch.manual_seed(seed)
    return GPTModel(CFG).eval()


def test_first_divergence():
    assert sbs.first_divergence([1, 2, 3], [1, 2, 3]) is None
    assert sbs.first_divergence([1, 2, 3], [1, 5, 3]) == 1
    assert sbs.first_divergence([4], [1]) == 0
    assert sbs.first_divergence([1, 2], [1, 2, 3]) == 2
    assert sbs.first_divergence([], []) is None


def test_a_model_against_itself_never_diverges_and_two_models_do():
    a, b = tiny(0), tiny(1)
    strategy = Strategy(temperature=1.0, top_k=10)
    one = sbs.continue_prompt(a, [1, 2, 3], 12, strategy, seed=5)
    again = sbs.continue_prompt(a, [1, 2, 3], 12, strategy, seed=5)
    assert one == again and len(one.ids) == 12
    other = sbs.continue_prompt(b, [1, 2, 3], 12, strategy, seed=5)
    index = sbs.first_divergence(one.ids, other.ids)
    assert index is not None and one.ids[:index] == other.ids[:index]


@pytest.mark.parametrize("count", [3, 10])  # 8 tokens fit the window (one pass); 15 make it slide
@pytest.mark.parametrize("strategy", [Strategy(), Strategy(temperature=0.7, top_k=5, top_p=0.9)])
def test_each_tokens_probability_is_the_one_it_was_drawn_with(strategy, count):
    model = tiny(2)
    prompt = [3, 1, 4, 1, 5]
    out = sbs.continue_prompt(model, prompt, count, strategy, seed=9)
    ids = prompt + out.ids
    for i, token in enumerate(out.ids):
        stages = next_token_distribution(model, ids[: len(prompt) + i], strategy.temperature, strategy.top_k,
                                         strategy.top_p)
        assert out.probs[i] == pytest.approx(float(stages.final[token]), abs=1e-5)
        assert out.raw_probs[i] == pytest.approx(float(torch.softmax(stages.logits, -1)[token]), abs=1e-5)
    if strategy.greedy:
        assert out.probs == [1.0] * count


def test_no_new_tokens_is_an_empty_continuation():
    assert sbs.continue_prompt(tiny(0), [1], 0, Strategy(), seed=1) == sbs.Continuation([], [], [])
