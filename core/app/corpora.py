"""Texts to pretrain on (book section 5.1): the journal itself, "The Verdict", or an uploaded file.

The journal is always there, so it is the default. "The Verdict" is read from the data folder
or the download cache, and downloaded into the cache where there is internet. An uploaded file
is size-capped, because every megabyte of text is about a quarter of a million tokens per epoch.
"""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

from core.atomic import write_bytes
from core.gpt.train import CorpusError
from core.paths import cache_dir, find_data_file
from core.widgets.token_view import CorpusUnavailable, corpus_text

JOURNAL = "journal"
VERDICT = "the-verdict"
UPLOAD = "upload"
VERDICT_FILE = "corpus/the-verdict.txt"  # relative to data_dir() or cache_dir()
VERDICT_URL = (
    "https://raw.githubusercontent.com/rasbt/LLMs-from-scratch/main/ch02/01_main-chapter-code/the-verdict.txt"
)
VERDICT_SHA256 = "b41e41a68f0398a3154ae69e2e4c0e2694e17fe0d66730536837f1b01935b31f"
MAX_UPLOAD_MB = 2  # ~500,000 GPT-2 tokens: already minutes per epoch for the tiny model on a CPU


def journal_text() -> str:
    """The journal's entries joined: the corpus that is always available."""
    return corpus_text(JOURNAL)


def verdict_available() -> bool:
    return find_data_file(VERDICT_FILE) is not None


def verdict_text(download: bool = True, timeout: float = 20.0) -> str:
    """The Verdict from the data folder or cache, downloading it into the cache when allowed."""
    if verdict_available() or not download:
        return corpus_text(VERDICT)
    target = cache_dir() / VERDICT_FILE
    try:
        with urllib.request.urlopen(VERDICT_URL, timeout=timeout) as response:
            data = response.read(1_000_000)
    except OSError as err:  # URLError, timeouts and refused connections are all OSErrors
        raise CorpusUnavailable(
            f'Could not download "The Verdict" from {VERDICT_URL} ({err}). Without internet, put the file '
            f"at {target} or train on the journal."
        ) from err
    if hashlib.sha256(data).hexdigest() != VERDICT_SHA256:
        raise CorpusUnavailable(f"The download from {VERDICT_URL} is not the expected text (checksum differs).")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(target, data)
    return data.decode("utf-8")


def uploaded_text(name: str, data: bytes, max_mb: int = MAX_UPLOAD_MB) -> str:
    """The text of an uploaded .txt file; `CorpusError` when it is too big, not UTF-8 or empty."""
    shown = repr(Path(name).name[:80])  # the browser's file name is only ever displayed, never used as a path
    if len(data) > max_mb * 1024 * 1024:
        raise CorpusError(
            f"{shown} has {len(data) / 1024 / 1024:.1f} MB; the limit is {max_mb} MB, because each MB is about "
            "250,000 tokens per epoch and would take many minutes on a CPU. Upload a shorter extract."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"{shown} is not UTF-8 text: byte {err.start:,} is 0x{data[err.start]:02x}. "
            "Save it as UTF-8 plain text and upload it again."
        ) from None
    if "\x00" in text:
        raise CorpusError(f"{shown} holds NUL characters: it looks like a binary file, not plain text")
    if not text.strip():
        raise CorpusError(f"{shown} has no text")
    return text
