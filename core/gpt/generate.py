"""Turning next-token scores into text (book section 5.3), with an optional KV cache.

Each new token goes through the book's order: top-k keeps the k best scores, temperature
divides them, softmax turns them into probabilities; then top-p (nucleus) keeps the smallest
set of tokens whose probability reaches p. Temperature 0 means greedy: always the best token.
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core.errors import UserError
from core.gpt.model import GPTModel

MIN_TEMPERATURE = 1e-4  # below this, logits / temperature overflows; use 0 for greedy
# Smaller than this, p is below float32's resolution of the probability mass (1e-300 becomes 0.0 and
# keeps no token at all); any p under the best token's probability already means "only the best token".
MIN_TOP_P = 1e-6
# One forward pass per token: 4,096 is four GPT-2 context windows, minutes on a laptop CPU even for
# the small models (the app's widgets ask for at most 500). Longer texts: call again with the output.
MAX_NEW_TOKENS = 4_096


@dataclass(frozen=True)
class Stages:
    """The next-token distribution at every stage of sampling, each a (vocab_size,) tensor."""

    logits: torch.Tensor  # the model's raw scores
    top_k_logits: torch.Tensor  # scores outside the k best set to -inf (unchanged without top-k)
    scaled_logits: torch.Tensor  # divided by the temperature (unchanged when greedy)
    probs: torch.Tensor  # softmax of the scaled scores
    top_p_probs: torch.Tensor  # only the nucleus kept, renormalised (unchanged without top-p)
    final: torch.Tensor  # what the next token is drawn from: one-hot on the best token when greedy
    greedy: bool


def check_sampling(
    temperature: float, top_k: int | None, top_p: float | None, vocab_size: int
) -> None:
    """Raise `UserError` with a clear message when a sampling setting is out of range."""
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not math.isfinite(temperature):
        raise UserError(f"temperature must be a number, got {temperature!r}")
    if temperature < 0:
        raise UserError(f"temperature must be 0 (greedy) or positive, got {temperature}")
    if 0 < temperature < MIN_TEMPERATURE:
        raise UserError(f"temperature must be 0 (greedy) or at least {MIN_TEMPERATURE}, got {temperature}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= vocab_size):
        raise UserError(f"top_k must be a whole number from 1 to the vocabulary size {vocab_size}, got {top_k!r}")
    if top_p is not None and (
        isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not MIN_TOP_P <= top_p <= 1.0
    ):
        raise UserError(f"top_p must be from {MIN_TOP_P:g} to 1, got {top_p!r}")


def sampling_stages(
    logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Stages:
    """Apply top-k, temperature, softmax and top-p to `logits` (..., vocab_size), keeping every stage."""
    check_sampling(temperature, top_k, top_p, logits.shape[-1])
    logits = logits.float()
    top_k_logits = logits
    if top_k is not None:
        kth_best = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        top_k_logits = logits.masked_fill(logits < kth_best, float("-inf"))
    greedy = temperature == 0
    scaled = top_k_logits if greedy else top_k_logits / temperature
    probs = torch.softmax(scaled, dim=-1)
    top_p_probs = probs if top_p is None or top_p == 1.0 else _nucleus(probs, top_p)
    final = top_p_probs
    if greedy:
        final = torch.zeros_like(probs).scatter_(-1, logits.argmax(dim=-1, keepdim=True), 1.0)
    return Stages(
        logits=logits,
        top_k_logits=top_k_logits,
        scaled_logits=scaled,
        probs=probs,
        top_p_probs=top_p_probs,
        final=final,
        greedy=greedy,
    )


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Keep the most likely tokens until their mass reaches `top_p` (at least one), renormalised."""
    sorted_probs, order = torch.sort(probs, dim=-1, descending=True)
    mass_before = torch.cumsum(sorted_probs, dim=-1) - sorted_probs
    keep_sorted = mass_before < top_p
    keep_sorted[..., 0] = True  # the best token always stays, whatever rounding does to a tiny p
    keep = torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)
    kept = probs.masked_fill(~keep, 0.0)
    return kept / kept.sum(dim=-1, keepdim=True)


def make_generator(seed: int | None) -> torch.Generator | None:
    """A private random generator for reproducible sampling (the global RNG stays untouched)."""
    return None if seed is None else torch.Generator().manual_seed(seed)


