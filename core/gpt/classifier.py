"""Classification fine-tuning (book chapter 6): a GPTModel that labels a whole text.

`GPTClassifier` swaps the model's vocabulary head for a `num_classes` head and reads one
prediction per text from its per-token scores: the last real (non-padding) token's, as in the
book, or their mean or maximum over the real tokens; a model trained from scratch can embed a
compact vocabulary (`compact_id_map`). `freeze_for_finetuning` leaves only the last N transformer
blocks, the final LayerNorm and the head trainable. `train_classifier` is an event iterator like
pretraining's; `evaluate_classifier` gives accuracy, the confusion matrix and the misclassified
messages; `classify` labels one text. Classifiers are saved in pretraining's safe checkpoint
format, in their own folder. `finetune_run` does all of it with a `Recipe`: the book's for a
pretrained model, or `SCRATCH_RECIPE`, which reaches about 96 % on the balanced test set from
random weights in under a minute on one CPU core (see the README's table of runs).
"""

from __future__ import annotations

import functools
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from core.errors import UserError
from core.gpt.checkpoint import (
    Checkpoint,
    CheckpointError,
    empty_model,
    list_runs,
    load_weights_into,
    new_run_id,
    read_checkpoint,
    run_path,
    save_checkpoint,
)
from core.gpt.config import GPT2_VOCAB_SIZE
from core.gpt.fastpath import autocast_context, make_adamw
from core.gpt.generate import inference
from core.gpt.model import GPTModel
from core.gpt.spam_data import (
    LABELS,
    PAD_TOKEN_ID,
    Message,
    SpamDataset,
    balanced_splits,
    create_spam_loaders,
    random_crops,
)
from core.gpt.train import (
    DoneEvent,
    StartEvent,
    StepEvent,
    TrainingDiverged,
    TrainSettings,
    learning_rate,
)
from core.paths import runs_dir

POOLINGS = ("last", "mean", "max")
CHECKPOINT_KIND = "classifier"
UNKNOWN_ID, PAD_ID = 0, 1  # the first two IDs of a compact vocabulary

# The book's fine-tuning run (section 6.7): 5 epochs, AdamW at 5e-5, evaluation every 50 steps.
BOOK_SETTINGS = TrainSettings(epochs=5, lr=5e-5, weight_decay=0.1, eval_freq=50, eval_iter=5)


class ClassifierInputError(UserError):
    """Text that cannot be classified (empty or blank)."""


# ---------------------------------------------------------------------------------------------
# The model (section 6.5)


def compact_id_map(token_rows: Sequence[Sequence[int]], min_count: int = 1, pad_id: int = PAD_TOKEN_ID) -> torch.Tensor:
    """A table from GPT-2 IDs to a small vocabulary: the IDs seen at least `min_count` times in
    `token_rows` get 2, 3, ... in ID order; padding gets PAD_ID and every other ID UNKNOWN_ID.

    A model trained from scratch on 1,045 messages sees about 4,800 of GPT-2's 50,257 tokens;
    embedding only those makes it 10x smaller and faster. With `min_count` 2, tokens seen once
    in training share the unknown vector, so it learns what an unseen token tends to mean.
    """
    counts = Counter(i for row in token_rows for i in row if i != pad_id)
    kept = sorted(i for i, n in counts.items() if n >= min_count)
    id_map = torch.full((GPT2_VOCAB_SIZE,), UNKNOWN_ID, dtype=torch.long)
    id_map[torch.tensor(kept, dtype=torch.long)] = torch.arange(2, 2 + len(kept))
    id_map[pad_id] = PAD_ID
    return id_map


def check_id_map(id_map: torch.Tensor, vocab_size: int) -> None:
    """ValueError unless `id_map` maps every GPT-2 ID into 0..vocab_size-1."""
    if id_map.shape != (GPT2_VOCAB_SIZE,) or id_map.dtype != torch.long:
        raise UserError(f"id_map must be {GPT2_VOCAB_SIZE} integers (one per GPT-2 token), got {id_map.dtype} {tuple(id_map.shape)}")
    if int(id_map.min()) < 0 or int(id_map.max()) >= vocab_size:
        raise UserError(f"id_map points outside the model's vocabulary of {vocab_size}")


