"""Classification fine-tuning (chapter 6): the classifier, freezing, training events, evaluation,
`classify`, saving and loading, and a quick run on a slice of the real data."""

from __future__ import annotations

import json
import threading

import pytest
import torch

from core.gpt.checkpoint import CheckpointError, list_runs, save_checkpoint
from core.gpt.classifier import (
    PAD_ID,
    UNKNOWN_ID,
    ClassifierInputError,
    GPTClassifier,
    classify,
    compact_id_map,
    evaluate_classifier,
    freeze_for_finetuning,
    list_classifiers,
    load_classifier,
    save_classifier,
)
from core.gpt.events import ClassifierEvalEvent, DoneEvent, StartEvent, StepEvent
from core.gpt.finetune import SCRATCH_RECIPE, EvaluationEvent, Recipe, finetune, finetune_run, loss_and_accuracy
from core.gpt.model import GPTModel
from core.gpt.spam_data import (
    PAD_TOKEN_ID,
    Message,
    balance,
    create_spam_loaders,
    read_messages,
    split_messages,
)
from core.gpt.tokenizers import TextTooLong
from core.gpt.train import TrainSettings

SMALL = {"vocab_size": 50257, "context_length": 16, "emb_dim": 16, "n_heads": 2, "n_layers": 3, "drop_rate": 0.0}


def small_classifier(pooling: str = "last", seed: int = 0, **kwargs) -> GPTClassifier:
    torch.manual_seed(seed)
    return GPTClassifier(GPTModel(SMALL), pooling=pooling, **kwargs)


def toy_classifier(loaders, pooling: str = "last", seed: int = 0) -> GPTClassifier:
    """A small model with a compact vocabulary of the toy data: training steps take milliseconds."""
    id_map = compact_id_map(loaders.train.dataset.input_ids.tolist())
    torch.manual_seed(seed)
    gpt = GPTModel({**SMALL, "vocab_size": int(id_map.max()) + 1})
    return GPTClassifier(gpt, pooling=pooling, max_length=loaders.max_length, id_map=id_map)


def char_encode(text: str) -> list[int]:
    return [ord(c) % 50000 for c in text]


def toy_messages(n: int = 48) -> list[Message]:
    """Separable toy data: spam shouts, ham whispers."""
    words = ["win", "cash", "now", "free", "call", "prize"]
    out = []
    for i in range(n):
        word = words[i % len(words)]
        text = f"{word.upper()}!! {word.upper()}" if i % 2 else f"{word} ok"
        out.append(Message(text, i % 2, i + 1))
    return out


# ---------------------------------------------------------------------------------------------
# The model


def test_head_scores_classes_and_a_tied_head_is_untied():
    torch.manual_seed(0)
    gpt = GPTModel({**SMALL, "tie_weights": True})
    clf = GPTClassifier(gpt, labels=("a", "b", "c"))
    assert clf(torch.tensor([[5, 6, 7]])).shape == (1, 3)
    assert clf.gpt.out_head.weight.shape == (3, 16) and clf.gpt.out_head.bias is not None
    assert clf.gpt.out_head.weight is not clf.gpt.tok_emb.weight
    assert clf.cfg["tie_weights"] is False


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_padding_does_not_change_a_texts_logits(pooling):
    clf = small_classifier(pooling).eval()
    short, long = [11, 12, 13], [21, 22, 23, 24, 25, 26]
    alone = clf(torch.tensor([short]))
    batch = torch.tensor([short + [PAD_TOKEN_ID] * 3, long])
    assert torch.allclose(clf(batch)[0], alone[0], atol=1e-6)
    assert torch.allclose(clf(torch.tensor([long]))[0], clf(batch)[1], atol=1e-6)


def test_pooling_reads_the_right_tokens():
    clf = small_classifier("last").eval()
    ids = torch.tensor([[11, 12, 13, PAD_TOKEN_ID, PAD_TOKEN_ID]])
    per_token = clf.gpt(ids[:, :3])[0]  # (tokens, classes): the head's scores of each real token
    assert torch.allclose(clf(ids)[0], per_token[-1], atol=1e-6)
    clf.pooling = "mean"
    assert torch.allclose(clf(ids)[0], per_token.mean(0), atol=1e-6)
    clf.pooling = "max"
    assert torch.allclose(clf(ids)[0], per_token.max(0).values, atol=1e-6)


