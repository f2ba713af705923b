"""Training throughput: core's GPTModel and its CPU fast path vs the book's reference model.

One training step = forward, cross-entropy, backward and an AdamW step (lr 4e-4, weight decay
0.1, as in chapter 5), on random token batches of the same shape for every variant. The
reference is `llms_from_scratch.ch04.GPTModel` (requirements-bench.txt) with the book's
default AdamW. Each lever of the fast path runs on its own, then all together. Variants take
turns, each round rebuilding every model from the same initial weights (so only one lives in
memory), one warm-up step then `--steps` timed steps. Tokens/s are medians over the rounds;
the speed-ups are medians of per-round ratios (book and variant timed minutes apart at most).
Tokens per CPU-second (process time over all threads) are printed too. On a busy shared machine
use `--threads 1`: two threads then wait on each other at every operation, one measures the work.

`--loss-check` trains the tiny preset on a real text with the one loop, `core.gpt.train.train` (same weights,
batches and dropout seed): the book's model in float32 (the reference), ours in float32 and ours
on the fast path, and compares the curves' gap with that between two seeds of the book's run.

`--fp32` is the run for CPUs without native bf16 (and emulates one on a CPU that has it): every
variant computes in float32, and the levers for that case run each alone and together, side by
side with the book's model: the fast path without bf16, a compact vocabulary (the GPT-2 tokens
Tiny Shakespeare uses, `core.gpt.vocab`; batches are windows of that text) and a tied head. With
`--loss-check` the compact vocabulary's curve is checked against the book's model trained on the
same compact vocabulary. `--profile` prints torch.profiler's top operations for one tiny fp32 step
on the compact vocabulary.

    python benchmarks/train_throughput.py [--config tiny 124m] [--rounds 3] [--steps 2] [--threads N]
                                          [--quick] [--compile] [--fp32]
    python benchmarks/train_throughput.py --loss-check [--epochs 8] [--fp32]
    python benchmarks/train_throughput.py --fp32 --quick --threads 1    # the CPU-without-bf16 levers, < 5 min
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from common import add_threads_option, apply_threads, machine_line, median, table

from core.gpt.config import get_preset
from core.gpt.fastpath import (
    autocast_context,
    bf16_supported,
    cpu_has_native_bf16,
    heap_for_large_tensors,
    make_adamw,
)
from core.gpt.model import GPTModel
from core.gpt.params import flops_per_token as flops_per_token_forward
from core.gpt.pretrain import calc_loss_batch
from core.gpt.vocab import compact_id_map, gpt2_ids, vocab_size_of

CONFIGS = {
    # name: (preset, context length, batch size)
    "tiny": ("tiny", 128, 8),
    "124m": ("gpt2-small", 256, 2),  # the book's chapter 5 setting
}
BOOK = "book's GPTModel, AdamW (reference)"
FAST = "ours, fast path (all four levers: what pretraining in the app runs)"
FP32_FAST = "ours, fp32 fast path (fused AdamW, fused head and loss, heap; no bf16)"
FP32_COMPACT = "fp32 fast path + compact vocabulary"
FP32_TIED = "fp32 fast path + tied head"
FP32_BOTH = "fp32 fast path + compact vocabulary + tied head"


@dataclass(frozen=True)
class Variant:
    """How to build and step one contender."""

    book_model: bool = False
    bf16: bool = False
    fused_adamw: bool = False
    fused_loss: bool = False
    heap: bool = False
    onednn_bf16_matmul: bool = False
    tie_weights: bool = False
    compile: bool = False
    compact_vocab: bool = False


def fp32_variants(quick: bool) -> dict[str, Variant]:
    """The levers for a CPU without native bf16, each alone and together; nothing runs in bf16."""
    fast = Variant(fused_adamw=True, fused_loss=True, heap=True)
    out = {
        BOOK: Variant(book_model=True),
        "book's GPTModel on the compact vocabulary": Variant(book_model=True, compact_vocab=True),
        "ours, fp32, AdamW (same recipe as the book)": Variant(),
        "ours + compact vocabulary only": Variant(compact_vocab=True),
        "ours + tied head only": Variant(tie_weights=True),
        FP32_FAST: fast,
        FP32_COMPACT: replace(fast, compact_vocab=True),
        FP32_TIED: replace(fast, tie_weights=True),
        FP32_BOTH: replace(fast, compact_vocab=True, tie_weights=True),
    }
    if quick:
        return {name: out[name] for name in (BOOK, FP32_FAST, FP32_COMPACT, FP32_TIED, FP32_BOTH)}
    return out


def variants(compile_too: bool, quick: bool = False) -> dict[str, Variant]:
    out = {
        BOOK: Variant(book_model=True),
        "ours, fp32, AdamW (same recipe as the book)": Variant(),
        "ours + fused AdamW only": Variant(fused_adamw=True),
        "ours + bf16 autocast only": Variant(bf16=True),
        "ours + fused head and loss only (model.loss)": Variant(fused_loss=True),
        "ours + large tensors on the heap only": Variant(heap=True),
        "ours + oneDNN bf16 fp32-matmul only (not used)": Variant(onednn_bf16_matmul=True),
        FAST: Variant(bf16=True, fused_adamw=True, fused_loss=True, heap=True),
        "fast path + tied head (changes the model)": Variant(bf16=True, fused_adamw=True, fused_loss=True, heap=True,
                                                             tie_weights=True),
    }
    if quick:
        return {name: out[name] for name in (BOOK, FAST)}
    if compile_too:
        out["fast path + torch.compile"] = Variant(bf16=True, fused_adamw=True, fused_loss=True, heap=True,
                                                   compile=True)
    return out


def compact_vocabulary() -> tuple[str, list[int], torch.Tensor]:
    """A corpus's GPT-2 token IDs and the id map of the tokens it uses (Tiny Shakespeare, else The Verdict)."""
    from core.gpt.tokenizers import encode
    from core.paths import TINY_SHAKESPEARE_FILE, find_data_file, tiktoken_environment

    os.environ.update(tiktoken_environment())
    for name, relative in (("Tiny Shakespeare", TINY_SHAKESPEARE_FILE), ("The Verdict", "corpus/the-verdict.txt")):
        path = find_data_file(relative)
        if path is not None:
            ids = encode(path.read_text(encoding="utf-8"), allow_special=True)
            return name, ids, compact_id_map([ids], pad_id=None)
    raise SystemExit("the compact-vocabulary variants need tinyshakespeare.txt or the-verdict.txt (see core.paths)")


