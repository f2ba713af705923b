"""Instruction fine-tuning (book chapter 7, sections 7.5-7.7) as a task of the one training loop.

The loss is the next-token cross-entropy over the targets that are not -100, so padding (and, with
the exercise 7.2 mask, the prompt) costs nothing. `instruction_task` hands it to
`core.gpt.train.train` with the training and validation losses for evaluations and a response to
the first validation record after each epoch. `instruct_run` does a whole run: split the records,
build or load the model (optionally with LoRA adapters, appendix E), train, save the checkpoint
under `instruct_dir()`, then write every test record's response beside it in the book's
`instruction-data-with-response.json` shape.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from core.atomic import write_text
from core.errors import Unavailable, UserError
from core.gpt.checkpoint import load_model, load_optimizer, new_run_id, read_checkpoint, run_path, save_checkpoint
from core.gpt.config import GPT2_VOCAB_SIZE
from core.gpt.events import DoneEvent, EvalEvent, Event, StartEvent, to_dict
from core.gpt.fastpath import head_cross_entropy
from core.gpt.generate import generate, inference
from core.gpt.instruction_data import (
    IGNORE_INDEX,
    PAD_TOKEN_ID,
    create_instruction_loaders,
    format_input,
    split_records,
    validate_records,
)
from core.gpt.model import GPTModel
from core.gpt.pretrain import calc_loss_loader
from core.gpt.train import Progress, Task, TrainSettings, make_optimizer, train
from core.paths import runs_dir

RESPONSES_FILE = "instruction-data-with-response.json"
MAX_NEW_TOKENS = 256  # the book's length for test-set responses (section 7.7)
CHECKPOINT_KIND = "instruct"

# The book's figures (section 7.6): gpt2-medium on an M3 MacBook Air CPU, 2 epochs.
BOOK_MINUTES = {"gpt2-medium": 15.8, "gpt2-small": 5.7}
BOOK_LOSSES_BEFORE = (3.83, 3.76)  # training, validation: gpt2-medium before fine-tuning
BOOK_LOSSES_AFTER = (0.29, 0.66)  # after 2 epochs


def calc_loss_batch(input_batch: torch.Tensor, target_batch: torch.Tensor, model: GPTModel) -> torch.Tensor:
    """Mean cross-entropy of the next-token predictions whose target is not -100 (section 7.6):
    `F.cross_entropy(model(input_batch).flatten(0, 1), target_batch.flatten(), ignore_index=-100)`,
    computed by the fused head loss on the counted positions only, so the scores of padding are never made."""
    if target_batch.shape != input_batch.shape:
        raise UserError(f"targets {tuple(target_batch.shape)} must have the inputs' shape {tuple(input_batch.shape)}")
    device = next(model.parameters()).device
    targets = target_batch.to(device)
    counted = targets != IGNORE_INDEX
    if not bool(counted.any()):
        raise UserError("every target in this batch is masked (-100): the loss has nothing to learn from; "
                        "allow a longer length or turn the instruction mask off")
    hidden = model.hidden_states(input_batch.to(device))
    return head_cross_entropy(hidden[counted], model.out_head.weight, targets[counted])


# ---------------------------------------------------------------------------------------------
# Responses (section 7.7)


def generate_response(
    model: nn.Module,
    entry: dict[str, str],
    max_new_tokens: int = MAX_NEW_TOKENS,
    temperature: float = 0.0,
    top_k: int | None = None,
    seed: int | None = None,
) -> str:
    """What the model writes after the record's prompt, up to its end-of-text, without the response header."""
    from core.gpt.tokenizers import check_text_length, decode, encode

    if not isinstance(entry.get("instruction"), str) or not entry["instruction"].strip():
        raise UserError("the instruction is empty: type what the model should do")
    prompt = format_input(entry)
    check_text_length(prompt)
    ids = torch.tensor([encode(prompt)], dtype=torch.long)
    out = generate(model, ids, max_new_tokens, temperature=temperature, top_k=top_k, eos_id=PAD_TOKEN_ID, seed=seed)
    text = decode(out[0, ids.shape[1] :].tolist())
    return text.replace("### Response:", "", 1).strip()


def save_responses(run_dir: Path, records: Sequence[dict[str, Any]]) -> Path:
    """The test records with their `model_response`, as one JSON list, written atomically."""
    return write_text(Path(run_dir) / RESPONSES_FILE, json.dumps(list(records), indent=1, ensure_ascii=False))


def read_responses(run_dir: Path) -> list[dict[str, str]] | None:
    """The run's saved responses, or None when it has none (a stopped run)."""
    path = Path(run_dir) / RESPONSES_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"{path} is damaged ({err})") from None
    records = validate_records(data, str(path))
    if any(not isinstance(r.get("model_response"), str) for r in records):
        raise UserError(f"{path} has a record without a model_response")
    return records


