"""Training and tokenizer texts: the journal, The Verdict (found or downloaded) and uploaded files."""

from __future__ import annotations

import hashlib
import io
import urllib.error

import pytest

from core.app import corpora as corpus
from core.app.corpora import CorpusError, CorpusUnavailable
from core.errors import Unavailable, UserError
from core.gpt import data
from core.paths import PROJECT_ROOT


def test_the_journal_is_always_a_corpus():
    text = corpus.journal_text()
    assert "Appendix A" in text and len(text) > 5_000


def test_the_verdict_comes_from_the_data_folder(verdict_text):
    assert corpus.corpus_available(corpus.VERDICT)
    assert corpus.corpus_text(corpus.VERDICT) == verdict_text


@pytest.fixture
def no_local_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / corpus.CORPUS_FILES[corpus.VERDICT].data_file


def test_offline_the_verdict_download_says_what_to_do(no_local_verdict, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(corpus.urllib.request, "urlopen", offline)
    assert not corpus.corpus_available(corpus.VERDICT)
    with pytest.raises(CorpusUnavailable, match="put the file"):
        corpus.corpus_text(corpus.VERDICT, download=True)
    assert not no_local_verdict.exists()


def test_the_verdict_download_is_checked_and_saved_atomically(no_local_verdict, monkeypatch, verdict_text):
    payload = verdict_text.encode("utf-8")
    assert hashlib.sha256(payload).hexdigest() == corpus.CORPUS_FILES[corpus.VERDICT].sha256
    monkeypatch.setattr(corpus.urllib.request, "urlopen", lambda *a, **k: io.BytesIO(payload))
    assert corpus.corpus_text(corpus.VERDICT, download=True) == verdict_text
    assert no_local_verdict.read_bytes() == payload
    assert [p.name for p in no_local_verdict.parent.iterdir()] == ["the-verdict.txt"]  # no temp file left


def test_a_wrong_download_is_refused(no_local_verdict, monkeypatch):
    monkeypatch.setattr(corpus.urllib.request, "urlopen", lambda *a, **k: io.BytesIO(b"<html>captive portal</html>"))
    with pytest.raises(CorpusUnavailable, match="checksum"):
        corpus.corpus_text(corpus.VERDICT, download=True)
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


def test_the_errors_are_the_apps_typed_errors():
    assert issubclass(CorpusError, UserError) and issubclass(CorpusUnavailable, Unavailable)
    assert issubclass(CorpusError, data.CorpusError)  # what the command line raises for its corpus files


def test_every_named_corpus_reads_the_same_way(verdict_text, tmp_path, monkeypatch):
    assert corpus.corpus_text(corpus.VERDICT) == verdict_text
    assert corpus.corpus_text(corpus.VERDICT, max_chars=100) == verdict_text[:100]
    assert corpus.corpus_text(corpus.JOURNAL) == corpus.journal_text()
    with pytest.raises(UserError, match="unknown corpus"):
        corpus.corpus_text("../etc/passwd")
    monkeypatch.setenv("LLM_JOURNAL_DIR", str(tmp_path))
    with pytest.raises(CorpusUnavailable, match="no entries"):
        corpus.corpus_text(corpus.JOURNAL)


@pytest.fixture
def local_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "data" / corpus.CORPUS_FILES[corpus.VERDICT].data_file
    path.parent.mkdir(parents=True)
    return path


def test_a_data_file_that_is_not_utf8_names_the_byte_instead_of_replacing_it(local_verdict):
    local_verdict.write_bytes(b"I had always thought " + b"Jack \xe9 Gisburn")
    with pytest.raises(CorpusError, match=r"not UTF-8 text: byte 26 is 0xe9"):
        corpus.corpus_text(corpus.VERDICT)


def test_a_data_file_over_its_cap_is_refused(local_verdict):
    local_verdict.write_bytes(b"x" * (corpus.CORPUS_FILES[corpus.VERDICT].max_bytes + 1))
    with pytest.raises(CorpusError, match="at most"):
        corpus.corpus_text(corpus.VERDICT)


def test_a_download_is_read_only_up_to_its_cap(no_local_verdict, monkeypatch):
    reads = []

    class Response(io.BytesIO):
        def read(self, size=-1):
            reads.append(size)
            return super().read(size)

    monkeypatch.setattr(corpus.urllib.request, "urlopen", lambda *a, **k: Response(b"x" * 10))
    with pytest.raises(CorpusUnavailable, match="checksum"):
        corpus.corpus_text(corpus.VERDICT, download=True)
    assert reads == [corpus.CORPUS_FILES[corpus.VERDICT].max_bytes + 1]


def test_without_download_a_missing_file_says_where_to_put_it(no_local_verdict, monkeypatch):
    monkeypatch.setattr(corpus.urllib.request, "urlopen", lambda *a, **k: pytest.fail("downloaded"))
    assert not corpus.corpus_available(corpus.VERDICT)
    with pytest.raises(CorpusUnavailable, match="the-verdict.txt"):
        corpus.corpus_text(corpus.VERDICT)


def test_no_text_is_ever_decoded_with_replacement_characters():
    """One read policy: the texts widgets train and tokenize on are decoded strictly, never with errors="replace"."""
    offenders = []
    for folder in ("core/app", "core/gpt", "core/widgets", "ui", "pages"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if 'errors="replace"' in line and ("read_text" in line or "open(" in line):
                    offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{number}")
    assert offenders == []
