"""Tokenizer explorer (book chapter 2): from text to tokens, token ids, training windows and embeddings."""

from __future__ import annotations

import html
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from core.app.corpora import (
    CORPUS_FILES,
    JOURNAL,
    MAX_TOKENIZER_CHARS,
    VERDICT,
    CorpusError,
    CorpusUnavailable,
    corpus_available,
    corpus_text,
)
from core.gpt.bpe import BPETokenizer, train_bpe
from core.gpt.config import PRESETS
from core.gpt.data import TextTooShortError
from core.gpt.tokenizers import TokenizerUnavailable, UnknownWordError, gpt2_tokenizer
from core.text import plural
from core.widgets import token_view as tv
from core.widgets.embedding_view import embed_tokens
from ui import experiments as xp
from ui.corpus_download import offer_download
from ui.heatmap import CELL_PX, heatmap, numbered
from ui.long_text import within_limit
from ui.widget_state import starting_state

GPT2 = "GPT-2 BPE (tiktoken)"
SIMPLE_V1 = "Simple tokenizer V1"
SIMPLE_V2 = "Simple tokenizer V2"
TRAINED = "BPE trained here"
TOKENIZERS = (GPT2, SIMPLE_V1, SIMPLE_V2, TRAINED)
CORPUS_NAMES = {VERDICT: "The Verdict (the book's short story)", JOURNAL: "this journal's entries"}
CORPUS_NAMES |= {name: corpus.title for name, corpus in CORPUS_FILES.items() if name not in CORPUS_NAMES}

COMPARISON_COLUMNS = ("tokenizer", "result", "tokens", "characters per token", "unknown words")
MAX_CHIPS = 400  # beyond this the page gets slow to draw; the table below lists every token
MAX_SHOWN_CHARS = 5_000
# Sizing the embedding heatmaps from their content: the wide layout's room on a laptop screen,
# about 7 px per label character, and the gap and colour padding around each chart.
ROOM_PX, LABEL_CHAR_PX, CHART_GAP_PX = 1000, 7, 40
CHIP_COLOURS = ("#fde2e4", "#e2ece9", "#dfe7fd", "#fff1c1", "#e8dff5", "#d8f3dc", "#fce1c8", "#cddafd")


@dataclass(frozen=True)
class Settings:
    tokenizer: str
    allow_special: bool
    corpus: str
    vocab_size: int


@st.cache_resource(show_spinner="Training a BPE tokenizer...", max_entries=8)
def trained_bpe(corpus: str, vocab_size: int) -> BPETokenizer:
    """A BPE learned from `corpus`; shared between sessions, never changed after training."""
    return train_bpe(corpus, vocab_size)


@st.cache_resource(max_entries=4)
def simple_pair(corpus: str):
    return tv.simple_tokenizers(corpus)


def gpt2_problem() -> str | None:
    """Why GPT-2's tokenizer cannot be used here, or None when it can."""
    try:
        gpt2_tokenizer()
    except TokenizerUnavailable as err:
        return str(err)
    return None


# ---------------------------------------------------------------------------------------------
# Controls


def text_input(key: str, default: str = tv.UNKNOWN_WORD_EXAMPLE, height: int = 120) -> str:
    """A text box; a huge paste is cut to the app's limit with a message saying so."""
    return within_limit(st.text_area("Text to tokenize", default, key=f"{key}_text", height=height))


def settings(key: str) -> Settings:
    """Which tokenizer, whether `<|endoftext|>` is special, and what the home-made ones learn from."""
    problem = gpt2_problem()
    choices = TOKENIZERS if problem is None else TOKENIZERS[1:]
    if problem:
        st.warning(f"GPT-2's tokenizer is not available, the others still are. {problem}")
    default = 0 if problem is None else choices.index(TRAINED)
    tokenizer = st.radio("Tokenizer", choices, index=default, horizontal=True, key=f"{key}_tokenizer")
    allow_special = st.toggle(
        "Treat `<|endoftext|>` as one special token",
        value=True,
        key=f"{key}_special",
        help="Off: the same characters are ordinary text and split into several tokens. Applies to GPT-2 "
        "and the trained BPE; the simple tokenizers know it as one word of their vocabulary either way.",
    )
    left, right = st.columns(2)
    corpus = left.selectbox(
        "Training text for the simple tokenizers and the BPE",
        tuple(CORPUS_NAMES),
        format_func=CORPUS_NAMES.get,
        key=f"{key}_corpus",
    )
    if not corpus_available(corpus):
        offer_download(key, corpus, instead="train them on the journal")
    vocab_size = right.slider(
        "Vocabulary size of the trained BPE", 256, 4096, 1000, step=8, key=f"{key}_vocab",
        help="256 byte tokens plus one new token per merge.",
    )
    return Settings(tokenizer, allow_special, corpus, vocab_size)


