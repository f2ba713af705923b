"""Model configurations with the book's key names (chapter 4, listing 4.1) and their validation."""

from __future__ import annotations

from typing import Any

from core.errors import UserError

GPT2_VOCAB_SIZE = 50257

_GPT2_BASE = {
    "vocab_size": GPT2_VOCAB_SIZE,
    "context_length": 1024,
    "drop_rate": 0.1,
    "qkv_bias": False,
    "tie_weights": False,
}

PRESETS: dict[str, dict[str, Any]] = {
    # Small enough that one epoch on "The Verdict" (about 4,600 training tokens) takes seconds on 2 cores.
    "tiny": {**_GPT2_BASE, "context_length": 128, "emb_dim": 256, "n_heads": 4, "n_layers": 4},
    # For "Tiny Shakespeare" (about 300,000 training tokens) on a 2-core CPU: nearly all the weights and
    # time are the 50,257-token embedding and output head, so the layers stay narrow; a few minutes of
    # training write play-like text (speaker names, short lines) while validation tracks training.
    "shakespeare": {**_GPT2_BASE, "context_length": 128, "emb_dim": 128, "n_heads": 4, "n_layers": 4},
    # Day 16's figure on purpose: enough capacity and no dropout to memorise The Verdict's 4,600 training
    # tokens in a few CPU minutes (training loss well under 1) while the validation loss stalls near 6-7.
    "overfit": {**_GPT2_BASE, "context_length": 64, "emb_dim": 256, "n_heads": 4, "n_layers": 4, "drop_rate": 0.0},
    "gpt2-small": {**_GPT2_BASE, "emb_dim": 768, "n_heads": 12, "n_layers": 12},
    "gpt2-medium": {**_GPT2_BASE, "emb_dim": 1024, "n_heads": 16, "n_layers": 24},
    "gpt2-large": {**_GPT2_BASE, "emb_dim": 1280, "n_heads": 20, "n_layers": 36},
    "gpt2-xl": {**_GPT2_BASE, "emb_dim": 1600, "n_heads": 25, "n_layers": 48},
}

REQUIRED_KEYS = ("vocab_size", "context_length", "emb_dim", "n_heads", "n_layers")
# Upper bounds, far above any model here (GPT-2 XL: 1600 wide, 48 layers), so that a typo or a hostile
# checkpoint is refused in words instead of hanging or failing to allocate. Counting parameters on the
# meta device (the Parameters page) works up to these.
LIMITS = {"vocab_size": 1_000_000, "context_length": 131_072, "emb_dim": 16_384, "n_heads": 256, "n_layers": 256}
OPTIONAL_DEFAULTS = {"drop_rate": 0.0, "qkv_bias": False, "tie_weights": False}


def get_preset(name: str, **overrides: Any) -> dict[str, Any]:
    """A copy of preset `name` with `overrides` applied, validated."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return validate_config({**PRESETS[name], **overrides})


def validate_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Return a complete copy of `cfg`, or raise `UserError` (a ValueError) saying what is wrong."""
    missing = [key for key in REQUIRED_KEYS if key not in cfg]
    if missing:
        raise UserError(f"config is missing {', '.join(missing)}")
    out = {**OPTIONAL_DEFAULTS, **cfg}
    for key in REQUIRED_KEYS:
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise UserError(f"{key} must be a positive integer, got {value!r:.40}")
        if value > LIMITS[key]:
            raise UserError(f"{key} must be at most {LIMITS[key]:,}, got {value:.3g}: choose a smaller model")
    if out["emb_dim"] % out["n_heads"]:
        raise UserError(
            f"emb_dim ({out['emb_dim']}) must be divisible by n_heads ({out['n_heads']}): "
            "each head gets emb_dim / n_heads dimensions"
        )
    drop = out["drop_rate"]
    if isinstance(drop, bool) or not isinstance(drop, (int, float)) or not 0.0 <= drop < 1.0:
        raise UserError(f"drop_rate must be in [0, 1), got {drop!r}")
    out["drop_rate"] = float(drop)
    for key in ("qkv_bias", "tie_weights"):
        if not isinstance(out[key], bool):
            raise UserError(f"{key} must be true or false, got {out[key]!r}")
    return out