def test_rejects_bad_settings_and_all_padding_rows():
    with pytest.raises(ValueError, match="pooling"):
        small_classifier("first")
    with pytest.raises(ValueError, match="two distinct labels"):
        small_classifier(labels=("spam",))
    with pytest.raises(ValueError, match="max_length"):
        small_classifier(max_length=17)
    with pytest.raises(ValueError, match="at least one real"):
        small_classifier()(torch.tensor([[1, 2], [PAD_TOKEN_ID, PAD_TOKEN_ID]]))


def test_compact_vocabulary_maps_seen_tokens_unknowns_and_padding():
    id_map = compact_id_map([[500, 7, 7, PAD_TOKEN_ID], [500, 9]], min_count=1)
    assert id_map[[7, 9, 500]].tolist() == [2, 3, 4]
    assert id_map[PAD_TOKEN_ID] == PAD_ID and id_map[8] == UNKNOWN_ID
    frequent = compact_id_map([[500, 7, 7], [500, 9]], min_count=2)
    assert frequent[[7, 9, 500]].tolist() == [2, UNKNOWN_ID, 3]
    torch.manual_seed(0)
    clf = GPTClassifier(GPTModel({**SMALL, "vocab_size": 5}), id_map=id_map)
    assert clf(torch.tensor([[7, 40000, 9]])).shape == (1, 2)  # an unseen GPT-2 ID is fine
    with pytest.raises(ValueError, match="outside the model's vocabulary"):
        GPTClassifier(GPTModel({**SMALL, "vocab_size": 4}), id_map=id_map)


def test_freezing_leaves_the_last_blocks_final_norm_and_head():
    clf = small_classifier()
    gpt = clf.gpt
    count = freeze_for_finetuning(clf, 1)
    trainable = {name for name, p in clf.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("gpt.trf_blocks.2.", "gpt.final_norm.", "gpt.out_head.")) for n in trainable)
    expected = sum(p.numel() for m in (gpt.trf_blocks[2], gpt.final_norm, gpt.out_head) for p in m.parameters())
    assert count == expected
    head_and_norm = sum(p.numel() for m in (gpt.final_norm, gpt.out_head) for p in m.parameters())
    assert freeze_for_finetuning(clf, 0) == head_and_norm
    assert freeze_for_finetuning(clf, "all") == sum(p.numel() for p in clf.parameters())
    assert freeze_for_finetuning(clf, 3) == sum(p.numel() for p in clf.parameters()) - sum(
        p.numel() for m in (gpt.tok_emb, gpt.pos_emb) for p in m.parameters()
    )
    for bad in (4, -1, "some", True, 1.0):
        with pytest.raises(ValueError, match="trainable_blocks"):
            freeze_for_finetuning(clf, bad)


# ---------------------------------------------------------------------------------------------
# Training


FAST = TrainSettings(epochs=2, lr=3e-3, weight_decay=0.0, eval_freq=3, eval_iter=2, seed=4)


def toy_loaders(seed: int = 4):
    splits = split_messages(toy_messages(), 0.5, 0.25, seed=seed)
    return create_spam_loaders(splits, char_encode, batch_size=4, seed=seed)


def test_training_yields_steps_evaluations_and_done():
    loaders = toy_loaders()
    clf = toy_classifier(loaders, "mean")
    freeze_for_finetuning(clf, 1)
    frozen_before = clf.gpt.tok_emb.weight.clone()
    events = list(finetune(clf, loaders.train, loaders.val, FAST))
    steps = [e for e in events if isinstance(e, StepEvent)]
    evals = [e for e in events if isinstance(e, ClassifierEvalEvent)]
    assert len(steps) == 2 * len(loaders.train) and [e.step for e in steps] == list(range(1, len(steps) + 1))
    assert [e.step for e in evals] == [0, 1, 4, 7, 10, 12] and len(steps) == 12
    assert all(0.0 <= e.train_accuracy <= 1.0 and 0.0 <= e.val_accuracy <= 1.0 for e in evals)
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "finished" and events[-1].step == len(steps)
    assert torch.equal(clf.gpt.tok_emb.weight, frozen_before)  # frozen weights stay as they were


