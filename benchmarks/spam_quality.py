"""Spam-classifier quality from scratch: train, then print accuracy, confusion matrix and time.

The quality target (issue 4): offline, with no pretrained weights, a model trained on a 2-core
CPU within 3 minutes reaches at least 95 % test accuracy on the balanced split (1,045 / 149 /
300 messages, split seed 123). By default this runs the app's from-scratch recipe
(`core.gpt.classifier.SCRATCH_RECIPE`); the options change one thing at a time, so every row of the
README's table of runs is one command line. `--book` runs the book's recipe (last token, last
block trainable, lr 5e-5) on a randomly initialised model of the tiny preset instead.

    python benchmarks/spam_quality.py [--seeds 123 124 125] [--pooling last] [--min-count 0] ...
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import machine_line, table

from core.gpt.config import get_preset
from core.gpt.events import ClassifierEvalEvent, DoneEvent, StartEvent
from core.gpt.fastpath import bf16_supported, heap_for_large_tensors
from core.gpt.finetune import BOOK_RECIPE, SCRATCH_RECIPE, EvaluationEvent, Recipe, finetune_run
from core.gpt.model import GPTModel
from core.gpt.spam_data import LABELS, load_messages


def blocks(value: str) -> int | str:
    return value if value == "all" else int(value)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", help="path of SMSSpamCollection (default: the data folder or the cache)")
    p.add_argument("--seeds", type=int, nargs="+", default=[123], help="training seeds, one run each")
    p.add_argument("--split-seed", type=int, default=123, help="seed of the balanced split (fixed: same test set)")
    p.add_argument("--book", action="store_true", help="the book's recipe on a random tiny-preset model")
    p.add_argument("--pooling", choices=("last", "mean", "max"))
    p.add_argument("--trainable-blocks", type=blocks, help="how many of the last blocks train (a number or 'all')")
    p.add_argument("--min-count", type=int,
                   help="own embedding for tokens seen this often in training; 0: all of GPT-2's")
    p.add_argument("--emb-dim", type=int)
    p.add_argument("--n-layers", type=int)
    p.add_argument("--n-heads", type=int)
    p.add_argument("--dropout", type=float)
    p.add_argument("--epochs", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--crop-prob", type=float, help="share of training messages cut to a random stretch per batch")
    p.add_argument("--crop-min", type=float, help="shortest stretch, as a share of the message")
    p.add_argument("--max-length", type=int,
                   help="pad/truncate to this many tokens (default: longest training message)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's choice, one per core)")
    p.add_argument("--fp32", action="store_true", help="no bf16 autocast even where the CPU has it")
    p.add_argument("--show-errors", action="store_true", help="print the misclassified test messages of the first seed")
    return p


def recipe_from(args: argparse.Namespace) -> Recipe:
    """SCRATCH_RECIPE (or BOOK_RECIPE with --book) with the options given."""
    recipe = BOOK_RECIPE if args.book else SCRATCH_RECIPE
    settings = recipe.settings
    loop = {"epochs": args.epochs, "lr": args.lr, "weight_decay": args.weight_decay}
    settings = dataclasses.replace(settings, **{k: v for k, v in loop.items() if v is not None}, bf16=not args.fp32)
    if settings.min_lr is not None:
        settings = dataclasses.replace(settings, min_lr=min(settings.min_lr, settings.lr))
    model = None
    if recipe.model is not None:
        sizes = {"emb_dim": args.emb_dim, "n_layers": args.n_layers, "n_heads": args.n_heads, "drop_rate": args.dropout}
        model = {**recipe.model, **{k: v for k, v in sizes.items() if v is not None}}
    chosen = {
        "pooling": args.pooling, "min_count": args.min_count, "batch_size": args.batch_size,
        "max_length": args.max_length, "crop_prob": args.crop_prob, "crop_min": args.crop_min,
        "trainable_blocks": args.trainable_blocks,
    }
    given = {k: v for k, v in chosen.items() if v is not None}
    return dataclasses.replace(recipe, settings=settings, model=model, **given)


def run_once(messages, recipe: Recipe, seed: int, split_seed: int, book: bool, runs_root: Path) -> dict:
    """One training run (its checkpoint goes to `runs_root`); returns its figures."""
    base = None
    if book:
        torch.manual_seed(seed)
        base = GPTModel(get_preset("tiny"))
    began_wall, began_cpu = time.perf_counter(), time.process_time()
    figures: dict = {"seed": seed}
    events = finetune_run(
        messages, base, recipe, base_name="tiny (random)" if book else "scratch",
        seed=seed, split_seed=split_seed, runs_root=runs_root,
    )
    for event in events:
        if isinstance(event, StartEvent):
            print(f"  seed {seed}: {event.total_steps} steps, vocabulary {event.config['vocab_size']:,}, "
                  f"context {event.config['context_length']}")
        elif isinstance(event, ClassifierEvalEvent) and event.step % (recipe.settings.eval_freq * 5) == 1:
            print(f"    step {event.step:4d} (epoch {event.epoch}): train loss {event.train_loss:.3f}, "
                  f"val loss {event.val_loss:.3f}, train acc {event.train_accuracy:.1%}, "
                  f"val acc {event.val_accuracy:.1%}")
        elif isinstance(event, EvaluationEvent):
            figures["train_wall_s"] = time.perf_counter() - began_wall
            figures["train_cpu_s"] = time.process_time() - began_cpu
            figures["evaluation"] = event
        elif isinstance(event, DoneEvent):
            figures["steps"] = event.step
    return figures


def main() -> None:
    args = build_parser().parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = recipe_from(args)
    print(machine_line())
    print(f"bf16 autocast: {'on' if bf16_supported() and recipe.settings.bf16 else 'off'}")
    print(f"recipe: {recipe}")
    messages = load_messages(args.data)
    # The app's training jobs run under this process-wide memory policy; so do these runs.
    with tempfile.TemporaryDirectory(prefix="spam-quality-") as runs_root, heap_for_large_tensors():
        runs = [run_once(messages, recipe, seed, args.split_seed, args.book, Path(runs_root)) for seed in args.seeds]

    rows = []
    for run in runs:
        ev = run["evaluation"]
        rows.append([run["seed"], f"{ev.train.accuracy:.2%}", f"{ev.val.accuracy:.2%}", f"{ev.test.accuracy:.2%}",
                     f"{ev.test.confusion}", f"{run['train_wall_s']:.0f}", f"{run['train_cpu_s']:.0f}"])
    print()
    headers = ["seed", "train acc", "val acc", "test acc", "test confusion [[hh, hs], [sh, ss]]", "wall s", "CPU s"]
    print(table(headers, rows))
    tests = [run["evaluation"].test.accuracy for run in runs]
    if len(tests) > 1:
        print(f"\ntest accuracy over {len(tests)} seeds: mean {statistics.mean(tests):.2%}, "
              f"min {min(tests):.2%}, max {max(tests):.2%}")
    if args.show_errors:
        print("\nmisclassified test messages (first seed):")
        for wrong in runs[0]["evaluation"].test.misclassified:
            print(f"  {wrong.message.label_name} -> {LABELS[wrong.predicted]} "
                  f"(p={max(wrong.probabilities):.2f}): {wrong.message.text[:100]!r}")
    print(f"\nthreads: {torch.get_num_threads()}, load average now: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
