"""Self-test cards: answer in the page, see why, and let FSRS decide when the card comes back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.app.review_cards import book_cards
from core.errors import AppError
from core.journal import review as rv
from core.journal import store
from ui.journal_view import plain
from ui.widget_registry import WIDGET_PAGES, page_link


def deck() -> tuple[Path, rv.ReviewState, list[rv.ReviewCard], list[str]]:
    """The journal folder, the review state, the cards of the chapters read plus your own, and notes to show."""
    folder = store.journal_dir()
    journal = store.load_journal(folder)
    state, damaged = rv.load_review(folder)
    chapters = {c for e in journal.entries for c in e.chapters}
    cards, notes = book_cards(chapters)
    if damaged:
        notes.insert(0, damaged)
    return folder, state, [*cards, *state.own], notes


def ask(key: str, folder: Path, state: rv.ReviewState, card: rv.ReviewCard) -> None:
    """One card: the question, an answer field (a number, or a choice), then the verdict and the explanation."""
    st.markdown(f"**{plain(card.question)}**")
    checked = st.session_state.get(f"{key}_checked")
    if checked is not None and checked[0] == card.id:
        _verdict(key, card, *checked[1:])
        return
    if card.choices:
        st.radio("Your answer", card.choices, index=None, key=f"{key}_choice_{card.id}")
    else:
        st.text_input("Your answer", key=f"{key}_answer_{card.id}",
                      placeholder="a number" if card.numeric else "your answer")
    st.button("Check", key=f"{key}_check_{card.id}", type="primary", on_click=_check, args=(key, folder, state, card))
    if problem := st.session_state.pop(f"{key}_problem", None):
        st.warning(problem, icon=":material/edit:")


def _check(key: str, folder: Path, state: rv.ReviewState, card: rv.ReviewCard) -> None:
    """Callback of Check: judge the answer, let FSRS schedule the card, and keep the verdict for the next run."""
    given = st.session_state.get(f"{key}_choice_{card.id}" if card.choices else f"{key}_answer_{card.id}")
    if not given or not str(given).strip():
        st.session_state[f"{key}_problem"] = "Answer first, then check."
        return
    try:
        right = rv.is_right(card, str(given))
    except rv.ReviewError as err:
        st.session_state[f"{key}_problem"] = f"{err}."
        return
    try:
        due = rv.record(folder, state, card, right)
    except (AppError, OSError) as err:
        st.session_state[f"{key}_problem"] = f"Checked, but the review history could not be saved ({err})."
        due = None
    st.session_state[f"{key}_checked"] = (card.id, right, str(given), due)


def _verdict(key: str, card: rv.ReviewCard, right: bool, given: str, due: dt.datetime | None) -> None:
    answer = _number(card.answer) if card.numeric else str(card.answer)
    within = f" (within {_number(card.tolerance)})" if card.numeric and card.tolerance else ""
    if right:
        st.success(f"Right: {plain(answer)}{within}.", icon=":material/check_circle:")
    else:
        st.error(f"Not quite: you said {plain(given)}; the answer is {plain(answer)}{within}.",
                 icon=":material/cancel:")
    if card.explanation:
        st.caption(plain(card.explanation))
    if card.widget in WIDGET_PAGES:
        page_link(WIDGET_PAGES[card.widget], label=f"See it live: {WIDGET_PAGES[card.widget].title}")
    if due is not None:
        st.caption(f"Next review of this card: {due:%Y-%m-%d %H:%M} UTC (scheduled by FSRS).")
    st.button("Next card", key=f"{key}_next", icon=":material/skip_next:",
              on_click=lambda: st.session_state.pop(f"{key}_checked", None))


def _number(value: float) -> str:
    """354,749,440 and 3,547,494 in full, 10.82 as it is: never 3.54749e+08."""
    return f"{value:,.0f}" if abs(value) >= 1_000 else f"{value:,.6g}"


def review_section(key: str) -> None:
    """The cards due now, one at a time."""
    folder, state, cards, notes = deck()
    for note in notes:
        st.warning(note, icon=":material/history:")
    checked = st.session_state.get(f"{key}_checked")
    current = next((c for c in cards if checked and c.id == checked[0]), None)
    due = rv.due(cards, state)
    if current is None and not due:
        st.success("No card is due now. Come back later, or add a card of your own below.",
                   icon=":material/event_available:")
        return
    st.caption(f"{len(due)} card{'s' * (len(due) != 1)} due of {len(cards)}.")
    with st.container(border=True):
        ask(key, folder, state, current or due[0])


def own_card_section(key: str) -> None:
    """Write a card of your own from a note: question, answer, optional tolerance for a number."""
    with st.form(f"{key}_own", clear_on_submit=True):
        st.text_input("Question", max_chars=rv.MAX_CARD_CHARS, key=f"{key}_own_question")
        st.text_input("Answer", max_chars=rv.MAX_CARD_CHARS, help="A number, or a short text", key=f"{key}_own_answer")
        st.text_input("Tolerance (numbers only, optional)", placeholder="0.05", key=f"{key}_own_tolerance")
        st.form_submit_button("Add the card", on_click=_add_own, args=(key,))
    if outcome := st.session_state.pop(f"{key}_own_outcome", None):
        (st.success if outcome[0] else st.error)(outcome[1], icon=":material/add_card:")


def _add_own(key: str) -> None:
    folder, state, _, _ = deck()
    values = [str(st.session_state.get(f"{key}_own_{name}") or "") for name in ("question", "answer", "tolerance")]
    try:
        rv.add_own(folder, state, rv.own_card(*values))
    except rv.ReviewError as err:
        st.session_state[f"{key}_own_outcome"] = (False, f"Not added: {err}.")
    except OSError as err:
        st.session_state[f"{key}_own_outcome"] = (False, f"Not added: the review history could not be written ({err}).")
    else:
        st.session_state[f"{key}_own_outcome"] = (True, "Card added: it is due now.")


def stats_section(key: str) -> None:
    """Cards due, the share answered right, and reviews per day (for the Progress page)."""
    _, state, cards, notes = deck()
    for note in notes:
        st.warning(note, icon=":material/history:")
    figures = rv.stats(cards, state)
    c1, c2, c3 = st.columns(3)
    c1.metric("Cards due", figures.due_now, f"of {len(cards)}", delta_color="off", delta_arrow="off")
    c2.metric("Reviews", figures.reviews)
    c3.metric("Answered right", "n/a" if figures.retention is None else f"{figures.retention:.0%}")
    if figures.per_day:
        data = pd.DataFrame({"date": [d.isoformat() for d in figures.per_day],
                             "reviews": list(figures.per_day.values())})
        st.altair_chart(alt.Chart(data).mark_rect().encode(
            x=alt.X("date:O", title=None), color=alt.Color("reviews:Q", scale=alt.Scale(scheme="greens")),
            tooltip=["date", "reviews"]).properties(height=60, title="Reviews per day"), width="stretch")


def compact(key: str, state: dict[str, Any] | None = None) -> None:
    """One due card beside an entry."""
    folder, review_state, cards, notes = deck()
    checked = st.session_state.get(f"{key}_checked")
    card = next((c for c in cards if checked and c.id == checked[0]), None)
    due = rv.due(cards, review_state)
    card = card or (due[0] if due else None)
    if card is None:
        st.caption("No card is due now.")
        return
    ask(key, folder, review_state, card)
