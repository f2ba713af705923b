"""Classification fine-tuning (book chapter 6), as a task of the one training loop.

`classification_task` gives `core.gpt.train.train` a classifier's loss (cross-entropy of the class
logits), its loss and accuracy for evaluations and an optional augmentation of training batches;
`finetune` runs the loop with it. `finetune_run` does everything with a `Recipe`: the book's for a
pretrained model, or `SCRATCH_RECIPE`, which reaches about 96 % on the balanced test set from
random weights in under a minute on one CPU core (see the README's table of runs); it balances
and splits the messages, fine-tunes, evaluates every split and saves the classifier. A recipe
with `lora` trains LoRA adapters instead (appendix E) and saves only them, with the new head, on
top of a reference to the base model (`load_lora_classifier` puts them back on it).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from core.errors import UserError
from core.gpt.checkpoint import new_run_id, run_path
from core.gpt.classifier import (
    POOLINGS,
    GPTClassifier,
    SplitEvaluation,
    classifiers_dir,
    compact_id_map,
    evaluate_classifier,
    freeze_for_finetuning,
    save_classifier,
)
from core.gpt.config import GPT2_VOCAB_SIZE
from core.gpt.events import ClassifierEvalEvent, DoneEvent, Event, StartEvent, to_dict
from core.gpt.fastpath import autocast_context
from core.gpt.generate import inference
from core.gpt.lora import LoRACheckpoint, LoRASettings, load_lora, read_lora, save_lora
from core.gpt.model import GPTModel
from core.gpt.spam_data import LABELS, Message, SpamDataset, balanced_splits, create_spam_loaders, random_crops
from core.gpt.train import Task, TrainSettings, train

# The book's fine-tuning run (section 6.7): 5 epochs, AdamW at 5e-5, evaluation every 50 steps.
BOOK_SETTINGS = TrainSettings(epochs=5, lr=5e-5, weight_decay=0.1, eval_freq=50, eval_iter=5)


# ---------------------------------------------------------------------------------------------
# Loss, accuracy and the task (sections 6.6-6.7)


def calc_loss_batch(input_batch: torch.Tensor, target_batch: torch.Tensor, model: GPTClassifier) -> torch.Tensor:
    """Cross-entropy of the class logits for one batch of texts and their labels (section 6.6)."""
    device = next(model.parameters()).device
    return F.cross_entropy(model(input_batch.to(device)).float(), target_batch.to(device))


def loss_and_accuracy(
    classifier: GPTClassifier, loader: DataLoader, num_batches: int | None = None, bf16: bool = False
) -> tuple[float, float]:
    """Mean cross-entropy per batch and the fraction right over the first `num_batches` batches
    (`bf16`: under the fast path's autocast, as during training)."""
    if len(loader) == 0:
        raise UserError("the data loader has no batches")
    num_batches = len(loader) if num_batches is None else min(num_batches, len(loader))
    loss, correct, seen = 0.0, 0, 0
    with inference(classifier), autocast_context(bf16):
        for i, (inputs, labels) in enumerate(loader):
            if i == num_batches:
                break
            logits = classifier(inputs).float()
            loss += F.cross_entropy(logits, labels).item()
            correct += int((logits.argmax(dim=-1) == labels).sum())
            seen += len(labels)
    return loss / num_batches, correct / seen


def classification_task(
    train_loader: DataLoader, val_loader: DataLoader, augment: Callable[[torch.Tensor], torch.Tensor] | None = None
) -> Task:
    """Labelling texts: the loss of a batch, loss and accuracy over `eval_iter` batches of the
    training and validation data for evaluations (ClassifierEvalEvents), and `augment` (such as
    `random_crops`) rewriting each training batch's token IDs."""
    if len(train_loader) == 0 or len(val_loader) == 0:
        raise UserError("the training and validation loaders need at least one batch each")

    def evaluate(model: GPTClassifier, eval_iter: int) -> dict[str, float]:
        train_loss, train_accuracy = loss_and_accuracy(model, train_loader, eval_iter)
        val_loss, val_accuracy = loss_and_accuracy(model, val_loader, eval_iter)
        return {"train_loss": train_loss, "val_loss": val_loss,
                "train_accuracy": train_accuracy, "val_accuracy": val_accuracy}

    return Task(calc_loss_batch=calc_loss_batch, evaluate=evaluate, augment=augment, eval_event=ClassifierEvalEvent)


def finetune(
    classifier: GPTClassifier,
    train_loader: DataLoader,
    val_loader: DataLoader,
    settings: TrainSettings = BOOK_SETTINGS,
    stop: threading.Event | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Iterator[Event]:
    """Fine-tune the classifier's trainable weights with the one loop: a StepEvent per step, a
    ClassifierEvalEvent on the evaluation schedule and a final DoneEvent (see `core.gpt.train.train`)."""
    task = classification_task(train_loader, val_loader, augment)
    return train(classifier, train_loader, task, settings, stop)


# ---------------------------------------------------------------------------------------------
# Recipes and whole runs: messages in, events out, classifier saved


@dataclass(frozen=True)
class Recipe:
    """How to fine-tune: loop settings, trainable blocks, pooling, batch size and padded width (None:
    the longest training message). `model` and `min_count` describe the model built when there is
    no base model: its size and how often a token must appear in training to get its own embedding
    (0: no compact vocabulary, all of GPT-2's 50,257 tokens). In each training batch `crop_prob` of
    the messages become random stretches of at least `crop_min` of their tokens (`random_crops`).
    With `lora`, every weight is frozen after the head swap and only LoRA adapters train
    (`trainable_blocks` is then unused), as in the book's appendix E."""

    settings: TrainSettings
    trainable_blocks: int | Literal["all"] = 1
    pooling: str = "last"
    batch_size: int = 8
    max_length: int | None = None
    model: dict[str, Any] | None = None
    min_count: int = 1
    crop_prob: float = 0.0
    crop_min: float = 0.5
    lora: LoRASettings | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.lora is not None and not isinstance(self.lora, LoRASettings):
            problems.append(f"lora must be LoRASettings or None, got {self.lora!r}")
        if self.pooling not in POOLINGS:
            problems.append(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            problems.append(f"batch_size must be at least 1, got {self.batch_size!r}")
        if self.max_length is not None and not (isinstance(self.max_length, int) and self.max_length >= 1):
            problems.append(f"max_length must be at least 1 or None, got {self.max_length!r}")
        if not (isinstance(self.min_count, int) and self.min_count >= 0):
            problems.append(f"min_count must be 0 or more, got {self.min_count!r}")
        if not (0.0 <= self.crop_prob <= 1.0 and 0.0 < self.crop_min <= 1.0):
            problems.append(f"need 0 <= crop_prob <= 1 and 0 < crop_min <= 1, got {self.crop_prob} and {self.crop_min}")
        if problems:
            raise UserError("; ".join(problems))


# The book's recipe for a pretrained model (section 6.7).
BOOK_RECIPE = Recipe(BOOK_SETTINGS)

# From random weights every layer must learn. A small model over a compact vocabulary (tokens seen
# twice in training; rarer ones share the "unknown" vector), the book's last-token readout, dropout
# 0.3, and half the training messages cut to random stretches each batch, so the last token is not
# always a message's last and short texts are not all ham: about 96 % test accuracy in under a
# minute on one CPU core. The README's table of runs shows what each choice adds.
SCRATCH_RECIPE = Recipe(
    TrainSettings(
        epochs=20, lr=1e-3, weight_decay=0.1, eval_freq=50, eval_iter=5, warmup_steps=65, min_lr=1e-5, grad_clip=1.0
    ),
    trainable_blocks="all",
    pooling="last",
    batch_size=16,
    model={"emb_dim": 128, "n_heads": 4, "n_layers": 2, "drop_rate": 0.3, "qkv_bias": False},
    min_count=2,
    crop_prob=0.5,
    crop_min=0.5,
)


def scratch_classifier(train_dataset: SpamDataset, recipe: Recipe = SCRATCH_RECIPE, seed: int = 123) -> GPTClassifier:
    """A randomly initialised GPT classifier of `recipe.model`'s size, its compact vocabulary taken
    from the training messages and its context from their padded width."""
    if recipe.model is None:
        raise UserError("the recipe has no model size to build from scratch")
    if recipe.min_count > 0:
        id_map = compact_id_map(train_dataset.input_ids.tolist(), recipe.min_count, train_dataset.pad_id)
        vocab_size = int(id_map.max()) + 1
    else:
        id_map, vocab_size = None, GPT2_VOCAB_SIZE
    cfg = {**recipe.model, "vocab_size": vocab_size, "context_length": train_dataset.max_length}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        gpt = GPTModel(cfg)
    return GPTClassifier(gpt, LABELS, recipe.pooling, train_dataset.max_length, train_dataset.pad_id, id_map)


@dataclass(frozen=True)
class EvaluationEvent:
    """The finished (or stopped) classifier measured on every split."""

    train: SplitEvaluation
    val: SplitEvaluation
    test: SplitEvaluation


def finetune_run(
    messages: Sequence[Message],
    base: GPTModel | None = None,
    recipe: Recipe | None = None,
    *,
    base_name: str = "scratch",
    base_ref: dict[str, Any] | None = None,
    seed: int = 123,
    split_seed: int = 123,
    stop: threading.Event | None = None,
    runs_root: Path | None = None,
) -> Iterator[Event | EvaluationEvent]:
    """Balance and split `messages` (with `split_seed`: the same test set whatever the training
    `seed`), fine-tune, then evaluate and save under `runs_root` (default `classifiers_dir()`).

    Without `base`, a small model is built from scratch (`SCRATCH_RECIPE` by default); a given
    `base` model (pretrained here or GPT-2) gets its head replaced in place (`BOOK_RECIPE` by default).
    Yields a StartEvent, `finetune`'s events, an EvaluationEvent and the DoneEvent,
    which names the saved run folder. A LoRA run saves an adapter whose base is described by
    `base_name` and `base_ref` (JSON: how the caller finds that base again).
    """
    recipe = recipe or (BOOK_RECIPE if base is not None else SCRATCH_RECIPE)
    if recipe.lora is not None and base is None:
        raise UserError("LoRA adapts a trained model: choose a base model to start from, not a model from scratch")
    settings = replace(recipe.settings, seed=seed)
    splits = balanced_splits(messages, split_seed)
    loaders = create_spam_loaders(splits, batch_size=recipe.batch_size, max_length=recipe.max_length, seed=seed)
    if base is None:
        classifier = scratch_classifier(loaders.train.dataset, recipe, seed)
    else:
        base_cfg = dict(base.cfg)  # before the head swap changes it
        context = base.cfg["context_length"]
        if loaders.max_length > context:  # longer messages are cut to the model's context window
            loaders = create_spam_loaders(splits, batch_size=recipe.batch_size, max_length=context, seed=seed)
        classifier = GPTClassifier(base, LABELS, recipe.pooling, loaders.max_length)
    if recipe.lora is None:
        trainable = freeze_for_finetuning(classifier, recipe.trainable_blocks)
    else:
        trainable = recipe.lora.apply(classifier)
    run_dir = run_path(new_run_id(), runs_root or classifiers_dir())
    yield StartEvent(
        run_dir.name, classifier.cfg, loaders.train.dataset.input_ids.numel(), loaders.val.dataset.input_ids.numel(),
        len(loaders.train), settings.epochs * len(loaders.train), None,
    )
    history = []
    augment = None
    if recipe.crop_prob > 0:
        augment = functools.partial(
            random_crops, prob=recipe.crop_prob, min_frac=recipe.crop_min, pad_id=classifier.pad_id
        )
    for event in finetune(classifier, loaders.train, loaders.val, settings, stop, augment):
        history.append(to_dict(event))
        if isinstance(event, DoneEvent):
            splits_done = (loaders.train, loaders.val, loaders.test)
            evaluation = EvaluationEvent(*(evaluate_classifier(classifier, loader.dataset) for loader in splits_done))
            yield evaluation
            record = {
                "base": base_name,
                "model": recipe.model if base is None else None,
                "min_count": recipe.min_count if base is None else None,
                "trainable_blocks": None if recipe.lora else recipe.trainable_blocks,
                "lora": None if recipe.lora is None else asdict(recipe.lora),
                "trainable_parameters": trainable,
                "batch_size": recipe.batch_size,
                "crop_prob": recipe.crop_prob,
                "crop_min": recipe.crop_min,
                "split_seed": split_seed,
                "split_sizes": [len(splits.train), len(splits.val), len(splits.test)],
                "accuracy": {name: getattr(evaluation, name).accuracy for name in ("train", "val", "test")},
                "confusion": {name: getattr(evaluation, name).confusion for name in ("train", "val", "test")},
                "misclassified_lines": {
                    name: [wrong.message.line for wrong in getattr(evaluation, name).misclassified]
                    for name in ("train", "val", "test")
                },
                **asdict(settings),
            }
            progress = {"step": event.step, "epoch": event.epoch, "tokens_seen": event.tokens_seen}
            if recipe.lora is None:
                save_classifier(classifier, run_dir, status=event.reason, history=history, settings=record,
                                progress=progress)
            else:
                base_record = {"name": base_name, **(base_ref or {}), "config": base_cfg}
                save_lora_classifier(classifier, run_dir, base_record,
                                     {**record, "status": event.reason, "progress": progress, "history": history})
            event = replace(event, checkpoint=str(run_dir))
        yield event


# ---------------------------------------------------------------------------------------------
# LoRA classifiers: the adapters and the new head, saved on top of a reference to their base

LORA_KIND = "lora-classifier"
HEAD_TENSORS = ("gpt.out_head.weight", "gpt.out_head.bias")


def save_lora_classifier(classifier: GPTClassifier, run_dir: Path, base: dict[str, Any],
                         settings: dict[str, Any]) -> LoRACheckpoint:
    """The adapters, the head and how to rebuild the classifier around its base (`core.gpt.lora.save_lora`)."""
    description = {"kind": LORA_KIND, "labels": list(classifier.labels), "pooling": classifier.pooling,
                   "max_length": classifier.max_length, "pad_id": classifier.pad_id}
    return save_lora(run_dir, classifier, base=base, new_tensors=HEAD_TENSORS, settings={**settings, **description})


def load_lora_classifier(path: Path | str, base: GPTModel) -> tuple[GPTClassifier, LoRACheckpoint]:
    """The LoRA classifier saved in `path`, rebuilt on `base` (changed in place), in evaluation mode;
    `LoRAError` when `base` is not the model it was fine-tuned from."""
    checkpoint = read_lora(path)
    record = checkpoint.settings
    if record.get("kind") != LORA_KIND:
        raise UserError(f"{checkpoint.path} holds a LoRA adapter, but not a classifier's")
    try:
        classifier = GPTClassifier(base, [str(label) for label in record["labels"]], record["pooling"],
                                   int(record["max_length"]), int(record["pad_id"]))
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"{checkpoint.path} has an invalid classifier description: {err}") from None
    load_lora(checkpoint.path, classifier)
    return classifier.eval(), checkpoint
