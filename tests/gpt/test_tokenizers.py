"""Tokenizers (chapter 2): GPT-2 via tiktoken, the book's simple tokenizers, BPE from scratch."""

from __future__ import annotations

import os
import socket
import tempfile
from collections import Counter

import pytest
import regex
import tiktoken.registry
from hypothesis import given, settings
from hypothesis import strategies as st

from core.gpt.bpe import GPT2_SPLIT_PATTERN, BPETokenizer, merge_pair, train_bpe
from core.gpt.tokenizers import (
    ENDOFTEXT,
    MAX_TEXT_CHARS,
    UNKNOWN,
    InvalidText,
    SimpleTokenizerV1,
    SimpleTokenizerV2,
    TextTooLong,
    TokenizerUnavailable,
    UnknownWordError,
    build_vocab,
    check_text_length,
    decode,
    encode,
    gpt2_tokenizer,
    split_text,
    token_spans,
)
from core.paths import TIKTOKEN_CACHE, data_dir, tiktoken_cache_dir, tiktoken_environment

BOOK_TEXT = "Hello, do you like tea? <|endoftext|> In the sunlit terraces of someunknownPlace."
BOOK_IDS = [15496, 11, 466, 345, 588, 8887, 30, 220, 50256, 554, 262, 4252, 18250, 8812, 2114,
            286, 617, 34680, 27271, 13]  # fmt: skip
HARD_UNICODE = [
    "👨‍👩‍👧‍👦 family",  # ZWJ sequence
    "🇫🇷🇯🇵 flags",
    "家族と猫。中文字符",
    "e\u0301 a\u0308\u0323 combining marks",
    "\x00\x1b[31m\t\r\n control chars",
    "Ω≈ç√∫ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 \U0010ffff",
]
# st.text() already draws from all of Unicode except lone surrogates; these make hard cases common
unicode_text = st.text() | st.text(st.sampled_from(list("a 😀👩‍🔬家e\u0301\u200d\n")))


# --- GPT-2 (tiktoken) ---------------------------------------------------------------------------


def test_gpt2_gives_the_books_ids(gpt2_encoding):
    assert encode(BOOK_TEXT, allow_special=True) == BOOK_IDS
    assert decode(BOOK_IDS) == BOOK_TEXT


def test_gpt2_token_count_of_the_verdict(gpt2_encoding, verdict_text):
    assert len(encode(verdict_text)) == 5145


def test_gpt2_tokenizer_is_loaded_once(gpt2_encoding):
    assert gpt2_tokenizer() is gpt2_encoding
    assert gpt2_encoding.n_vocab == 50257


def test_endoftext_typed_by_a_user_is_ordinary_text(gpt2_encoding):
    ids = encode(BOOK_TEXT)
    assert 50256 not in ids
    assert ids[:7] == BOOK_IDS[:7] and len(ids) > len(BOOK_IDS)
    assert decode(ids) == BOOK_TEXT
    assert encode(ENDOFTEXT, allow_special=True) == [50256]


def test_gpt2_empty_text_and_bad_ids(gpt2_encoding):
    assert encode("") == [] and decode([]) == ""
    for bad in ([50257], [-1], [10**12]):
        with pytest.raises(ValueError, match="outside GPT-2's vocabulary"):
            decode(bad)


@settings(max_examples=200)
@given(unicode_text)
def test_gpt2_round_trips_any_unicode(gpt2_encoding, text):
    assert decode(encode(text)) == text


def test_gpt2_rejects_lone_surrogates_clearly(gpt2_encoding):
    with pytest.raises(InvalidText, match=r"character 1 is a lone surrogate \(U\+D800\)"):
        encode("a\ud800b")


@pytest.fixture
def offline(monkeypatch):
    """No network (every DNS lookup and connect fails at once) and tiktoken's registry empty."""

    def refuse(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "name resolution blocked by the test")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})


def test_gpt2_offline_without_cache_says_how_to_fix_it(offline, monkeypatch, tmp_path):
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    with pytest.raises(TokenizerUnavailable) as err:
        gpt2_tokenizer.__wrapped__()  # bypass the lru_cache that holds the real encoding
    message = str(err.value)
    assert "TIKTOKEN_CACHE_DIR" in message and "internet" in message and str(tmp_path) in message
    assert list(tmp_path.iterdir()) == []


