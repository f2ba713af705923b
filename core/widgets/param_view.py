"""What the parameter charts show (book section 4.6): shares, model sizes, weights vs compute.

All figures come from `core.gpt.params`, which counts the real `GPTModel` built on the meta device.
"""

from __future__ import annotations

from typing import Any

from core.gpt.config import get_preset
from core.gpt.params import (
    COMPONENTS,
    ParameterCount,
    count_parameters,
    flops_per_token,
)

COMPONENT_LABELS = {
    "token_embedding": "Token embedding",
    "positional_embedding": "Positional embedding",
    "attention": "Attention",
    "feed_forward": "Feed-forward",
    "layer_norms": "LayerNorms",
    "output_head": "Output head",
}
GPT2_PRESETS = ("gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl")
BYTE_UNITS = ("bytes", "KB", "MB", "GB", "TB", "PB")


def format_bytes(n: float) -> str:
    """A size in the largest unit that keeps it at or above 1, counting 1 KB = 1024 bytes (as the book's MB)."""
    unit = 0
    while n >= 1024 and unit < len(BYTE_UNITS) - 1:
        n /= 1024
        unit += 1
    return f"{n:,.0f} bytes" if unit == 0 else f"{n:,.2f} {BYTE_UNITS[unit]}"


def model_parameters(count: ParameterCount, tied: bool) -> int:
    """Parameters the model really holds: with tying the output head reuses the token embedding."""
    return count.total_tied if tied else count.total


def component_rows(count: ParameterCount, tied: bool) -> list[dict[str, Any]]:
    """One row per component with its exact count and share of the model's parameters.

    With tying, the output head adds no parameters of its own, so it is left out.
    """
    total = model_parameters(count, tied)
    return [
        {"component": COMPONENT_LABELS[name], "parameters": count.components[name],
         "share": count.components[name] / total}
        for name in COMPONENTS
        if not (tied and name == "output_head")
    ]


def preset_rows(tied: bool, extra: dict[str, dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Component counts of every GPT-2 size (plus `extra` named configs), for stacked bars."""
    configs = {name: get_preset(name, tie_weights=tied) for name in GPT2_PRESETS}
    configs.update(extra or {})
    rows = []
    for order, (name, cfg) in enumerate(configs.items()):
        count = count_parameters(cfg)
        for component in component_rows(count, tied):
            rows.append({"model": name, "order": order, **component})
    return rows


def weights_vs_compute(cfg: dict[str, Any], context_tokens: int | None = None) -> list[dict[str, Any]]:
    """Attention, feed-forward and output head: share of the weights beside share of the FLOPs per token.

    Attention's compute grows with the number of tokens it looks back at; the feed-forward's does not.
    """
    count = count_parameters(cfg)
    flops = flops_per_token(cfg, context_tokens)
    tied = cfg.get("tie_weights", False)
    total = model_parameters(count, tied)
    parts = {
        "attention": count.components["attention"],
        "feed_forward": count.components["feed_forward"],
        "output_head": 0 if tied else count.components["output_head"],
    }
    return [
        {
            "part": COMPONENT_LABELS[name],
            "parameters": params,
            "parameter share": params / total,
            "FLOPs per token": flops[name],
            "FLOP share": flops[name] / flops["total"],
        }
        for name, params in parts.items()
    ]


def rest_beside_main_parts(count: ParameterCount) -> int:
    """What is left beside the token embedding, attention, feed-forward and output head.

    That is the positional embedding and the LayerNorms: every bias already sits inside
    attention (its output projection) or the feed-forward.
    """
    named = ("token_embedding", "attention", "feed_forward", "output_head")
    return count.total - sum(count.components[name] for name in named)
