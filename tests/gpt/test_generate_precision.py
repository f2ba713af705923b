"""Reduced-precision generation: converted copies that run, are cached and leave the fp32 model alone."""

from __future__ import annotations

import pytest
import torch

from core.gpt.generate import generate, greedy_agreement, with_precision
from core.gpt.model import GPTModel

CFG = {"vocab_size": 500, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}


@pytest.fixture
def model() -> GPTModel:
    torch.manual_seed(0)
    return GPTModel(CFG).eval()


def weights(model: GPTModel) -> dict[str, torch.Tensor]:
    return {name: t.clone() for name, t in model.state_dict().items()}


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_reduced_precision_generates_and_leaves_the_fp32_model_untouched(model, precision):
    before = weights(model)
    prompt = torch.tensor([[1, 2, 3]])
    reference = generate(model, prompt, 20)
    out = generate(model, prompt, 20, precision=precision)
    assert out.shape == reference.shape and torch.equal(out[:, :3], prompt)
    assert int(out.max()) < CFG["vocab_size"]
    after = weights(model)
    assert all(torch.equal(before[k], after[k]) and after[k].dtype == torch.float32 for k in before)
    assert greedy_agreement(reference[:, 3:], out[:, 3:]) > 0  # a rounded copy of the same model, not noise


def test_int8_quantizes_every_linear_layer_and_bf16_halves_the_weights(model):
    int8 = with_precision(model, "int8")
    assert not any(isinstance(m, torch.nn.Linear) and type(m) is torch.nn.Linear for m in int8.modules())
    bf16 = with_precision(model, "bf16")
    assert {p.dtype for p in bf16.parameters()} == {torch.bfloat16}
    assert with_precision(model, "fp32") is model


def test_converted_copies_are_cached_until_the_weights_change(model):
    first = with_precision(model, "bf16")
    assert with_precision(model, "bf16") is first
    with torch.no_grad():
        model.out_head.weight.add_(1.0)
    assert with_precision(model, "bf16") is not first


def test_agreement_counts_matching_positions_and_refuses_other_shapes(model):
    a = torch.tensor([[1, 2, 3, 4]])
    assert greedy_agreement(a, a) == 1.0
    assert greedy_agreement(a, torch.tensor([[1, 0, 3, 0]])) == 0.5
    with pytest.raises(ValueError, match="one non-empty shape"):
        greedy_agreement(a, a[:, :2])
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, int8"):
        generate(model, a, 1, precision="fp16")
