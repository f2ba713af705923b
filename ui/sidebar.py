"""The sidebar's app status: what data and models the widgets can use right now, and how to fix gaps.

The checks only look at files (no tokenizer loading); the current model comes from the run registry,
read when a page has been drawn.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from core.paths import (
    GPT2_VOCAB_URLS,
    SMS_SPAM_FILE,
    VERDICT_FILE,
    cache_dir,
    data_dir,
    find_data_file,
    runs_dir,
    tiktoken_cache_dir,
    tiktoken_cached_file,
)

MODEL_LABEL = "Current model"


@dataclass(frozen=True)
class StatusItem:
    label: str
    ok: bool
    detail: str


def tokenizer_status() -> StatusItem:
    folder = tiktoken_cache_dir()
    cached = all(tiktoken_cached_file(url, folder).is_file() for url in GPT2_VOCAB_URLS)
    if cached:
        return StatusItem("GPT-2 vocabulary", True, f"cached in `{folder}`")
    return StatusItem(
        "GPT-2 vocabulary", False,
        "not downloaded yet: tiktoken fetches it (about 1.5 MB) the first time it is needed, which "
        "takes an internet connection. Offline, set TIKTOKEN_CACHE_DIR to a folder holding tiktoken's "
        "cached files (such as `../shared/data/tiktoken-cache`) and restart the app.",
    )


def data_file_status(label: str, relative: str, used_by: str) -> StatusItem:
    path = find_data_file(relative)
    if path is not None:
        return StatusItem(label, True, f"found: `{path}`")
    return StatusItem(
        label, False,
        f"not found: {used_by} downloads it when there is internet, or put the file at "
        f"`{data_dir() / relative}` (or `{cache_dir() / relative}`).",
    )


def checkpoint_status(now: dt.datetime | None = None) -> StatusItem:
    """The current model the widgets use (`core.app.runs`: pinned, else the newest finished run)."""
    from core.app import runs as registry  # imports torch: only once a page has been drawn
    from ui import runs as saved

    root = runs_dir()
    current = saved.current(root)
    if current is None:
        return StatusItem(MODEL_LABEL, False, "none yet: train one on the Pretraining page")
    saved_at = dt.datetime.fromisoformat(current.created).astimezone().replace(tzinfo=None)
    pinned = ", pinned" if registry.pinned_id(root) == current.run_id else ""
    return StatusItem(MODEL_LABEL, True, f"run `{current.run_id}` ({registry.run_state(current)}{pinned}), "
                                         f"saved {_age(saved_at, now or dt.datetime.now())}")


def _age(then: dt.datetime, now: dt.datetime) -> str:
    minutes = max(int((now - then).total_seconds() // 60), 0)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return f"on {then:%Y-%m-%d}"


@st.cache_data(ttl=10, show_spinner=False)
def data_status() -> list[StatusItem]:
    return [
        tokenizer_status(),
        data_file_status("The Verdict (training text)", VERDICT_FILE, "the Pretraining page"),
        data_file_status("SMS Spam Collection", SMS_SPAM_FILE, "the Spam classifier page"),
    ]


def app_status() -> list[StatusItem]:
    # Not cached with the data files: a run saved or deleted a second ago must show at once.
    return [*data_status(), checkpoint_status()]


def render_status() -> None:
    """The status block under the navigation: one line per item, the fix shown where one is needed."""
    with st.sidebar.container(key="app_status"):
        st.caption("**App status**")
        for item in app_status():
            if item.ok and item.label == MODEL_LABEL:
                st.markdown(f":green[:material/check_circle:] {item.label}", help=item.detail)
                st.caption(item.detail)
            elif item.ok:
                st.markdown(f":green[:material/check_circle:] {item.label}", help=item.detail)
            else:
                st.markdown(f":orange[:material/error:] {item.label}")
                st.caption(item.detail)