def compact_state(initial: dict[str, torch.Tensor], id_map: torch.Tensor) -> dict[str, torch.Tensor]:
    """The full model's initial weights with only the compact vocabulary's embedding and head rows."""
    rows = gpt2_ids(id_map)
    return {**initial, "tok_emb.weight": initial["tok_emb.weight"][rows],
            "out_head.weight": initial["out_head.weight"][rows]}


def build(variant: Variant, cfg: dict[str, Any], initial: dict[str, torch.Tensor]) -> torch.nn.Module:
    if variant.book_model:
        from llms_from_scratch.ch04 import GPTModel as BookGPT

        model = BookGPT(cfg)
        missing, unexpected = model.load_state_dict(initial, strict=False)
        assert not unexpected and all(name.endswith("att.mask") for name in missing)
    else:
        model = GPTModel({**cfg, "tie_weights": variant.tie_weights})
        model.load_state_dict(initial, strict=False)  # a tied head simply takes the embedding's values
    return model.train()


@contextlib.contextmanager
def onednn_bf16_matmul(enabled: bool):
    setting = torch.backends.mkldnn.matmul.fp32_precision
    torch.backends.mkldnn.matmul.fp32_precision = "bf16" if enabled else "none"
    try:
        yield
    finally:
        torch.backends.mkldnn.matmul.fp32_precision = setting


