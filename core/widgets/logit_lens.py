"""The logit lens: what the model would predict if it stopped after each block.

The residual stream after the embeddings and after every transformer block goes through the
model's own final LayerNorm and output head, as if that block were the last. The last row is
exactly the model's output; earlier rows show how the prediction forms layer by layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from core.errors import UserError
from core.gpt.generate import inference
from core.gpt.model import GPTModel

MAX_LENS_TOKENS = 64  # 64 positions x 13 layers of GPT-2 scores is already ~170 MB if kept; we keep summaries


@dataclass(frozen=True)
class Capped:
    """Token IDs cut to what the lens shows, and how many were left off the end."""

    ids: list[int]
    dropped: int


def cap_tokens(ids: Sequence[int], limit: int = MAX_LENS_TOKENS) -> Capped:
    """The first `limit` tokens of `ids` (the lens reads left to right, so the start is kept)."""
    if limit < 1:
        raise UserError(f"the token cap must be at least 1, got {limit}")
    ids = list(ids)
    return Capped(ids[:limit], max(0, len(ids) - limit))


def layer_names(model: GPTModel) -> list[str]:
    return ["embeddings"] + [f"block {i}" for i in range(1, model.cfg["n_layers"] + 1)]


def residual_stream(model: GPTModel, token_ids: Sequence[int]) -> list[torch.Tensor]:
    """The hidden states (tokens, emb_dim) after the embeddings and after each block, read with forward hooks."""
    ids = _checked(model, token_ids)
    captured: list[torch.Tensor] = []
    hooks = [model.drop_emb.register_forward_hook(lambda _m, _i, out: captured.append(out[0]))]
    hooks += [block.register_forward_hook(lambda _m, _i, out: captured.append(out[0][0]))
              for block in model.trf_blocks]
    try:
        with inference(model):
            model(ids)
    finally:
        for hook in hooks:
            hook.remove()
    return captured


def lens_logits(model: GPTModel, hidden: torch.Tensor) -> torch.Tensor:
    """Scores (tokens, vocab_size) that the output head gives one layer's hidden states."""
    with inference(model):
        return model.out_head(model.final_norm(hidden))


@dataclass(frozen=True)
class LogitLens:
    """Each layer's favourite next token at each position, and how it ranks the token that really follows."""

    token_ids: list[int]
    layers: list[str]  # "embeddings", "block 1", ...
    top_ids: torch.Tensor  # (layers, tokens): the most likely next token after position i
    top_probs: torch.Tensor  # (layers, tokens)
    true_ranks: torch.Tensor  # (layers, tokens - 1): rank of token i + 1 after position i; 1 = the favourite
    true_probs: torch.Tensor  # (layers, tokens - 1)


def logit_lens(model: GPTModel, token_ids: Sequence[int]) -> LogitLens:
    """The lens over `token_ids` (at most the model's context window; cap them first with `cap_tokens`)."""
    ids = list(token_ids)
    targets = torch.tensor(ids[1:], dtype=torch.long)
    top_ids, top_probs, ranks, true_probs = [], [], [], []
    for hidden in residual_stream(model, ids):
        probs = torch.softmax(lens_logits(model, hidden).float(), dim=-1)  # one layer's scores at a time
        best = probs.max(dim=-1)
        top_ids.append(best.indices)
        top_probs.append(best.values)
        p_true = probs[:-1].gather(1, targets.unsqueeze(1)).squeeze(1)
        ranks.append((probs[:-1] > p_true.unsqueeze(1)).sum(dim=-1) + 1)
        true_probs.append(p_true)
    return LogitLens(ids, layer_names(model), torch.stack(top_ids), torch.stack(top_probs),
                     torch.stack(ranks), torch.stack(true_probs))


def rank_change(a: LogitLens, b: LogitLens) -> torch.Tensor:
    """log10(rank in b / rank in a) of the true next token, per layer and position: below 0, b ranks it higher."""
    if a.token_ids != b.token_ids or len(a.layers) != len(b.layers):
        raise UserError("a difference view needs the same text and the same number of layers in both models")
    return torch.log10(b.true_ranks.double()) - torch.log10(a.true_ranks.double())


def _checked(model: GPTModel, token_ids: Sequence[int]) -> torch.Tensor:
    ids = list(token_ids)
    if not ids:
        raise UserError("the text has no tokens: type some text to look through the lens")
    window = model.cfg["context_length"]
    if len(ids) > window:
        raise UserError(f"{len(ids)} tokens do not fit this model's context window of {window}; cap them first")
    vocab = model.cfg["vocab_size"]
    if min(ids) < 0 or max(ids) >= vocab:
        raise UserError(f"token IDs must be in 0..{vocab - 1} (the model's vocabulary)")
    return torch.tensor([ids], dtype=torch.long, device=next(model.parameters()).device)
