"""The one training loop (book chapters 5-7, with appendix D's extras), for every kind of training.

`train` is a generator of typed events (`core.gpt.events`): a StepEvent per optimizer step,
evaluations on `evaluation_steps`' schedule, a SampleEvent per epoch and a final DoneEvent, with a
stop flag checked between steps. What differs between pretraining (`core.gpt.pretrain`),
classification fine-tuning (`core.gpt.finetune`) and any later task is a small `Task`: the loss
of a batch, how to evaluate, and optionally how to rewrite a training batch and what to sample.
The loop owns the rest: the optimizer, the warm-up and cosine learning rate, bf16 autocast,
gradient clipping, the divergence check and the events.

Process-wide policies (glibc's heap for large tensors, thread counts) are the callers' to set:
the app's background job and the command line do.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core.errors import UserError
from core.gpt.data import CorpusError  # noqa: F401 (importable here for callers that know it from here)
from core.gpt.device import DEVICES, device_autocast
from core.gpt.events import DoneEvent, EvalEvent, Event, SampleEvent, StepEvent
from core.gpt.fastpath import make_adamw
from core.gpt.generate import inference


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


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
    eval_freq: int = 5  # evaluate before any step, after the first and every eval_freq steps
    eval_iter: int = 5  # batches per evaluation
    warmup_steps: int = 0  # linear warm-up to lr (appendix D.1)
    min_lr: float | None = None  # cosine decay to min_lr after the warm-up when set (D.2)
    grad_clip: float | None = None  # clip the gradient norm to this (D.3)
    seed: int = 123
    bf16: bool = True  # bf16 autocast on CUDA and where the CPU computes it natively; False: all fp32
    device: str = "auto"  # where callers put the model (core.gpt.device): auto (CUDA, MPS, CPU), cpu, cuda, mps

    def __post_init__(self) -> None:
        _check(_is_int(self.epochs) and self.epochs >= 1,
               f"epochs must be at least 1, got {self.epochs!r}: with 0 epochs nothing is trained")
        _check(_is_number(self.lr) and 0 < self.lr <= 1, f"lr (learning rate) must be in (0, 1], got {self.lr!r}")
        _check(_is_number(self.weight_decay) and self.weight_decay >= 0,
               f"weight_decay must be >= 0, got {self.weight_decay!r}")
        _check(_is_int(self.eval_freq) and self.eval_freq >= 1, f"eval_freq must be at least 1, got {self.eval_freq!r}")
        _check(_is_int(self.eval_iter) and self.eval_iter >= 1, f"eval_iter must be at least 1, got {self.eval_iter!r}")
        _check(_is_int(self.warmup_steps) and self.warmup_steps >= 0,
               f"warmup_steps must be >= 0, got {self.warmup_steps!r}")
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
        _check(self.device in DEVICES, f"device must be one of {', '.join(DEVICES)}, got {self.device!r}")


@dataclass(frozen=True)
class Progress:
    """Where a run starts counting: 0 for a new run, the checkpoint's totals when resuming."""

    step: int = 0
    epoch: int = 0
    tokens_seen: int = 0


Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class Task:
    """What one kind of training computes; `train` does everything else.

    - `calc_loss_batch(input_batch, target_batch, model)`: the mean loss of one training batch, a
      scalar tensor with gradients (the book's name and argument order). It runs under the loop's
      autocast; it moves the batch to the model's device itself.
    - `evaluate(model, eval_iter)`: figures over `eval_iter` batches of the training and validation
      data, such as {"train_loss": ..., "val_loss": ...}, the fields of `eval_event` after step,
      epoch and tokens_seen. The loop calls it in evaluation mode, without gradients, under autocast.
    - `augment(input_batch)`: rewrites a training batch's inputs before the loss (e.g. random crops);
      evaluations see the data as it is.
    - `sample(model)`: text to show after each epoch (a SampleEvent), called in evaluation mode.
    - `eval_event`: the event class evaluations become (an `EvalEvent` subclass registered in
      `core.gpt.events` when the figures are not just the two losses).
    """

    calc_loss_batch: Callable[[torch.Tensor, torch.Tensor, nn.Module], torch.Tensor]
    evaluate: Callable[[nn.Module, int], dict[str, float]]
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None
    sample: Callable[[nn.Module], str] | None = None
    eval_event: type[EvalEvent] = EvalEvent


