"""Pretraining a GPT on unlabeled text (book chapter 5, with appendix D's training extras).

`train` is the one training loop: a generator of typed events (steps, evaluations, samples,
done) that the command line, the app and the benchmark all consume, and that checks a stop
flag between steps. `pretrain_run` wraps it with everything a run needs: tokenizing the corpus,
the loaders, a new or resumed model, and a checkpoint when it finishes or is stopped.

    python -m core.gpt.train --corpus FILE --preset tiny --epochs 10
"""

from __future__ import annotations

import argparse
import hashlib
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Union

import torch
from torch.utils.data import DataLoader

from core.errors import UserError
from core.gpt.checkpoint import (
    load_model,
    load_optimizer,
    new_run_id,
    read_checkpoint,
    run_path,
    save_checkpoint,
)
from core.gpt.config import get_preset, validate_config
from core.gpt.data import TextTooShortError, create_dataloader, split_token_ids
from core.gpt.fastpath import autocast_context, large_tensors_on_heap, make_adamw
from core.gpt.generate import generate_text, inference
from core.gpt.model import GPTModel

BOOK_PROMPT = "Every effort moves you"  # the book's start context for samples (section 5.2)
MAX_CORPUS_BYTES = 100 * 1024 * 1024


class CorpusError(UserError):
    """A corpus file that cannot be used: missing, unreadable, empty or not UTF-8 text."""


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


# ---------------------------------------------------------------------------------------------
# Corpus and losses (sections 5.1.2-5.1.3)


def read_corpus(path: str | Path, max_bytes: int = MAX_CORPUS_BYTES) -> str:
    """The text of a UTF-8 corpus file; a clear `CorpusError` names the file and any bad byte."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise CorpusError(f"{path} has {size:,} bytes; the limit is {max_bytes:,}")
        data = path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"corpus file {path} does not exist") from None
    except OSError as err:
        raise CorpusError(f"cannot read corpus file {path}: {err.strerror or err}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"{path} is not UTF-8 text: byte {err.start:,} is 0x{data[err.start]:02x} ({err.reason}). "
            "Save the file as UTF-8 and try again."
        ) from None
    if not text.strip():
        raise CorpusError(f"corpus file {path} has no text")
    return text


def calc_loss_batch(input_batch: torch.Tensor, target_batch: torch.Tensor, model: GPTModel) -> torch.Tensor:
    """Mean cross-entropy of the model's next-token predictions for one batch."""
    device = next(model.parameters()).device
    return model.loss(input_batch.to(device), target_batch.to(device))


def calc_loss_loader(loader: DataLoader, model: GPTModel, num_batches: int | None = None) -> float:
    """Average batch loss over the first `num_batches` batches of `loader` (all by default)."""
    if len(loader) == 0:
        raise UserError("the data loader has no batches: the text is shorter than one window")
    num_batches = len(loader) if num_batches is None else min(num_batches, len(loader))
    total = 0.0
    for i, (inputs, targets) in enumerate(loader):
        if i == num_batches:
            break
        total += calc_loss_batch(inputs, targets, model).item()
    return total / num_batches


def perplexity(loss: float) -> float:
    """exp(loss): how many tokens the model is, in effect, choosing among (section 5.1.2)."""
    return math.exp(loss) if loss < 700 else math.inf


# ---------------------------------------------------------------------------------------------
# Settings and events


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class TrainSettings:
    """Knobs of the training loop; defaults are the book's chapter 5 run."""

    epochs: int = 10
    lr: float = 4e-4
    weight_decay: float = 0.1
    eval_freq: int = 5  # evaluate after the first step and every eval_freq steps
    eval_iter: int = 5  # batches per evaluation
    warmup_steps: int = 0  # linear warm-up to lr (appendix D.1)
    min_lr: float | None = None  # cosine decay to min_lr after the warm-up when set (D.2)
    grad_clip: float | None = None  # clip the gradient norm to this (D.3)
    seed: int = 123
    bf16: bool = True  # bf16 autocast where the CPU computes it natively (core.gpt.fastpath); False: all fp32

    def __post_init__(self) -> None:
        _check(_is_int(self.epochs) and self.epochs >= 1, f"epochs must be at least 1, got {self.epochs!r}: with 0 epochs nothing is trained")
        _check(_is_number(self.lr) and 0 < self.lr <= 1, f"lr (learning rate) must be in (0, 1], got {self.lr!r}")
        _check(_is_number(self.weight_decay) and self.weight_decay >= 0, f"weight_decay must be >= 0, got {self.weight_decay!r}")
        _check(_is_int(self.eval_freq) and self.eval_freq >= 1, f"eval_freq must be at least 1, got {self.eval_freq!r}")
        _check(_is_int(self.eval_iter) and self.eval_iter >= 1, f"eval_iter must be at least 1, got {self.eval_iter!r}")
        _check(_is_int(self.warmup_steps) and self.warmup_steps >= 0, f"warmup_steps must be >= 0, got {self.warmup_steps!r}")
        _check(
            self.min_lr is None or (_is_number(self.min_lr) and 0 <= self.min_lr <= self.lr),
            f"min_lr must be between 0 and lr ({self.lr}), got {self.min_lr!r}",
        )
        _check(
            self.grad_clip is None or (_is_number(self.grad_clip) and self.grad_clip > 0),
            f"grad_clip must be positive, got {self.grad_clip!r}",
        )
        _check(_is_int(self.seed), f"seed must be a whole number, got {self.seed!r}")
        _check(isinstance(self.bf16, bool), f"bf16 must be true or false, got {self.bf16!r}")


