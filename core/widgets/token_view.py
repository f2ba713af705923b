"""What the tokenizer explorer shows (book chapter 2): tokens with their text spans, merges, windows.

Every tokenizer of chapter 2 is turned into the same `Tokenized` record, so the page can draw
GPT-2's BPE, the simple word tokenizers and a BPE trained here side by side. The texts they learn
from come from `core.app.corpora`, passed in by the page.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from core.gpt.bpe import BPETokenizer
from core.gpt.data import GPTDataset
from core.gpt.tokenizers import (
    ENDOFTEXT,
    MAX_TEXT_CHARS,
    UNKNOWN,
    InvalidText,
    SimpleTokenizerV1,
    SimpleTokenizerV2,
    TextTooLong,
    TokenSpan,
    build_vocab,
    check_text_length,
    decode,
    encode,
    gpt2_tokenizer,
    split_text,
    token_spans,
    utf8_bytes,
)

# The book's example of section 2.4: BPE splits a word it never saw; a word tokenizer cannot.
UNKNOWN_WORD_EXAMPLE = "Hello, do you like tea? <|endoftext|> In the sunlit terraces of someunknownPlace."

@dataclass(frozen=True)
class PreparedText:
    """User text made safe to tokenize, with a sentence for each change made to it."""

    text: str
    notes: list[str]


def prepare_text(text: str, limit: int = MAX_TEXT_CHARS) -> PreparedText:
    """Cut `text` to `limit` characters and replace lone surrogates, saying so in `notes`."""
    notes = []
    try:
        check_text_length(text, limit)
    except TextTooLong as err:
        notes.append(f"The text has {err.n_chars:,} characters; only the first {limit:,} are tokenized.")
        text = text[:limit]
    try:
        utf8_bytes(text)
    except InvalidText as err:
        notes.append(f"{err}; it was replaced by U+FFFD.")
        text = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in text)
    return PreparedText(text, notes)


_SHOWN_AS = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍", "\x7f": "␡"}


def visible(text: str) -> str:
    """`text` with whitespace, control and invisible format characters made visible.

    Spaces become ␣ (GPT-2 tokens often start with one), control characters their Unicode
    control pictures, and format characters such as the zero-width joiner their code point.
    """
    out = []
    for ch in text:
        if ch in _SHOWN_AS:
            out.append(_SHOWN_AS[ch])
        elif ord(ch) < 0x20:
            out.append(chr(0x2400 + ord(ch)))
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Zs"):
            out.append(f"⟨U+{ord(ch):04X}⟩")
        else:
            out.append(ch)
    return "".join(out)


def bytes_label(data: bytes) -> str:
    """A token's bytes as text when they are whole UTF-8 characters, else in hex."""
    try:
        return visible(data.decode("utf-8"))
    except UnicodeDecodeError:
        return f"<{data.hex(' ')}>"


@dataclass(frozen=True)
class Token:
    """One token as the explorer shows it: its id, what it stands for, and the text it covers."""

    id: int
    label: str  # what the token is: its text made visible, its bytes in hex, or <|unk|>
    covered: str  # the characters text[start:end] it came from
    start: int
    end: int
    token_bytes: bytes
    partial: bool = False  # holds part of a multi-byte character
    special: bool = False  # a special token such as <|endoftext|> or <|unk|>


@dataclass(frozen=True)
class Tokenized:
    """A text as one tokenizer sees it."""

    tokenizer: str
    text: str
    tokens: list[Token]
    decoded: str
    vocab_size: int  # ids run from 0 to vocab_size - 1

    @property
    def ids(self) -> list[int]:
        return [t.id for t in self.tokens]

    @property
    def n_chars(self) -> int:
        return len(self.text)

    @property
    def n_bytes(self) -> int:
        return len(self.text.encode("utf-8", errors="surrogatepass"))

    @property
    def n_tokens(self) -> int:
        return len(self.tokens)

    @property
    def chars_per_token(self) -> float | None:
        """Characters per token (higher means the tokenizer packs more text per token)."""
        return self.n_chars / self.n_tokens if self.tokens else None

    @property
    def round_trip_ok(self) -> bool:
        return self.decoded == self.text

    @property
    def unknown_words(self) -> list[str]:
        """Words that became `<|unk|>`, each once, in order."""
        return list(dict.fromkeys(t.covered for t in self.tokens if t.label == UNKNOWN))


def _from_spans(spans: Sequence[TokenSpan], special_ids: set[int]) -> list[Token]:
    return [
        Token(
            id=s.id,
            label=f"<{s.token_bytes.hex(' ')}>" if s.partial else visible(s.text),
            covered=s.text,
            start=s.start,
            end=s.end,
            token_bytes=s.token_bytes,
            partial=s.partial,
            special=s.id in special_ids,
        )
        for s in spans
    ]


