"""Streamlit rendering shared by the pages and by the journal's inline widgets.

Conventions:
- Each live widget lives in `ui/<name>.py` (names: tokenizer, attention, parameters, pretraining,
  sampling, spam) and exposes `compact(key: str) -> None`, a small inline version of its page.
  `key` prefixes every widget key, so one widget can appear several times on a page.
- `ui.widget_registry.render_compact(name, key)` is how the Entries page shows them: it imports the module
  lazily, so a missing or broken widget never breaks the journal.
- Logic lives in `core/`; modules here only lay things out.
"""