class GPTClassifier(nn.Module):
    """A GPTModel with a class head; `forward` maps GPT-2 token IDs (batch, tokens) to class logits (batch, classes).

    Texts are right-padded with `pad_id`. Causal attention means padding never changes what
    the real tokens see, so trailing all-padding columns of a batch are dropped before the model runs.
    `id_map` (from `compact_id_map`) translates GPT-2 IDs for a model with a compact vocabulary.
    """

    def __init__(
        self,
        gpt: GPTModel,
        labels: Sequence[str] = LABELS,
        pooling: str = "last",
        max_length: int | None = None,
        pad_id: int = PAD_TOKEN_ID,
        id_map: torch.Tensor | None = None,
    ):
        super().__init__()
        if pooling not in POOLINGS:
            raise UserError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        if len(labels) < 2 or len(set(labels)) != len(labels):
            raise UserError(f"need at least two distinct labels, got {list(labels)}")
        context = gpt.cfg["context_length"]
        if max_length is not None and not 1 <= max_length <= context:
            raise UserError(f"max_length must be between 1 and the context length {context}, got {max_length}")
        if id_map is not None:
            check_id_map(id_map, gpt.cfg["vocab_size"])
        # A new head (section 6.5); a tied head stops being tied: it no longer scores tokens.
        gpt.out_head = nn.Linear(gpt.cfg["emb_dim"], len(labels))
        gpt.cfg = {**gpt.cfg, "tie_weights": False}
        self.gpt = gpt
        self.labels = tuple(labels)
        self.pooling = pooling
        self.max_length = max_length or context
        self.pad_id = pad_id
        self.id_map: torch.Tensor | None
        self.register_buffer("id_map", None if id_map is None else id_map.clone())

    @property
    def cfg(self) -> dict[str, Any]:
        return self.gpt.cfg

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        real = idx != self.pad_id
        if not bool(real.any(dim=1).all()):
            raise UserError("every text needs at least one real (non-padding) token")
        width = int(real.any(dim=0).nonzero().max()) + 1
        idx, real = idx[:, :width], real[:, :width]
        token_logits = self.gpt(idx if self.id_map is None else self.id_map[idx])  # (batch, tokens, classes)
        if self.pooling == "last":
            # Index of the last real token: the highest position whose mask is set.
            positions = torch.arange(width, device=idx.device).expand_as(real)
            last = positions.masked_fill(~real, -1).argmax(dim=1)
            return token_logits[torch.arange(len(idx), device=idx.device), last]
        mask = real.unsqueeze(-1)
        if self.pooling == "mean":
            # The head is linear, so the mean of the logits is the head applied to the mean state.
            return (token_logits * mask).sum(dim=1) / mask.sum(dim=1)
        return token_logits.masked_fill(~mask, float("-inf")).amax(dim=1)