def learning_rate(settings: TrainSettings, step: int, total_steps: int) -> float:
    """Learning rate for 0-based `step` of `total_steps`: linear warm-up, then constant or cosine decay."""
    if step < settings.warmup_steps:
        return settings.lr * (step + 1) / settings.warmup_steps
    if settings.min_lr is None:
        return settings.lr
    done = (step - settings.warmup_steps) / max(1, total_steps - settings.warmup_steps)
    return settings.min_lr + (settings.lr - settings.min_lr) * 0.5 * (1 + math.cos(math.pi * min(1.0, done)))


def evaluation_steps(total_steps: int, eval_freq: int) -> list[int]:
    """The steps of a run after which the loop evaluates: 0 (before any update, the untrained
    model's loss), the first, every `eval_freq`-th after it (1, 1 + eval_freq, ...) and the last,
    so every run starts and ends on a fresh evaluation."""
    if total_steps < 1:
        return []
    return sorted({0, *range(1, total_steps + 1, eval_freq), total_steps})


def make_optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.AdamW:
    """AdamW over the trainable weights, with the settings' learning rate and weight decay
    (section 5.2), fused where possible."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise UserError("every weight is frozen: nothing to train; unfreeze at least one layer")
    return make_adamw(params, settings.lr, settings.weight_decay)


def _trainable(optimizer: torch.optim.Optimizer) -> Iterable[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def train(
    model: nn.Module,
    train_loader: Iterable[Batch],
    task: Task,
    settings: TrainSettings,
    stop: threading.Event | None = None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    start: Progress = Progress(),
) -> Iterator[Event]:
    """Train `model` on `task`, yielding a StepEvent per optimizer step, the task's evaluation
    event on `evaluation_steps`' schedule, a SampleEvent per epoch (when the task samples) and a
    final DoneEvent. Setting `stop` ends the loop before the next step, skipping the evaluation due after this one.

    `optimizer` (default `make_optimizer`) and `start` let a resumed run continue its counts.
    The global torch RNG is seeded with `settings.seed` (dropout draws from it), so runs on the
    CPU with the same seed, model and loaders repeat exactly.
    """
    steps_per_epoch = len(train_loader)
    if steps_per_epoch == 0:
        raise UserError("the training loader has no batches: use more data or a smaller batch size")
    total_steps = settings.epochs * steps_per_epoch
    evaluate_after = set(evaluation_steps(total_steps, settings.eval_freq))
    optimizer = optimizer or make_optimizer(model, settings)
    params = _trainable(optimizer)
    torch.manual_seed(settings.seed)
    step, epoch, tokens_seen = start.step, start.epoch, start.tokens_seen
    run_tokens, train_time, began = 0, 0.0, time.perf_counter()
    device = next(model.parameters()).device

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    def done(reason: str) -> DoneEvent:
        return DoneEvent(reason, step, epoch, tokens_seen, time.perf_counter() - began)

    def evaluation() -> EvalEvent:
        with inference(model), device_autocast(device, settings.bf16):
            figures = task.evaluate(model, settings.eval_iter)
        return task.eval_event(step=step, epoch=epoch, tokens_seen=tokens_seen, **figures)

    if 0 in evaluate_after:
        yield evaluation()
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
            batch = inputs if task.augment is None else task.augment(inputs)
            with device_autocast(device, settings.bf16):
                loss = task.calc_loss_batch(batch, targets, model)
            if not torch.isfinite(loss):
                raise TrainingDiverged(
                    f"the training loss became {loss.item()} at step {step + 1}: "
                    "lower the learning rate or turn on gradient clipping"
                )
            loss.backward()
            if settings.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
            optimizer.step()
            step += 1
            tokens_seen += inputs.numel()
            run_tokens += inputs.numel()
            train_time += time.perf_counter() - tick
            yield StepEvent(
                step, epoch, tokens_seen, loss.item(), lr, run_tokens / train_time, time.perf_counter() - began
            )
            if step - start.step in evaluate_after and not stopped():  # a stop waits for no evaluation
                yield evaluation()
        if not stopped() and task.sample is not None:  # every process asks: a shared stop agrees across them
            with inference(model):
                text = task.sample(model)
            yield SampleEvent(epoch, step, text)
    yield done("finished")
