"""Pretraining a GPT on unlabeled text (book chapter 5), as a task of the one training loop.

`pretraining_task` gives `core.gpt.train.train` the next-token loss (with the fast path's fused
output head and cross-entropy, `core.gpt.fastpath.head_cross_entropy`), the training and
validation losses for evaluations and an optional greedy sample after each epoch.
`pretrain_run` wraps the loop with everything a run needs: tokenizing the corpus, the loaders,
a new or resumed model, and a checkpoint when it finishes or is stopped.

    python -m core.gpt.pretrain --corpus FILE --preset tiny --epochs 10
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
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
from core.gpt.data import CorpusError, GPTDataset, TextTooShortError, create_dataloader, split_token_ids
from core.gpt.device import DEVICES, resolve_device
from core.gpt.distributed import BatchLoss, EpochSampler, Ranks, SharedStop, current_ranks, init_from_env, shutdown
from core.gpt.events import DoneEvent, EvalEvent, Event, SampleEvent, StartEvent, StepEvent, to_dict
from core.gpt.fastpath import head_cross_entropy, heap_for_large_tensors
from core.gpt.generate import generate, generate_text
from core.gpt.model import GPTModel
from core.gpt.train import Progress, Task, TrainingDiverged, TrainSettings, make_optimizer, train
from core.gpt.vocab import compact_id_map, gpt2_ids, load_id_map, save_id_map, vocab_size_of
from core.paths import TINY_SHAKESPEARE_FILE, VERDICT_FILE, cache_dir, data_dir, find_data_file, tiktoken_environment

BOOK_PROMPT = "Every effort moves you"  # the book's start context for samples (section 5.2)
MAX_CORPUS_BYTES = 100 * 1024 * 1024


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


# Texts the command line knows by name: where they live in the data folder or download cache, and
# where to get them (the app downloads them itself, `core.app.corpora`).
NAMED_CORPORA = {
    "tinyshakespeare": (TINY_SHAKESPEARE_FILE,
                        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"),
    "the-verdict": (VERDICT_FILE, "https://raw.githubusercontent.com/rasbt/LLMs-from-scratch/main/ch02/"
                    "01_main-chapter-code/the-verdict.txt"),
}


def corpus_from_arg(value: str) -> str:
    """The text of a corpus named on the command line: a name from `NAMED_CORPORA` or a file path."""
    if value not in NAMED_CORPORA:
        return read_corpus(value)
    relative, url = NAMED_CORPORA[value]
    path = find_data_file(relative)
    if path is None:
        raise CorpusError(
            f"{value} is not in the data folder ({data_dir() / relative}) or the download cache "
            f"({cache_dir() / relative}). Download it from {url} to one of them, open it once in the app's "
            "Pretraining page (which downloads it), or set LLM_JOURNAL_DATA_DIR."
        )
    return read_corpus(path)


def calc_loss_batch(input_batch: torch.Tensor, target_batch: torch.Tensor, model: GPTModel) -> torch.Tensor:
    """Mean cross-entropy of the model's next-token predictions for one batch (section 5.1.2):
    `F.cross_entropy(model(input_batch).flatten(0, 1), target_batch.flatten())`, computed by the
    fused head loss without holding every token's 50,257 scores at once."""
    if target_batch.shape != input_batch.shape:
        raise UserError(
            f"targets {tuple(target_batch.shape)} must have the inputs' shape {tuple(input_batch.shape)}"
        )
    device = next(model.parameters()).device
    hidden = model.hidden_states(input_batch.to(device))
    return head_cross_entropy(hidden.flatten(0, 1), model.out_head.weight, target_batch.to(device).flatten())


def calc_loss_loader(
    loader: DataLoader,
    model: nn.Module,
    num_batches: int | None = None,
    batch_loss: Callable[[torch.Tensor, torch.Tensor, nn.Module], torch.Tensor] | None = None,
) -> float:
    """Average batch loss over the first `num_batches` batches of `loader` (all by default).

    `batch_loss` is the task's own `calc_loss_batch` (chapter 7's masks its targets); pretraining's by default.
    """
    if len(loader) == 0:
        raise UserError("the data loader has no batches: the text is shorter than one window")
    batch_loss = batch_loss or calc_loss_batch
    num_batches = len(loader) if num_batches is None else min(num_batches, len(loader))
    total = 0.0
    for i, (inputs, targets) in enumerate(loader):
        if i == num_batches:
            break
        total += batch_loss(inputs, targets, model).item()
    return total / num_batches


