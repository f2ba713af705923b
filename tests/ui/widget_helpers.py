"""Helpers for the AppTest tests of the training widgets (pretraining, sampling, spam)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

from ui.training_job import shared_training

PAGES = Path(__file__).resolve().parents[2] / "pages"


def run_script(source: str) -> AppTest:
    """Run a page file (a path) or a script (source text) once, failing on any exception."""
    at = AppTest.from_file(source, default_timeout=120) if source.endswith(".py") else AppTest.from_string(
        source, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return " ".join(e.value for e in elements)


def wait_until(at: AppTest, condition: Callable[[AppTest], object], timeout: float = 180.0) -> AppTest:
    """Rerun the page (as the live fragment would) until `condition(at)` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at.run()
        assert not at.exception, at.exception
        if condition(at):
            return at
        time.sleep(0.5)
    raise AssertionError("the page never reached the expected state")


def progress_text(at: AppTest) -> str:
    bars = at.get("progress")
    return bars[0].proto.text if bars else ""


def steps_done(at: AppTest) -> int:
    """The live view's "step N of M", 0 before the first step."""
    text = progress_text(at)
    return int(text.split()[1].replace(",", "")) if text.startswith("step ") else 0


def fresh_training_slot() -> Iterator[None]:
    """Empty caches before a test; afterwards stop and await any job the test left running."""
    st.cache_data.clear()
    yield
    slot = shared_training()
    for waiting in slot.line():
        slot.cancel(waiting)
    live = slot.latest
    if live is not None:
        live.job.stop()
        assert live.job.join(60), "the training thread did not stop"
    st.cache_resource.clear()
    st.cache_data.clear()
