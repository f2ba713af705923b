"""The GPT model, built from scratch as in the book (chapter 4).

Token + positional embeddings, dropout, `n_layers` pre-LayerNorm transformer blocks
(multi-head attention and a GELU feed-forward, each wrapped in a shortcut), a final
LayerNorm and a bias-free linear head that scores every vocabulary token.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from core.errors import UserError
from core.gpt.attention import KVCache, MultiHeadAttention
from core.gpt.config import validate_config


class LayerNorm(nn.Module):
    """Normalise each vector to mean 0, variance 1, then scale and shift (section 4.2)."""

    def __init__(self, emb_dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.scale = nn.Parameter(torch.ones(emb_dim))
        self.shift = nn.Parameter(torch.zeros(emb_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Same as (x - mean) / sqrt(var + eps) * scale + shift with the biased variance, fused.
        return F.layer_norm(x, (x.shape[-1],), self.scale, self.shift, self.eps)


class GELU(nn.Module):
    """GELU with GPT-2's tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (section 4.3)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.gelu(x, approximate="tanh")


class FeedForward(nn.Module):
    """Expand to 4 x emb_dim, apply GELU, project back (section 4.3)."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(cfg["emb_dim"], 4 * cfg["emb_dim"]),
            GELU(),
            nn.Linear(4 * cfg["emb_dim"], cfg["emb_dim"]),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class TransformerBlock(nn.Module):
    """LayerNorm -> attention -> shortcut, then LayerNorm -> feed-forward -> shortcut (section 4.5)."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.att = MultiHeadAttention(
            d_in=cfg["emb_dim"],
            d_out=cfg["emb_dim"],
            context_length=cfg["context_length"],
            dropout=cfg["drop_rate"],
            num_heads=cfg["n_heads"],
            qkv_bias=cfg["qkv_bias"],
        )
        self.ff = FeedForward(cfg)
        self.norm1 = LayerNorm(cfg["emb_dim"])
        self.norm2 = LayerNorm(cfg["emb_dim"])
        self.drop_shortcut = nn.Dropout(cfg["drop_rate"])

    def forward(
        self, x: torch.Tensor, cache: KVCache | None = None, layer: int = 0, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attended, weights = self.att(self.norm1(x), cache, layer, need_weights)
        x = x + self.drop_shortcut(attended)
        x = x + self.drop_shortcut(self.ff(self.norm2(x)))
        return x, weights


class GPTModel(nn.Module):
    """GPT-2-style language model (section 4.6). `cfg` uses the book's key names."""

    def __init__(self, cfg: dict[str, Any]):
        super().__init__()
        self.cfg = validate_config(cfg)
        cfg = self.cfg
        self.tok_emb = nn.Embedding(cfg["vocab_size"], cfg["emb_dim"])
        self.pos_emb = nn.Embedding(cfg["context_length"], cfg["emb_dim"])
        self.drop_emb = nn.Dropout(cfg["drop_rate"])
        self.trf_blocks = nn.ModuleList(TransformerBlock(cfg) for _ in range(cfg["n_layers"]))
        self.final_norm = LayerNorm(cfg["emb_dim"])
        self.out_head = nn.Linear(cfg["emb_dim"], cfg["vocab_size"], bias=False)
        if cfg["tie_weights"]:
            self.out_head.weight = self.tok_emb.weight  # GPT-2's trick: one matrix to embed and to score

    def forward(self, in_idx: torch.Tensor, cache: KVCache | None = None) -> torch.Tensor:
        """Logits (batch, tokens, vocab_size) for token IDs (batch, tokens)."""
        return self.out_head(self._run(in_idx, cache, need_weights=False)[0])

    def hidden_states(self, in_idx: torch.Tensor) -> torch.Tensor:
        """Final-normalised hidden states (batch, tokens, emb_dim): what the output head scores."""
        return self._run(in_idx, None, need_weights=False)[0]

    @torch.no_grad()
    def attention_maps(self, in_idx: torch.Tensor) -> torch.Tensor:
        """Attention weights of every layer and head: (n_layers, batch, n_heads, tokens, tokens)."""
        return torch.stack(self._run(in_idx, None, need_weights=True)[1])

    def _run(
        self, in_idx: torch.Tensor, cache: KVCache | None, need_weights: bool
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Final-normalised hidden states (batch, tokens, emb_dim) and, if asked, every layer's attention."""
        if in_idx.dim() != 2 or in_idx.shape[1] == 0:
            raise UserError(f"expected token IDs of shape (batch, tokens) with tokens >= 1, got {tuple(in_idx.shape)}")
        past = 0 if cache is None else len(cache)
        num_tokens = in_idx.shape[1]
        if past + num_tokens > self.cfg["context_length"]:
            raise UserError(
                f"{past + num_tokens} tokens do not fit the context window of {self.cfg['context_length']}; "
                "keep only the last context_length tokens (generation crops from the left)"
            )
        positions = torch.arange(past, past + num_tokens, device=in_idx.device)
        x = self.drop_emb(self.tok_emb(in_idx) + self.pos_emb(positions))
        maps = []
        for layer, block in enumerate(self.trf_blocks):
            x, weights = block(x, cache, layer, need_weights)
            if need_weights:
                maps.append(weights)
        return self.final_norm(x), maps

    def new_cache(self) -> KVCache:
        """An empty KV cache with room for this model's whole context window."""
        return KVCache(self.cfg["n_layers"], self.cfg["context_length"])