@dataclass(frozen=True)
class Progress:
    """Where a run starts counting: 0 for a new run, the checkpoint's totals when resuming."""

    step: int = 0
    epoch: int = 0
    tokens_seen: int = 0


@dataclass(frozen=True)
class StartEvent:
    """A run is set up and about to take its first step."""

    run_id: str
    config: dict[str, Any]
    train_tokens: int
    val_tokens: int
    steps_per_epoch: int
    total_steps: int  # steps this run takes (not counting a resumed run's earlier ones)
    resumed_from: str | None


@dataclass(frozen=True)
class StepEvent:
    """One optimizer step: `train_loss` is this batch's loss."""

    step: int
    epoch: int
    tokens_seen: int
    train_loss: float
    lr: float
    tokens_per_s: float
    elapsed: float


@dataclass(frozen=True)
class EvalEvent:
    """Average losses over `eval_iter` batches of the training and validation data."""

    step: int
    epoch: int
    tokens_seen: int
    train_loss: float
    val_loss: float

    @property
    def train_perplexity(self) -> float:
        return perplexity(self.train_loss)

    @property
    def val_perplexity(self) -> float:
        return perplexity(self.val_loss)

    perplexity = val_perplexity


@dataclass(frozen=True)
class SampleEvent:
    """Text the model writes after an epoch (greedy, from the sample prompt)."""

    epoch: int
    step: int
    text: str


@dataclass(frozen=True)
class DoneEvent:
    """The loop ended: "finished" all epochs or "stopped" on request; `checkpoint` is the run folder."""

    reason: str
    step: int
    epoch: int
    tokens_seen: int
    elapsed: float
    checkpoint: str | None = None


Event = Union[StartEvent, StepEvent, EvalEvent, SampleEvent, DoneEvent]
EVENT_TYPES: dict[str, type] = {"start": StartEvent, "step": StepEvent, "eval": EvalEvent, "sample": SampleEvent, "done": DoneEvent}


def event_to_dict(event: Event) -> dict[str, Any]:
    """A JSON-ready dict with a "type" key."""
    kind = next(name for name, cls in EVENT_TYPES.items() if isinstance(event, cls))
    return {"type": kind, **asdict(event)}


def event_from_dict(data: dict[str, Any]) -> Event:
    """The event `event_to_dict` made (a checkpoint's history); ValueError when it is not one."""
    cls = EVENT_TYPES.get(data.get("type")) if isinstance(data, dict) else None
    if cls is None:
        raise UserError(f"not a training event: {data!r:.80}")
    try:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
    except TypeError as err:
        raise UserError(f"not a valid {data['type']} event: {err}") from None


# ---------------------------------------------------------------------------------------------
# The loop (section 5.2; appendix D)


def learning_rate(settings: TrainSettings, step: int, total_steps: int) -> float:
    """Learning rate for 0-based `step` of `total_steps`: linear warm-up, then constant or cosine decay."""
    if step < settings.warmup_steps:
        return settings.lr * (step + 1) / settings.warmup_steps
    if settings.min_lr is None:
        return settings.lr
    done = (step - settings.warmup_steps) / max(1, total_steps - settings.warmup_steps)
    return settings.min_lr + (settings.lr - settings.min_lr) * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))


