"""An entry's starting state for its inline widget (`widget_state: {attention: {causal: true}}` in front matter)."""

from __future__ import annotations

from typing import Any

import streamlit as st


def starting_state(widget: str, state: dict[str, Any] | None, known: dict[str, Any]) -> dict[str, Any]:
    """`known`'s defaults with the entry's values where they have the default's type; a warning for the rest."""
    values = dict(known)
    ignored = []
    for name, value in (state or {}).items():
        default = known.get(name)
        if name not in known:
            ignored.append(f"{name} (unknown)")
        elif isinstance(default, bool) != isinstance(value, bool) or not isinstance(value, type(default)) and not (
                isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)):
            ignored.append(f"{name} (should be like {default!r})")
        else:
            values[name] = type(default)(value)
    if ignored:
        st.caption(f":orange[:material/warning:] widget_state for {widget}: ignored {', '.join(ignored)}; "
                   f"it knows {', '.join(known)}.")
    return values
