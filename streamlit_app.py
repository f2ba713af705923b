"""LLM journal: a learning journal for *Build a Large Language Model (From Scratch)*, with live widgets.

Run with `streamlit run streamlit_app.py`. Pages live in `pages/`, shared rendering in `ui/`, logic in `core/`.
"""

import os

import streamlit as st

from core.paths import tiktoken_environment
from ui.sidebar import render_status
from ui.widget_registry import WIDGET_PAGES

# tiktoken reads its vocabulary cache from TIKTOKEN_CACHE_DIR: point it at the offline copy, once, here.
os.environ.update(tiktoken_environment())

st.set_page_config(page_title="LLM journal", page_icon=":material/menu_book:", layout="wide")

# The default page is served at "/" only, whatever its url_path (here just its identity), so a bookmarked
# /progress would find no page: a hidden page at that path sends the visit on to it.
progress = st.Page("pages/progress.py", title="Progress", icon=":material/insights:", url_path="home", default=True)
journal_pages = [
    progress,
    st.Page(lambda: st.switch_page(progress), title="Progress", url_path="progress", visibility="hidden"),
    st.Page("pages/entries.py", title="Entries", icon=":material/book:", url_path="entries"),
    st.Page("pages/new_entry.py", title="New entry", icon=":material/edit_note:", url_path="new-entry"),
]
widget_pages = [st.Page(w.path, title=w.title, icon=w.icon, url_path=w.url_path) for w in WIDGET_PAGES.values()]

page = st.navigation({"Journal": journal_pages, "Widgets": widget_pages})
render_status()
page.run()
