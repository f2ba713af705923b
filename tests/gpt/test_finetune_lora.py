"""LoRA fine-tuning of a classifier through the one training loop: it learns, and saves only its adapters."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from core.errors import UserError
from core.gpt.classifier import classify
from core.gpt.events import ClassifierEvalEvent, DoneEvent
from core.gpt.finetune import EvaluationEvent, Recipe, finetune_run, load_lora_classifier
from core.gpt.lora import META_FILE, TENSORS_FILE, LoRAError, LoRASettings, lora_layers
from core.gpt.model import GPTModel
from core.gpt.spam_data import balance, read_messages
from core.gpt.train import TrainSettings

BASE = {"vocab_size": 50257, "context_length": 32, "emb_dim": 32, "n_heads": 2, "n_layers": 2, "drop_rate": 0.0}
RECIPE = Recipe(TrainSettings(epochs=1, lr=1e-2, eval_freq=3, eval_iter=2), pooling="mean", batch_size=16,
                lora=LoRASettings(rank=4, alpha=8))


def base_model(seed: int = 0) -> GPTModel:
    torch.manual_seed(seed)
    return GPTModel(BASE)


@pytest.fixture(scope="module")
def lora_run(sms_spam_path, gpt2_encoding, tmp_path_factory):
    messages = balance(read_messages(sms_spam_path), seed=1)[::10]  # about 150 messages, both classes
    root = tmp_path_factory.mktemp("classifiers")
    events = list(finetune_run(messages, base_model(), RECIPE, base_name="tiny test base",
                               base_ref={"kind": "test"}, seed=3, runs_root=root))
    return messages, events


def test_lora_fine_tuning_lowers_the_loss_and_saves_a_small_adapter(lora_run):
    _, events = lora_run
    evals = [e for e in events if isinstance(e, ClassifierEvalEvent)]
    assert evals[-1].train_loss < evals[0].train_loss
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.reason == "finished"
    folder = Path(done.checkpoint)
    assert sorted(p.name for p in folder.iterdir()) == [META_FILE, TENSORS_FILE]
    full_bytes = 4 * sum(p.numel() for p in base_model().parameters())
    adapter_bytes = (folder / TENSORS_FILE).stat().st_size
    assert adapter_bytes < full_bytes / 50  # adapters and a 2-way head against 1.7 M weights


def test_a_lora_classifier_loads_onto_its_base_only(lora_run):
    messages, events = lora_run
    evaluation = next(e for e in events if isinstance(e, EvaluationEvent))
    classifier, checkpoint = load_lora_classifier(events[-1].checkpoint, base_model())
    assert checkpoint.settings["accuracy"]["test"] == pytest.approx(evaluation.test.accuracy)
    assert checkpoint.settings["lora"] == {"rank": 4, "alpha": 8, "targets": None}
    assert checkpoint.base["name"] == "tiny test base" and checkpoint.base["kind"] == "test"
    assert lora_layers(classifier)
    wrong = evaluation.test.misclassified
    sample = wrong[0] if wrong else None
    if sample is not None:  # the reloaded classifier repeats the run's own mistakes
        assert classify(classifier, sample.message.text).label != sample.message.label_name
    with pytest.raises(LoRAError, match="different base model"):
        load_lora_classifier(events[-1].checkpoint, base_model(seed=9))


def test_lora_needs_a_base_model(lora_run):
    messages, _ = lora_run
    with pytest.raises(UserError, match="LoRA adapts a trained model"):
        next(finetune_run(messages, None, RECIPE))
