"""A named corpus that is not on this machine yet: say so, and download it only when the learner asks."""

from __future__ import annotations

import streamlit as st

from core.app.corpora import CORPUS_FILES, CorpusError, CorpusUnavailable, corpus_text


def offer_download(key: str, corpus: str, instead: str = "use the journal") -> None:
    """A warning naming the file and its source, and a button that fetches it into the cache, then reruns."""
    title = CORPUS_FILES[corpus].title
    st.warning(f"{title} is not on this machine yet. Download it (a text file from {CORPUS_FILES[corpus].url}, "
               f"which takes an internet connection), or {instead}.", icon=":material/download:")
    if st.button(f"Download {title}", key=f"{key}_get_{corpus}"):
        try:
            with st.spinner(f"Downloading {title}..."):
                corpus_text(corpus, download=True)
        except (CorpusUnavailable, CorpusError) as err:
            st.error(str(err))
        else:
            st.rerun()
