"""The texts the next-token game plays on: the registry's corpora (the journal, "The Verdict", Tiny Shakespeare)
or the learner's own."""

from __future__ import annotations

from core.app.corpora import CORPORA, CORPUS_FILES, JOURNAL, corpus_text
from core.errors import UserError

PASTED = "pasted"
TEXTS = {JOURNAL: "The journal", **{name: corpus.title for name, corpus in CORPUS_FILES.items()},
         PASTED: "Your own text"}


def game_text(name: str, pasted: str = "") -> str:
    """The text called `name` (a `TEXTS` key); `pasted` is the learner's own."""
    if name == PASTED:
        return pasted
    if name in CORPORA:
        return corpus_text(name)
    raise UserError(f"unknown text {name!r}; choose one of {', '.join(TEXTS)}")