def test_same_seed_same_run_and_stop_flag():
    def losses():
        loaders = toy_loaders()
        clf = toy_classifier(loaders, seed=1)
        freeze_for_finetuning(clf, "all")
        return [e.train_loss for e in finetune(clf, loaders.train, loaders.val, FAST) if isinstance(e, StepEvent)]

    assert losses() == losses()
    loaders = toy_loaders()
    clf = toy_classifier(loaders)
    stop = threading.Event()
    events = []
    for event in finetune(clf, loaders.train, loaders.val, FAST, stop):
        events.append(event)
        if isinstance(event, StepEvent) and event.step == 2:
            stop.set()
    assert isinstance(events[-1], DoneEvent) and events[-1].reason == "stopped" and events[-1].step == 2


def test_augmentation_rewrites_training_batches_only():
    loaders = toy_loaders()
    clf = toy_classifier(loaders)
    seen = []

    def augment(inputs):
        seen.append(inputs.shape)
        return inputs

    events = list(finetune(clf, loaders.train, loaders.val, FAST, augment=augment))
    assert len(seen) == sum(isinstance(e, StepEvent) for e in events)


def test_training_refuses_empty_loaders_and_all_frozen():
    loaders = toy_loaders()
    clf = toy_classifier(loaders)
    with pytest.raises(ValueError, match="at least one batch"):
        next(finetune(clf, loaders.train, [], FAST))
    clf.requires_grad_(False)
    with pytest.raises(ValueError, match="nothing to train"):
        next(finetune(clf, loaders.train, loaders.val, FAST))


# ---------------------------------------------------------------------------------------------
# Evaluation and classify


def test_evaluation_confusion_matrix_and_misclassified_agree():
    loaders = toy_loaders()
    clf = toy_classifier(loaders, "mean")
    dataset = loaders.val.dataset
    report = evaluate_classifier(clf, dataset, batch_size=3)
    assert report.count == len(dataset)
    assert report.accuracy == pytest.approx((report.confusion[0][0] + report.confusion[1][1]) / len(dataset))
    assert len(report.misclassified) == len(dataset) - report.confusion[0][0] - report.confusion[1][1]
    for wrong in report.misclassified:
        assert wrong.predicted != wrong.message.label and sum(wrong.probabilities) == pytest.approx(1.0)
    loss, accuracy = loss_and_accuracy(clf, loaders.val)
    assert accuracy == pytest.approx(report.accuracy)


def test_classify_returns_label_probabilities_and_truncation(gpt2_encoding):
    clf = small_classifier("last", max_length=8)
    result = classify(clf, "You have won a free prize, call now")
    assert result.label in ("ham", "spam")
    assert sum(result.probabilities.values()) == pytest.approx(1.0)
    assert result.probabilities[result.label] == max(result.probabilities.values())
    assert result.truncated and result.tokens_used == 8
    short = classify(clf, "Hi")
    assert not short.truncated and short.tokens_used == 1
    # Truncation reads the first max_length tokens: the rest of a long text does not matter.
    longer = classify(clf, "You have won a free prize, call now or later")
    assert longer.probabilities == pytest.approx(result.probabilities)
    assert classify(clf, "<|endoftext|>").tokens_used > 1  # typed special tokens are plain text


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_classify_refuses_blank_text(text):
    with pytest.raises(ClassifierInputError, match="empty"):
        classify(small_classifier(), text, char_encode)


def test_classify_refuses_huge_text():
    with pytest.raises(TextTooLong):
        classify(small_classifier(), "spam " * 30_000, char_encode)


# ---------------------------------------------------------------------------------------------
# Saving and loading


