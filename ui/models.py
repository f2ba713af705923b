"""The one model chooser and model cache shared by every page that runs a model."""

from __future__ import annotations

import streamlit as st

from core.app.model_sources import ModelSource, download_source, load_source, model_sources
from core.errors import UserError
from core.gpt.model import GPTModel
from core.gpt.weights import WeightsUnavailable


@st.cache_resource(show_spinner="Loading the model...", max_entries=2)
def cached_model(source: ModelSource) -> GPTModel:
    """The source's model in eval mode, shared between sessions: only ever read, never trained."""
    return load_source(source)


def choose_model(key: str, untrained_hint: str) -> tuple[ModelSource, GPTModel] | None:
    """Your checkpoint, GPT-2 (downloaded on request) or random weights; None (reason shown) when not usable yet.

    `untrained_hint` says, in the page's own terms, what random weights mean for what it shows.
    """
    sources = {s.label + (" (download needed)" if s.needs_download else ""): s for s in model_sources()}
    label = st.radio("Model", list(sources), key=f"{key}_model")
    source = sources[label]
    if source.needs_download:
        st.info(f"GPT-2 small {source.detail}, then kept in the cache. Nothing is downloaded unless you ask.")
        if st.button("Download GPT-2 small", key=f"{key}_download"):
            try:
                with st.spinner("Downloading GPT-2 small..."):
                    download_source(source)
            except WeightsUnavailable as err:
                st.error(str(err), icon=":material/cloud_off:")
                return None
            st.rerun()
        return None
    if source.trained:
        st.caption(f"{source.label}: {source.detail}.")
    else:
        st.warning(f"**{source.label}**: {source.detail}. {untrained_hint}", icon=":material/casino:")
    try:
        return source, cached_model(source)
    except UserError as err:
        st.error(f"Could not load {source.label}: {err}", icon=":material/error:")
        return None


def newest_model() -> tuple[ModelSource, GPTModel] | None:
    """The newest usable model without asking (for compact widgets), or None with the reason shown."""
    source = next(s for s in model_sources() if not s.needs_download)
    try:
        return source, cached_model(source)
    except UserError as err:
        st.warning(f"Could not load {source.label}: {err}", icon=":material/error:")
        return None
