"""KV cache vs full recomputation: greedy decoding with the GPT-2 small (124M) config.

Random weights (speed does not depend on them), float32, 100 new tokens after prompts of
several lengths: recomputation reruns the whole context for every new token, so its cost grows
with the prompt, while a cached step feeds one token whatever came before. Variants take turns
so that a noisy, shared machine slows them alike; medians are printed with the speed-up.
Target (issue 3): the cache at least 4x faster than recomputation.

It also measures the floor of a cached step on this machine: every weight matrix times one
vector and nothing else (a cached step must read all 124M weights once), so the table shows
the highest speed-up any decoder could reach here. When the book's package (llms-from-scratch,
requirements-bench.txt) is installed, its `generate_text_simple` runs too, on the same weights,
as the book's reference recomputation.

    python benchmarks/kv_cache.py [--new-tokens 100] [--prompt-tokens 10 50 200] [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
import torch.nn.functional as F
from common import add_threads_option, alternate, apply_threads, machine_line, median, table, timed
from torch import nn

from core.gpt.config import get_preset
from core.gpt.generate import generate
from core.gpt.model import GPTModel

RECOMPUTE = "ours, no cache (recompute)"
CACHED = "ours, KV cache"
BOOK = "book's generate_text_simple (recompute)"
TARGET = 4.0

Decoder = Callable[[torch.Tensor, int], torch.Tensor]


def book_reference(model: GPTModel) -> Decoder | None:
    """The book's model with our weights and its no-cache greedy loop, if the package is installed."""
    try:
        from llms_from_scratch.ch04 import GPTModel as BookGPT
        from llms_from_scratch.ch04 import generate_text_simple
    except ImportError:
        return None
    book = BookGPT(model.cfg).eval()
    missing, unexpected = book.load_state_dict(model.state_dict(), strict=False)
    assert not unexpected and all(name.endswith("att.mask") for name in missing)

    def run(idx: torch.Tensor, new_tokens: int) -> torch.Tensor:
        with torch.no_grad():
            return generate_text_simple(book, idx, new_tokens, model.cfg["context_length"])

    return run


def cached_step_floor(model: GPTModel, repeats: int = 9) -> float:
    """Seconds to multiply one vector by every weight matrix of `model`, the least a cached step reads."""
    weights = [module.weight for module in model.modules() if isinstance(module, nn.Linear)]
    vectors = {size: torch.randn(1, size) for size in {w.shape[1] for w in weights}}

    def one_pass() -> None:
        for weight in weights:
            F.linear(vectors[weight.shape[1]], weight)

    with torch.no_grad():
        one_pass()
        return median(timed(one_pass) for _ in range(repeats))


def measure(decoders: dict[str, Decoder], prompt: torch.Tensor, new_tokens: int, rounds: int) -> tuple[dict, bool]:
    """Median seconds per decoder (in turns, after a warm-up) and whether all gave the same tokens."""
    outputs = {name: run(prompt, new_tokens) for name, run in decoders.items()}
    same = all(torch.equal(out, outputs[CACHED]) for out in outputs.values())
    times = alternate({name: (lambda run=run: timed(lambda: run(prompt, new_tokens)))
                       for name, run in decoders.items()},
                      rounds)
    return {name: median(values) for name, values in times.items()}, same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=100)
    parser.add_argument("--prompt-tokens", type=int, nargs="+", default=[10, 50, 200])
    parser.add_argument("--rounds", type=int, default=3)
    add_threads_option(parser)
    args = parser.parse_args()
    apply_threads(args.threads)

    torch.manual_seed(123)
    model = GPTModel(get_preset("gpt2-small")).eval()
    decoders: dict[str, Decoder] = {
        RECOMPUTE: lambda idx, n: generate(model, idx, n, use_cache=False),
        CACHED: lambda idx, n: generate(model, idx, n, use_cache=True),
    }
    book = book_reference(model)
    if book is not None:
        decoders[BOOK] = book

    print(f"GPT-2 small config (124M), random weights, float32, {args.new_tokens} new tokens, greedy")
    print(machine_line())
    floor = cached_step_floor(model)
    print(f"floor of a cached step (every weight matrix times one vector, nothing else): "
          f"{floor * 1e3:.1f} ms, {1 / floor:.0f} tokens/s")

    rows = []
    generator = torch.Generator().manual_seed(0)
    for prompt_tokens in args.prompt_tokens:
        prompt = torch.randint(0, model.cfg["vocab_size"], (1, prompt_tokens), generator=generator)
        seconds, same = measure(decoders, prompt, args.new_tokens, args.rounds)
        speedup = seconds[RECOMPUTE] / seconds[CACHED]
        rows.append((
            prompt_tokens,
            args.new_tokens / seconds[RECOMPUTE],
            args.new_tokens / seconds[CACHED],
            f"{speedup:.1f}x",
            f"{seconds[BOOK] / seconds[CACHED]:.1f}x" if book is not None else "not installed",
            f"{seconds[RECOMPUTE] / args.new_tokens / floor:.1f}x",
            "yes" if same else "NO",
            "met" if speedup >= TARGET else "NOT met",
        ))
        print(f"  {prompt_tokens}-token prompt done", flush=True)

    print(table(["prompt tokens", "recompute tokens/s", "KV cache tokens/s", "speed-up",
                 "speed-up over the book's recompute", "highest possible (recompute / floor)",
                 "identical tokens", f"target >= {TARGET:.0f}x"], rows))


if __name__ == "__main__":
    main()
