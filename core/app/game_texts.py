"""The texts the next-token game plays on: the journal, "The Verdict", Tiny Shakespeare, or the learner's own.

Tiny Shakespeare is read here until the corpus registry (`core.app.corpora.CORPUS_FILES`) lists it.
"""

from __future__ import annotations

from core.app.corpora import JOURNAL, VERDICT, CorpusUnavailable, corpus_text, decode_text
from core.errors import UserError
from core.paths import TINY_SHAKESPEARE_FILE, data_dir, find_data_file

TINY_SHAKESPEARE = "tinyshakespeare"
PASTED = "pasted"
TEXTS = {JOURNAL: "The journal", VERDICT: '"The Verdict"', TINY_SHAKESPEARE: "Tiny Shakespeare",
         PASTED: "Your own text"}
TINY_SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
MAX_TEXT_BYTES = 2_000_000  # Tiny Shakespeare has 1.1 MB; the game reads only its start anyway


def game_text(name: str, pasted: str = "") -> str:
    """The text called `name` (a `TEXTS` key); `pasted` is the learner's own."""
    if name == PASTED:
        return pasted
    if name == TINY_SHAKESPEARE:
        return tiny_shakespeare_text()
    if name in (JOURNAL, VERDICT):
        return corpus_text(name)
    raise UserError(f"unknown text {name!r}; choose one of {', '.join(TEXTS)}")


def tiny_shakespeare_text() -> str:
    path = find_data_file(TINY_SHAKESPEARE_FILE)
    if path is None:
        raise CorpusUnavailable(
            f"Tiny Shakespeare ({TINY_SHAKESPEARE_FILE}) is not on this machine. Download it from "
            f"{TINY_SHAKESPEARE_URL} and save it as {data_dir() / TINY_SHAKESPEARE_FILE} "
            "(or set LLM_JOURNAL_DATA_DIR), then reload."
        )
    try:
        if path.stat().st_size > MAX_TEXT_BYTES:
            raise UserError(f"{path} has {path.stat().st_size:,} bytes; Tiny Shakespeare is about 1.1 MB")
        data = path.read_bytes()
    except OSError as err:
        raise CorpusUnavailable(f"cannot read {path}: {err.strerror or err}") from None
    return decode_text(data, str(path))