def make_optimizer(model: GPTModel, settings: TrainSettings) -> torch.optim.AdamW:
    """AdamW with the settings' learning rate and weight decay (section 5.2), fused where possible."""
    return make_adamw(model.parameters(), settings.lr, settings.weight_decay)


def warm_up() -> None:
    """One throwaway training step on a 4x4 layer, so that what torch loads lazily on a first
    optimizer and autocast (its compiler stack: about a second) is loaded before a user presses
    Start. Call it once per process, e.g. when the training page first loads."""
    layer = torch.nn.Linear(4, 4)
    optimizer = make_adamw(layer.parameters(), 1e-3, 0.0)
    with autocast_context(True):
        loss = layer(torch.zeros(2, 4)).sum()
    loss.backward()
    optimizer.step()


def evaluate(
    model: GPTModel, train_loader: DataLoader, val_loader: DataLoader, eval_iter: int, bf16: bool = False
) -> tuple[float, float]:
    """Training and validation loss over `eval_iter` batches each, without dropout or gradients."""
    with inference(model), autocast_context(bf16):
        return calc_loss_loader(train_loader, model, eval_iter), calc_loss_loader(val_loader, model, eval_iter)


@large_tensors_on_heap
def train(
    model: GPTModel,
    train_loader: DataLoader,
    val_loader: DataLoader,
    settings: TrainSettings,
    stop: threading.Event | None = None,
    sample: Callable[[GPTModel], str] | None = None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    start: Progress = Progress(),
) -> Iterator[Event]:
    """Train `model`, yielding a StepEvent per optimizer step, EvalEvents, a SampleEvent per epoch
    (when `sample` is given) and a final DoneEvent. Setting `stop` ends the loop before the next step.

    The global torch RNG is seeded with `settings.seed` (dropout draws from it), so runs on the
    CPU with the same seed, model and loaders repeat exactly.
    """
    steps_per_epoch = len(train_loader)
    if steps_per_epoch == 0 or len(val_loader) == 0:
        raise UserError("the training and validation loaders need at least one batch each")
    total_steps = settings.epochs * steps_per_epoch
    optimizer = optimizer or make_optimizer(model, settings)
    torch.manual_seed(settings.seed)
    step, epoch, tokens_seen = start.step, start.epoch, start.tokens_seen
    run_tokens, train_time, began = 0, 0.0, time.perf_counter()

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    def done(reason: str) -> DoneEvent:
        return DoneEvent(reason, step, epoch, tokens_seen, time.perf_counter() - began)

    model.train()
    for epoch in range(start.epoch + 1, start.epoch + settings.epochs + 1):
        for inputs, targets in train_loader:
            if stopped():
                yield done("stopped")
                return
            tick = time.perf_counter()
            lr = learning_rate(settings, step - start.step, total_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            with autocast_context(settings.bf16):
                loss = calc_loss_batch(inputs, targets, model)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"the training loss became {loss.item()} at step {step + 1}: "
                    "lower the learning rate or turn on gradient clipping"
                )
            loss.backward()
            if settings.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
            optimizer.step()
            step += 1
            tokens_seen += inputs.numel()
            run_tokens += inputs.numel()
            train_time += time.perf_counter() - tick
            yield StepEvent(
                step, epoch, tokens_seen, loss.item(), lr, run_tokens / train_time, time.perf_counter() - began
            )
            run_step = step - start.step
            if (run_step - 1) % settings.eval_freq == 0 or run_step == total_steps:
                train_loss, val_loss = evaluate(model, train_loader, val_loader, settings.eval_iter, settings.bf16)
                yield EvalEvent(step, epoch, tokens_seen, train_loss, val_loss)
        if sample is not None and not stopped():
            yield SampleEvent(epoch, step, sample(model))
    yield done("finished")


# ---------------------------------------------------------------------------------------------
# A whole run: corpus text in, events out, checkpoint saved


def model_config(preset: str | dict[str, Any], context_length: int | None = None) -> dict[str, Any]:
    """A preset's config (by name, or a config dict) with an optional context length."""
    overrides = {} if context_length is None else {"context_length": context_length}
    if isinstance(preset, str):
        return get_preset(preset, **overrides)
    return validate_config({**preset, **overrides})