def test_the_start_up_environment_points_tiktoken_at_the_offline_copy(offline, monkeypatch, tmp_path):
    shared_cache = data_dir() / TIKTOKEN_CACHE
    if not shared_cache.is_dir():
        pytest.skip(f"needs {shared_cache} (offline data; see ../shared/data/README.md)")
    (tmp_path / TIKTOKEN_CACHE).symlink_to(shared_cache.resolve())
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    environment = tiktoken_environment()
    assert environment == {"TIKTOKEN_CACHE_DIR": str(tmp_path / TIKTOKEN_CACHE)}
    assert tiktoken_cache_dir() == tmp_path / TIKTOKEN_CACHE
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", environment["TIKTOKEN_CACHE_DIR"])
    assert tiktoken_environment() == {}  # a variable already set is left alone
    enc = gpt2_tokenizer.__wrapped__()
    assert enc.encode(BOOK_TEXT, allowed_special="all") == BOOK_IDS


def test_loading_the_tokenizer_never_changes_the_environment(offline, monkeypatch, tmp_path):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.delenv("DATA_GYM_CACHE_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # tiktoken's default cache: empty
    before = dict(os.environ)
    with pytest.raises(TokenizerUnavailable):
        gpt2_tokenizer.__wrapped__()
    assert dict(os.environ) == before


# --- The book's simple tokenizers (sections 2.2-2.4) ----------------------------------------------

VERDICT_SENTENCE = '"It\'s the last he painted, you know," Mrs. Gisburn said with pardonable pride.'


def test_split_text_like_the_book():
    assert split_text("Hello, world. Is this-- a test?") == [
        "Hello", ",", "world", ".", "Is", "this", "--", "a", "test", "?"
    ]
    assert split_text("") == [] and split_text(" \n\t ") == []


def test_vocabulary_from_the_verdict(verdict_text):
    assert len(split_text(verdict_text)) == 4690
    vocab = build_vocab(verdict_text)
    assert len(vocab) == 1130
    assert list(vocab) == sorted(vocab) and list(vocab.values()) == list(range(1130))
    extended = build_vocab(verdict_text, special_tokens=(ENDOFTEXT, UNKNOWN))
    assert len(extended) == 1132 and extended[ENDOFTEXT] == 1130 and extended[UNKNOWN] == 1131


def test_simple_tokenizer_v1_like_the_book(verdict_text):
    tokenizer = SimpleTokenizerV1(build_vocab(verdict_text))
    ids = tokenizer.encode(VERDICT_SENTENCE)
    assert ids == [1, 56, 2, 850, 988, 602, 533, 746, 5, 1126, 596, 5, 1, 67, 7, 38, 851, 1108,
                   754, 793, 7]  # fmt: skip
    assert tokenizer.decode(ids) == (
        '" It\' s the last he painted, you know," Mrs. Gisburn said with pardonable pride.'
    )
    assert tokenizer.encode("") == [] and tokenizer.decode([]) == ""


def test_simple_tokenizer_v1_names_unknown_words(verdict_text):
    tokenizer = SimpleTokenizerV1(build_vocab(verdict_text))
    with pytest.raises(UnknownWordError, match="'Hello'") as err:
        tokenizer.encode("Hello, do you like tea? Hello palace!")
    assert err.value.words == ["Hello", "palace"]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tokenizer.decode([1130])


def test_simple_tokenizer_v2_like_the_book(verdict_text):
    tokenizer = SimpleTokenizerV2(build_vocab(verdict_text, special_tokens=(ENDOFTEXT, UNKNOWN)))
    text = "Hello, do you like tea? <|endoftext|> In the sunlit terraces of the palace."
    ids = tokenizer.encode(text)
    assert ids == [1131, 5, 355, 1126, 628, 975, 10, 1130, 55, 988, 956, 984, 722, 988, 1131, 7]
    assert tokenizer.decode(ids) == (
        "<|unk|>, do you like tea? <|endoftext|> In the sunlit terraces of the <|unk|>."
    )


def test_simple_tokenizer_v2_needs_unk(verdict_text):
    with pytest.raises(ValueError, match=r"<\|unk\|>"):
        SimpleTokenizerV2(build_vocab(verdict_text))


# --- Byte-level BPE from scratch ------------------------------------------------------------------


def naive_bpe_merges(text: str, vocab_size: int, pattern: str | None) -> list:
    """Reference: recount every pair of every chunk before each merge."""
    words = [list(chunk.encode("utf-8")) for chunk in BPETokenizer([], pattern).chunks(text)]
    merges = []
    for new_id in range(256, vocab_size):
        counts = Counter(pair for w in words for pair in zip(w, w[1:], strict=False))
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append((best, new_id))
        words = [merge_pair(w, best, new_id) for w in words]
    return merges


@pytest.fixture(scope="module")
def verdict_bpe(verdict_text) -> BPETokenizer:
    return train_bpe(verdict_text, 1000)


def test_bpe_learns_the_wikipedia_example():
    bpe = train_bpe("aaabdaaabac", 260, pattern=None)
    # aa -> 256; then "ab" and "Z a" tie at 2 and the smaller pair wins; then "Z Y"; then "ac"
    assert bpe.merges == [((97, 97), 256), ((97, 98), 257), ((256, 257), 258), ((97, 99), 259)]
    assert bpe.vocab[258] == b"aaab"
    assert bpe.encode("aaabdaaabac") == [258, ord("d"), 258, 259]
    assert not bpe.stopped_early and bpe.stop_reason is None


def test_merge_pair_is_left_to_right_and_non_overlapping():
    assert merge_pair([1, 1, 1, 2, 1, 1, 1, 1], (1, 1), 9) == [9, 1, 2, 9, 9]
    assert merge_pair([], (1, 1), 9) == []


def test_bpe_on_the_verdict(verdict_bpe, verdict_text):
    assert verdict_bpe.vocab_size == 1000 and not verdict_bpe.stopped_early
    assert [new_id for _, new_id in verdict_bpe.merges] == list(range(256, 1000))
    assert all(a < new_id and b < new_id for (a, b), new_id in verdict_bpe.merges)
    ids = verdict_bpe.encode(verdict_text)
    assert verdict_bpe.decode(ids) == verdict_text
    assert len(ids) < len(verdict_text.encode("utf-8")) / 2.5  # merges compress the text


def test_bpe_merges_match_a_naive_reference(verdict_bpe, verdict_text):
    assert verdict_bpe.merges[:100] == naive_bpe_merges(verdict_text, 356, GPT2_SPLIT_PATTERN)


@settings(deadline=None, max_examples=60)
@given(
    st.text(alphabet=st.sampled_from(list("ab c,😀家\u0301")), max_size=80),
    st.sampled_from([GPT2_SPLIT_PATTERN, None]),
)
def test_bpe_incremental_training_equals_naive(text, pattern):
    assert train_bpe(text, 256 + 40, pattern).merges == naive_bpe_merges(text, 256 + 40, pattern)


def test_bpe_training_is_deterministic(verdict_text):
    passage = verdict_text[:3000]
    assert train_bpe(passage, 400).merges == train_bpe(passage, 400).merges


def test_bpe_merges_stay_inside_words(verdict_bpe):
    chunker = regex.compile(GPT2_SPLIT_PATTERN)
    for token in verdict_bpe.vocab.values():
        text = token.decode("utf-8", errors="replace")
        assert len(chunker.findall(text)) == 1, token


def test_bpe_without_pattern_merges_across_words():
    text = "ab ab ab ab ab ab"
    crossing = train_bpe(text, 270, pattern=None)
    assert any(b"b a" in token for token in crossing.vocab.values())
    assert not any(b"b a" in token for token in train_bpe(text, 270).vocab.values())


@pytest.mark.parametrize("text", HARD_UNICODE)
def test_bpe_round_trips_hard_unicode(verdict_bpe, text):
    assert verdict_bpe.decode(verdict_bpe.encode(text)) == text
    own = train_bpe(text * 3, 300)
    assert own.decode(own.encode(text)) == text


@settings(deadline=None, max_examples=200)
@given(unicode_text)
def test_bpe_round_trips_any_unicode(verdict_bpe, text):
    assert verdict_bpe.decode(verdict_bpe.encode(text)) == text


@settings(deadline=None, max_examples=50)
@given(unicode_text)
def test_bpe_trained_on_any_text_round_trips_it(text):
    bpe = train_bpe(text, 300)
    assert bpe.decode(bpe.encode(text)) == text


def test_bpe_stops_early_and_says_so():
    bpe = train_bpe("ab", 300)
    assert bpe.merges == [((97, 98), 256)] and bpe.vocab_size == 257
    assert bpe.stopped_early and "257 tokens, not the 300 requested" in bpe.stop_reason
    empty = train_bpe("", 1000)
    assert empty.vocab_size == 256 and empty.stopped_early and empty.encode("") == []


@pytest.mark.parametrize("vocab_size", [255, 0, -1, 10**9, 1000.5, True, "1000", None])
def test_bpe_rejects_bad_vocab_sizes(vocab_size):
    with pytest.raises(ValueError, match="vocab_size"):
        train_bpe("some text", vocab_size)


def test_bpe_rejects_bad_ids_and_lone_surrogates(verdict_bpe):
    with pytest.raises(ValueError, match="outside the vocabulary"):
        verdict_bpe.decode([1000])
    with pytest.raises(InvalidText, match=r"character 4 is a lone surrogate \(U\+DFFF\)"):
        verdict_bpe.encode("ab x\udfff")
    with pytest.raises(InvalidText, match="character 4 is a lone surrogate"):
        train_bpe("ab x\udfff", 300)


# --- Token spans for display -------------------------------------------------------------------


def assert_spans_cover(spans, text):
    assert b"".join(span.token_bytes for span in spans) == text.encode("utf-8")
    position = 0
    for span in spans:
        assert span.text == text[span.start : span.end]
        assert span.end > span.start
        if span.partial:  # may start inside the character its predecessor began
            assert span.start in (position, position - 1)
        else:
            assert span.start == position and span.token_bytes.decode("utf-8") == span.text
        position = span.end
    assert position == len(text)


def test_spans_of_an_emoji_split_by_gpt2(gpt2_encoding):
    text = "I like 😀!"
    ids = encode(text)
    spans = token_spans(gpt2_encoding.decode_tokens_bytes(ids), text, ids)
    assert [s.id for s in spans] == ids
    emoji = [s for s in spans if s.partial]
    assert len(emoji) == 2  # gpt2 cuts the emoji's four bytes in two tokens
    assert emoji[0].token_bytes + emoji[1].token_bytes == " 😀".encode()
    assert (emoji[0].start, emoji[0].end) == (6, 8) and (emoji[1].start, emoji[1].end) == (7, 8)
    assert emoji[0].label == " \\xf0\\x9f\\x98" and emoji[1].hex == "80"
    assert [s.label for s in spans if not s.partial] == ["I", " like", "!"]
    assert_spans_cover(spans, text)


def test_spans_of_a_special_token(gpt2_encoding):
    ids = encode(BOOK_TEXT, allow_special=True)
    spans = token_spans(gpt2_encoding.decode_tokens_bytes(ids), BOOK_TEXT, ids)
    special = spans[ids.index(50256)]
    assert special.text == ENDOFTEXT and not special.partial
    assert BOOK_TEXT[special.start : special.end] == ENDOFTEXT


def test_spans_of_bpe_tokens_inside_one_character():
    bpe = train_bpe("😀😁" * 5, 257)  # learns one merge of the emoji's middle bytes
    assert bpe.merges == [((0x9F, 0x98), 256)]
    spans = token_spans(bpe.decode_tokens_bytes(bpe.encode("😀")), "😀")
    assert [(s.start, s.end, s.partial) for s in spans] == [(0, 1, True)] * 3
    assert [s.label for s in spans] == ["\\xf0", "\\x9f\\x98", "\\x80"]


@settings(deadline=None, max_examples=200)
@given(unicode_text)
def test_spans_cover_any_text(verdict_bpe, gpt2_encoding, text):
    for pieces in (
        verdict_bpe.decode_tokens_bytes(verdict_bpe.encode(text)),
        gpt2_encoding.decode_tokens_bytes(encode(text)),
    ):
        assert_spans_cover(token_spans(pieces, text), text)


def test_spans_reject_tokens_of_another_text():
    assert token_spans([], "") == []
    with pytest.raises(ValueError, match="do not spell"):
        token_spans([b"ab"], "abc")
    with pytest.raises(ValueError, match="2 ids for 1 tokens"):
        token_spans([b"abc"], "abc", ids=[1, 2])


# --- Input caps ----------------------------------------------------------------------------------


def test_text_length_cap():
    text = "a" * MAX_TEXT_CHARS
    assert check_text_length(text) is text
    with pytest.raises(TextTooLong, match=f"{MAX_TEXT_CHARS + 1:,} characters") as err:
        check_text_length(text + "a")
    assert isinstance(err.value, ValueError) and err.value.limit == MAX_TEXT_CHARS
    with pytest.raises(TextTooLong):
        check_text_length("abc", limit=2)
