"""Loading Hugging Face GPT-2 weights into GPTModel, proved offline against transformers' own GPT-2."""

from __future__ import annotations

import os

import pytest
import torch
from safetensors.torch import save_file

import core.gpt.weights as weights
from core.gpt.generate import generate
from core.gpt.model import GPTModel
from core.gpt.weights import (
    WeightsError,
    WeightsUnavailable,
    download_gpt2,
    gpt2_config,
    load_hf_gpt2,
    load_hf_gpt2_file,
)

transformers = pytest.importorskip("transformers")

OURS = {
    "vocab_size": 1000, "context_length": 32, "emb_dim": 32, "n_heads": 4, "n_layers": 2,
    "drop_rate": 0.0, "qkv_bias": True, "tie_weights": True,
}


def hf_gpt2(tie: bool = True):
    """A small random GPT-2 from transformers, every tensor (biases and norms too) randomised."""
    config = transformers.GPT2Config(
        vocab_size=1000, n_positions=32, n_embd=32, n_layer=2, n_head=4, resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, bos_token_id=0, eos_token_id=0, pad_token_id=0, tie_word_embeddings=tie,
    )
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        for param in model.parameters():
            param.normal_(0.0, 0.3)
    return model


@pytest.fixture(scope="module")
def hf_model():
    return hf_gpt2()


def loaded(state_dict, **overrides) -> GPTModel:
    model = GPTModel({**OURS, **overrides})
    load_hf_gpt2(model, state_dict)
    return model.eval()


