"""Self-attention, step by step and as a module (book chapter 3).

`attention_steps` returns every intermediate of one attention pass, for teaching.
`MultiHeadAttention` is the module the GPT model uses: it can return its per-head
weights (slow, explicit path) or run PyTorch's fused `scaled_dot_product_attention`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import UserError

# The step-by-step pass keeps about ten (T, T) and (T, d) matrices: these bounds keep it to tens of MB
# and a fraction of a second (GPT-2's longest context, its widest embedding).
MAX_STEP_TOKENS = 1_024
MAX_STEP_DIM = 1_600

# The book's running example (section 3.3.1): six tokens embedded in three dimensions.
TOY_TOKENS = ["Your", "journey", "starts", "with", "one", "step"]
TOY_INPUTS = torch.tensor(
    [
        [0.43, 0.15, 0.89],  # Your
        [0.55, 0.87, 0.66],  # journey
        [0.57, 0.85, 0.64],  # starts
        [0.22, 0.58, 0.33],  # with
        [0.77, 0.25, 0.10],  # one
        [0.05, 0.80, 0.55],  # step
    ]
)


@dataclass
class AttentionSteps:
    """Every intermediate of one attention pass over a sequence of T vectors."""

    queries: torch.Tensor  # (T, d_out)
    keys: torch.Tensor  # (T, d_out)
    values: torch.Tensor  # (T, d_out)
    scores: torch.Tensor  # (T, T) raw dot products q_i . k_j
    scaled_scores: torch.Tensor  # scores / sqrt(d_k)
    causal_mask: torch.Tensor | None  # (T, T) True where a query may not look (the future)
    masked_scores: torch.Tensor  # scaled scores with the future set to -inf
    weights: torch.Tensor  # softmax over each row: every row sums to 1
    dropout_mask: torch.Tensor | None  # (T, T) True where a weight was dropped
    dropped_weights: torch.Tensor  # weights after dropout (survivors scaled by 1 / (1 - p))
    context: torch.Tensor  # (T, d_out) weighted sums of the values


def check_step_sizes(num_tokens: int, d_in: int, d_out: int) -> None:
    """`UserError` before anything is allocated when a step-by-step pass would be too big to show."""
    for name, value, limit in (("tokens", num_tokens, MAX_STEP_TOKENS), ("input dimensions", d_in, MAX_STEP_DIM),
                               ("output dimensions", d_out, MAX_STEP_DIM)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise UserError(f"{name} must be a whole number from 1 to {limit:,} for the step-by-step view, "
                            f"got {value!r}")


def projection_weights(d_in: int, d_out: int, seed: int = 123) -> tuple[torch.Tensor, ...]:
    """Random query, key and value matrices, like the book's `SelfAttention_v1` (section 3.4.1)."""
    check_step_sizes(1, d_in, d_out)
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.rand(d_in, d_out, generator=generator) for _ in range(3))


def attention_steps(
    inputs: torch.Tensor,
    w_query: torch.Tensor | None = None,
    w_key: torch.Tensor | None = None,
    w_value: torch.Tensor | None = None,
    causal: bool = False,
    dropout: float = 0.0,
    seed: int = 123,
    scale: bool = True,
) -> AttentionSteps:
    """Run scaled dot-product attention on `inputs` (T, d_in), keeping every step.

    Without projection matrices the inputs serve as queries, keys and values themselves
    (the book's simplified attention of section 3.3, which also skips the scaling: `scale=False`).
    """
    if inputs.dim() != 2 or inputs.shape[0] == 0:
        raise UserError(f"inputs must be a non-empty (tokens, dims) matrix, got shape {tuple(inputs.shape)}")
    check_step_sizes(inputs.shape[0], inputs.shape[1], inputs.shape[1])
    if not 0.0 <= dropout < 1.0:
        raise UserError(f"dropout must be in [0, 1), got {dropout}")
    given = [w is not None for w in (w_query, w_key, w_value)]
    if any(given) and not all(given):
        raise UserError("give all three projection matrices or none")
    if all(given):
        queries, keys, values = inputs @ w_query, inputs @ w_key, inputs @ w_value
    else:
        queries = keys = values = inputs

    num_tokens = inputs.shape[0]
    scores = queries @ keys.T
    scaled = scores / math.sqrt(keys.shape[-1]) if scale else scores
    mask = None
    masked = scaled
    if causal:
        mask = torch.triu(torch.ones(num_tokens, num_tokens, dtype=torch.bool), diagonal=1)
        masked = scaled.masked_fill(mask, float("-inf"))
    weights = torch.softmax(masked, dim=-1)

    drop_mask = None
    dropped = weights
    if dropout > 0:
        generator = torch.Generator().manual_seed(seed)
        drop_mask = torch.rand(weights.shape, generator=generator) < dropout
        dropped = weights.masked_fill(drop_mask, 0.0) / (1.0 - dropout)
    return AttentionSteps(
        queries=queries,
        keys=keys,
        values=values,
        scores=scores,
        scaled_scores=scaled,
        causal_mask=mask,
        masked_scores=masked,
        weights=weights,
        dropout_mask=drop_mask,
        dropped_weights=dropped,
        context=dropped @ values,
    )


