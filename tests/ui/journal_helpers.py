"""Helpers for the AppTest tests of the app shell and the journal pages."""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from core.journal import entries
from core.paths import PROJECT_ROOT

APP = PROJECT_ROOT / "streamlit_app.py"
TIMEOUT_S = 120  # the first run imports pandas and altair; widget pages may import torch


def open_app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    if page is not None:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def texts(elements) -> str:
    """The elements' markdown sources, with backslash escapes removed (as the browser shows them)."""
    return re.sub(r"\\(.)", r"\1", "\n".join(str(e.value) for e in elements))


def entry_file(day: int, body: str = "Some notes.", **front) -> str:
    return entries.format_entry(day=day, body=body, **front)
