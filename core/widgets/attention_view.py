"""What the attention visualizer shows (book chapter 3): inputs for a short text, heads, real maps.

The step-by-step maths lives in `core.gpt.attention.attention_steps`; this module prepares its
inputs (the book's toy sentence or the user's own words), splits projections into heads the
way multi-head attention does, and reads the attention maps of a real `GPTModel`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.errors import UserError
from core.gpt.attention import (
    TOY_INPUTS,
    TOY_TOKENS,
    AttentionSteps,
    attention_steps,
    check_step_sizes,
    projection_weights,
)
from core.gpt.config import GPT2_VOCAB_SIZE
from core.gpt.model import GPTModel
from core.gpt.tokenizers import TokenizerUnavailable, build_vocab, split_text
from core.widgets.embedding_view import embed_tokens
from core.widgets.token_view import tokenize_gpt2, visible

MAX_TEXT_TOKENS = 16  # more rows than this and a heatmap's labels stop being readable
MAX_HEADS = 64  # one heatmap per head; GPT-2 XL has 25


@dataclass(frozen=True)
class AttentionInputs:
    """A short sequence ready for attention: one label and one input vector per token."""

    labels: list[str]
    inputs: torch.Tensor  # (T, d_in)
    source: str  # where the tokens and vectors came from, in words
    dropped_tokens: int = 0  # tokens cut off to keep the heatmaps readable


def toy_inputs() -> AttentionInputs:
    """The book's six tokens in three dimensions (section 3.3.1)."""
    return AttentionInputs(list(TOY_TOKENS), TOY_INPUTS.clone(), "the book's example vectors (section 3.3.1)")


@dataclass(frozen=True)
class TextTokens:
    """A short text's tokens: labels to show, ids to feed a model."""

    labels: list[str]
    ids: list[int]
    vocab_size: int
    gpt2: bool  # GPT-2 ids (what a trained model understands) or the text's own word numbers
    dropped_tokens: int = 0


def text_tokens(text: str, max_tokens: int = MAX_TEXT_TOKENS) -> TextTokens:
    """GPT-2 tokens of `text`; without GPT-2's vocabulary, its words numbered in sorted order."""
    if not text.strip():
        raise UserError("type a few words to attend over")
    try:
        tokens = tokenize_gpt2(text).tokens
        ids, labels, vocab_size, gpt2 = [t.id for t in tokens], [t.label for t in tokens], GPT2_VOCAB_SIZE, True
    except TokenizerUnavailable:
        words = split_text(text)
        vocab = build_vocab(text)
        ids, labels, vocab_size, gpt2 = [vocab[w] for w in words], [visible(w) for w in words], len(vocab), False
    kept = min(len(ids), max_tokens)
    return TextTokens(labels=labels[:kept], ids=ids[:kept], vocab_size=vocab_size, gpt2=gpt2,
                      dropped_tokens=len(ids) - kept)


def text_inputs(text: str, dim: int = 3, max_tokens: int = MAX_TEXT_TOKENS, seed: int = 123) -> AttentionInputs:
    """Token + positional embeddings of `text`, random as in an untrained model (section 2.8)."""
    tokens = text_tokens(text, max_tokens)
    steps = embed_tokens(tokens.ids, tokens.vocab_size, dim, seed=seed)
    source = (
        "GPT-2 tokens of your text with random token + positional embeddings"
        if tokens.gpt2
        else "the words of your text (GPT-2's vocabulary is unavailable) with random embeddings"
    )
    return AttentionInputs(tokens.labels, steps.input_embeddings, source, tokens.dropped_tokens)


def multi_head_steps(
    inputs: torch.Tensor,
    n_heads: int,
    head_dim: int,
    causal: bool = False,
    dropout: float = 0.0,
    seed: int = 123,
) -> list[AttentionSteps]:
    """One `AttentionSteps` per head (section 3.6).

    Multi-head attention projects to `n_heads * head_dim` dimensions and gives each head its
    own slice of columns; each head then attends on its own. Dropout draws a separate mask per head.
    """
    for name, value in (("n_heads", n_heads), ("head_dim", head_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UserError(f"{name} must be a whole number of at least 1, got {value!r}")
    if n_heads > MAX_HEADS:
        raise UserError(f"at most {MAX_HEADS} heads can be shown step by step, got {n_heads:,}")
    if inputs.dim() != 2:
        raise UserError(f"inputs must be a (tokens, dims) matrix, got shape {tuple(inputs.shape)}")
    check_step_sizes(inputs.shape[0], inputs.shape[1], n_heads * head_dim)  # before any allocation
    w_query, w_key, w_value = projection_weights(inputs.shape[1], n_heads * head_dim, seed)
    heads = []
    for h in range(n_heads):
        cols = slice(h * head_dim, (h + 1) * head_dim)
        heads.append(
            attention_steps(inputs, w_query[:, cols], w_key[:, cols], w_value[:, cols], causal, dropout, seed + h)
        )
    return heads


def combined_context(heads: list[AttentionSteps]) -> torch.Tensor:
    """The heads' context vectors side by side (before the output projection): (T, n_heads * head_dim)."""
    return torch.cat([h.context for h in heads], dim=1)


def model_attention(model: GPTModel, token_ids: list[int]) -> torch.Tensor:
    """Attention weights of `model` (in eval mode) for one sequence: (n_layers, n_heads, T, T)."""
    if not token_ids:
        raise UserError("need at least one token")
    limit = model.cfg["context_length"]
    if len(token_ids) > limit:
        raise UserError(f"{len(token_ids)} tokens do not fit the model's context of {limit}")
    if model.training:
        # A model shared between sessions cannot be switched back and forth safely: ask for eval mode.
        raise UserError("call model.eval() first: dropout would change the maps on every run")
    return model.attention_maps(torch.tensor([token_ids]))[:, 0]


def attended_by(maps: torch.Tensor, layer: int, head: int | None, query: int) -> torch.Tensor:
    """How much token `query` attends to each token (a row of the map); `head=None` averages heads."""
    rows = maps[layer, :, query] if head is None else maps[layer, head, query][None]
    return rows.mean(dim=0)
