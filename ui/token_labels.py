"""GPT-2 tokens as the pages show them: their text with whitespace made visible, or their bytes in hex."""

from __future__ import annotations

from core.gpt.tokenizers import gpt2_tokenizer
from core.widgets.token_view import bytes_label


def token_label(token_id: int) -> str:
    return bytes_label(gpt2_tokenizer().decode_single_token_bytes(token_id))
