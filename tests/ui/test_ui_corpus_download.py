"""A missing corpus on Pretraining, Tokenizer and the next-token game: one warning, a download on request.

The download comes from a stand-in server on the loopback interface that serves the real file from
../shared/data, so the checksum check is the real one; a refused connection shows an error, not a traceback.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from widget_helpers import PAGES, fresh_training_slot, run_script, texts

from core.app import corpora
from core.app.corpora import TINY_SHAKESPEARE
from core.paths import TINY_SHAKESPEARE_FILE

# page, the widget that chooses the text, the key prefix of the download button
PAGES_WITH_CORPORA = [
    ("pretraining.py", "pretraining_corpus", "pretraining"),
    ("tokenizer.py", "tok_corpus", "tok"),
    ("next_token_game.py", "next_token_game_text", "next_token_game"),
]


@pytest.fixture
def no_data(tmp_path, monkeypatch, gpt2_encoding):
    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    for _ in fresh_training_slot():
        yield tmp_path


@pytest.fixture
def served_shakespeare(monkeypatch, tiny_shakespeare_path):
    """Serve the real Tiny Shakespeare on 127.0.0.1 and point the registry's URL at it."""
    path = tiny_shakespeare_path
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(path.parent))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/{path.name}"
    entry = dataclasses.replace(corpora.CORPUS_FILES[TINY_SHAKESPEARE], url=url)
    monkeypatch.setitem(corpora.CORPUS_FILES, TINY_SHAKESPEARE, entry)
    yield path
    server.shutdown()


def choose(at, widget_key: str):
    widget = next(w for w in [*at.radio, *at.selectbox] if w.key == widget_key)
    widget.set_value(TINY_SHAKESPEARE).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("page, widget_key, key", PAGES_WITH_CORPORA)
def test_a_missing_corpus_is_downloaded_when_asked(page, widget_key, key, no_data, served_shakespeare):
    at = choose(run_script(str(PAGES / page)), widget_key)
    assert "Tiny Shakespeare" in texts(at.warning) and "127.0.0.1" in texts(at.warning)
    at.button(key=f"{key}_get_{TINY_SHAKESPEARE}").click().run()
    assert not at.exception, at.exception
    cached = Path(no_data / "cache" / TINY_SHAKESPEARE_FILE)
    assert cached.read_bytes() == served_shakespeare.read_bytes()
    assert "is not on this machine yet" not in texts(at.warning)


@pytest.mark.parametrize("page, widget_key, key", PAGES_WITH_CORPORA)
def test_no_internet_gives_an_error_and_keeps_the_page(page, widget_key, key, no_data, monkeypatch):
    entry = dataclasses.replace(corpora.CORPUS_FILES[TINY_SHAKESPEARE], url="http://127.0.0.1:9/none.txt")
    monkeypatch.setitem(corpora.CORPUS_FILES, TINY_SHAKESPEARE, entry)
    at = choose(run_script(str(PAGES / page)), widget_key)
    at.button(key=f"{key}_get_{TINY_SHAKESPEARE}").click().run()
    assert not at.exception, at.exception
    assert "Could not download" in texts(at.error)
    assert not (no_data / "cache" / TINY_SHAKESPEARE_FILE).exists()