def pretraining_task(
    train_loader: DataLoader,
    val_loader: DataLoader,
    sample: Callable[[GPTModel], str] | None = None,
    loss: Callable[[torch.Tensor, torch.Tensor, GPTModel], torch.Tensor] = calc_loss_batch,
) -> Task:
    """Next-token prediction: the loss of a batch (`loss`, by default `calc_loss_batch`), training
    and validation losses over `eval_iter` batches each for evaluations, and `sample` (text the
    model writes) after each epoch."""
    if len(train_loader) == 0 or len(val_loader) == 0:
        raise UserError("the training and validation loaders need at least one batch each")

    def evaluate(model: GPTModel, eval_iter: int) -> dict[str, float]:
        return {
            "train_loss": calc_loss_loader(train_loader, model, eval_iter),
            "val_loss": calc_loss_loader(val_loader, model, eval_iter),
        }

    return Task(calc_loss_batch=loss, evaluate=evaluate, sample=sample, eval_event=EvalEvent)


# ---------------------------------------------------------------------------------------------
# A whole run: corpus text in, events out, checkpoint saved


def model_config(preset: str | dict[str, Any], context_length: int | None = None) -> dict[str, Any]:
    """A preset's config (by name, or a config dict) with an optional context length."""
    overrides = {} if context_length is None else {"context_length": context_length}
    if isinstance(preset, str):
        return get_preset(preset, **overrides)
    return validate_config({**preset, **overrides})