class KVCache:
    """Keys and values of the tokens seen so far, one (k, v) pair per transformer block.

    Lets generation feed one new token at a time instead of the whole context (chapter 5).
    Each block's keys and values live in tensors allocated for `capacity` positions and filled
    in place, so a new token copies only its own keys and values, not the whole history as
    `torch.cat` would; without a capacity (or past it) the tensors double in size when full.
    """

    def __init__(self, n_layers: int, capacity: int | None = None):
        self.capacity = capacity
        self.layers: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * n_layers
        self.lengths = [0] * n_layers

    def __len__(self) -> int:
        """Number of cached positions."""
        return self.lengths[0]

    def update(self, layer: int, keys: torch.Tensor, values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append this step's keys/values (batch, heads, tokens, head_dim) for `layer` and return all of them."""
        start = self.lengths[layer]
        end = start + keys.shape[2]
        stored = self.layers[layer]
        if stored is None or end > stored[0].shape[2]:
            size = max(end, self.capacity or 0, 2 * start)
            grown = tuple(t.new_empty(t.shape[0], t.shape[1], size, t.shape[3]) for t in (keys, values))
            if stored is not None:
                for new, old in zip(grown, stored, strict=False):
                    new[:, :, :start] = old[:, :, :start]
            stored = self.layers[layer] = grown
        stored[0][:, :, start:end] = keys
        stored[1][:, :, start:end] = values
        self.lengths[layer] = end
        return stored[0][:, :, :end], stored[1][:, :, :end]


class MultiHeadAttention(nn.Module):
    """Causal multi-head self-attention (book section 3.6.2), with an optional KV cache."""

    def __init__(
        self, d_in: int, d_out: int, context_length: int, dropout: float, num_heads: int, qkv_bias: bool = False
    ):
        super().__init__()
        if d_out % num_heads:
            raise UserError(f"d_out ({d_out}) must be divisible by num_heads ({num_heads})")
        self.d_out = d_out
        self.num_heads = num_heads
        self.head_dim = d_out // num_heads
        self.context_length = context_length
        self.W_query = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_key = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.W_value = nn.Linear(d_in, d_out, bias=qkv_bias)
        self.out_proj = nn.Linear(d_out, d_out)
        self.dropout = nn.Dropout(dropout)

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.num_heads, self.head_dim).transpose(1, 2)  # (b, heads, t, head_dim)

    def forward(
        self,
        x: torch.Tensor,
        cache: KVCache | None = None,
        layer: int = 0,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Return the context vectors and, if `need_weights`, the weights (b, heads, t, T)."""
        b, t, _ = x.shape
        queries = self._split_heads(self.W_query(x))
        keys = self._split_heads(self.W_key(x))
        values = self._split_heads(self.W_value(x))
        if cache is not None:
            keys, values = cache.update(layer, keys, values)
        past = keys.shape[2] - t  # queries sit at positions past .. past + t - 1

        weights = None
        # With dropout, PyTorch's CPU kernel falls back to a slower general path than these few lines.
        explicit = need_weights or (self.training and self.dropout.p > 0 and x.device.type == "cpu")
        if explicit:
            scores = queries @ keys.transpose(2, 3) / math.sqrt(self.head_dim)
            future = torch.ones(t, keys.shape[2], dtype=torch.bool, device=x.device).triu(past + 1)
            attention = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)
            weights = attention if need_weights else None
            context = self.dropout(attention) @ values
        else:
            dropout_p = self.dropout.p if self.training else 0.0
            if past == 0 or t == 1:
                # A single new query may look at everything cached; a fresh sequence is plainly causal.
                context = F.scaled_dot_product_attention(
                    queries, keys, values, dropout_p=dropout_p, is_causal=past == 0 and t > 1
                )
            else:
                allowed = torch.ones(t, keys.shape[2], dtype=torch.bool, device=x.device).tril(past)
                context = F.scaled_dot_product_attention(
                    queries, keys, values, attn_mask=allowed, dropout_p=dropout_p
                )
        context = context.transpose(1, 2).reshape(b, t, self.d_out)
        return self.out_proj(context), weights
