"""The next-token game's texts: the registry's corpora (Tiny Shakespeare among them) or pasted text."""

from __future__ import annotations

import pytest

from core.app import game_texts
from core.errors import Unavailable, UserError


def test_the_verdict_and_the_journal_come_from_the_corpora(verdict_text):
    assert game_texts.game_text("the-verdict") == verdict_text
    assert game_texts.game_text("journal").strip()
    assert game_texts.game_text("pasted", "my own words") == "my own words"
    with pytest.raises(UserError):
        game_texts.game_text("nope")


def test_tiny_shakespeare_is_read_strictly(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(Unavailable, match="tinyshakespeare.txt.*raw.githubusercontent.com"):
        game_texts.game_text("tinyshakespeare")
    path = tmp_path / "data" / "corpus" / "tinyshakespeare.txt"
    path.parent.mkdir(parents=True)
    path.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n", encoding="utf-8")
    assert game_texts.game_text("tinyshakespeare").startswith("First Citizen:")
    path.write_bytes(b"\xff\xfe not text")
    with pytest.raises(UserError, match="not UTF-8"):
        game_texts.game_text("tinyshakespeare")
