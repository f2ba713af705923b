"""The embedding step of the data pipeline (book sections 2.7-2.8), with every intermediate.

Token ids look up rows of a token embedding table, positions look up rows of a positional
table, and their sum is what the first transformer block receives. The tables are random,
as in an untrained model: the numbers mean nothing yet, only the shapes do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from core.errors import UserError

MAX_EMBEDDING_VOCAB = 1_000_000


@dataclass(frozen=True)
class EmbeddingSteps:
    """Token ids, both lookups and their sum, each (tokens, emb_dim)."""

    token_ids: torch.Tensor  # (T,)
    token_table_shape: tuple[int, int]  # (vocab_size, emb_dim)
    position_table_shape: tuple[int, int]  # (context_length, emb_dim)
    token_embeddings: torch.Tensor
    positional_embeddings: torch.Tensor
    input_embeddings: torch.Tensor


@torch.no_grad()
def embed_tokens(
    token_ids: Sequence[int], vocab_size: int, emb_dim: int, context_length: int | None = None, seed: int = 123
) -> EmbeddingSteps:
    """Embed `token_ids` with freshly seeded tables, as `nn.Embedding` does in the book's section 2.8."""
    ids = torch.as_tensor(list(token_ids), dtype=torch.long)
    if len(ids) == 0:
        raise UserError("need at least one token id to embed")
    context_length = len(ids) if context_length is None else context_length
    if not 1 <= vocab_size <= MAX_EMBEDDING_VOCAB or emb_dim < 1:
        raise UserError(f"vocab_size must be 1..{MAX_EMBEDDING_VOCAB:,} and emb_dim positive")
    if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
        raise UserError(f"token ids must lie in 0..{vocab_size - 1}")
    if len(ids) > context_length:
        raise UserError(f"{len(ids)} tokens do not fit a context of {context_length} positions")
    # Same numbers as `torch.manual_seed(seed); nn.Embedding(...)`, without touching the global RNG.
    generator = torch.Generator().manual_seed(seed)
    token_table = torch.randn(vocab_size, emb_dim, generator=generator)
    position_table = torch.randn(context_length, emb_dim, generator=generator)
    tokens = F.embedding(ids, token_table)
    positions = F.embedding(torch.arange(len(ids)), position_table)
    return EmbeddingSteps(
        ids, (vocab_size, emb_dim), (context_length, emb_dim), tokens, positions, tokens + positions
    )