def make_loaders(
    token_ids: Sequence[int], context_length: int, batch_size: int, train_ratio: float = 0.9, seed: int = 123
) -> tuple[DataLoader, DataLoader]:
    """Training (shuffled) and validation loaders over a train/validation split, as in section 5.1.3."""
    _check(_is_int(batch_size) and batch_size >= 1, f"batch_size must be at least 1, got {batch_size!r}")
    train_ids, val_ids = split_token_ids(token_ids, train_ratio)
    needed = context_length + 1
    for part, ids in (("training", train_ids), ("validation", val_ids)):
        if len(ids) < needed:
            share = train_ratio if part == "training" else 1 - train_ratio
            raise TextTooShortError(
                f"the text is too short to train on: it has {len(token_ids):,} tokens, so its {part} part "
                f"({share:.0%}) has {len(ids):,}, but one window needs {needed:,} "
                f"(context length {context_length:,} plus the next token). "
                "Use a longer text or a shorter context length."
            )
    train_loader = create_dataloader(
        train_ids, batch_size, context_length, context_length, shuffle=True, drop_last=True, seed=seed
    )
    val_loader = create_dataloader(val_ids, batch_size, context_length, context_length, shuffle=False, drop_last=False)
    return train_loader, val_loader


def pretrain_run(
    corpus: str,
    preset: str | dict[str, Any] = "tiny",
    settings: TrainSettings = TrainSettings(),
    *,
    batch_size: int = 2,
    context_length: int | None = None,
    train_ratio: float = 0.9,
    resume_from: str | Path | None = None,
    stop: threading.Event | None = None,
    runs_root: Path | None = None,
    sample_prompt: str | None = BOOK_PROMPT,
    sample_tokens: int = 30,
    save_optimizer: bool = True,
) -> Iterator[Event]:
    """Pretrain on `corpus` and save a checkpoint in `runs_root/<new run id>/` when done or stopped.

    Yields a StartEvent, then `train`'s events; the final DoneEvent carries the checkpoint folder.
    `resume_from` (a run folder) continues that run's model, optimizer state and history in a new
    run folder; its config wins over `preset` and `context_length`.
    """
    from core.gpt.tokenizers import encode

    previous = read_checkpoint(resume_from) if resume_from is not None else None
    if previous is not None:
        cfg = previous.config
        if context_length not in (None, cfg["context_length"]):
            raise UserError(f"a resumed run keeps its context length {cfg['context_length']}; got {context_length}")
    else:
        cfg = model_config(preset, context_length)
    if not corpus.strip():
        raise UserError("the corpus is empty: give some text to train on")
    token_ids = encode(corpus, allow_special=True)
    train_loader, val_loader = make_loaders(token_ids, cfg["context_length"], batch_size, train_ratio, settings.seed)

    torch.manual_seed(settings.seed)
    if previous is None:
        model = GPTModel(cfg)
        optimizer = make_optimizer(model, settings)
        history: list[dict[str, Any]] = []
        start = Progress()
    else:
        model, _ = load_model(previous.path)
        optimizer = make_optimizer(model, settings)
        if previous.has_optimizer:
            load_optimizer(previous, model, optimizer)
        history = list(previous.history)
        start = Progress(**{k: int(previous.progress.get(k, 0)) for k in ("step", "epoch", "tokens_seen")})

    run_id = new_run_id()
    run_dir = run_path(run_id, runs_root)
    record = {
        "preset": previous.settings.get("preset", "custom") if previous else preset if isinstance(preset, str) else "custom",
        "batch_size": batch_size,
        "context_length": cfg["context_length"],
        "train_ratio": train_ratio,
        "corpus_tokens": len(token_ids),
        "corpus_sha256": hashlib.sha256(corpus.encode("utf-8", "surrogatepass")).hexdigest(),
        **asdict(settings),
    }
    yield StartEvent(
        run_id, cfg, train_loader.dataset.input_ids.numel(), val_loader.dataset.input_ids.numel(),
        len(train_loader), settings.epochs * len(train_loader), previous.run_id if previous else None,
    )

    def sample(m: GPTModel) -> str:
        return sample_prompt + generate_text(m, sample_prompt, sample_tokens)

    for event in train(
        model, train_loader, val_loader, settings, stop, sample if sample_prompt else None,
        optimizer=optimizer, start=start,
    ):
        history.append(event_to_dict(event))
        if isinstance(event, DoneEvent):
            save_checkpoint(
                run_dir, model, status=event.reason, history=history, settings=record,
                progress={"step": event.step, "epoch": event.epoch, "tokens_seen": event.tokens_seen},
                optimizer=optimizer if save_optimizer else None,
                resumed_from=previous.run_id if previous else None,
            )
            event = replace(event, checkpoint=str(run_dir))
        yield event


