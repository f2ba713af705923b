"""Reproduce the book's chapter 5 pretraining run and print its loss curve.

"The Verdict" (about 5,100 GPT-2 tokens), 90/10 train/validation split, the GPT-2 small
config at context length 256 (124M-parameter architecture, dropout 0.1, no QKV bias), AdamW
with lr 4e-4 and weight decay 0.1, batch size 2, 10 epochs, evaluation every 5 steps over 5
batches, a greedy sample from "Every effort moves you" after each epoch (section 5.2).
The book's outcome: training loss falls from about 10 to well under 1 while validation loss
stalls around 6-7 (the model memorises a tiny corpus). `--preset tiny` runs a smaller model.

It also times the app's path to its first loss point: `pretrain_run` with the tiny preset on
the journal's own text, from the call to the first StepEvent.

    python benchmarks/chapter5_reproduction.py [--preset gpt2-small|tiny] [--epochs 10]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import ROOT, machine_line, median

from core.gpt.events import DoneEvent, EvalEvent, SampleEvent, StepEvent
from core.gpt.fastpath import bf16_supported, heap_for_large_tensors
from core.gpt.generate import generate_text
from core.gpt.model import GPTModel
from core.gpt.pretrain import (
    BOOK_PROMPT,
    format_event,
    make_loaders,
    model_config,
    pretrain_run,
    pretraining_task,
    read_corpus,
)
from core.gpt.tokenizers import encode
from core.gpt.train import TrainSettings, train
from core.paths import find_data_file


def time_to_first_loss() -> None:
    """Seconds from calling pretrain_run (tiny preset, journal text) to its first StepEvent:
    in a fresh process, then again in the same process, once torch's lazy imports are loaded."""
    journal = "\n\n".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "journal").glob("*.md")))
    for label in ("fresh process", "second run"):
        with tempfile.TemporaryDirectory() as runs:
            start = time.perf_counter()
            events = pretrain_run(journal, "tiny", TrainSettings(epochs=1), runs_root=Path(runs), sample_prompt=None)
            first = next(e for e in events if isinstance(e, StepEvent))
            waited = time.perf_counter() - start
            events.close()
        print(f"app path, {label}: first loss point {waited:.2f} s after pretrain_run "
              f"(tiny preset, journal text of {len(journal):,} characters; loss {first.train_loss:.3f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="gpt2-small")
    parser.add_argument("--context-length", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--fp32", action="store_true",
                        help="train in float32 (default: the app's bf16 fast path where supported)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    path = find_data_file("corpus/the-verdict.txt")
    if path is None:
        sys.exit("needs corpus/the-verdict.txt in the data folder (see ../shared/data/README.md)")
    time_to_first_loss()

    token_ids = encode(read_corpus(path))
    settings = TrainSettings(
        epochs=args.epochs, lr=4e-4, weight_decay=0.1, eval_freq=5, eval_iter=5, seed=123, bf16=not args.fp32
    )
    cfg = model_config(args.preset, args.context_length)
    train_loader, val_loader = make_loaders(token_ids, cfg["context_length"], 2, 0.9, settings.seed)
    torch.manual_seed(settings.seed)
    model = GPTModel(cfg)
    params = sum(p.numel() for p in model.parameters())
    print(f"{path.name}: {len(token_ids):,} tokens; preset {args.preset} ({params / 1e6:.1f} M parameters), "
          f"context {cfg['context_length']}, batch 2, {len(train_loader)} steps per epoch, "
          f"{'bf16 autocast' if settings.bf16 and bf16_supported() else 'float32'}")
    print(machine_line())

    evals, speeds = [], []
    task = pretraining_task(train_loader, val_loader, lambda m: BOOK_PROMPT + generate_text(m, BOOK_PROMPT, 50))
    with heap_for_large_tensors():  # the process-wide memory policy the app's training jobs run under
        for event in train(model, train_loader, task, settings):
            if isinstance(event, StepEvent):
                speeds.append(event.tokens_per_s)
                continue
            if isinstance(event, EvalEvent):
                evals.append(event)
            if isinstance(event, (EvalEvent, SampleEvent, DoneEvent)):
                print(format_event(event), flush=True)

    first, last = evals[0], evals[-1]
    best_val = min(e.val_loss for e in evals)
    print("\nsummary")
    print(f"  training loss   {first.train_loss:6.3f} -> {last.train_loss:6.3f}")
    print(f"  validation loss {first.val_loss:6.3f} -> {last.val_loss:6.3f} (lowest {best_val:.3f})")
    print(f"  training speed  {median(speeds):,.0f} tokens/s (median over steps)")
    print(f"  book's pattern (train well under 1, validation stalling around 6-7): "
          f"{'reproduced' if last.train_loss < 1 and 5.5 <= last.val_loss <= 7.5 else 'not reproduced'}")


if __name__ == "__main__":
    main()
