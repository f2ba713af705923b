"""LoRA (book appendix E): the book's parameter counts, merging, and adapter checkpoints."""

import json
import math

import pytest
import torch
from torch import nn

from core.errors import UserError
from core.gpt.classifier import GPTClassifier
from core.gpt.config import get_preset
from core.gpt.lora import (
    META_FILE,
    TENSORS_FILE,
    LinearWithLoRA,
    LoRAError,
    LoRALayer,
    LoRASettings,
    load_lora,
    lora_layers,
    merge_lora,
    replace_linear_with_lora,
    save_lora,
    total_parameters,
    trainable_parameters,
)
from core.gpt.model import GPTModel
from core.gpt.pretrain import calc_loss_batch

TINY = {"vocab_size": 100, "context_length": 16, "emb_dim": 32, "n_heads": 2, "n_layers": 2, "drop_rate": 0.0,
        "qkv_bias": True}
HEAD = ("gpt.out_head.weight", "gpt.out_head.bias")


def tiny_classifier(seed: int = 1, head_seed: int = 2) -> GPTClassifier:
    torch.manual_seed(seed)
    gpt = GPTModel(TINY)
    torch.manual_seed(head_seed)
    return GPTClassifier(gpt, pad_id=99).eval()


def randomise_adapters(model: nn.Module, seed: int = 3) -> None:
    """Trained adapters have B != 0; a fresh one changes nothing, which would make comparisons vacuous."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in lora_layers(model).values():
            layer.lora.B.copy_(torch.randn(layer.lora.B.shape, generator=generator) * 0.1)


IDS = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 13, 14]])


# ---------------------------------------------------------------------------------------------
# The layers


def test_lora_layer_follows_the_book():
    torch.manual_seed(0)
    layer = LoRALayer(8, 6, rank=3, alpha=4)
    assert layer.A.shape == (8, 3) and layer.B.shape == (3, 6)
    assert torch.count_nonzero(layer.B) == 0 and torch.count_nonzero(layer.A) == 24
    bound = 1 / math.sqrt(3)  # kaiming_uniform_ with a=sqrt(5): U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = rank
    assert float(layer.A.detach().abs().max()) <= bound
    with torch.no_grad():
        layer.B.normal_()
    x = torch.randn(2, 8)
    assert torch.allclose(layer(x), 4 * (x @ layer.A @ layer.B))  # alpha times, not alpha / rank


def test_a_fresh_adapter_changes_nothing_and_weight_is_effective():
    torch.manual_seed(0)
    linear = nn.Linear(8, 6)
    wrapped = LinearWithLoRA(linear, rank=2, alpha=8)
    x = torch.randn(3, 8)
    assert torch.equal(wrapped(x), linear(x))
    with torch.no_grad():
        wrapped.lora.B.normal_()
    assert torch.allclose(wrapped(x), x @ wrapped.weight.T + wrapped.bias, atol=1e-5)


@pytest.mark.parametrize("rank, alpha", [(0, 16), (-1, 16), (True, 16), (2.5, 16), ("4", 16),
                                         (4, -1), (4, 0), (4, float("nan")), (4, float("inf")), (4, "8")])
def test_bad_rank_or_alpha_is_refused(rank, alpha):
    with pytest.raises(UserError, match="rank|alpha"):
        LoRALayer(8, 8, rank, alpha)
    with pytest.raises(UserError, match="rank|alpha"):
        replace_linear_with_lora(GPTModel(TINY), rank, alpha)


def test_rank_beyond_the_layer_is_refused_before_anything_changes():
    model = GPTModel(TINY)  # its largest layer is 32 x 128 (and the head 32 x 100)
    with pytest.raises(LoRAError, match="larger than the 32 x 32 layer"):
        replace_linear_with_lora(model, 129, 16)
    assert not lora_layers(model) and all(p.requires_grad for p in model.parameters())


# ---------------------------------------------------------------------------------------------
# The book's counts, on the meta device


def meta_classifier(preset: str) -> GPTClassifier:
    with torch.device("meta"):
        return GPTClassifier(GPTModel(get_preset(preset, qkv_bias=True)))


def test_book_count_for_the_gpt2_small_spam_classifier():
    model = meta_classifier("gpt2-small")
    assert total_parameters(model) == 124_441_346
    assert replace_linear_with_lora(model, rank=16, alpha=16) == 2_666_528
    assert trainable_parameters(model) == 2_666_528
    assert total_parameters(model) == 124_441_346 + 2_666_528
    assert len(lora_layers(model)) == 12 * 6 + 1


def test_book_count_for_gpt2_medium_in_chapter_7():
    with torch.device("meta"):
        model = GPTModel(get_preset("gpt2-medium", qkv_bias=True))
    assert total_parameters(model) == 406_286_336
    assert replace_linear_with_lora(model, 16, 16) == 7_898_384


@pytest.mark.parametrize("targets, expected", [
    (("query", "key", "value", "attention_output"), 12 * 4 * (768 * 16 + 16 * 768)),
    (("query", "value"), 12 * 2 * (768 * 16 + 16 * 768)),
    (("feed_forward",), 12 * 2 * (768 * 16 + 16 * 3072)),
    (("output_head",), 768 * 16 + 16 * 2),
])
def test_targets_choose_the_layers(targets, expected):
    model = meta_classifier("gpt2-small")
    assert replace_linear_with_lora(model, 16, 16, targets=targets) == expected


@pytest.mark.parametrize("targets", [(), ("mlp",), "query", 5])
def test_bad_targets_are_refused(targets):
    with pytest.raises(LoRAError, match="target|choose"):
        replace_linear_with_lora(GPTModel(TINY), 4, 8, targets=targets)


def test_only_adapters_train_and_twice_is_refused():
    model = tiny_classifier()
    replace_linear_with_lora(model, 4, 8)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(name.endswith((".lora.A", ".lora.B")) for name in trainable)
    with pytest.raises(LoRAError, match="already has LoRA"):
        replace_linear_with_lora(model, 4, 8)


# ---------------------------------------------------------------------------------------------
# Training through the head's weight, and merging


def test_the_fused_head_loss_trains_a_lora_head():
    torch.manual_seed(0)
    model = GPTModel(TINY)
    replace_linear_with_lora(model, 4, 8)
    randomise_adapters(model)
    targets = IDS.roll(-1, dims=1)
    loss = calc_loss_batch(IDS, targets, model)
    expected = nn.functional.cross_entropy(model(IDS).flatten(0, 1), targets.flatten())
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    loss.backward()
    head = model.out_head.lora
    assert head.A.grad is not None and head.A.grad.abs().sum() > 0
    assert model.tok_emb.weight.grad is None


@pytest.mark.parametrize("tied", [False, True])
def test_merging_keeps_the_logits(tied):
    torch.manual_seed(0)
    model = GPTModel({**TINY, "tie_weights": tied}).eval()
    replace_linear_with_lora(model, 4, 8)
    randomise_adapters(model)
    with torch.no_grad():
        before = model(IDS)
    merge_lora(model)
    assert not lora_layers(model)
    assert all(type(m) is nn.Linear for m in model.modules() if isinstance(m, nn.Linear))
    with torch.no_grad():
        assert torch.allclose(model(IDS), before, rtol=1e-4, atol=1e-4)
    assert model.cfg["tie_weights"] is False  # a merged head is its own matrix


# ---------------------------------------------------------------------------------------------
# Adapter checkpoints


def saved_adapter(tmp_path):
    model = tiny_classifier()
    replace_linear_with_lora(model, 4, 8, targets=("query", "value", "output_head"))
    randomise_adapters(model)
    with torch.no_grad():
        logits = model(IDS)
    checkpoint = save_lora(tmp_path / "run", model, base={"name": "tiny test model"}, new_tensors=HEAD,
                           settings={"epochs": 1})
    return checkpoint, logits


def test_adapter_round_trip(tmp_path):
    checkpoint, logits = saved_adapter(tmp_path)
    assert sorted(p.name for p in checkpoint.path.iterdir()) == [META_FILE, TENSORS_FILE]
    meta = json.loads((checkpoint.path / META_FILE).read_text())
    assert meta["rank"] == 4 and meta["alpha"] == 8 and meta["targets"] == ["query", "value", "output_head"]
    assert meta["base"]["name"] == "tiny test model" and meta["settings"] == {"epochs": 1}
    base = tiny_classifier(head_seed=7)  # same base weights, a different random head: the saved one wins
    loaded = load_lora(checkpoint.path, base)
    with torch.no_grad():
        assert torch.allclose(base(IDS), logits, atol=1e-6)
    assert loaded.rank == 4 and trainable_parameters(base) == 2 * 2 * (32 * 4 + 4 * 32) + 32 * 4 + 4 * 2
    assert all(n.endswith((".lora.A", ".lora.B")) for n, p in base.named_parameters() if p.requires_grad)


def test_adapter_holds_only_what_it_trains(tmp_path):
    checkpoint, _ = saved_adapter(tmp_path)
    from safetensors import safe_open

    with safe_open(str(checkpoint.path / TENSORS_FILE), framework="pt") as f:
        names = set(f.keys())  # noqa: SIM118
    assert set(HEAD) <= names
    assert all(n in HEAD or n.endswith((".lora.A", ".lora.B")) for n in names)
    full = sum(p.numel() for p in tiny_classifier().parameters()) * 4
    assert checkpoint.size_bytes < full / 3


def test_a_different_base_is_refused(tmp_path):
    checkpoint, _ = saved_adapter(tmp_path)
    other = tiny_classifier(seed=5)
    with pytest.raises(LoRAError, match="trained on top of tiny test model.*different base"):
        load_lora(checkpoint.path, other)
    assert not lora_layers(other)


def test_damaged_adapters_are_refused(tmp_path):
    checkpoint, _ = saved_adapter(tmp_path)
    tensors = checkpoint.path / TENSORS_FILE
    tensors.write_bytes(tensors.read_bytes()[:-10])
    with pytest.raises(LoRAError, match="truncated"):
        load_lora(checkpoint.path, tiny_classifier())
    (checkpoint.path / META_FILE).write_text("{not json")
    with pytest.raises(LoRAError, match="not valid JSON"):
        load_lora(checkpoint.path, tiny_classifier())
    with pytest.raises(LoRAError, match="no lora.json"):
        load_lora(tmp_path, tiny_classifier())


def test_saving_without_adapters_is_refused(tmp_path):
    with pytest.raises(LoRAError, match="no LoRA adapters"):
        save_lora(tmp_path, tiny_classifier(), base={})


def test_lora_settings_check_and_apply():
    settings = LoRASettings(rank=4, alpha=8, targets=["value", "query"])
    assert settings.targets == ("query", "value")  # in the book's layer order
    model = tiny_classifier()
    assert settings.apply(model) == 2 * 2 * (32 * 4 + 4 * 32)
    with pytest.raises(LoRAError, match="rank"):
        LoRASettings(rank=0)
    with pytest.raises(LoRAError, match="unknown LoRA targets"):
        LoRASettings(targets=("everything",))
