"""The one model chooser and model cache shared by every page that runs a model.

The chooser offers the current model (`core.app.runs`: pinned, else the newest finished run), GPT-2
and random weights; with the first, every saved run can be picked and pinned as the current model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from core.app import runs as registry
from core.app.model_sources import ModelSource, download_source, load_source, model_sources, run_sources
from core.errors import UserError
from core.gpt.model import GPTModel
from core.gpt.weights import WeightsUnavailable
from core.paths import runs_dir
from ui import runs as saved


@st.cache_resource(show_spinner="Loading the model...", max_entries=2)
def cached_model(source: ModelSource) -> GPTModel:
    """The source's model in eval mode, shared between sessions: only ever read, never trained."""
    return load_source(source)


def _sources() -> tuple[list[ModelSource], list[ModelSource]]:
    """The kinds of model to offer and every saved run, from one reading of the runs folder."""
    entries = saved.entries()
    return model_sources(entries=entries), run_sources(entries)


def choose_model(key: str, untrained_hint: str) -> tuple[ModelSource, GPTModel] | None:
    """Your checkpoint, GPT-2 (downloaded on request) or random weights; None (reason shown) when not usable yet.

    `untrained_hint` says, in the page's own terms, what random weights mean for what it shows.
    """
    kinds, runs = _sources()
    sources = {s.label + (" (download needed)" if s.needs_download else ""): s for s in kinds}
    label = st.radio("Model", list(sources), key=f"{key}_model")
    source = sources[label]
    if source.kind == "checkpoint" and len(runs) > 1:
        source = _choose_run(key, source, runs)
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
    return _load(source, st.error)


def _choose_run(key: str, current: ModelSource, runs: list[ModelSource]) -> ModelSource:
    """Any saved run (the current model by default), and a pin that makes the chosen one current everywhere."""
    ids = [r.run_id for r in runs]
    by_id = {r.run_id: r for r in runs}
    pinned = registry.pinned_id(runs_dir())
    chosen = st.selectbox("Saved run", ids, index=ids.index(current.run_id), key=f"{key}_run",
                          format_func=lambda run_id: _run_option(by_id[run_id], current.run_id, pinned),
                          help="Every complete run from the Pretraining page. The current model is the pinned "
                               "run, else the newest finished one.")
    source = by_id[chosen]
    if chosen == pinned:
        st.button("Unpin: let the newest finished run be the current model", key=f"{key}_unpin",
                  icon=":material/keep_off:", on_click=_pin, args=(None,))
    elif chosen != current.run_id:
        st.button(f"Pin run {chosen} as the current model for every page", key=f"{key}_pin",
                  icon=":material/keep:", on_click=_pin, args=(chosen,))
    return source


def _run_option(source: ModelSource, current: str | None, pinned: str | None) -> str:
    marks = (" · current model" if source.run_id == current else "") + (" · pinned" if source.run_id == pinned else "")
    return f"{source.run_id} · {source.detail}{marks}"


def _pin(run_id: str | None) -> None:
    try:
        if run_id is None:
            registry.unpin()
        else:
            registry.pin_run(run_id)
    except UserError as err:
        st.toast(str(err), icon=":material/error:")
    saved.forget()


def _load(source: ModelSource, show: Callable[..., Any]) -> tuple[ModelSource, GPTModel] | None:
    try:
        return source, cached_model(source)
    except UserError as err:
        show(f"Could not load {source.label}: {err}", icon=":material/error:")
        return None


def newest_model() -> tuple[ModelSource, GPTModel] | None:
    """The current model without asking (for compact widgets), or None with the reason shown."""
    kinds, _ = _sources()
    return _load(next(s for s in kinds if not s.needs_download), st.warning)
