"""Tokenizers from chapter 2: GPT-2's BPE (tiktoken), the book's simple tokenizers, token spans.

Byte-level BPE trained from scratch lives in `core.gpt.bpe`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import tiktoken

from core.errors import Unavailable, UserError
from core.paths import TIKTOKEN_CACHE, tiktoken_cache_dir

MAX_TEXT_CHARS = 100_000  # what the app tokenizes at once; a 1 MB paste gets a clear message
ENDOFTEXT = "<|endoftext|>"
UNKNOWN = "<|unk|>"


class TokenizerUnavailable(Unavailable):
    """The GPT-2 vocabulary could not be loaded (offline and no local copy)."""


class TextTooLong(UserError):
    """More text than the app tokenizes at once."""

    def __init__(self, n_chars: int, limit: int):
        self.n_chars, self.limit = n_chars, limit
        super().__init__(
            f"The text has {n_chars:,} characters; the limit is {limit:,}. "
            "Paste a shorter passage."
        )


class InvalidText(UserError):
    """Text that cannot be turned into UTF-8 bytes (a lone surrogate code point)."""


class UnknownWordError(UserError):
    """`SimpleTokenizerV1` met words that are not in its vocabulary."""

    def __init__(self, words: list[str]):
        self.words = words
        shown = ", ".join(repr(w) for w in words[:10]) + (" ..." if len(words) > 10 else "")
        super().__init__(
            f"{len(words)} word(s) not in the vocabulary: {shown}. SimpleTokenizerV1 "
            f"only knows its training text; SimpleTokenizerV2 maps unknown words to {UNKNOWN}."
        )


def check_text_length(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Return `text` unchanged, or raise `TextTooLong` when it has more than `limit` characters."""
    if len(text) > limit:
        raise TextTooLong(len(text), limit)
    return text


