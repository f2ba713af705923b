"""Every page runs inside the app's own navigation (`streamlit_app.py`), even on a fresh server."""

from __future__ import annotations

import streamlit as st

try:  # internal to Streamlit (pinned in requirements.txt); if a release moves it, pages still run, unfixed
    from streamlit.runtime.pages_manager import PagesManager
except ImportError:
    PagesManager = None


def require_app_navigation() -> None:
    """Call first on every page: rerun through `streamlit_app.py` when Streamlit ran the page alone.

    Because the pages live in a folder named `pages/`, a freshly started Streamlit server treats
    them as a legacy multipage app (each file run on its own, under a menu of file names) until
    some visit has called `st.navigation`. So the first visit after a restart, straight to a
    bookmarked page such as /tokenizer, would miss the app's menu and sidebar. Turning that legacy
    mode off, as `st.navigation` itself does, and rerunning fixes it: pages keep their URL names,
    so the rerun lands on the same page (tests/browser/test_app_pages.py checks it on a fresh server).
    """
    if PagesManager is not None and getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()