# ---------------------------------------------------------------------------------------------
# The task and the recipe (section 7.6)


def instruction_task(train_loader: DataLoader, val_loader: DataLoader, sample_entry: dict[str, str] | None = None,
                     sample_tokens: int = 35) -> Task:
    """The instruction loss, training and validation losses for evaluations, and (with
    `sample_entry`) the model's answer to it after each epoch, as the book prints."""
    if len(train_loader) == 0 or len(val_loader) == 0:
        raise UserError("the training and validation loaders need at least one batch each")

    def evaluate(model: nn.Module, eval_iter: int) -> dict[str, float]:
        return {"train_loss": calc_loss_loader(train_loader, model, eval_iter, calc_loss_batch),
                "val_loss": calc_loss_loader(val_loader, model, eval_iter, calc_loss_batch)}

    def sample(model: nn.Module) -> str:
        return generate_response(model, sample_entry, sample_tokens)

    return Task(calc_loss_batch=calc_loss_batch, evaluate=evaluate, sample=sample if sample_entry else None,
                eval_event=EvalEvent)


@dataclass(frozen=True)
class InstructRecipe:
    """How to fine-tune: loop settings, batch size, longest batch width, the exercise 7.2 mask, an
    optional LoRA (rank, alpha), the model built when there is no base model, and response length."""

    settings: TrainSettings
    batch_size: int = 8
    allowed_max_length: int = 1024
    mask_instruction: bool = False
    lora: tuple[int, float] | None = None
    model: dict[str, Any] | None = None
    max_new_tokens: int = MAX_NEW_TOKENS

    def __post_init__(self) -> None:
        for name in ("batch_size", "allowed_max_length", "max_new_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"{name} must be a whole number of at least 1, got {value!r}")
        if not isinstance(self.mask_instruction, bool):
            raise UserError(f"mask_instruction must be true or false, got {self.mask_instruction!r}")
        if self.lora is not None and (not isinstance(self.lora, tuple) or len(self.lora) != 2):
            raise UserError(f"lora must be (rank, alpha) or None, got {self.lora!r}")


# The book's recipe for pretrained GPT-2 (section 7.6): AdamW 5e-5, weight decay 0.1, 2 epochs, batch 8.
BOOK_RECIPE = InstructRecipe(TrainSettings(epochs=2, lr=5e-5, weight_decay=0.1, eval_freq=5, eval_iter=5))

# From random weights a small GPT learns the prompt format and the look of an answer, not facts:
# a higher learning rate with warm-up and decay, more epochs and shorter responses.
SCRATCH_RECIPE = InstructRecipe(
    TrainSettings(epochs=5, lr=1e-3, weight_decay=0.1, eval_freq=20, eval_iter=5, warmup_steps=20, min_lr=1e-4,
                  grad_clip=1.0),
    model={"emb_dim": 128, "n_heads": 4, "n_layers": 2, "context_length": 256, "drop_rate": 0.1,
           "qkv_bias": False, "tie_weights": False},
    max_new_tokens=64,
)


def lora_available() -> bool:
    """Whether this version has LoRA (`core.gpt.lora`, appendix E)."""
    return importlib.util.find_spec("core.gpt.lora") is not None


def _add_lora(model: nn.Module, lora: tuple[int, float]) -> int:
    if not lora_available():
        raise Unavailable("LoRA (core.gpt.lora) is not part of this version of the app; fine-tune without it")
    from core.gpt.lora import replace_linear_with_lora

    return replace_linear_with_lora(model, *lora)


def _merge_lora(model: nn.Module) -> None:
    from core.gpt.lora import merge_lora

    merge_lora(model)


def scratch_model(recipe: InstructRecipe = SCRATCH_RECIPE, seed: int = 123) -> GPTModel:
    """A randomly initialised GPT of `recipe.model`'s size with GPT-2's vocabulary."""
    if recipe.model is None:
        raise UserError("the recipe has no model size to build from scratch")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return GPTModel({"vocab_size": GPT2_VOCAB_SIZE, **recipe.model})


# ---------------------------------------------------------------------------------------------
# A whole run


@dataclass(frozen=True)
class ResponsesEvent:
    """Test-set responses written so far, after training."""

    done: int
    total: int


def instruct_dir() -> Path:
    """Where instruction-tuned runs live: apart from pretraining runs, so none is taken for the Pretraining page's."""
    return runs_dir() / "instruct"


def list_instruct_runs(root: Path | None = None) -> list:
    from core.gpt.checkpoint import list_runs

    return [run for run in list_runs(root or instruct_dir()) if run.settings.get("kind") == CHECKPOINT_KIND]


def instruct_run(
    records: Sequence[dict[str, str]],
    base: GPTModel | None = None,
    recipe: InstructRecipe | None = None,
    *,
    base_name: str = "scratch",
    seed: int = 123,
    stop: threading.Event | None = None,
    runs_root: Path | None = None,
    resume_from: Path | str | None = None,
) -> Iterator[Event | ResponsesEvent]:
    """Split `records` 85/5/10, fine-tune `base` (or a model from scratch, or the run `resume_from`),
    save it under `runs_root` (default `instruct_dir()`), then write the test set's responses.

    Yields a StartEvent, the loop's events, ResponsesEvents while answering the test set (skipped
    when stopped) and the DoneEvent naming the run folder. With `recipe.lora` the base is frozen and
    adapters trained; they are merged into the saved model (so a resumed LoRA run starts new ones).
    """
    recipe = recipe or (BOOK_RECIPE if base is not None or resume_from is not None else SCRATCH_RECIPE)
    settings = replace(recipe.settings, seed=seed)
    records = validate_records(list(records))
    splits = split_records(records)
    if not splits.test:
        raise UserError(f"{len(records)} records are too few: the test set (10 %) would be empty")
    previous = read_checkpoint(resume_from) if resume_from is not None else None
    if previous is not None:
        model, _ = load_model(previous.path)
    else:
        model = base if base is not None else scratch_model(recipe, seed)
    if model.cfg["vocab_size"] < GPT2_VOCAB_SIZE:
        raise UserError(f"instruction fine-tuning needs GPT-2's {GPT2_VOCAB_SIZE:,}-token vocabulary; "
                        f"this model has {model.cfg['vocab_size']:,}")
    width = min(recipe.allowed_max_length, model.cfg["context_length"])
    loaders = create_instruction_loaders(splits, recipe.batch_size, width, recipe.mask_instruction, seed)
    trainable = _add_lora(model, recipe.lora) if recipe.lora else sum(p.numel() for p in model.parameters())
    optimizer = make_optimizer(model, settings)
    start = Progress()
    history: list[dict[str, Any]] = []
    if previous is not None:
        history = list(previous.history)
        start = Progress(**{k: int(previous.progress.get(k, 0)) for k in ("step", "epoch", "tokens_seen")})
        if previous.has_optimizer and not recipe.lora:
            load_optimizer(previous, model, optimizer)
    run_dir = run_path(new_run_id(), runs_root or instruct_dir())
    record = {
        "kind": CHECKPOINT_KIND,
        "base": previous.settings.get("base", base_name) if previous else base_name,
        "batch_size": recipe.batch_size,
        "allowed_max_length": width,
        "mask_instruction": recipe.mask_instruction,
        "lora": list(recipe.lora) if recipe.lora else None,
        "trainable_parameters": trainable,
        "split_sizes": [len(splits.train), len(splits.val), len(splits.test)],
        "max_new_tokens": recipe.max_new_tokens,
        **asdict(settings),
    }
    tokens = [sum(len(e.ids) for e in loader.dataset.examples) for loader in (loaders.train, loaders.val)]
    yield StartEvent(run_dir.name, model.cfg, tokens[0], tokens[1], len(loaders.train),
                     settings.epochs * len(loaders.train), previous.run_id if previous else None)
    task = instruction_task(loaders.train, loaders.val, splits.val[0], min(35, recipe.max_new_tokens))
    for event in train(model, loaders.train, task, settings, stop, optimizer=optimizer, start=start):
        history.append(to_dict(event))
        if isinstance(event, DoneEvent):
            if recipe.lora:
                _merge_lora(model)
            save_checkpoint(
                run_dir, model, status=event.reason, history=history, settings=record,
                progress={"step": event.step, "epoch": event.epoch, "tokens_seen": event.tokens_seen},
                optimizer=None if recipe.lora else optimizer,
                resumed_from=previous.run_id if previous else None,
            )
            if event.reason == "finished":
                yield from answer_test_set(model, splits.test, run_dir, recipe.max_new_tokens, stop)
            event = replace(event, checkpoint=str(run_dir))
        yield event


def answer_test_set(model: nn.Module, test: Sequence[dict[str, str]], run_dir: Path,
                    max_new_tokens: int = MAX_NEW_TOKENS, stop: threading.Event | None = None
                    ) -> Iterator[ResponsesEvent]:
    """Generate (greedily) and save a response to every test record; stopping saves those done so far."""
    answered = []
    with inference(model):
        for entry in test:
            if stop is not None and stop.is_set() and answered:
                break
            answered.append({**entry, "model_response": generate_response(model, entry, max_new_tokens)})
            yield ResponsesEvent(len(answered), len(test))
    save_responses(run_dir, answered)