def utf8_bytes(text: str) -> bytes:
    """`text` as UTF-8; a lone surrogate (not valid Unicode) raises `InvalidText` naming where."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidText(
            f"character {err.start} is a lone surrogate (U+{ord(text[err.start]):04X}), "
            "which is not valid Unicode and has no UTF-8 bytes to tokenize"
        ) from None


# ---------------------------------------------------------------------------------------------
# GPT-2's tokenizer (section 2.5): tiktoken's `gpt2` encoding, 50,257 tokens


@functools.lru_cache(maxsize=1)
def gpt2_tokenizer() -> tiktoken.Encoding:
    """tiktoken's `gpt2` encoding, loaded once.

    tiktoken downloads two vocabulary files the first time and caches them in `TIKTOKEN_CACHE_DIR`.
    Entry points (the app, the tests) point that at the offline copy at start-up with
    `core.paths.tiktoken_environment()`, so the encoding loads without internet beside the data folder.
    """
    try:
        return tiktoken.get_encoding("gpt2")
    except (OSError, ValueError, ImportError) as err:  # requests' errors are OSErrors
        raise TokenizerUnavailable(
            f"Could not load the GPT-2 tokenizer vocabulary ({type(err).__name__}: {err}). "
            "tiktoken downloads it once from openaipublic.blob.core.windows.net and caches it. "
            "Connect to the internet once, or set the TIKTOKEN_CACHE_DIR environment variable to "
            f"a folder that already holds the cached files (such as ../shared/data/{TIKTOKEN_CACHE}). "
            f"Cache folder tried: {tiktoken_cache_dir()}."
        ) from err


def encode(text: str, allow_special: bool = False) -> list[int]:
    """GPT-2 token ids for `text`.

    `<|endoftext|>` typed by a user is ordinary text (several tokens) unless `allow_special`,
    where it becomes the single token 50256 as in section 2.5.
    """
    utf8_bytes(text)  # a clear error for lone surrogates instead of a silent U+FFFD
    enc = gpt2_tokenizer()
    if allow_special:
        return enc.encode(text, allowed_special="all")
    return enc.encode(text, disallowed_special=())


def decode(ids: Sequence[int]) -> str:
    """Text for GPT-2 token ids; bytes that do not form whole characters show as U+FFFD."""
    enc = gpt2_tokenizer()
    bad = [i for i in ids if not 0 <= i < enc.n_vocab]
    if bad:
        raise UserError(f"token id(s) {bad[:5]} outside GPT-2's vocabulary 0..{enc.n_vocab - 1}")
    return enc.decode(list(ids))


# ---------------------------------------------------------------------------------------------
# The book's simple tokenizers (sections 2.2-2.4): split on punctuation and whitespace

SPLIT_PATTERN = r'([,.:;?_!"()\']|--|\s)'


def split_text(text: str) -> list[str]:
    """Words and punctuation of `text`, whitespace dropped (the book's regex, section 2.2)."""
    return [piece.strip() for piece in re.split(SPLIT_PATTERN, text) if piece.strip()]


def build_vocab(text: str, special_tokens: Sequence[str] = ()) -> dict[str, int]:
    """Sorted unique words of `text` numbered from 0, then `special_tokens` (section 2.3)."""
    words = sorted(set(split_text(text)))
    words += [t for t in special_tokens if t not in words]
    return {word: i for i, word in enumerate(words)}


class SimpleTokenizerV1:
    """Words to ids with a fixed vocabulary; unknown words are an error (listing 2.3)."""

    def __init__(self, vocab: dict[str, int]):
        self.str_to_int = dict(vocab)
        self.int_to_str = {i: s for s, i in vocab.items()}

    def encode(self, text: str) -> list[int]:
        words = split_text(text)
        unknown = [w for w in dict.fromkeys(words) if w not in self.str_to_int]
        if unknown:
            raise UnknownWordError(unknown)
        return [self.str_to_int[w] for w in words]

    def decode(self, ids: Sequence[int]) -> str:
        bad = [i for i in ids if i not in self.int_to_str]
        if bad:
            n = len(self.int_to_str)
            raise UserError(f"token id(s) {bad[:5]} not in the vocabulary of {n} words")
        text = " ".join(self.int_to_str[i] for i in ids)
        return re.sub(r'\s+([,.:;?!"()\'])', r"\1", text)  # no space before punctuation


class SimpleTokenizerV2(SimpleTokenizerV1):
    """Like V1, but unknown words become `<|unk|>` (listing 2.4); build its vocabulary with
    `build_vocab(text, special_tokens=(ENDOFTEXT, UNKNOWN))`."""

    def __init__(self, vocab: dict[str, int]):
        if UNKNOWN not in vocab:
            raise UserError(f"SimpleTokenizerV2 needs {UNKNOWN} in its vocabulary")
        super().__init__(vocab)

    def encode(self, text: str) -> list[int]:
        unk = self.str_to_int[UNKNOWN]
        return [self.str_to_int.get(w, unk) for w in split_text(text)]


# ---------------------------------------------------------------------------------------------
# Which characters each token covers, for display


@dataclass(frozen=True)
class TokenSpan:
    """One token and the characters `text[start:end]` it covers.

    A byte-level token can hold part of a multi-byte character (GPT-2 splits many emoji
    in two). Such a token is `partial`: its span is the whole character(s) it touches,
    shared with its neighbour, and its `label` shows the broken bytes in hex.
    """

    id: int | None
    token_bytes: bytes
    start: int
    end: int
    text: str
    partial: bool

    @property
    def label(self) -> str:
        """The token as text, bytes that are not whole characters written as `\\xNN`."""
        return self.token_bytes.decode("utf-8", errors="backslashreplace")

    @property
    def hex(self) -> str:
        """All of the token's bytes in hex, e.g. `20 f0 9f 98`."""
        return self.token_bytes.hex(" ")


def token_spans(
    token_bytes: Sequence[bytes], text: str, ids: Sequence[int] | None = None
) -> list[TokenSpan]:
    """Character spans of tokens whose bytes, joined, are `text` in UTF-8.

    Works for any byte-level tokenizer: `encoding.decode_tokens_bytes(ids)` (tiktoken) or
    `BPETokenizer.decode_tokens_bytes(ids)`.
    """
    data = utf8_bytes(text)
    if b"".join(token_bytes) != data:
        raise UserError("the tokens' bytes do not spell this text")
    if ids is not None and len(ids) != len(token_bytes):
        raise UserError(f"{len(ids)} ids for {len(token_bytes)} tokens")
    char_of_byte = [i for i, ch in enumerate(text) for _ in range(len(ch.encode("utf-8")))]
    starts_char = [True] + [char_of_byte[k] != char_of_byte[k - 1] for k in range(1, len(data))]
    starts_char.append(True)  # the end of the text is a boundary
    spans, pos = [], 0
    for k, piece in enumerate(token_bytes):
        end_byte = pos + len(piece)
        start = char_of_byte[pos] if pos < len(data) else len(text)
        end = char_of_byte[end_byte - 1] + 1 if piece else start
        partial = not (starts_char[pos] and starts_char[end_byte])
        token_id = None if ids is None else ids[k]
        spans.append(
            TokenSpan(id=token_id, token_bytes=piece, start=start, end=end, text=text[start:end], partial=partial)
        )
        pos = end_byte
    return spans