def _corpus(name: str) -> str:
    """The text the home-made tokenizers learn from, capped so that BPE training takes seconds."""
    return corpus_text(name, max_chars=MAX_TOKENIZER_CHARS)


# ---------------------------------------------------------------------------------------------
# Tokenizing


def tokenize(text: str, s: Settings) -> tv.Tokenized:
    """`text` through the chosen tokenizer (may raise the typed errors `show_tokens` explains)."""
    if s.tokenizer == GPT2:
        return tv.tokenize_gpt2(text, s.allow_special)
    corpus = _corpus(s.corpus)
    if s.tokenizer == TRAINED:
        return tv.tokenize_bpe(trained_bpe(corpus, s.vocab_size), text, s.allow_special)
    v1, v2 = simple_pair(corpus)
    return tv.tokenize_simple(v1 if s.tokenizer == SIMPLE_V1 else v2, text)


def try_tokenize(text: str, s: Settings) -> tv.Tokenized | None:
    """Tokenize, or say in the page why it cannot be done and return None."""
    try:
        return tokenize(text, s)
    except (TokenizerUnavailable, CorpusUnavailable, CorpusError) as err:
        st.error(str(err))
    except UnknownWordError as err:
        st.error(f"{err} That is why the book moves on to V2 and then to BPE.")
    return None


def chips_html(tokens: list[tv.Token], limit: int = MAX_CHIPS) -> str:
    """Tokens as coloured chips with their ids; hovering shows the bytes and the characters covered."""
    chips = []
    for i, token in enumerate(tokens[:limit]):
        hover = (
            f"id {token.id} · bytes {token.token_bytes.hex(' ')} · "
            f"characters {token.start}-{token.end}: {token.covered!r}"
            + (" · part of a multi-byte character" if token.partial else "")
        )
        border = "2px dashed #444" if token.special else "1px solid #bbb"
        style = f"background:{CHIP_COLOURS[i % len(CHIP_COLOURS)]};border:{border}" + (
            ";font-style:italic" if token.partial else ""
        )
        chips.append(
            f'<span class="tok" style="{style};display:inline-block;margin:2px;padding:0 4px;'
            f'border-radius:5px;white-space:pre;color:#111" title="{html.escape(hover)}">'
            f'{html.escape(token.label)}<sub style="color:#666;margin-left:3px">{token.id}</sub></span>'
        )
    return f'<div style="font-family:monospace;font-size:15px;line-height:2.1">{"".join(chips)}</div>'


def show_chips(result: tv.Tokenized, limit: int = MAX_CHIPS) -> None:
    if not result.tokens:
        st.info("No tokens: the text is empty (or only whitespace for the simple tokenizers).")
        return
    st.html(chips_html(result.tokens, limit))
    if result.n_tokens > limit:
        st.caption(f"Showing the first {limit:,} of {result.n_tokens:,} tokens; the table below lists all.")


def show_counts(result: tv.Tokenized) -> None:
    cols = st.columns(4)
    cols[0].metric("Characters", f"{result.n_chars:,}")
    cols[1].metric("Tokens", f"{result.n_tokens:,}")
    per_token = result.chars_per_token
    cols[2].metric("Characters per token", "-" if per_token is None else f"{per_token:.2f}")
    cols[3].metric("UTF-8 bytes", f"{result.n_bytes:,}")


def show_round_trip(result: tv.Tokenized) -> None:
    """Decode the ids again and compare with the input."""
    if result.round_trip_ok:
        st.success("Decoding the token ids gives back exactly the text that went in.")
    elif result.unknown_words:
        st.info(
            f"Decoding does not give the text back: {len(result.unknown_words)} word(s) became "
            f"`<|unk|>` ({', '.join(tv.visible(w) for w in result.unknown_words[:8])}) and the simple "
            "tokenizers drop the original spacing."
        )
    else:
        st.info("Decoding does not give the exact text back: the simple tokenizers drop the original spacing.")
    with st.expander("Token ids and the decoded text"):
        ids = result.ids
        st.code(str(ids[:1000]) + (f"  ... {len(ids) - 1000:,} more" if len(ids) > 1000 else ""), language=None)
        shown = result.decoded[:MAX_SHOWN_CHARS]
        st.code(shown + (" ..." if len(result.decoded) > MAX_SHOWN_CHARS else ""), language=None)


def token_table(result: tv.Tokenized) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": result.ids,
            "token": [t.label for t in result.tokens],
            "covers": [tv.visible(t.covered) for t in result.tokens],
            "characters": [f"{t.start}-{t.end}" for t in result.tokens],
            "bytes": [t.token_bytes.hex(" ") for t in result.tokens],
        }
    )


