"""Greedy decoding at 124M: ours with the KV cache, ours without, and transformers' generate.

All three run the SAME weights: a randomly initialised `transformers` GPT2LMHeadModel, copied
into our GPTModel with `core.gpt.weights.load_hf_gpt2` (no download needed). A fourth row runs our
model with `generate(..., precision="bf16")` (every weight in bfloat16: half the bytes to read per
token) and a fifth with `precision="int8"` (dynamically quantized Linear layers: a quarter), at the
price of rounded weights (the last column counts how many greedy tokens still match transformers').
Random weights give near-uniform scores, so their agreement understates a trained model's. Each variant writes
`--new-tokens` tokens after a `--prompt-tokens`-token prompt; variants take turns for
`--rounds` rounds and the medians are compared. The printed ceiling is memory bandwidth
divided by the bytes of weights each new token has to read.

    python benchmarks/decode.py [--rounds 3] [--new-tokens 100] [--prompt-tokens 10] [--threads N]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from common import add_threads_option, alternate, apply_threads, machine_line, median, table, timed

from core.gpt.generate import generate
from core.gpt.model import GPTModel
from core.gpt.weights import gpt2_config, load_hf_gpt2

HF = "transformers GPT2LMHeadModel.generate(use_cache=True)"
BF16 = 'ours, KV cache, precision="bf16"'
INT8 = 'ours, KV cache, precision="int8"'


def build_models() -> tuple[GPTModel, torch.nn.Module]:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(123)
    hf = GPT2LMHeadModel(GPT2Config()).eval()  # GPT-2 small: 124M, random weights
    hf.generation_config.eos_token_id = None  # always write every requested token
    hf.generation_config.pad_token_id = 0
    ours = GPTModel(gpt2_config("gpt2-small")).eval()
    load_hf_gpt2(ours, hf.state_dict())
    return ours, hf


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=100)
    parser.add_argument("--prompt-tokens", type=int, default=10)
    add_threads_option(parser)
    args = parser.parse_args()
    apply_threads(args.threads)
    print(machine_line())

    ours, hf = build_models()
    prompt = torch.randint(0, 50257, (1, args.prompt_tokens), generator=torch.Generator().manual_seed(0))
    new = args.new_tokens
    outputs: dict[str, torch.Tensor] = {}

    def run(name: str, fn: Callable[[], torch.Tensor]) -> Callable[[], float]:
        def once() -> float:
            seconds = timed(lambda: outputs.__setitem__(name, fn()))
            assert outputs[name].shape[1] == args.prompt_tokens + new
            return new / seconds

        return once

    def hf_generate() -> torch.Tensor:
        with torch.no_grad():
            return hf.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=new,
                               do_sample=False, use_cache=True)

    variants = {
        "ours, KV cache": run("ours, KV cache", lambda: generate(ours, prompt, new, use_cache=True)),
        "ours, no cache": run("ours, no cache", lambda: generate(ours, prompt, new, use_cache=False)),
        HF: run(HF, hf_generate),
        BF16: run(BF16, lambda: generate(ours, prompt, new, use_cache=True, precision="bf16")),
        INT8: run(INT8, lambda: generate(ours, prompt, new, use_cache=True, precision="int8")),
    }
    for once in variants.values():  # warm-up
        once()
    tokens_per_s = alternate(variants, args.rounds)

    from ceilings import read_bandwidth_gbs

    weight_bytes = sum(p.numel() * p.element_size() for p in ours.parameters())  # the tied head counted once
    ceiling = read_bandwidth_gbs(3) * 1e9 / weight_bytes
    reference = median(tokens_per_s[HF])
    print(f"GPT-2 small (124M), random weights shared by all variants, {args.prompt_tokens}-token prompt, "
          f"{new} new tokens, greedy, {args.rounds} rounds; attention in transformers: "
          f"{hf.config._attn_implementation}")
    rows = []
    for name, runs in tokens_per_s.items():
        same = int((outputs[name][0, args.prompt_tokens:] == outputs[HF][0, args.prompt_tokens:]).sum())
        rows.append((name, median(runs), median(runs) / reference, median(runs) / ceiling, f"{same}/{new}"))
    headers = ("variant", "tokens/s (median)", "x transformers", "x bandwidth ceiling", "tokens = transformers'")
    print(table(headers, rows))
    print(f"bandwidth ceiling: {ceiling:,.0f} tokens/s ({weight_bytes / 1e6:,.0f} MB of fp32 weights per token)")


if __name__ == "__main__":
    main()
