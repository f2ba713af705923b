"""Pretraining texts: the journal, The Verdict (found or downloaded) and uploaded files."""

from __future__ import annotations

import hashlib
import io
import urllib.error

import pytest

from core.app import corpora as corpus
from core.gpt.train import CorpusError
from core.widgets.token_view import CorpusUnavailable


def test_the_journal_is_always_a_corpus():
    text = corpus.journal_text()
    assert "Appendix A" in text and len(text) > 5_000


def test_the_verdict_comes_from_the_data_folder(verdict_text):
    assert corpus.verdict_available()
    assert corpus.verdict_text(download=False) == verdict_text


@pytest.fixture
def no_local_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / corpus.VERDICT_FILE


def test_offline_the_verdict_download_says_what_to_do(no_local_verdict, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(corpus.urllib.request, "urlopen", offline)
    assert not corpus.verdict_available()
    with pytest.raises(CorpusUnavailable, match="put the file"):
        corpus.verdict_text()
    assert not no_local_verdict.exists()


def test_the_verdict_download_is_checked_and_saved_atomically(no_local_verdict, monkeypatch, verdict_text):
    payload = verdict_text.encode("utf-8")
    assert hashlib.sha256(payload).hexdigest() == corpus.VERDICT_SHA256
    monkeypatch.setattr(corpus.urllib.request, "urlopen", lambda *a, **k: io.BytesIO(payload))
    assert corpus.verdict_text() == verdict_text
    assert no_local_verdict.read_bytes() == payload
    assert [p.name for p in no_local_verdict.parent.iterdir()] == ["the-verdict.txt"]  # no temp file left


def test_a_wrong_download_is_refused(no_local_verdict, monkeypatch):
    monkeypatch.setattr(corpus.urllib.request, "urlopen", lambda *a, **k: io.BytesIO(b"<html>captive portal</html>"))
    with pytest.raises(CorpusUnavailable, match="checksum"):
        corpus.verdict_text()
    assert not no_local_verdict.exists()


def test_an_upload_is_decoded_with_its_byte_order_mark():
    assert corpus.uploaded_text("notes.txt", "\ufeffhello wörld".encode("utf-8")) == "hello wörld"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe broken", "not UTF-8 text: byte 0 is 0xff"),
        (b" \n\t ", "has no text"),
        (b"a\x00b", "binary"),
        (b"x" * (corpus.MAX_UPLOAD_MB * 1024 * 1024 + 1), "the limit is 2 MB"),
    ],
)
def test_bad_uploads_raise_a_typed_error(data, message):
    with pytest.raises(CorpusError, match=message):
        corpus.uploaded_text("../../etc/passwd", data)


def test_an_upload_name_is_only_shown_never_used_as_a_path():
    with pytest.raises(CorpusError) as err:
        corpus.uploaded_text("../../secret/" + "x" * 500 + ".txt", b"")
    assert "../" not in str(err.value) and len(str(err.value)) < 200
