"""Device resolution and per-device autocast: everything here runs on a CPU-only machine."""

from __future__ import annotations

import contextlib

import pytest
import torch

import core.gpt.device
from core.gpt.device import device_autocast, resolve_device
from core.gpt.train import TrainSettings


@pytest.mark.parametrize(
    ("cuda", "mps", "expected"), [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_auto_takes_cuda_then_mps_then_the_cpu(monkeypatch, cuda, mps, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    assert resolve_device("auto") == torch.device(expected)


def test_an_absent_gpu_is_a_clear_error_and_the_cpu_always_works(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="no usable CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="MPS is not available"):
        resolve_device("mps")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_train_settings_check_the_device_choice():
    assert TrainSettings().device == "auto"
    with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda, mps"):
        TrainSettings(device="gpu")


def test_autocast_follows_the_device(monkeypatch):
    monkeypatch.setattr(core.gpt.device, "autocast_context", lambda enabled: ("cpu lever", enabled))
    assert device_autocast("cpu", True) == ("cpu lever", True)  # the fast path decides on the CPU
    assert isinstance(device_autocast("mps", True), contextlib.nullcontext)
    cuda = device_autocast("cuda", True)
    assert isinstance(cuda, torch.autocast) and cuda.device == "cuda"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_model_trains_on_the_gpu_and_its_checkpoint_loads_on_the_cpu(tmp_path, verdict_text, gpt2_encoding):
    from core.gpt.checkpoint import load_model
    from core.gpt.events import DoneEvent
    from core.gpt.pretrain import pretrain_run

    cfg = {"vocab_size": 50257, "context_length": 32, "emb_dim": 32, "n_heads": 4, "n_layers": 2}
    settings = TrainSettings(epochs=1, eval_freq=5, eval_iter=1, device="cuda")
    done = [e for e in pretrain_run(verdict_text[:4000], cfg, settings, batch_size=4, runs_root=tmp_path,
                                    sample_prompt="Every") if isinstance(e, DoneEvent)][0]
    model, _ = load_model(done.checkpoint, "cpu")
    assert next(model.parameters()).device.type == "cpu"
