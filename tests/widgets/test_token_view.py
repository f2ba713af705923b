"""What the tokenizer explorer shows: tokens, spans, special tokens, merges and windows (chapter 2)."""

import pytest

from core.gpt.bpe import train_bpe
from core.gpt.data import TextTooShortError
from core.gpt.tokenizers import MAX_TEXT_CHARS, UNKNOWN, UnknownWordError
from core.widgets import token_view as tv

HOSTILE = [
    "👩‍👩‍👧 family",  # emoji joined by zero-width joiners: partial-byte tokens
    "e\u0301 and \u00e9",  # combining acute vs precomposed
    "漢字とかな",
    "bell\x07 nul\x00 escape\x1b[31m del\x7f",
    "tab\tnew\nline\r\n",
    "\u200b\u200f\ufeff",
]


@pytest.fixture(scope="module")
def bpe(verdict_text):
    return train_bpe(verdict_text, 400)


def test_book_example_with_special_token(gpt2_encoding):
    result = tv.tokenize_gpt2(tv.UNKNOWN_WORD_EXAMPLE, allow_special=True)
    assert result.ids == [15496, 11, 466, 345, 588, 8887, 30, 220, 50256, 554, 262, 4252, 18250, 8812, 2114,
                          286, 617, 34680, 27271, 13]
    assert [t.label for t in result.tokens][16:19] == ["␣some", "unknown", "Place"]
    assert [t.special for t in result.tokens].count(True) == 1
    assert result.round_trip_ok and result.vocab_size == 50257


def test_endoftext_as_plain_text_is_several_tokens(gpt2_encoding):
    result = tv.tokenize_gpt2("a <|endoftext|> b", allow_special=False)
    assert 50256 not in result.ids
    assert "".join(t.covered for t in result.tokens) == "a <|endoftext|> b"
    assert not any(t.special for t in result.tokens)


@pytest.mark.parametrize("text", HOSTILE)
def test_gpt2_tokens_cover_odd_unicode(gpt2_encoding, text):
    result = tv.tokenize_gpt2(text)
    assert result.round_trip_ok
    assert b"".join(t.token_bytes for t in result.tokens) == text.encode("utf-8")
    for token in result.tokens:
        assert token.covered == text[token.start:token.end]
        assert token.label  # never an empty chip
        assert "\x00" not in token.label and "\x1b" not in token.label  # control characters made visible


def test_partial_tokens_are_labelled_in_hex(gpt2_encoding):
    result = tv.tokenize_gpt2("👩")
    assert len(result.tokens) == 2 and all(t.partial for t in result.tokens)
    assert result.tokens[0].label.startswith("<f0 9f")
    assert {t.covered for t in result.tokens} == {"👩"}


@pytest.mark.parametrize("text", HOSTILE + ["", tv.UNKNOWN_WORD_EXAMPLE])
def test_trained_bpe_round_trips(bpe, text):
    for allow_special in (False, True):
        result = tv.tokenize_bpe(bpe, text, allow_special)
        assert result.decoded == text
        assert [t.covered for t in result.tokens if not t.partial] == [
            text[t.start:t.end] for t in result.tokens if not t.partial
        ]


def test_trained_bpe_special_token_gets_the_next_free_id(bpe):
    special = tv.tokenize_bpe(bpe, "x<|endoftext|>y", allow_special=True)
    plain = tv.tokenize_bpe(bpe, "x<|endoftext|>y", allow_special=False)
    assert bpe.vocab_size in special.ids and special.vocab_size == bpe.vocab_size + 1
    assert bpe.vocab_size not in plain.ids and plain.n_tokens > special.n_tokens


def test_simple_tokenizers_on_the_unknown_word(verdict_text):
    v1, v2 = tv.simple_tokenizers(verdict_text)
    with pytest.raises(UnknownWordError) as err:
        tv.tokenize_simple(v1, tv.UNKNOWN_WORD_EXAMPLE)
    assert "someunknownPlace" in err.value.words
    result = tv.tokenize_simple(v2, tv.UNKNOWN_WORD_EXAMPLE)
    assert result.unknown_words == ["Hello", "someunknownPlace"]
    assert [t.label for t in result.tokens].count(UNKNOWN) == 2
    assert result.tokens[-2].covered == "someunknownPlace"
    assert not result.round_trip_ok
    assert result.decoded == "<|unk|>, do you like tea? <|endoftext|> In the sunlit terraces of <|unk|>."


def test_word_positions_follow_the_text():
    text = "  Hello,  world--\tagain!"
    assert [text[a:b] for a, b in tv.word_positions(text)] == ["Hello", ",", "world", "--", "again", "!"]


def test_prepare_text_caps_and_repairs():
    big = tv.prepare_text("x" * (MAX_TEXT_CHARS + 5))
    assert len(big.text) == MAX_TEXT_CHARS and "100,005 characters" in big.notes[0]
    broken = tv.prepare_text("a\ud800b")
    assert broken.text == "a\ufffdb" and "lone surrogate" in broken.notes[0]
    assert tv.prepare_text("fine").notes == []


def test_visible_marks_whitespace_and_invisibles():
    assert tv.visible(" a\n\t\x00\u200d") == "␣a↵⇥␀⟨U+200D⟩"
    assert tv.bytes_label(b"\xf0\x9f") == "<f0 9f>"


def test_merge_rows_in_training_order(bpe):
    rows = tv.merge_rows(bpe, 5)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["new id"] for r in rows] == [256, 257, 258, 259, 260]
    first = bpe.merges[0][0]
    assert rows[0]["new token"] == tv.bytes_label(bpe.vocab[first[0]] + bpe.vocab[first[1]])


def test_window_rows_shift_targets_by_one():
    ids = list(range(100, 110))
    labels = [f"t{i}" for i in ids]
    windows = tv.window_rows(ids, labels, max_length=4, stride=2, limit=2)
    assert windows.n_windows == 3
    first = windows.rows[0]
    assert first["input ids"] == [100, 101, 102, 103] and first["target ids"] == [101, 102, 103, 104]
    assert first["target"] == "t101 | t102 | t103 | t104"
    assert windows.rows[1]["starts at token"] == 2
    with pytest.raises(TextTooShortError):
        tv.window_rows(ids[:3], labels[:3], max_length=4, stride=1)


def test_next_token_steps():
    steps = tv.next_token_steps([1, 2, 3], ["a", "b", "c"], max_length=4)
    assert steps == [{"context": "a", "next token": "b"}, {"context": "a | b", "next token": "c"}]