def step_function(
    variant: Variant, model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor
) -> Callable[[], float]:
    params = list(model.parameters())
    if variant.book_model:
        optimizer = torch.optim.AdamW(params, lr=4e-4, weight_decay=0.1)  # the book's line, section 5.2
    else:
        optimizer = make_adamw(params, 4e-4, 0.1, fused=variant.fused_adamw)
    if variant.fused_loss:
        def loss_fn(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return calc_loss_batch(inputs, targets, model)
    else:
        def loss_fn(inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())
    if variant.compile:
        loss_fn = torch.compile(loss_fn)

    def step() -> float:
        optimizer.zero_grad()
        with autocast_context(variant.bf16):
            loss = loss_fn(inputs, targets)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def measure(config: str, rounds: int, steps: int, contenders: dict[str, Variant]) -> None:
    preset, context, batch = CONFIGS[config]
    cfg = get_preset(preset, context_length=context)
    generator = torch.Generator().manual_seed(0)
    compact = any(variant.compact_vocab for variant in contenders.values())
    if compact:  # windows of the text, so the compact vocabulary holds every input and target
        corpus, ids, id_map = compact_vocabulary()
        starts = torch.randint(0, len(ids) - context - 1, (batch,), generator=generator)
        windows = torch.stack([torch.tensor(ids[int(i) : int(i) + context + 1]) for i in starts])
        inputs, targets = windows[:, :-1], windows[:, 1:]
    else:
        inputs = torch.randint(0, cfg["vocab_size"], (batch, context), generator=generator)
        targets = torch.randint(0, cfg["vocab_size"], (batch, context), generator=generator)
    torch.manual_seed(123)
    initial = GPTModel(cfg).state_dict()
    # Per round and variant: the median over its timed steps (wall clock and process CPU time).
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    first_step: dict[str, list[float]] = {name: [] for name in contenders}
    losses: dict[str, float] = {}
    for _ in range(rounds):
        for name, variant in contenders.items():
            if variant.compact_vocab:
                small = {**cfg, "vocab_size": vocab_size_of(id_map)}
                model = build(variant, small, compact_state(initial, id_map))
                step = step_function(variant, model, id_map[inputs], id_map[targets])
            else:
                model = build(variant, cfg, initial)
                step = step_function(variant, model, inputs, targets)
            heap = heap_for_large_tensors() if variant.heap else contextlib.nullcontext()
            with onednn_bf16_matmul(variant.onednn_bf16_matmul), heap:
                torch.manual_seed(0)
                start = time.perf_counter()
                losses[name] = step()  # warm-up: optimizer state, allocator, compilation
                first_step[name].append(time.perf_counter() - start)
                step_wall, step_cpu = [], []
                for _ in range(steps):
                    start, cpu_start = time.perf_counter(), time.process_time()
                    step()
                    step_wall.append(time.perf_counter() - start)
                    step_cpu.append(time.process_time() - cpu_start)
            wall[name].append(median(step_wall))
            cpu[name].append(median(step_cpu))
            del model, step

    def speedup(times: dict[str, list[float]], name: str) -> float:
        """Median over rounds of the book's step time / this variant's, both from the same round."""
        return median(book / mine for book, mine in zip(times[BOOK], times[name], strict=False))

    print(f"\n{config}: preset {preset}, context {context}, batch {batch} "
          f"({inputs.numel():,} tokens per step), {rounds} rounds x {steps} timed steps; {machine_line()}")
    if compact:
        print(f"compact vocabulary: the {vocab_size_of(id_map) - 1:,} GPT-2 tokens {corpus} uses + 1 unknown "
              f"(of {cfg['vocab_size']:,}); every variant's batches are windows of {corpus}")
    bf16_ran = any(variant.bf16 for variant in contenders.values()) and bf16_supported()
    print("levers that ran: " + ("bf16 autocast where a variant asks for it" if bf16_ran else "float32 only (no bf16)"))
    def train_flops(variant: Variant) -> float:
        """A training step is about three forward passes (the backward pass costs two)."""
        vocab = vocab_size_of(id_map) if variant.compact_vocab else cfg["vocab_size"]
        return 3 * flops_per_token_forward({**cfg, "vocab_size": vocab}, context)["total"]

    rows = [
        (name, inputs.numel() / median(wall[name]), speedup(wall, name),
         train_flops(contenders[name]) * inputs.numel() / median(wall[name]) / 1e9,
         inputs.numel() / median(cpu[name]), speedup(cpu, name), median(first_step[name]), f"{losses[name]:.3f}")
        for name in contenders
    ]
    print(table(("variant", "tokens/s", "x book", "model GFLOP/s", "tokens/CPU-s", "x book (CPU)", "first step s",
                 "first loss"), rows))


def loss_check(epochs: int, fp32: bool = False) -> None:
    """Compare loss curves on a real text: the book's model in fp32 is the reference, two seeds the noise.
    With `fp32`, the reference and the noise are the book's model on the text's compact vocabulary."""
    from llms_from_scratch.ch04 import GPTModel as BookGPT

    from core.app.corpora import journal_text
    from core.gpt.events import EvalEvent
    from core.gpt.pretrain import make_loaders, pretraining_task
    from core.gpt.tokenizers import encode
    from core.gpt.train import Task, TrainSettings, train
    from core.paths import find_data_file

    def book_loss(inputs: torch.Tensor, targets: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
        """The next-token loss computed the book's way: every token's logits, then cross-entropy."""
        return F.cross_entropy(model(inputs).flatten(0, 1), targets.flatten())

    def book_task(train_loader: Any, val_loader: Any) -> Task:
        def evaluate(model: torch.nn.Module, eval_iter: int) -> dict[str, float]:
            def mean_loss(loader: Any) -> float:
                losses = [book_loss(x, y, model).item() for _, (x, y) in zip(range(eval_iter), loader, strict=False)]
                return sum(losses) / len(losses)

            return {"train_loss": mean_loss(train_loader), "val_loss": mean_loss(val_loader)}

        return Task(calc_loss_batch=book_loss, evaluate=evaluate)

    verdict = find_data_file("corpus/the-verdict.txt")
    name, text = ("The Verdict", verdict.read_text(encoding="utf-8")) if verdict else ("the journal", journal_text())
    ids = encode(text, allow_special=True)
    id_map = compact_id_map([ids], pad_id=None)
    preset, context, batch = CONFIGS["tiny"]
    full_cfg = get_preset(preset, context_length=context)
    torch.manual_seed(123)
    full_initial = GPTModel(full_cfg).state_dict()  # every run starts from these weights

    def curve(variant: Variant, seed: int) -> list[float]:
        cfg, initial, tokens = full_cfg, full_initial, ids
        if variant.compact_vocab:
            cfg = {**full_cfg, "vocab_size": vocab_size_of(id_map)}
            initial = compact_state(full_initial, id_map)
            tokens = id_map[torch.tensor(ids)].tolist()
        model = BookGPT(cfg) if variant.book_model else GPTModel({**cfg, "tie_weights": variant.tie_weights})
        model.load_state_dict(initial, strict=False)  # the book's model has its mask buffers already
        train_loader, val_loader = make_loaders(tokens, context, batch, seed=seed)
        task = (book_task if variant.book_model else pretraining_task)(train_loader, val_loader)
        settings = TrainSettings(epochs=epochs, eval_freq=2, eval_iter=5, seed=seed, bf16=variant.bf16)
        return [e.val_loss for e in train(model, train_loader, task, settings) if isinstance(e, EvalEvent)]

    if fp32:
        compact = Variant(compact_vocab=True)
        reference_name = f"book's model, fp32, compact vocabulary ({vocab_size_of(id_map):,}), seed 123 (reference)"
        reference = curve(Variant(book_model=True, compact_vocab=True), 123)
        runs = [
            ("ours, fp32 fast path + compact vocabulary, seed 123", curve(compact, 123)),
            ("ours, fp32 fast path + compact vocabulary + tied head (changes the model), seed 123",
             curve(replace(compact, tie_weights=True), 123)),
            ("book's model, fp32, compact vocabulary, seed 124 (the noise)",
             curve(Variant(book_model=True, compact_vocab=True), 124)),
        ]
    else:
        reference_name = "book's model, fp32, seed 123 (reference)"
        reference = curve(Variant(book_model=True), 123)
        runs = [
            ("ours, fp32 (bf16=False), seed 123", curve(Variant(), 123)),
            ("ours, fast path, seed 123", curve(Variant(bf16=True), 123)),
            ("book's model, fp32, seed 124 (the noise)", curve(Variant(book_model=True), 124)),
        ]
    gaps = [max(abs(a - b) for a, b in zip(reference, values, strict=False)) for _, values in runs]
    print(f"\nloss check: tiny preset on {name} ({len(ids):,} tokens), batch {batch}, {epochs} epochs, "
          f"{len(reference)} evaluations; "
          + ("every run in fp32" if fp32 else f"bf16 {'on' if bf16_supported() else 'NOT supported here (fp32 ran)'}"))
    rows = [(reference_name, reference, 0.0)]
    rows += [(run, values, gap) for (run, values), gap in zip(runs, gaps, strict=False)]
    print(table(("run (core.gpt.train.train, AdamW)", "first val loss", "last val loss", "max |gap| to reference"),
                [(run, f"{c[0]:.3f}", f"{c[-1]:.3f}", f"{gap:.3f}") for run, c, gap in rows]))
    checked = 0 if fp32 else 1  # the run that is meant to compute the reference's function
    verdict = "within" if gaps[checked] <= gaps[2] else "OUTSIDE"
    print(f"{runs[checked][0]} vs the reference: max gap {gaps[checked]:.3f}, "
          f"{verdict} the seed-to-seed noise of {gaps[2]:.3f}")


def profile_step(top: int = 12) -> None:
    """The operations that take a tiny fp32 training step's time on the compact vocabulary (fast path, no bf16)."""
    from torch.profiler import ProfilerActivity, profile

    variant = Variant(fused_adamw=True, fused_loss=True, heap=True, compact_vocab=True)
    corpus, ids, id_map = compact_vocabulary()
    preset, context, batch = CONFIGS["tiny"]
    cfg = get_preset(preset, context_length=context)
    torch.manual_seed(123)
    small = {**cfg, "vocab_size": vocab_size_of(id_map)}
    model = build(variant, small, GPTModel(small).state_dict())
    windows = torch.tensor(ids[: batch * (context + 1)]).view(batch, context + 1)
    step = step_function(variant, model, id_map[windows[:, :-1]], id_map[windows[:, 1:]])
    with heap_for_large_tensors():
        step()  # warm-up
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step()
    print(f"\none tiny fp32 step, compact vocabulary of {corpus} ({small['vocab_size']:,}), batch {batch}:")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=top))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", nargs="+", choices=tuple(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=2, help="timed steps per variant and round")
    add_threads_option(parser)
    parser.add_argument("--quick", action="store_true",
                        help="only the book and the fast path (less exposed to load changes)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile)")
    parser.add_argument("--loss-check", action="store_true", help="compare loss curves instead of timing")
    parser.add_argument("--epochs", type=int, default=8, help="epochs of the loss check")
    parser.add_argument("--fp32", action="store_true",
                        help="all in float32: the levers for CPUs without native bf16 (compact vocabulary, tying)")
    parser.add_argument("--profile", action="store_true",
                        help="torch.profiler's top operations of one tiny fp32 step on the compact vocabulary")
    args = parser.parse_args()
    apply_threads(args.threads)
    print(machine_line())
    native = cpu_has_native_bf16()
    print(f"CPU has native bf16 (AVX512-BF16 or AMX): {native}; bf16 autocast in use: {bf16_supported()}")
    if args.fp32 and native:
        print("NOTE: --fp32 on a CPU WITH native bf16: these figures emulate a CPU without it by computing in fp32; "
              "they are not figures from such a CPU")
    if args.profile:
        profile_step()
        return
    if args.loss_check:
        loss_check(args.epochs, args.fp32)
        return
    from ceilings import measure as measure_ceilings
    from ceilings import onednn_verdict, report

    ceilings = measure_ceilings(repeats=3)
    print(report(ceilings))
    print(onednn_verdict(ceilings))
    contenders = fp32_variants(args.quick) if args.fp32 else variants(args.compile, args.quick)
    for config in args.config:
        measure(config, args.rounds, args.steps, contenders)


if __name__ == "__main__":
    main()