def tokens_section(text: str, s: Settings) -> tv.Tokenized | None:
    """Chips, counts, the round trip and a table of every token."""
    st.subheader("Tokens")
    st.markdown(
        "Each chip is one token and its id, the number the model really sees. "
        "`␣` marks a space: GPT-2's tokens usually carry the space in front of a word."
    )
    if not text:
        st.info("Type or paste some text above to see its tokens.")
        return None
    result = try_tokenize(text, s)
    if result is None:
        return None
    show_chips(result)
    st.caption(
        "Hover a chip for its bytes and the characters it covers. Italic chips in hex hold part of "
        "a multi-byte character (many emoji and CJK characters take two tokens); dashed chips are special tokens."
    )
    show_counts(result)
    show_round_trip(result)
    with st.expander(f"All {plural(result.n_tokens, 'token')} as a table"):
        st.dataframe(token_table(result), hide_index=True)
    return result


# ---------------------------------------------------------------------------------------------
# Comparing tokenizers


def comparison_rows(text: str, s: Settings) -> list[dict[str, object]]:
    """The same text through every tokenizer that can run here."""
    rows = []
    for name in TOKENIZERS:
        row: dict[str, object] = dict.fromkeys(COMPARISON_COLUMNS, "-") | {"tokenizer": name}
        try:
            result = tokenize(text, Settings(name, s.allow_special, s.corpus, s.vocab_size))
        except UnknownWordError as err:
            row["result"] = f"fails: {len(err.words)} unknown word(s)"
        except (TokenizerUnavailable, CorpusUnavailable, CorpusError):
            row["result"] = "not available here"
        else:
            per_token = result.chars_per_token
            row.update({
                "result": "exact round trip" if result.round_trip_ok else "loses information",
                "tokens": f"{result.n_tokens:,}",
                "characters per token": "-" if per_token is None else f"{per_token:.2f}",
                "unknown words": f"{len(result.unknown_words):,}",
            })
        rows.append(row)
    return rows


def unknown_word_section(key: str, s: Settings) -> None:
    """The book's sentence with `someunknownPlace`: the word tokenizer gives up, BPE splits it."""
    st.subheader("A word no vocabulary has seen")
    st.markdown(
        "The simple tokenizers only know the words of their training text, so `someunknownPlace` "
        "becomes `<|unk|>`. BPE never runs out of words: it falls back to smaller pieces, down to single bytes."
    )
    example = tv.UNKNOWN_WORD_EXAMPLE
    st.code(example, language=None)
    for name in (SIMPLE_V2, GPT2, TRAINED):
        try:
            result = tokenize(example, Settings(name, s.allow_special, s.corpus, s.vocab_size))
        except (TokenizerUnavailable, CorpusUnavailable, CorpusError) as err:
            st.caption(f"{name}: not available here ({type(err).__name__}).")
            continue
        st.markdown(f"**{result.tokenizer}**: {plural(result.n_tokens, 'token')}")
        st.html(chips_html(result.tokens))


def comparison_section(text: str, s: Settings) -> None:
    st.subheader("Your text, every tokenizer")
    st.markdown(
        "Fewer tokens for the same text means more text fits in the model's context window. "
        "A bigger vocabulary packs more characters into each token."
    )
    if text:
        st.dataframe(pd.DataFrame(comparison_rows(text, s)), hide_index=True)
    else:
        st.info("Type some text above to compare the tokenizers.")


# ---------------------------------------------------------------------------------------------
# Training a BPE


def merges_section(s: Settings) -> None:
    """The first merges of a BPE trained on the chosen text, in the order they were learned."""
    st.subheader("How BPE builds its vocabulary")
    st.markdown(
        "Training starts from the 256 possible bytes and repeatedly glues together the pair of "
        "neighbouring tokens that occurs most often. Each merge adds one token to the vocabulary; "
        "the first ones are the commonest pieces of the language."
    )
    try:
        corpus = _corpus(s.corpus)
    except (CorpusUnavailable, CorpusError) as err:
        st.error(str(err))
        return
    tokenizer = trained_bpe(corpus, s.vocab_size)
    st.caption(
        f"Trained on {CORPUS_NAMES[s.corpus]} ({len(corpus):,} characters): "
        f"{len(tokenizer.merges):,} merges, {tokenizer.vocab_size:,} tokens."
    )
    if not tokenizer.merges:
        st.info("A vocabulary of 256 is the bytes alone: BPE has learned no merges yet, so every byte of the "
                "text is one token. Raise the vocabulary size to watch the first merges appear.")
        return
    if tokenizer.stop_reason:
        st.info(tokenizer.stop_reason)
    st.dataframe(pd.DataFrame(tv.merge_rows(tokenizer, 50)), hide_index=True)


# ---------------------------------------------------------------------------------------------
# From tokens to training data and embeddings


