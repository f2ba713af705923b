"""'Show the code': the real source of a widget step's `core` function, beside the picture it drew."""

from __future__ import annotations

import streamlit as st

from core.widgets.code_view import code_for


def show_code(step_name: str) -> None:
    """A closed expander holding the source the step ran, with its file and the book's section and listing."""
    code = code_for(step_name)
    with st.expander(f"Show the code: `{code.module_path}` · `{code.name}` ({code.book_ref})",
                     icon=":material/code:"):
        st.caption(f"From line {code.first_line} of `{code.module_path}`, read from the module as it runs.")
        st.code(code.source, language="python")