def test_logits_agree_with_transformers(hf_model):
    ours = loaded(hf_model.state_dict())
    idx = torch.randint(0, 1000, (2, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = hf_model(idx).logits
    assert torch.allclose(ours(idx), expected, atol=1e-4, rtol=0)
    assert ours.out_head.weight is ours.tok_emb.weight


def test_greedy_continuations_are_identical(hf_model):
    ours = loaded(hf_model.state_dict())
    for length in (1, 7):
        idx = torch.randint(0, 1000, (1, length), generator=torch.Generator().manual_seed(length))
        expected = hf_model.generate(idx, max_new_tokens=20, do_sample=False, attention_mask=torch.ones_like(idx))
        assert torch.equal(generate(ours, idx, 20, use_cache=True), expected)
        assert torch.equal(generate(ours, idx, 20, use_cache=False), expected)


def test_an_untied_model_gets_the_output_head(hf_model):
    ours = loaded(hf_model.state_dict(), tie_weights=False)
    assert torch.equal(ours.out_head.weight, hf_model.lm_head.weight)
    idx = torch.randint(0, 1000, (1, 10))
    with torch.no_grad():
        assert torch.allclose(ours(idx), hf_model(idx).logits, atol=1e-4, rtol=0)


def test_an_untied_checkpoint_is_refused_by_a_tied_model_and_loads_into_an_untied_one():
    hf = hf_gpt2(tie=False)
    with pytest.raises(WeightsError, match="tie_weights=False"):
        loaded(hf.state_dict())
    ours = loaded(hf.state_dict(), tie_weights=False)
    assert torch.equal(ours.out_head.weight, hf.lm_head.weight)


def test_a_model_safetensors_file_without_prefix_or_head_loads(hf_model, tmp_path):
    # The hub's model.safetensors has names like "h.0.attn.c_attn.weight" and no lm_head (it is tied).
    tensors = {
        key.removeprefix("transformer."): value.contiguous()
        for key, value in hf_model.state_dict().items()
        if key != "lm_head.weight"
    }
    tensors["h.0.attn.bias"] = torch.ones(1, 1, 32, 32)  # the causal-mask buffer older files carry
    path = tmp_path / "model.safetensors"
    save_file(tensors, path)
    ours = load_hf_gpt2_file(path, OURS)
    idx = torch.randint(0, 1000, (1, 12))
    with torch.no_grad():
        assert torch.allclose(ours(idx), hf_model(idx).logits, atol=1e-4, rtol=0)
    assert not ours.training


def test_missing_and_mis_shaped_tensors_fail_loudly(hf_model):
    state = dict(hf_model.state_dict())
    del state["transformer.h.1.mlp.c_fc.bias"]
    with pytest.raises(WeightsError, match=r"no tensor 'h\.1\.mlp\.c_fc\.bias'"):
        loaded(state)
    state = dict(hf_model.state_dict())
    state["transformer.h.0.attn.c_attn.weight"] = state["transformer.h.0.attn.c_attn.weight"].T
    wrong = r"'h\.0\.attn\.c_attn\.weight' has shape \(96, 32\), the model needs \(32, 96\)"
    with pytest.raises(WeightsError, match=wrong):
        loaded(state)


def test_a_config_of_the_wrong_size_is_refused(hf_model):
    with pytest.raises(WeightsError, match=r"no place for \(h\.1\."):
        loaded(hf_model.state_dict(), n_layers=1)
    with pytest.raises(WeightsError, match="shape"):
        loaded(hf_model.state_dict(), context_length=64)
    with pytest.raises(WeightsError, match="qkv_bias=True"):
        loaded(hf_model.state_dict(), qkv_bias=False)


def test_a_file_that_is_not_safetensors_is_refused(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x80\x04 not a safetensors file")
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        load_hf_gpt2_file(path, OURS)


def test_gpt2_configs_match_openai_gpt2():
    cfg = gpt2_config("gpt2-small")
    assert cfg["qkv_bias"] and cfg["tie_weights"] and cfg["drop_rate"] == 0.0
    assert (cfg["emb_dim"], cfg["n_layers"], cfg["n_heads"], cfg["context_length"]) == (768, 12, 12, 1024)
    assert gpt2_config("gpt2-xl")["emb_dim"] == 1600
    with pytest.raises(ValueError, match="unknown GPT-2 size"):
        gpt2_config("gpt2-tiny")


def test_download_failures_become_a_clear_error(monkeypatch, tmp_path):
    import huggingface_hub

    calls = []

    def offline(repo_id, filename, **kwargs):
        calls.append((repo_id, filename, kwargs["cache_dir"]))
        raise ConnectionError("no network")

    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", offline)
    with pytest.raises(WeightsUnavailable, match="needs an internet connection"):
        download_gpt2("gpt2-medium")
    assert calls == [("openai-community/gpt2-medium", "model.safetensors", tmp_path / "huggingface")]
    with pytest.raises(ValueError, match="unknown GPT-2 size"):
        weights.download_gpt2("gpt3")


@pytest.mark.timeout(10)
def test_a_fifo_is_refused_without_blocking(tmp_path):
    path = tmp_path / "model.safetensors"
    os.mkfifo(path)
    with pytest.raises(WeightsError, match="not a plain file"):
        load_hf_gpt2_file(path, OURS)


@pytest.mark.timeout(10)
def test_the_header_is_checked_before_the_model_is_built(hf_model, tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in hf_model.state_dict().items() if k != "lm_head.weight"}, path)
    monkeypatch.setattr(weights, "empty_model", lambda cfg: pytest.fail("allocated before checking"))
    with pytest.raises(WeightsError, match="no place for"):
        load_hf_gpt2_file(path, {**OURS, "n_layers": 1})
    with pytest.raises(WeightsError, match="shape"):
        load_hf_gpt2_file(path, {**OURS, "emb_dim": 64})


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool])
def test_integer_or_boolean_weights_are_refused_not_cast(hf_model, dtype):
    state = dict(hf_model.state_dict())
    state["transformer.wte.weight"] = state["transformer.wte.weight"].to(dtype)
    with pytest.raises(WeightsError, match="not floating-point"):
        loaded(state)


def test_nan_weights_are_refused(hf_model):
    state = {k: v.clone() for k, v in hf_model.state_dict().items()}
    state["transformer.ln_f.weight"][0] = float("nan")
    with pytest.raises(WeightsError, match="NaN"):
        loaded(state)