def pick(stages: Stages, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw the next token IDs (..., 1) from the final distribution."""
    if stages.greedy:
        return stages.final.argmax(dim=-1, keepdim=True)
    flat = stages.final.reshape(-1, stages.final.shape[-1])
    drawn = torch.multinomial(flat.cpu(), 1, generator=generator).to(stages.final.device)
    return drawn.reshape(*stages.final.shape[:-1], 1)


@contextlib.contextmanager
def inference(model: GPTModel) -> Iterator[None]:
    """Evaluation mode (no dropout) and no autograd bookkeeping, restoring the model's mode afterwards."""
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():  # like no_grad, minus version counters: cheaper per operation
            yield
    finally:
        model.train(was_training)


def _as_batch(model: GPTModel, idx: torch.Tensor | Sequence[int]) -> torch.Tensor:
    """Token IDs as a (batch, tokens) tensor on the model's device, checked against the vocabulary."""
    if not isinstance(idx, torch.Tensor):
        idx = torch.tensor(list(idx), dtype=torch.long)
    if idx.dim() == 1:
        idx = idx.unsqueeze(0)
    if idx.dim() != 2 or idx.dtype not in (torch.long, torch.int, torch.int16, torch.uint8):
        raise UserError(f"expected integer token IDs of shape (batch, tokens), got {idx.dtype} {tuple(idx.shape)}")
    if idx.shape[1] == 0:
        raise UserError("the prompt is empty: give at least one token")
    vocab = model.cfg["vocab_size"]
    if int(idx.min()) < 0 or int(idx.max()) >= vocab:
        raise UserError(f"token IDs must be in 0..{vocab - 1} (the model's vocabulary)")
    return idx.long().to(next(model.parameters()).device)


def next_token_distribution(
    model: GPTModel,
    idx: torch.Tensor | Sequence[int],
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Stages:
    """Every sampling stage for the token after `idx` (one sequence; cropped to the context window)."""
    idx = _as_batch(model, idx)
    if idx.shape[0] != 1:
        raise UserError(f"give one sequence, got a batch of {idx.shape[0]}")
    check_sampling(temperature, top_k, top_p, model.cfg["vocab_size"])
    with inference(model):
        logits = model(idx[:, -model.cfg["context_length"] :])[0, -1]
    return sampling_stages(logits, temperature, top_k, top_p)


def sample_from(stages: Stages, generator: torch.Generator | None = None) -> tuple[int, float]:
    """One token drawn from `stages` (a single sequence's) and its final probability."""
    token = int(pick(stages, generator).reshape(-1)[0])
    return token, float(stages.final.reshape(-1)[token])


def sample_next(
    model: GPTModel,
    idx: torch.Tensor | Sequence[int],
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> tuple[int, float]:
    """One step of generation: the next token ID after `idx` and the probability it was drawn with."""
    return sample_from(next_token_distribution(model, idx, temperature, top_k, top_p), generator)


PRECISIONS = ("fp32", "bf16", "int8")
# Converted copies per model and precision, with the weights' versions they were made from, so a
# model trained further gets a fresh copy and a deleted model takes its copies with it.
_converted: weakref.WeakKeyDictionary[GPTModel, dict[str, tuple[tuple[int, ...], GPTModel]]] = (
    weakref.WeakKeyDictionary()
)


def _weights_version(model: GPTModel) -> tuple[int, ...]:
    return tuple(p._version for p in model.parameters())


def with_precision(model: GPTModel, precision: str = "fp32") -> GPTModel:
    """`model` itself for "fp32"; otherwise a converted copy for generation, cached (the model is untouched).

    "bf16" stores every weight in bfloat16: half the bytes each new token reads. "int8" quantizes
    the Linear layers' weights to 8-bit integers with a scale per output row (torch's dynamic
    quantization, CPU only): a quarter of the bytes; activations are quantized on the fly.
    Both round the weights, so greedy text can part from fp32's after a while.
    """
    if precision not in PRECISIONS:
        raise UserError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "fp32":
        return model
    version = _weights_version(model)
    cached = _converted.setdefault(model, {}).get(precision)
    if cached is not None and cached[0] == version:
        return cached[1]
    copy_ = copy.deepcopy(model).eval()
    if precision == "bf16":
        copy_ = copy_.to(torch.bfloat16)
    else:
        if next(model.parameters()).device.type != "cpu":
            raise UserError("int8 weights run on the CPU only: move the model to the CPU or use bf16")
        from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

        with warnings.catch_warnings():  # torch announces a future home for this API; it works as is
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", UserWarning)
            copy_ = quantize_dynamic(copy_, {nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8)
        copy_.cfg = model.cfg
    _converted[model][precision] = (version, copy_)
    return copy_


def greedy_agreement(reference: torch.Tensor, other: torch.Tensor) -> float:
    """The share of positions where two token sequences (same shape) agree, in [0, 1]."""
    if reference.shape != other.shape or reference.numel() == 0:
        raise UserError(f"compare sequences of one non-empty shape, got {tuple(reference.shape)} and "
                        f"{tuple(other.shape)}")
    return float((reference == other).float().mean())


def generate(
    model: GPTModel,
    idx: torch.Tensor,
    max_new_tokens: int,
    context_size: int | None = None,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    eos_id: int | None = None,
    use_cache: bool = True,
    seed: int | None = None,
    precision: str = "fp32",
) -> torch.Tensor:
    """Append up to `max_new_tokens` (at most `MAX_NEW_TOKENS`) tokens to `idx` (batch, tokens); return it all.

    `precision` ("fp32", "bf16", "int8": `with_precision`) generates with a converted, cached copy
    of the model: faster per token, with rounded weights.

    Only the last `context_size` tokens (default: the model's window) are seen at each step.
    Generation stops early once every row has produced `eos_id`, which is not appended;
    rows that finished earlier are padded with `eos_id`. With `use_cache` the keys and values of
    past tokens are kept, so each step feeds one token; once the window slides, every position
    shifts and the cache is rebuilt from the cropped context, which keeps results identical.
    """
    model = with_precision(model, precision)
    idx = _as_batch(model, idx)
    window = model.cfg["context_length"]
    context_size = window if context_size is None else context_size
    if isinstance(context_size, bool) or not isinstance(context_size, int) or not 1 <= context_size <= window:
        raise UserError(f"context_size must be from 1 to the model's context length {window}, got {context_size!r}")
    if (isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int)
            or not 0 <= max_new_tokens <= MAX_NEW_TOKENS):
        raise UserError(f"max_new_tokens must be a whole number from 0 to {MAX_NEW_TOKENS:,}, got {max_new_tokens!r}")
    vocab = model.cfg["vocab_size"]
    if eos_id is not None and not 0 <= eos_id < vocab:
        raise UserError(f"eos_id must be in 0..{vocab - 1}, got {eos_id}")
    check_sampling(temperature, top_k, top_p, vocab)
    generator = make_generator(seed)

    out = idx
    finished = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
    cache = None
    with inference(model):
        for _ in range(max_new_tokens):
            if use_cache and cache is not None and len(cache) < context_size:
                logits = model(out[:, -1:], cache)
            else:  # first step, no cache, or the window slid: run the whole cropped context
                cache = model.new_cache() if use_cache else None
                logits = model(out[:, -context_size:], cache)
            if temperature == 0:  # greedy: top-k and top-p keep the best token, so skip the stages
                next_ids = logits[:, -1].argmax(dim=-1, keepdim=True)
            else:
                next_ids = pick(sampling_stages(logits[:, -1], temperature, top_k, top_p), generator)
            if eos_id is not None:
                next_ids = next_ids.masked_fill(finished.unsqueeze(1), eos_id)
                finished |= next_ids.squeeze(1) == eos_id
                if bool(finished.all()):
                    break
            out = torch.cat([out, next_ids], dim=1)
    return out


def generate_text(
    model: GPTModel,
    prompt: str,
    max_new_tokens: int,
    **sampling: Any,
) -> str:
    """The continuation of `prompt` as text (GPT-2 tokenizer; `<|endoftext|>` counts as one token).

    A prompt longer than the context window is cropped from the left, so a huge paste costs
    one tokenizer pass, not memory in the model. `sampling` takes `generate`'s keyword settings.
    """
    from core.gpt.tokenizers import (  # the tokenizer loads only when text is used
        decode,
        encode,
    )

    if not prompt:
        raise UserError("the prompt is empty: type at least one character")
    ids = torch.tensor([encode(prompt, allow_special=True)], dtype=torch.long)
    out = generate(model, ids, max_new_tokens, **sampling)
    return decode(out[0, ids.shape[1] :].tolist())