def make_loaders(
    token_ids: Sequence[int],
    context_length: int,
    batch_size: int,
    train_ratio: float = 0.9,
    seed: int = 123,
    ranks: Ranks | None = None,
    epoch: int = 0,
) -> tuple[DataLoader, DataLoader]:
    """Training (shuffled) and validation loaders over a train/validation split, as in section 5.1.3.

    The training loader reshuffles each epoch (seed + epoch, starting from `epoch`) and, with
    several processes, gives each its share (`ranks`); every process sees the whole validation data."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise UserError(f"batch_size must be at least 1, got {batch_size!r}")
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
    dataset = GPTDataset(train_ids, context_length, context_length)
    sampler = EpochSampler(dataset, ranks or Ranks(), seed, epoch)
    # Never drop the only (partial) batch: a tiny corpus would otherwise give an empty loader.
    train_loader = DataLoader(dataset, batch_size, sampler=sampler, drop_last=sampler.num_samples >= batch_size)
    val_loader = create_dataloader(val_ids, batch_size, context_length, context_length, shuffle=False, drop_last=False)
    return train_loader, val_loader


def pretrain_run(
    corpus: str,
    preset: str | dict[str, Any] = "tiny",
    settings: TrainSettings | None = None,
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
    compact_vocab: bool = False,
) -> Iterator[Event]:
    """Pretrain on `corpus` and save a checkpoint in `runs_root/<new run id>/` when done or stopped.

    Yields a StartEvent, then `train`'s events; the final DoneEvent carries the checkpoint folder.
    `resume_from` (a run folder) continues that run's model, optimizer state and history in a new
    run folder; its config wins over `preset` and `context_length`. `settings` default to the book's.
    `compact_vocab` embeds and scores only the GPT-2 tokens the corpus uses (`core.gpt.vocab`): a
    smaller, faster model whose losses compare only with runs on the same vocabulary; its id map
    is saved in the run folder (`vocab.safetensors`). A resumed run keeps its own vocabulary.
    """
    from core.gpt.tokenizers import encode

    settings = settings or TrainSettings()
    previous = read_checkpoint(resume_from) if resume_from is not None else None
    if previous is not None:
        cfg = previous.config
        if context_length not in (None, cfg["context_length"]):
            raise UserError(f"a resumed run keeps its context length {cfg['context_length']}; got {context_length}")
    else:
        cfg = model_config(preset, context_length)
    if not corpus.strip():
        raise UserError("the corpus is empty: give some text to train on")
    ranks = current_ranks()
    device = _run_device(settings.device, ranks)
    start = Progress()
    if previous is not None:
        start = Progress(**{k: int(previous.progress.get(k, 0)) for k in ("step", "epoch", "tokens_seen")})
    token_ids = encode(corpus, allow_special=True)
    if previous is not None:
        id_map = load_id_map(previous.path, cfg["vocab_size"])
    else:
        id_map = compact_id_map([token_ids], pad_id=None) if compact_vocab else None
        if id_map is not None:
            cfg = {**cfg, "vocab_size": vocab_size_of(id_map)}
    if id_map is not None:
        token_ids = id_map[torch.tensor(token_ids, dtype=torch.long)].tolist()
    train_loader, val_loader = make_loaders(
        token_ids, cfg["context_length"], batch_size, train_ratio, settings.seed, ranks, start.epoch
    )

    torch.manual_seed(settings.seed)
    if previous is None:
        model = GPTModel(cfg).to(device)
        history: list[dict[str, Any]] = []
    else:
        model, _ = load_model(previous.path, device)  # safetensors read on the CPU, copied to `device`
        history = list(previous.history)
    optimizer = make_optimizer(model, settings)
    if previous is not None and previous.has_optimizer:
        load_optimizer(previous, model, optimizer)

    preset_name = preset if isinstance(preset, str) else "custom"
    run_id = new_run_id()
    run_dir = run_path(run_id, runs_root)
    record = {
        "preset": previous.settings.get("preset", "custom") if previous else preset_name,
        "batch_size": batch_size,
        "context_length": cfg["context_length"],
        "train_ratio": train_ratio,
        "corpus_tokens": len(token_ids),
        "corpus_sha256": hashlib.sha256(corpus.encode("utf-8", "surrogatepass")).hexdigest(),
        "compact_vocab": id_map is not None,
        **asdict(settings),
    }
    yield StartEvent(
        run_id, cfg, train_loader.dataset.input_ids.numel(), val_loader.dataset.input_ids.numel(),
        len(train_loader), settings.epochs * len(train_loader), previous.run_id if previous else None,
    )

    def sample(m: GPTModel) -> str:
        if id_map is None:
            return sample_prompt + generate_text(m, sample_prompt, sample_tokens)
        return sample_prompt + generate_compact_text(m, id_map, sample_prompt, sample_tokens)

    loss = calc_loss_batch
    if ranks.world_size > 1:
        ddp = DistributedDataParallel(BatchLoss(model, calc_loss_batch), device_ids=_device_ids(device))

        def loss(inputs: torch.Tensor, targets: torch.Tensor, _model: GPTModel) -> torch.Tensor:
            return ddp(inputs, targets)

        stop = SharedStop(stop, device)
    task = pretraining_task(train_loader, val_loader, sample if sample_prompt and ranks.is_main else None, loss)
    for event in train(model, train_loader, task, settings, stop, optimizer=optimizer, start=start):
        history.append(to_dict(event))
        if isinstance(event, DoneEvent) and ranks.is_main:
            if id_map is not None:
                save_id_map(run_dir, id_map)  # before checkpoint.json, which makes the run visible
            save_checkpoint(
                run_dir, model, status=event.reason, history=history, settings=record,
                progress={"step": event.step, "epoch": event.epoch, "tokens_seen": event.tokens_seen},
                optimizer=optimizer if save_optimizer else None,
                resumed_from=previous.run_id if previous else None,
            )
            event = replace(event, checkpoint=str(run_dir))
        yield event


def _run_device(choice: str, ranks: Ranks) -> torch.device:
    device = resolve_device(choice)
    if device.type == "cuda" and ranks.world_size > 1:
        return torch.device("cuda", torch.cuda.current_device())  # the GPU init_from_env gave this process
    return device


def _device_ids(device: torch.device) -> list[int] | None:
    return [device.index] if device.type == "cuda" else None


def generate_compact_text(model: GPTModel, id_map: torch.Tensor, prompt: str, max_new_tokens: int,
                          **sampling: Any) -> str:
    """`generate_text` for a model with a compact vocabulary: the prompt's GPT-2 IDs go in through
    `id_map`, the sampled compact IDs come back out as GPT-2 IDs for the GPT-2 decoder."""
    from core.gpt.tokenizers import decode, encode

    if not prompt:
        raise UserError("the prompt is empty: type at least one character")
    ids = id_map[torch.tensor([encode(prompt, allow_special=True)], dtype=torch.long)]
    out = generate(model, ids, max_new_tokens, **sampling)
    return decode(gpt2_ids(id_map)[out[0, ids.shape[1]:]].tolist())


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
        return (
            f"Ep {event.epoch} (Step {event.step:06d}): loss {event.train_loss:.3f}, lr {event.lr:.2e}, "
            f"{event.tokens_per_s:,.0f} tokens/s"
        )
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
    p = argparse.ArgumentParser(
        prog="python -m core.gpt.pretrain", description="Pretrain a GPT on a text file (book chapter 5)."
    )
    p.add_argument("--corpus", required=True,
                   help=f"UTF-8 text file to train on, or a named corpus: {', '.join(NAMED_CORPORA)}")
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
    p.add_argument("--device", choices=DEVICES, default=defaults.device,
                   help="where to train: auto (CUDA, then Apple MPS, then CPU), cpu, cuda or mps")
    p.add_argument("--no-bf16", action="store_true", help="keep every product in float32")
    p.add_argument("--sample-prompt", default=BOOK_PROMPT,
                   help="start text of the sample after each epoch ('' for none)")
    p.add_argument("--runs-dir", type=Path, help="folder for run folders (default: the app's runs folder)")
    p.add_argument("--resume", type=Path, help="run folder to continue training from")
    p.add_argument("--compact-vocab", action="store_true",
                   help="embed and score only the GPT-2 tokens the corpus uses (smaller and faster)")
    p.add_argument("--no-optimizer-state", action="store_true",
                   help="save only the weights (smaller; cannot resume exactly)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for bad input, 1 when another process failed).

    Under torchrun (WORLD_SIZE > 1) every process trains its share; only rank 0 prints and saves.
    """
    from tqdm import tqdm

    from core.gpt.tokenizers import TokenizerUnavailable

    args = build_parser().parse_args(argv)
    os.environ.update(tiktoken_environment())  # an entry point: the one place the offline vocabulary is set up
    stop = threading.Event()

    def on_interrupt(signum: int, frame: Any) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a second Ctrl-C quits at once
        tqdm.write("stopping after this step and saving a checkpoint (Ctrl-C again to quit without saving)")

    on_main_thread = threading.current_thread() is threading.main_thread()
    previous_handler = signal.signal(signal.SIGINT, on_interrupt) if on_main_thread else None
    bar = None
    ranks = Ranks()
    try:
        settings = TrainSettings(
            epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay, eval_freq=args.eval_freq,
            eval_iter=args.eval_iter, warmup_steps=args.warmup_steps, min_lr=args.min_lr,
            grad_clip=args.grad_clip, seed=args.seed, bf16=not args.no_bf16, device=args.device,
        )
        corpus = corpus_from_arg(args.corpus)
        device = init_from_env(settings.device)
        ranks = current_ranks()
        events = pretrain_run(
            corpus, args.preset, settings, batch_size=args.batch_size,
            context_length=args.context_length, resume_from=args.resume, stop=stop, runs_root=args.runs_dir,
            sample_prompt=args.sample_prompt or None, save_optimizer=not args.no_optimizer_state,
            compact_vocab=args.compact_vocab,
        )
        # A process-wide malloc policy for CPU tensors: this process only trains.
        heap = heap_for_large_tensors() if device.type == "cpu" else contextlib.nullcontext()
        with heap:
            for event in events:
                if not ranks.is_main:
                    continue
                if isinstance(event, StartEvent):
                    print(format_event(event) + f" on {device}" + (
                        f" x {ranks.world_size} processes" if ranks.world_size > 1 else ""))
                    bar = tqdm(total=event.total_steps, unit="step", dynamic_ncols=True)
                elif isinstance(event, StepEvent):
                    bar.update(1)
                    bar.set_postfix(loss=f"{event.train_loss:.3f}", tok_s=f"{event.tokens_per_s:,.0f}")
                else:
                    tqdm.write(format_event(event))
    except (ValueError, TrainingDiverged, TokenizerUnavailable) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except dist.DistBackendError as err:  # another process died or timed out: end instead of hanging
        print(f"error (process {ranks.rank} of {ranks.world_size}): another training process stopped "
              f"responding, so this one ends too; no checkpoint was written by this run. ({err})", file=sys.stderr)
        return 1
    finally:
        if bar is not None:
            bar.close()
        if previous_handler is not None:
            signal.signal(signal.SIGINT, previous_handler)
        shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