def tokenize_gpt2(text: str, allow_special: bool = False) -> Tokenized:
    """GPT-2's BPE; raises `TokenizerUnavailable` when its vocabulary cannot be loaded."""
    enc = gpt2_tokenizer()
    ids = encode(text, allow_special=allow_special)
    spans = token_spans(enc.decode_tokens_bytes(ids), text, ids)
    return Tokenized(tokenizer="GPT-2 BPE", text=text, tokens=_from_spans(spans, {enc.eot_token}),
                     decoded=decode(ids), vocab_size=enc.n_vocab)


def tokenize_bpe(tokenizer: BPETokenizer, text: str, allow_special: bool = False) -> Tokenized:
    """A BPE trained here. With `allow_special`, `<|endoftext|>` gets the next free id."""
    special_id = tokenizer.vocab_size
    ids: list[int] = []
    pieces = text.split(ENDOFTEXT) if allow_special else [text]
    for k, piece in enumerate(pieces):
        if k:
            ids.append(special_id)
        ids.extend(tokenizer.encode(piece))
    token_bytes = [ENDOFTEXT.encode() if i == special_id else tokenizer.vocab[i] for i in ids]
    spans = token_spans(token_bytes, text, ids)
    decoded = b"".join(token_bytes).decode("utf-8")  # whole characters: token_spans checked they spell `text`
    name = f"BPE trained here ({tokenizer.vocab_size:,} tokens)"
    return Tokenized(tokenizer=name, text=text, tokens=_from_spans(spans, {special_id}), decoded=decoded,
                     vocab_size=special_id + 1)


def word_positions(text: str) -> list[tuple[int, int]]:
    """Where each piece of `split_text(text)` sits in `text`, as (start, end)."""
    positions, pos = [], 0
    for piece in split_text(text):
        start = text.index(piece, pos)
        pos = start + len(piece)
        positions.append((start, pos))
    return positions


def tokenize_simple(tokenizer: SimpleTokenizerV1, text: str) -> Tokenized:
    """The book's word tokenizers; V1 raises `UnknownWordError` for words it does not know."""
    utf8_bytes(text)
    ids = tokenizer.encode(text)
    specials = {i for word, i in tokenizer.str_to_int.items() if word in (ENDOFTEXT, UNKNOWN)}
    tokens = []
    for token_id, (start, end) in zip(ids, word_positions(text), strict=False):
        word = text[start:end]
        tokens.append(
            Token(
                id=token_id,
                label=tokenizer.int_to_str[token_id],
                covered=word,
                start=start,
                end=end,
                token_bytes=word.encode("utf-8"),
                special=token_id in specials,
            )
        )
    name = "Simple tokenizer V2" if isinstance(tokenizer, SimpleTokenizerV2) else "Simple tokenizer V1"
    return Tokenized(tokenizer=name, text=text, tokens=tokens, decoded=tokenizer.decode(ids),
                     vocab_size=len(tokenizer.str_to_int))


def simple_tokenizers(vocab_text: str) -> tuple[SimpleTokenizerV1, SimpleTokenizerV2]:
    """V1 with the words of `vocab_text`; V2 with them plus `<|endoftext|>` and `<|unk|>` (section 2.4)."""
    return (
        SimpleTokenizerV1(build_vocab(vocab_text)),
        SimpleTokenizerV2(build_vocab(vocab_text, special_tokens=(ENDOFTEXT, UNKNOWN))),
    )


def merge_rows(tokenizer: BPETokenizer, limit: int = 50) -> list[dict[str, object]]:
    """The first `limit` merges in the order they were learned: which two tokens became which."""
    rows = []
    for rank, ((a, b), new_id) in enumerate(tokenizer.merges[:limit], start=1):
        rows.append(
            {
                "rank": rank,
                "left": bytes_label(tokenizer.vocab[a]),
                "right": bytes_label(tokenizer.vocab[b]),
                "new token": bytes_label(tokenizer.vocab[new_id]),
                "new id": new_id,
            }
        )
    return rows


@dataclass(frozen=True)
class Windows:
    """Input/target pairs of the sliding window (section 2.6) over one text's token ids."""

    n_windows: int
    rows: list[dict[str, object]]  # the first few pairs, as ids and as token labels


def window_rows(
    ids: Sequence[int], labels: Sequence[str], max_length: int, stride: int, limit: int = 8
) -> Windows:
    """Sliding-window pairs from `core.gpt.data.GPTDataset`; raises `TextTooShortError` if none fit."""
    dataset = GPTDataset(ids, max_length, stride)
    rows = []
    for k in range(min(limit, len(dataset))):
        inputs, targets = (t.tolist() for t in dataset[k])
        start = k * stride
        rows.append(
            {
                "window": k + 1,
                "starts at token": start,
                "input ids": inputs,
                "target ids": targets,
                "input": " | ".join(labels[start : start + max_length]),
                "target": " | ".join(labels[start + 1 : start + max_length + 1]),
            }
        )
    return Windows(len(dataset), rows)


def next_token_steps(ids: Sequence[int], labels: Sequence[str], max_length: int) -> list[dict[str, str]]:
    """What one window teaches: each growing context and the token that should follow it."""
    steps = []
    for k in range(1, min(max_length, len(ids) - 1) + 1):
        steps.append({"context": " | ".join(labels[:k]), "next token": labels[k]})
    return steps