def freeze_for_finetuning(classifier: GPTClassifier, trainable_blocks: int | Literal["all"] = 1) -> int:
    """Freeze all but the last `trainable_blocks` transformer blocks, the final LayerNorm and the
    head (section 6.5); "all" trains every weight (needed from scratch). Returns the trainable count."""
    gpt = classifier.gpt
    n_layers = len(gpt.trf_blocks)
    if trainable_blocks == "all":
        gpt.requires_grad_(True)
    elif isinstance(trainable_blocks, int) and not isinstance(trainable_blocks, bool) and 0 <= trainable_blocks <= n_layers:
        gpt.requires_grad_(False)
        for block in gpt.trf_blocks[n_layers - trainable_blocks :]:
            block.requires_grad_(True)
        gpt.final_norm.requires_grad_(True)
        gpt.out_head.requires_grad_(True)
    else:
        raise UserError(f"trainable_blocks must be 0..{n_layers} or 'all', got {trainable_blocks!r}")
    return sum(p.numel() for p in classifier.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------------------------
# Loss, accuracy and training (sections 6.6-6.7)


@dataclass(frozen=True)
class ClassifierEvalEvent:
    """Loss and accuracy over `eval_iter` batches of the training and validation data."""

    step: int
    epoch: int
    tokens_seen: int
    train_loss: float
    val_loss: float
    train_accuracy: float
    val_accuracy: float


Event = Union[StepEvent, ClassifierEvalEvent, DoneEvent]


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


def train_classifier(
    classifier: GPTClassifier,
    train_loader: DataLoader,
    val_loader: DataLoader,
    settings: TrainSettings = BOOK_SETTINGS,
    stop: threading.Event | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Iterator[Event]:
    """Fine-tune the trainable weights, yielding a StepEvent per step, a ClassifierEvalEvent after
    the first step and every `eval_freq` steps (and the last), and a final DoneEvent.

    Setting `stop` ends the loop before the next step. `augment` rewrites each training batch's
    token IDs (such as `random_crops`); evaluations see the data as it is. Products run under bf16
    autocast where `settings.bf16` and the CPU allow. Seeded like pretraining: same seed, same run.
    """
    steps_per_epoch = len(train_loader)
    if steps_per_epoch == 0 or len(val_loader) == 0:
        raise UserError("the training and validation loaders need at least one batch each")
    params = [p for p in classifier.parameters() if p.requires_grad]
    if not params:
        raise UserError("every weight is frozen: nothing to train")
    total_steps = settings.epochs * steps_per_epoch
    optimizer = make_adamw(params, settings.lr, settings.weight_decay)
    torch.manual_seed(settings.seed)
    step = epoch = tokens_seen = 0
    train_time, began = 0.0, time.perf_counter()

    def done(reason: str) -> DoneEvent:
        return DoneEvent(reason, step, epoch, tokens_seen, time.perf_counter() - began)

    classifier.train()
    for epoch in range(1, settings.epochs + 1):
        for inputs, labels in train_loader:
            if stop is not None and stop.is_set():
                yield done("stopped")
                return
            tick = time.perf_counter()
            lr = learning_rate(settings, step, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            with autocast_context(settings.bf16):
                loss = F.cross_entropy(classifier(inputs if augment is None else augment(inputs)).float(), labels)
            if not torch.isfinite(loss):
                raise TrainingDiverged(f"the training loss became {loss.item()} at step {step + 1}: lower the learning rate")
            loss.backward()
            if settings.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
            optimizer.step()
            step += 1
            tokens_seen += inputs.numel()
            train_time += time.perf_counter() - tick
            yield StepEvent(step, epoch, tokens_seen, loss.item(), lr, tokens_seen / train_time, time.perf_counter() - began)
            if (step - 1) % settings.eval_freq == 0 or step == total_steps:
                train_loss, train_acc = loss_and_accuracy(classifier, train_loader, settings.eval_iter, settings.bf16)
                val_loss, val_acc = loss_and_accuracy(classifier, val_loader, settings.eval_iter, settings.bf16)
                yield ClassifierEvalEvent(step, epoch, tokens_seen, train_loss, val_loss, train_acc, val_acc)
    yield done("finished")


# ---------------------------------------------------------------------------------------------
# Evaluation (section 6.7) and use (section 6.8)


@dataclass(frozen=True)
class Misclassified:
    """A message the classifier got wrong, with its class probabilities."""

    message: Message
    predicted: int
    probabilities: tuple[float, ...]


@dataclass(frozen=True)
class SplitEvaluation:
    """How the classifier does on one split: `confusion[true][predicted]` counts messages."""

    accuracy: float
    loss: float
    confusion: tuple[tuple[int, ...], ...]
    misclassified: tuple[Misclassified, ...]

    @property
    def count(self) -> int:
        return sum(map(sum, self.confusion))


def evaluate_classifier(classifier: GPTClassifier, dataset: SpamDataset, batch_size: int = 64) -> SplitEvaluation:
    """Accuracy, mean loss, confusion matrix and every misclassified message of `dataset`."""
    if len(dataset) == 0:
        raise UserError("the dataset has no messages to evaluate")
    n = len(classifier.labels)
    confusion = [[0] * n for _ in range(n)]
    wrong, loss = [], 0.0
    with inference(classifier):
        for start in range(0, len(dataset), batch_size):
            inputs = dataset.input_ids[start : start + batch_size]
            labels = dataset.labels[start : start + batch_size]
            logits = classifier(inputs)
            loss += F.cross_entropy(logits, labels, reduction="sum").item()
            probs = logits.softmax(dim=-1)
            for offset, (truth, guess) in enumerate(zip(labels.tolist(), logits.argmax(dim=-1).tolist(), strict=False)):
                confusion[truth][guess] += 1
                if truth != guess:
                    message = dataset.messages[start + offset]
                    wrong.append(Misclassified(message, guess, tuple(probs[offset].tolist())))
    correct = sum(confusion[i][i] for i in range(n))
    return SplitEvaluation(
        correct / len(dataset), loss / len(dataset), tuple(map(tuple, confusion)), tuple(wrong)
    )


@dataclass(frozen=True)
class Prediction:
    """The classifier's answer for one text; `truncated` when only its first `tokens_used` tokens were read."""

    label: str
    probabilities: dict[str, float]
    tokens_used: int
    truncated: bool


def classify(classifier: GPTClassifier, text: str, encode: Callable[[str], list[int]] | None = None) -> Prediction:
    """Label one text (section 6.8).

    Blank text raises `ClassifierInputError`; more than the tokenizer's character limit raises
    its `TextTooLong`, a lone surrogate its `InvalidText`. A text longer than the classifier's
    `max_length` tokens is truncated to its first `max_length` tokens, as in training, and
    the prediction says so.
    """
    from core.gpt.tokenizers import check_text_length

    if not isinstance(text, str) or not text.strip():
        raise ClassifierInputError("the text is empty: type or paste a message to classify")
    check_text_length(text)
    if encode is None:
        from core.gpt.tokenizers import encode
    ids = encode(text)
    used = ids[: classifier.max_length]
    with inference(classifier):
        probs = classifier(torch.tensor([used], dtype=torch.long)).softmax(dim=-1)[0].tolist()
    best = max(range(len(probs)), key=probs.__getitem__)
    return Prediction(classifier.labels[best], dict(zip(classifier.labels, probs, strict=False)), len(used), len(ids) > len(used))


# ---------------------------------------------------------------------------------------------
# Saving and loading, in pretraining's checkpoint format under runs/classifiers/


def classifiers_dir() -> Path:
    """Where classifier runs live: apart from pretraining runs, so they are never taken for a language model."""
    return runs_dir() / "classifiers"


def list_classifiers(root: Path | None = None) -> list[Checkpoint]:
    """Saved classifiers under `root` (default `classifiers_dir()`), newest first."""
    return [run for run in list_runs(root or classifiers_dir()) if run.settings.get("kind") == CHECKPOINT_KIND]


def save_classifier(
    classifier: GPTClassifier,
    run_dir: Path | None = None,
    *,
    status: str = "finished",
    history: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
    progress: dict[str, int] | None = None,
) -> Checkpoint:
    """Save weights (safetensors) and description (JSON) atomically; default folder: a new run under `classifiers_dir()`."""
    run_dir = run_dir or run_path(new_run_id(), classifiers_dir())
    record = {
        "kind": CHECKPOINT_KIND,
        "labels": list(classifier.labels),
        "pooling": classifier.pooling,
        "max_length": classifier.max_length,
        "pad_id": classifier.pad_id,
        "compact_vocab": classifier.id_map is not None,
        **(settings or {}),
    }
    return save_checkpoint(
        run_dir, classifier, status=status, history=history or [], settings=record,
        progress=progress or {"step": 0, "epoch": 0, "tokens_seen": 0},
    )


def load_classifier(path: Path | str) -> tuple[GPTClassifier, Checkpoint]:
    """The classifier saved in run folder `path`, in evaluation mode; `CheckpointError` when it is not one."""
    checkpoint = read_checkpoint(path)
    record = checkpoint.settings
    if record.get("kind") != CHECKPOINT_KIND:
        raise CheckpointError(f"{checkpoint.path} holds a language model, not a classifier")
    try:
        labels = [str(label) for label in record["labels"]]
        id_map = torch.zeros(GPT2_VOCAB_SIZE, dtype=torch.long) if record["compact_vocab"] else None
        classifier = GPTClassifier(
            empty_model(checkpoint.config), labels, record["pooling"], int(record["max_length"]),
            int(record["pad_id"]), id_map,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{checkpoint.path} has an invalid classifier description: {err}") from None
    load_weights_into(classifier, checkpoint)
    if classifier.id_map is not None:
        try:
            check_id_map(classifier.id_map, classifier.cfg["vocab_size"])
        except ValueError as err:
            raise CheckpointError(f"{checkpoint.path}: {err}") from None
    return classifier.eval(), checkpoint


# ---------------------------------------------------------------------------------------------
# Recipes and whole runs: messages in, events out, classifier saved


@dataclass(frozen=True)
class Recipe:
    """How to fine-tune: loop settings, trainable blocks, pooling, batch size and padded width (None:
    the longest training message). `model` and `min_count` describe the model built when there is
    no base model: its size and how often a token must appear in training to get its own embedding
    (0: no compact vocabulary, all of GPT-2's 50,257 tokens). In each training batch `crop_prob` of
    the messages become random stretches of at least `crop_min` of their tokens (`random_crops`)."""

    settings: TrainSettings
    trainable_blocks: int | Literal["all"] = 1
    pooling: str = "last"
    batch_size: int = 8
    max_length: int | None = None
    model: dict[str, Any] | None = None
    min_count: int = 1
    crop_prob: float = 0.0
    crop_min: float = 0.5

    def __post_init__(self) -> None:
        problems = []
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
    seed: int = 123,
    split_seed: int = 123,
    stop: threading.Event | None = None,
    runs_root: Path | None = None,
) -> Iterator[Event | StartEvent | EvaluationEvent]:
    """Balance and split `messages` (with `split_seed`: the same test set whatever the training
    `seed`), fine-tune, then evaluate and save under `runs_root` (default `classifiers_dir()`).

    Without `base`, a small model is built from scratch (`SCRATCH_RECIPE` by default); a given
    `base` model (pretrained here or GPT-2) gets its head replaced in place (`BOOK_RECIPE` by default).
    Yields a StartEvent, `train_classifier`'s events, an EvaluationEvent and the DoneEvent,
    which names the saved run folder.
    """
    recipe = recipe or (BOOK_RECIPE if base is not None else SCRATCH_RECIPE)
    settings = replace(recipe.settings, seed=seed)
    splits = balanced_splits(messages, split_seed)
    loaders = create_spam_loaders(splits, batch_size=recipe.batch_size, max_length=recipe.max_length, seed=seed)
    if base is None:
        classifier = scratch_classifier(loaders.train.dataset, recipe, seed)
    else:
        context = base.cfg["context_length"]
        if loaders.max_length > context:  # longer messages are cut to the model's context window
            loaders = create_spam_loaders(splits, batch_size=recipe.batch_size, max_length=context, seed=seed)
        classifier = GPTClassifier(base, LABELS, recipe.pooling, loaders.max_length)
    trainable = freeze_for_finetuning(classifier, recipe.trainable_blocks)
    run_dir = run_path(new_run_id(), runs_root or classifiers_dir())
    yield StartEvent(
        run_dir.name, classifier.cfg, loaders.train.dataset.input_ids.numel(), loaders.val.dataset.input_ids.numel(),
        len(loaders.train), settings.epochs * len(loaders.train), None,
    )
    history = []
    augment = None
    if recipe.crop_prob > 0:
        augment = functools.partial(random_crops, prob=recipe.crop_prob, min_frac=recipe.crop_min, pad_id=classifier.pad_id)
    for event in train_classifier(classifier, loaders.train, loaders.val, settings, stop, augment):
        history.append(event_record(event))
        if isinstance(event, DoneEvent):
            evaluation = EvaluationEvent(
                *(evaluate_classifier(classifier, loader.dataset) for loader in (loaders.train, loaders.val, loaders.test))
            )
            yield evaluation
            record = {
                "base": base_name,
                "model": recipe.model if base is None else None,
                "min_count": recipe.min_count if base is None else None,
                "trainable_blocks": recipe.trainable_blocks,
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
            save_classifier(
                classifier, run_dir, status=event.reason, history=history, settings=record,
                progress={"step": event.step, "epoch": event.epoch, "tokens_seen": event.tokens_seen},
            )
            event = replace(event, checkpoint=str(run_dir))
        yield event


def event_record(event: Event) -> dict[str, Any]:
    """A JSON-ready dict of a training event, with a "type" key."""
    kind = {StepEvent: "step", ClassifierEvalEvent: "eval", DoneEvent: "done"}[type(event)]
    return {"type": kind, **asdict(event)}
