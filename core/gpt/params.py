"""Where a GPT's parameters live, counted from the real module (book section 4.6).

The model is built on PyTorch's `meta` device: shapes without memory, so even GPT-2 XL
(1.6 billion parameters) is counted in a fraction of a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core.gpt.model import GPTModel

COMPONENTS = (
    "token_embedding",
    "positional_embedding",
    "attention",
    "feed_forward",
    "layer_norms",
    "output_head",
)
MIB = 1024 * 1024


@dataclass(frozen=True)
class ParameterCount:
    """Parameter counts by component; `total` counts the output head, `total_tied` does not."""

    components: dict[str, int]
    per_block: dict[str, int]
    total: int
    total_tied: int

    def size_mb(self, bytes_per_param: int = 4, tied: bool = False) -> float:
        """Size in MB (1024^2 bytes), as the book computes it: 4 bytes per fp32, 2 per bf16."""
        return (self.total_tied if tied else self.total) * bytes_per_param / MIB

    @property
    def mb_fp32(self) -> float:
        return self.size_mb(4)

    @property
    def mb_bf16(self) -> float:
        return self.size_mb(2)

    def share(self, component: str) -> float:
        """Fraction of `total` held by `component`."""
        return self.components[component] / self.total


def build_meta_model(cfg: dict[str, Any]) -> GPTModel:
    """The real GPTModel with shapes only: no memory, no initialisation cost."""
    with torch.device("meta"):
        return GPTModel(cfg)


def _numel(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def count_parameters(cfg: dict[str, Any]) -> ParameterCount:
    """Count every parameter of `GPTModel(cfg)` by component (ties counted once in `total_tied`)."""
    model = build_meta_model(cfg)
    blocks = model.trf_blocks
    block_norms = sum(_numel(block.norm1) + _numel(block.norm2) for block in blocks)
    components = {
        "token_embedding": _numel(model.tok_emb),
        "positional_embedding": _numel(model.pos_emb),
        "attention": sum(_numel(block.att) for block in blocks),
        "feed_forward": sum(_numel(block.ff) for block in blocks),
        "layer_norms": block_norms + _numel(model.final_norm),
        "output_head": model.out_head.weight.numel(),
    }
    first = blocks[0]
    per_block = {
        "attention": _numel(first.att),
        "feed_forward": _numel(first.ff),
        "layer_norms": _numel(first.norm1) + _numel(first.norm2),
    }
    total = sum(components.values())
    return ParameterCount(components, per_block, total, total - components["output_head"])


def flops_per_token(cfg: dict[str, Any], context_tokens: int | None = None) -> dict[str, int]:
    """Forward-pass FLOPs per token (a multiply-add counts 2), split like the parameters.

    Attention = its four projections plus the score and weighted-sum products against
    `context_tokens` keys (default: the full context window). The feed-forward holds twice
    attention's weights but does no token-to-token work, so attention's share of the
    compute is larger than its share of the parameters.
    """
    model = build_meta_model(cfg)
    keys = context_tokens if context_tokens is not None else model.cfg["context_length"]

    def linear_flops(module: nn.Module) -> int:
        return sum(2 * m.weight.numel() for m in module.modules() if isinstance(m, nn.Linear))

    n_layers = len(model.trf_blocks)
    first = model.trf_blocks[0]
    attention_scores = n_layers * 2 * 2 * keys * first.att.d_out  # q.k for every key, then weights @ v
    flops = {
        "attention_projections": n_layers * linear_flops(first.att),
        "attention_scores": attention_scores,
        "feed_forward": n_layers * linear_flops(first.ff),
        "output_head": linear_flops(model.out_head),
    }
    flops["attention"] = flops["attention_projections"] + flops["attention_scores"]
    flops["total"] = flops["attention"] + flops["feed_forward"] + flops["output_head"]
    return flops