# ---------------------------------------------------------------------------------------------
# Command line


def format_event(event: Event) -> str:
    """One line per event, in the book's style."""
    if isinstance(event, StartEvent):
        return (
            f"run {event.run_id}: {event.train_tokens:,} training / {event.val_tokens:,} validation tokens, "
            f"{event.steps_per_epoch} steps per epoch, {event.total_steps} steps"
            + (f" (resuming {event.resumed_from})" if event.resumed_from else "")
        )
    if isinstance(event, StepEvent):
        return f"Ep {event.epoch} (Step {event.step:06d}): loss {event.train_loss:.3f}, lr {event.lr:.2e}, {event.tokens_per_s:,.0f} tokens/s"
    if isinstance(event, EvalEvent):
        return (
            f"Ep {event.epoch} (Step {event.step:06d}): Train loss {event.train_loss:.3f}, "
            f"Val loss {event.val_loss:.3f} (perplexity {event.val_perplexity:,.1f})"
        )
    if isinstance(event, SampleEvent):
        return f"Ep {event.epoch} sample: " + event.text.replace("\n", " ")
    where = f"; checkpoint saved in {event.checkpoint}" if event.checkpoint else ""
    steps = f"{event.step} step" + ("" if event.step == 1 else "s")
    return f"{event.reason} after {steps}, {event.tokens_seen:,} tokens, {event.elapsed:.1f} s{where}"


def build_parser() -> argparse.ArgumentParser:
    defaults = TrainSettings()
    p = argparse.ArgumentParser(prog="python -m core.gpt.train", description="Pretrain a GPT on a text file (book chapter 5).")
    p.add_argument("--corpus", required=True, type=Path, help="UTF-8 text file to train on")
    p.add_argument("--preset", default="tiny", help="model size: tiny, gpt2-small, ... (default tiny)")
    p.add_argument("--context-length", type=int, help="tokens per training window (default: the preset's)")
    p.add_argument("--epochs", type=int, default=defaults.epochs)
    p.add_argument("--lr", type=float, default=defaults.lr, help="peak learning rate")
    p.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--eval-freq", type=int, default=defaults.eval_freq, help="evaluate every N steps")
    p.add_argument("--eval-iter", type=int, default=defaults.eval_iter, help="batches per evaluation")
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--min-lr", type=float, help="cosine-decay the learning rate to this after warm-up")
    p.add_argument("--grad-clip", type=float, help="clip the gradient norm to this")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--sample-prompt", default=BOOK_PROMPT, help="start text of the sample after each epoch ('' for none)")
    p.add_argument("--runs-dir", type=Path, help="folder for run folders (default: the app's runs folder)")
    p.add_argument("--resume", type=Path, help="run folder to continue training from")
    p.add_argument("--no-optimizer-state", action="store_true", help="save only the weights (smaller; cannot resume exactly)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input)."""
    from tqdm import tqdm

    from core.gpt.tokenizers import TokenizerUnavailable

    args = build_parser().parse_args(argv)
    stop = threading.Event()

    def on_interrupt(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C quits at once
        tqdm.write("stopping after this step and saving a checkpoint (Ctrl-C again to quit without saving)")

    previous_handler = signal.signal(signal.SIGINT, on_interrupt) if threading.current_thread() is threading.main_thread() else None
    bar = None
    try:
        settings = TrainSettings(
            epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay, eval_freq=args.eval_freq,
            eval_iter=args.eval_iter, warmup_steps=args.warmup_steps, min_lr=args.min_lr,
            grad_clip=args.grad_clip, seed=args.seed,
        )
        events = pretrain_run(
            read_corpus(args.corpus), args.preset, settings, batch_size=args.batch_size,
            context_length=args.context_length, resume_from=args.resume, stop=stop, runs_root=args.runs_dir,
            sample_prompt=args.sample_prompt or None, save_optimizer=not args.no_optimizer_state,
        )
        for event in events:
            if isinstance(event, StartEvent):
                print(format_event(event))
                bar = tqdm(total=event.total_steps, unit="step", dynamic_ncols=True)
            elif isinstance(event, StepEvent):
                bar.update(1)
                bar.set_postfix(loss=f"{event.train_loss:.3f}", tok_s=f"{event.tokens_per_s:,.0f}")
            else:
                tqdm.write(format_event(event))
    except (ValueError, TrainingDiverged, TokenizerUnavailable) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