def windows_section(key: str, result: tv.Tokenized | None) -> tuple[list[int], list[str]]:
    """Sliding-window input/target pairs; returns the first window's ids and labels."""
    st.subheader("From tokens to training pairs")
    st.markdown(
        "A window of `max_length` tokens slides over the ids by `stride`. Its target is the same "
        "window moved one token to the right: at every position the model learns to guess the next token."
    )
    left, right = st.columns(2)
    max_length = left.slider("max_length", 1, 32, 4, key=f"{key}_max_length")
    stride = right.slider("stride", 1, 32, 4, key=f"{key}_stride")
    if result is None or not result.tokens:
        st.info("The windows appear once the text above has tokens.")
        return [], []
    labels = [t.label for t in result.tokens]
    try:
        windows = tv.window_rows(result.ids, labels, max_length, stride)
    except TextTooShortError as err:
        st.warning(f"{str(err).capitalize()}. Type more text or lower max_length.")
        return result.ids[:max_length], labels[:max_length]
    st.caption(f"{windows.n_windows:,} input/target pairs; the first {len(windows.rows)}:")
    frame = pd.DataFrame(windows.rows)
    frame["input ids"] = frame["input ids"].map(str)
    frame["target ids"] = frame["target ids"].map(str)
    st.dataframe(frame, hide_index=True)
    with st.expander("What the first window teaches, one position at a time"):
        st.dataframe(pd.DataFrame(tv.next_token_steps(result.ids, labels, max_length)), hide_index=True)
    return result.ids[:max_length], labels[:max_length]


def embedding_section(key: str, ids: list[int], labels: list[str], vocab_size: int) -> None:
    """Token embedding + positional embedding = input embedding, for the first window."""
    st.subheader("From token ids to vectors")
    st.markdown(
        "Each id picks one row of the token embedding table, each position one row of the "
        "positional table; their sum is what the first transformer block receives. The tables "
        "start random and only training gives the numbers meaning."
    )
    emb_dim = st.slider("Embedding size (emb_dim)", 2, 12, 4, key=f"{key}_emb_dim")
    if not ids:
        st.info("The embeddings appear once the text above has tokens.")
        return
    steps = embed_tokens(ids, vocab_size, emb_dim, context_length=len(ids))
    n = len(ids)
    st.markdown(
        f"Token table: **{steps.token_table_shape[0]:,} × {emb_dim}** · positional table: "
        f"**{n} × {emb_dim}** · for these {plural(n, 'token')}, three matrices of **{n} × {emb_dim}** "
        f"(a batch of 8 windows would be 8 × {n} × {emb_dim}; GPT-2 small uses {PRESETS['gpt2-small']['emb_dim']} "
        "dimensions)."
    )
    rows = numbered(labels)
    dims = [f"d{d}" for d in range(emb_dim)]
    charts = (
        ("Token embeddings", steps.token_embeddings),
        ("+ positional embeddings", steps.positional_embeddings),
        ("= input embeddings", steps.input_embeddings),
    )
    per_row = heatmaps_per_row(emb_dim, max(len(r) for r in rows))
    for start in range(0, len(charts), per_row):
        for column, (title, matrix) in zip(st.columns(per_row), charts[start:start + per_row], strict=False):
            column.altair_chart(
                heatmap(matrix, rows, dims, title, scheme="redblue", diverging=True, digits=1), width="content"
            )


def heatmaps_per_row(emb_dim: int, label_chars: int, room_px: int = ROOM_PX) -> int:
    """How many of the three embedding heatmaps fit side by side: each is emb_dim cells plus its row labels."""
    chart_px = emb_dim * CELL_PX + LABEL_CHAR_PX * label_chars + CHART_GAP_PX
    return max(1, min(3, room_px // chart_px))


# ---------------------------------------------------------------------------------------------
# Compact version for the journal


COMPACT_TEXT = "Byte pair encoding splits someunknownPlace into pieces it knows."


def compact(key: str, state: dict | None = None) -> None:
    """Text in, GPT-2 tokens out (or a BPE trained here when GPT-2's vocabulary is missing); `text` opens it."""
    start = starting_state("tokenizer", state, {"text": COMPACT_TEXT})
    text = text_input(key, start["text"], height=80)
    tokenizer = GPT2 if gpt2_problem() is None else TRAINED
    corpus = VERDICT if corpus_available(VERDICT) else JOURNAL
    result = try_tokenize(text, Settings(tokenizer, True, corpus, 1000)) if text else None
    if result is None:
        if not text:
            st.info("Type some text to see its tokens.")
        return
    show_chips(result, limit=150)
    per_token = result.chars_per_token
    st.caption(
        f"{result.tokenizer}: {plural(result.n_chars, 'character')} → {plural(result.n_tokens, 'token')}"
        + ("" if per_token is None else f" ({per_token:.2f} characters per token)")
    )
    xp.add_to_entry(key, xp.tokenized(result))