def test_save_and_load_round_trip(tmp_path):
    id_map = compact_id_map([[7, 8, 9, 10]])
    torch.manual_seed(0)
    clf = GPTClassifier(GPTModel({**SMALL, "vocab_size": 6}), ("ham", "spam"), "max", 12, id_map=id_map).eval()
    checkpoint = save_classifier(clf, tmp_path / "run", settings={"note": "x"})
    loaded, meta = load_classifier(checkpoint.path)
    assert (loaded.labels, loaded.pooling, loaded.max_length) == (("ham", "spam"), "max", 12)
    assert torch.equal(loaded.id_map, id_map) and meta.settings["note"] == "x"
    ids = torch.tensor([[7, 9, 300, PAD_TOKEN_ID]])
    assert torch.equal(loaded(ids), clf(ids))
    assert not loaded.training


def test_loading_refuses_language_models_and_damage(tmp_path):
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "lm", GPTModel(SMALL), status="finished", history=[], settings={}, progress={})
    with pytest.raises(CheckpointError, match="language model, not a classifier"):
        load_classifier(tmp_path / "lm")
    checkpoint = save_classifier(small_classifier(), tmp_path / "clf")
    weights = checkpoint.path / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[:-4] + bytes(b ^ 0xFF for b in data[-4:]))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_classifier(checkpoint.path)
    meta_path = checkpoint.path / "checkpoint.json"
    meta = json.loads(meta_path.read_text())
    meta["head"]["pooling"] = "sideways"
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="invalid classifier description"):
        load_classifier(checkpoint.path)
    with pytest.raises(CheckpointError):
        load_classifier(tmp_path / "nothing")


# ---------------------------------------------------------------------------------------------
# A whole run on a slice of the real data (seconds)

QUICK = Recipe(
    TrainSettings(epochs=4, lr=2e-3, weight_decay=0.1, eval_freq=10, eval_iter=2, warmup_steps=5, grad_clip=1.0),
    trainable_blocks="all", pooling="mean", batch_size=16, max_length=40,
    model={"emb_dim": 32, "n_heads": 2, "n_layers": 1, "drop_rate": 0.1}, min_count=2,
)


@pytest.fixture(scope="module")
def real_slice(sms_spam_path):
    messages = read_messages(sms_spam_path)
    return balance(messages, seed=1)[::3]  # about 500 messages, both classes


def test_from_scratch_run_beats_chance_saves_and_classifies(real_slice, gpt2_encoding, tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path))
    events = list(finetune_run(real_slice, recipe=QUICK, seed=3))
    assert isinstance(events[0], StartEvent)
    evaluation = next(e for e in events if isinstance(e, EvaluationEvent))
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.reason == "finished"
    assert evaluation.test.accuracy > 0.75 and evaluation.val.accuracy > 0.7  # chance is 0.5
    clf, checkpoint = load_classifier(done.checkpoint)
    assert checkpoint.results.accuracy["test"] == pytest.approx(evaluation.test.accuracy)
    assert clf.id_map is not None and clf.cfg["n_layers"] == 1
    assert classify(clf, "URGENT! You have won a £1000 cash prize. Call 09061701461 now to claim").label == "spam"
    assert list_runs(tmp_path) == []  # classifiers are never listed as language models
    assert [run.path for run in list_classifiers()] == [checkpoint.path]
    assert SCRATCH_RECIPE.trainable_blocks == "all"


def test_run_from_a_base_model_keeps_its_vocabulary_and_can_be_stopped(real_slice, gpt2_encoding, tmp_path):
    torch.manual_seed(0)
    base = GPTModel({**SMALL, "context_length": 24})
    recipe = Recipe(TrainSettings(epochs=1, lr=1e-3, eval_freq=5, eval_iter=1), trainable_blocks=1)
    stop = threading.Event()
    events = []
    for event in finetune_run(real_slice[:60], base, recipe, base_name="test", stop=stop, runs_root=tmp_path):
        events.append(event)
        if isinstance(event, StepEvent):
            stop.set()
    assert events[-1].reason == "stopped" and events[-1].step == 1
    clf, checkpoint = load_classifier(events[-1].checkpoint)
    assert clf.id_map is None and clf.max_length == 24  # messages cut to the base model's context
    assert checkpoint.status == "stopped" and checkpoint.settings["base"] == "test"
