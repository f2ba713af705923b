"""The registry of live widgets: their pages, and their compact versions beside journal entries.

The one place a widget name is declared: journal entries name widgets in their front matter, and
the chapters a widget goes with are listed here, so the journal itself knows no widget names.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from dataclasses import dataclass
from typing import Any

import streamlit as st

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WidgetPage:
    name: str  # module `ui/<name>.py` and journal front-matter name
    title: str
    icon: str
    url_path: str
    summary: str
    chapters: tuple[str, ...] = ()  # book chapters it goes with, named as in core.journal.book.BOOK_CHAPTERS

    @property
    def path(self) -> str:
        return f"pages/{self.name}.py"


WIDGET_PAGES = {
    w.name: w
    for w in (
        WidgetPage("tokenizer", "Tokenizer", ":material/text_fields:", "tokenizer",
                   "text as tokens and IDs, BPE merges, and the path to input embeddings", chapters=("Chapter 2",)),
        WidgetPage("attention", "Attention", ":material/grid_on:", "attention",
                   "self-attention step by step, with causal mask, dropout and heads", chapters=("Chapter 3",)),
        WidgetPage("parameters", "Parameters", ":material/donut_large:", "parameters",
                   "where a GPT's parameters live, for every GPT-2 size", chapters=("Chapter 4",)),
        WidgetPage("pretraining", "Pretraining", ":material/show_chart:", "pretraining",
                   "train a small GPT on the CPU and watch the loss fall live", chapters=("Chapter 5",)),
        WidgetPage("sampling", "Sampling", ":material/casino:", "sampling",
                   "temperature, top-k and top-p on the next-token distribution", chapters=("Chapter 5",)),
        WidgetPage("spam", "Spam classifier", ":material/mark_email_unread:", "spam",
                   "fine-tune a GPT to tell spam from normal messages, then test it", chapters=("Chapter 6",)),
        WidgetPage("instruction", "Instruction fine-tuning", ":material/assignment:", "instruction",
                   "the loss mask up close, then fine-tune a GPT to follow instructions and judge its answers",
                   chapters=("Chapter 7",)),
        WidgetPage("lora", "LoRA", ":material/tune:", "lora",
                   "fine-tune a few low-rank matrices instead of every weight", chapters=("Appendix E",)),
        WidgetPage("logit_lens", "Logit lens", ":material/layers:", "logit_lens",
                   "what each layer of a GPT would predict, read through its own output head", chapters=("Chapter 4",)),
        WidgetPage("next_token_game", "Guess the next token", ":material/sports_esports:", "next_token_game",
                   "play the game a GPT is trained on, against a GPT, with a scoreboard"),
        WidgetPage("review", "Review", ":material/school:", "review",
                   "self-test cards from the chapters read, with answers computed live, spaced by FSRS"),
    )
}


def widgets_for_chapter(chapter: str | None) -> tuple[str, ...]:
    """The widgets that go with a book chapter, in registry order."""
    return tuple(name for name, widget in WIDGET_PAGES.items() if chapter in widget.chapters)


def render_compact(name: str, key: str, state: dict[str, Any] | None = None) -> None:
    """Draw widget `name`'s compact version, or a short note saying why it cannot be shown.

    `state` is the entry's starting state for the widget; a widget whose `compact` takes none ignores it.
    """
    widget = WIDGET_PAGES.get(name)
    if widget is None:
        st.caption(f"Unknown widget {name!r}.")
        return
    try:
        compact = load_widget_module(name).compact
        if "state" in inspect.signature(compact).parameters:
            compact(key, state=state or {})
        else:
            if state:
                st.caption(f"The {widget.title} widget takes no starting state; widget_state ignored.")
            compact(key)
    except Exception as err:  # a broken or missing widget must not take the journal down with it
        _broken(widget, err)


def load_widget_module(name: str):
    """`ui.<name>`, imported on first use so the journal never waits for, or breaks on, a widget."""
    return importlib.import_module(f"ui.{name}")


def page_link(widget: WidgetPage, label: str | None = None) -> None:
    st.page_link(widget.path, label=label or f"Open the {widget.title} page", icon=widget.icon)


def _broken(widget: WidgetPage, err: Exception) -> None:
    log.exception("The %s widget failed", widget.name, exc_info=err)
    st.warning(f"The {widget.title} widget could not be shown ({type(err).__name__}: {err}).",
               icon=":material/error:")
    page_link(widget)
