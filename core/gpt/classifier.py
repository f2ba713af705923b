"""Classification with a GPT (book chapter 6): a GPTModel that labels a whole text.

`GPTClassifier` swaps the model's vocabulary head for a `num_classes` head and reads one
prediction per text from its per-token scores: the last real (non-padding) token's, as in the
book, or their mean or maximum over the real tokens; a model trained from scratch can embed a
compact vocabulary (`compact_id_map`). `freeze_for_finetuning` leaves only the last N transformer
blocks, the final LayerNorm and the head trainable. `evaluate_classifier` gives accuracy, the
confusion matrix and the misclassified messages; `classify` labels one text. Classifiers are saved
in pretraining's safe checkpoint format, in their own folder. Training them is a task of the one
training loop: `core.gpt.finetune`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import UserError
from core.gpt.checkpoint import (
    Checkpoint,
    CheckpointError,
    HeadSpec,
    Results,
    list_runs,
    load_weights_into,
    new_run_id,
    read_checkpoint,
    run_path,
    save_checkpoint,
)
from core.gpt.config import GPT2_VOCAB_SIZE
from core.gpt.generate import inference
from core.gpt.model import GPTModel
from core.gpt.spam_data import LABELS, PAD_TOKEN_ID, Message, SpamDataset
from core.gpt.vocab import PAD_ID, UNKNOWN_ID, check_id_map, compact_id_map  # noqa: F401 (re-exported)
from core.paths import runs_dir

POOLINGS = ("last", "mean", "max")


class ClassifierInputError(UserError):
    """Text that cannot be classified (empty or blank)."""


# ---------------------------------------------------------------------------------------------
# The model (section 6.5)


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
    elif (isinstance(trainable_blocks, int) and not isinstance(trainable_blocks, bool)
          and 0 <= trainable_blocks <= n_layers):
        gpt.requires_grad_(False)
        for block in gpt.trf_blocks[n_layers - trainable_blocks :]:
            block.requires_grad_(True)
        gpt.final_norm.requires_grad_(True)
        gpt.out_head.requires_grad_(True)
    else:
        raise UserError(f"trainable_blocks must be 0..{n_layers} or 'all', got {trainable_blocks!r}")
    return sum(p.numel() for p in classifier.parameters() if p.requires_grad)


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
    probabilities = dict(zip(classifier.labels, probs, strict=False))
    return Prediction(classifier.labels[best], probabilities, len(used), len(ids) > len(used))


# ---------------------------------------------------------------------------------------------
# Saving and loading, in pretraining's checkpoint format under runs/classifiers/


def classifiers_dir() -> Path:
    """Where classifier runs live: apart from pretraining runs, so they are never taken for a language model."""
    return runs_dir() / "classifiers"


def list_classifiers(root: Path | None = None) -> list[Checkpoint]:
    """Saved classifiers under `root` (default `classifiers_dir()`), newest first."""
    return [run for run in list_runs(root or classifiers_dir()) if run.head is not None]


def save_classifier(
    classifier: GPTClassifier,
    run_dir: Path | None = None,
    *,
    status: str = "finished",
    history: list[dict[str, Any]] | None = None,
    settings: dict[str, Any] | None = None,
    progress: dict[str, int] | None = None,
    results: Results | None = None,
) -> Checkpoint:
    """Save weights (safetensors) and description (JSON) atomically (default: a new run under `classifiers_dir()`).

    The head spec and `results` get their own sections; evaluation results passed inside `settings`
    (as `accuracy`, `confusion` and `misclassified_lines`) are moved into `results`."""
    run_dir = run_dir or run_path(new_run_id(), classifiers_dir())
    settings = dict(settings or {})
    moved = {key: settings.pop(key) for key in ("accuracy", "confusion", "misclassified_lines") if key in settings}
    if results is None and moved:
        results = Results(**moved)
    head = HeadSpec(tuple(classifier.labels), classifier.pooling, classifier.max_length, classifier.pad_id,
                    classifier.id_map is not None)
    return save_checkpoint(
        run_dir, classifier, status=status, history=history or [], settings=settings,
        progress=progress or {"step": 0, "epoch": 0, "tokens_seen": 0}, head=head, results=results,
    )


def load_classifier(path: Path | str) -> tuple[GPTClassifier, Checkpoint]:
    """The classifier saved in run folder `path`, in evaluation mode; `CheckpointError` when it is not one.
    Built on the meta device, so nothing is allocated before the weight file's header fits the spec."""
    checkpoint = read_checkpoint(path)
    head = checkpoint.head
    if head is None:
        raise CheckpointError(f"{checkpoint.path} holds a language model, not a classifier")
    try:
        with torch.device("meta"):
            classifier = GPTClassifier(GPTModel(checkpoint.config), head.labels, head.pooling, head.max_length,
                                       head.pad_id)
            if head.compact_vocab:  # its values are checked once loaded
                classifier.id_map = torch.zeros(GPT2_VOCAB_SIZE, dtype=torch.long)
    except UserError as err:
        raise CheckpointError(f"{checkpoint.path} has an invalid classifier description: {err}") from None
    load_weights_into(classifier, checkpoint)
    if classifier.id_map is not None:
        try:
            check_id_map(classifier.id_map, classifier.cfg["vocab_size"])
        except UserError as err:
            raise CheckpointError(f"{checkpoint.path}: {err}") from None
    return classifier.eval(), checkpoint
