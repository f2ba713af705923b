"""Every text the app trains or tokenizes on (book sections 2.1 and 5.1), read one way.

- The journal's entries: always there, so they are the default.
- Named text files (`CORPUS_FILES`: "The Verdict", "Tiny Shakespeare"; another corpus is one more entry) are read from
  the data folder or the download cache, and downloaded into the cache where there is internet.
- An uploaded file.

One read policy for all of them: strict UTF-8 (a byte-order mark is dropped), an error naming the
first bad byte instead of silently replaced characters, no NUL bytes, not empty, and a size cap
for each use (the named constants below say why).
"""

from __future__ import annotations

import hashlib
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from core.atomic import write_bytes
from core.errors import Unavailable, UserError
from core.gpt import data
from core.journal.store import load_journal
from core.paths import TINY_SHAKESPEARE_FILE, VERDICT_FILE, cache_dir, data_dir, find_data_file

JOURNAL = "journal"
VERDICT = "the-verdict"
TINY_SHAKESPEARE = "tinyshakespeare"
UPLOAD = "upload"

# An uploaded training text: ~500,000 GPT-2 tokens, already minutes per epoch for the tiny model on a CPU.
MAX_UPLOAD_MB = 2
# What the tokenizer widget trains a BPE (or builds a word vocabulary) on: BPE training is quadratic-ish
# in the text, and 500,000 characters keep it within seconds on a laptop.
MAX_TOKENIZER_CHARS = 500_000


class CorpusError(data.CorpusError):
    """A text that cannot be used: too big, not UTF-8, binary or empty (the command line's error, for the app)."""


class CorpusUnavailable(Unavailable):
    """A corpus that is not on this machine and cannot be downloaded now."""


@dataclass(frozen=True)
class CorpusFile:
    """A named text file: where it lives in the data folder, where to download it, how big it may be."""

    title: str
    data_file: str  # relative to data_dir() or cache_dir()
    url: str
    sha256: str  # a download with another checksum (a captive portal's page, say) is refused
    max_bytes: int  # the largest local copy or download read


CORPUS_FILES = {
    VERDICT: CorpusFile(
        title='"The Verdict"',
        data_file=VERDICT_FILE,
        url="https://raw.githubusercontent.com/rasbt/LLMs-from-scratch/main/ch02/01_main-chapter-code/the-verdict.txt",
        sha256="b41e41a68f0398a3154ae69e2e4c0e2694e17fe0d66730536837f1b01935b31f",
        max_bytes=1_000_000,  # the story has 20 KB
    ),
    TINY_SHAKESPEARE: CorpusFile(
        title='"Tiny Shakespeare"',
        data_file=TINY_SHAKESPEARE_FILE,
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
        max_bytes=2_000_000,  # 40,000 lines of the plays: 1.1 MB, about 338,000 GPT-2 tokens
    ),
}
CORPORA = (JOURNAL, *CORPUS_FILES)


def decode_text(data: bytes, shown: str) -> str:
    """`data` as strict UTF-8 text; `CorpusError` says which byte is wrong (`shown` names the text)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CorpusError(
            f"{shown} is not UTF-8 text: byte {err.start:,} is 0x{data[err.start]:02x}. "
            "Save it as UTF-8 plain text and try again."
        ) from None
    if "\x00" in text:
        raise CorpusError(f"{shown} holds NUL characters: it looks like a binary file, not plain text")
    if not text.strip():
        raise CorpusError(f"{shown} has no text")
    return text


def corpus_available(name: str) -> bool:
    """Whether `corpus_text(name)` works without a download."""
    return name == JOURNAL or find_data_file(_corpus_file(name).data_file) is not None


def corpus_text(name: str, download: bool = False, timeout: float = 20.0, max_chars: int | None = None) -> str:
    """The text of corpus `name` (one of `CORPORA`), at most `max_chars` characters of it.

    A named file missing from the data folder and the cache is downloaded into the cache when `download`.
    """
    text = journal_text() if name == JOURNAL else _file_text(_corpus_file(name), download, timeout)
    return text if max_chars is None else text[:max_chars]


def journal_text() -> str:
    """The journal's entries joined: the corpus that is always available."""
    text = "\n\n".join(entry.body for entry in load_journal().entries)
    if not text.strip():
        raise CorpusUnavailable("The journal has no entries yet: write one, or use another text.")
    return text


def uploaded_text(name: str, data: bytes, max_mb: int = MAX_UPLOAD_MB) -> str:
    """The text of an uploaded .txt file; `CorpusError` when it is too big, not UTF-8 or empty."""
    shown = repr(Path(name).name[:80])  # the browser's file name is only ever displayed, never used as a path
    if len(data) > max_mb * 1024 * 1024:
        raise CorpusError(
            f"{shown} has {len(data) / 1024 / 1024:.1f} MB; the limit is {max_mb} MB, because each MB is about "
            "250,000 tokens per epoch and would take many minutes on a CPU. Upload a shorter extract."
        )
    return decode_text(data, shown)


def _corpus_file(name: str) -> CorpusFile:
    if name not in CORPUS_FILES:
        raise UserError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    return CORPUS_FILES[name]


def _file_text(corpus: CorpusFile, download: bool, timeout: float) -> str:
    path = find_data_file(corpus.data_file)
    if path is not None:
        return _read(path, corpus)
    target = cache_dir() / corpus.data_file
    if not download:
        raise CorpusUnavailable(
            f"{corpus.title} ({corpus.data_file}) is not in the data folder. Download it from {corpus.url} "
            f"into {data_dir() / Path(corpus.data_file).parent} or set LLM_JOURNAL_DATA_DIR."
        )
    try:
        with urllib.request.urlopen(corpus.url, timeout=timeout) as response:
            data = response.read(corpus.max_bytes + 1)
    except OSError as err:  # URLError, timeouts and refused connections are all OSErrors
        raise CorpusUnavailable(
            f"Could not download {corpus.title} from {corpus.url} ({err}). Without internet, put the file "
            f"at {target} or train on the journal."
        ) from err
    if hashlib.sha256(data).hexdigest() != corpus.sha256:
        raise CorpusUnavailable(f"The download from {corpus.url} is not the expected text (checksum differs).")
    text = decode_text(data, corpus.title)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(target, data)
    return text


def _read(path: Path, corpus: CorpusFile) -> str:
    try:
        size = path.stat().st_size
        if size > corpus.max_bytes:
            raise CorpusError(f"{path} has {size:,} bytes; {corpus.title} is at most {corpus.max_bytes:,}")
        data = path.read_bytes()
    except OSError as err:
        raise CorpusUnavailable(f"cannot read {path}: {err.strerror or err}") from None
    return decode_text(data, str(path))
