"""KV cache vs full recomputation: greedy decoding with the GPT-2 small (124M) config.

Random weights (speed does not depend on them), a 10-token prompt, 100 new tokens, float32.
Variants take turns so that a noisy, shared machine slows them alike; medians are printed
with the speed-up. Target (issue 3): the cache at least 4x faster than recomputation.
When the book's package (llms-from-scratch, requirements-bench.txt) is installed, its
`generate_text_simple` runs too, on the same weights, as the book's reference recomputation.

    python benchmarks/kv_cache.py [--new-tokens 100] [--prompt-tokens 10] [--rounds 3] [--threads N]
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import torch

from common import alternate, machine_line, median, table, timed

from core.config import get_preset
from core.generate import generate
from core.model import GPTModel

RECOMPUTE = "ours, no cache (recompute)"
CACHED = "ours, KV cache"
BOOK = "book's generate_text_simple (recompute)"


def book_reference(model: GPTModel) -> Callable[[torch.Tensor, int], torch.Tensor] | None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=100)
    parser.add_argument("--prompt-tokens", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(123)
    model = GPTModel(get_preset("gpt2-small")).eval()
    prompt = torch.randint(0, model.cfg["vocab_size"], (1, args.prompt_tokens), generator=torch.Generator().manual_seed(0))
    decoders: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
        RECOMPUTE: lambda idx, n: generate(model, idx, n, use_cache=False),
        CACHED: lambda idx, n: generate(model, idx, n, use_cache=True),
    }
    book = book_reference(model)
    if book is not None:
        decoders[BOOK] = book

    print(f"GPT-2 small config (124M), random weights, float32, {args.prompt_tokens}-token prompt, "
          f"{args.new_tokens} new tokens, greedy")
    print(machine_line())
    outputs = {name: run(prompt, args.new_tokens) for name, run in decoders.items()}  # warm-up and check
    same = all(torch.equal(out, outputs[CACHED]) for out in outputs.values())
    cpu: dict[str, list[float]] = {name: [] for name in decoders}

    def measured(name: str, run: Callable[[torch.Tensor, int], torch.Tensor]) -> float:
        # CPU time too: with one thread it barely moves when other processes share the cores.
        start = time.process_time()
        wall = timed(lambda: run(prompt, args.new_tokens))
        cpu[name].append(time.process_time() - start)
        return wall

    times = alternate({name: (lambda name=name, run=run: measured(name, run)) for name, run in decoders.items()}, args.rounds)
    rows = []
    for name in decoders:
        rows.append((
            name, median(times[name]), args.new_tokens / median(times[name]),
            f"{median(times[RECOMPUTE]) / median(times[name]):.1f}x", median(cpu[name]),
            f"{median(cpu[RECOMPUTE]) / median(cpu[name]):.1f}x", ", ".join(f"{t:.2f}" for t in times[name]),
        ))
    print(table(["decoder", "wall s", "tokens/s", "wall vs recompute", "CPU s", "CPU vs recompute", "wall of each round"], rows))
    speedup = median(times[RECOMPUTE]) / median(times[CACHED])
    per_round = [r / c for r, c in zip(times[RECOMPUTE], times[CACHED])]
    print(f"\nidentical tokens from every decoder: {same}")
    print(f"KV-cache speed-up over recomputation: {speedup:.1f}x wall (rounds: {', '.join(f'{x:.1f}' for x in per_round)}), "
          f"{median(cpu[RECOMPUTE]) / median(cpu[CACHED]):.1f}x CPU time; target >= 4x: {'met' if speedup >= 4 else 'NOT met'}")
    if book is not None:
        print(f"KV-cache speed-up over the book's recomputation: {median(times[BOOK]) / median(times[CACHED]):.1f}x wall")


if __name__ == "__main__":
    main()
