"""The Review page through AppTest: two cards answered and scheduled, own cards, a damaged history."""

from __future__ import annotations

import json

from journal_helpers import open_app, texts

from core.app.review_cards import book_cards
from core.journal import review as rv

PAGE = "pages/review.py"


def answer_current(at, folder, right: bool) -> rv.ReviewCard:
    """Answer whichever card is shown, right or wrong, from core's own answer."""
    shown = texts(at.markdown)
    card = next(c for c in book_cards()[0] + rv.load_review(folder)[0].own if c.question in shown)
    if card.choices:
        wrong = next(c for c in card.choices if c != card.answer)
        at.radio(key=f"review_choice_{card.id}").set_value(card.answer if right else wrong).run()
    else:
        value = float(card.answer) + (0 if right else card.tolerance + 1000)
        at.text_input(key=f"review_answer_{card.id}").input(f"{value:.0f}" if value > 100 else f"{value:g}").run()
    at.button(key=f"review_check_{card.id}").click().run()
    assert not at.exception
    return card


def test_two_cards_answered_are_scheduled_and_kept(journal_copy, gpt2_encoding):
    at = open_app(PAGE)
    first = answer_current(at, journal_copy, right=True)
    assert "Right" in texts(at.success) and "FSRS" in texts(at.caption)
    at.button(key="review_next").click().run()
    second = answer_current(at, journal_copy, right=False)
    assert second.id != first.id and "Not quite" in texts(at.error)
    saved = json.loads((journal_copy / rv.REVIEW_FILE).read_text())
    assert [e["right"] for e in saved["log"]] == [True, False]
    assert set(saved["cards"]) == {first.id, second.id}


def submit_card(at, question: str, answer: str):
    next(t for t in at.text_input if t.label == "Question").input(question)
    next(t for t in at.text_input if t.label == "Answer").input(answer)
    next(b for b in at.button if b.label == "Add the card").click().run()
    assert not at.exception
    return at


def test_own_cards_need_an_answer_and_then_come_up_for_review(journal_copy):
    at = submit_card(open_app(PAGE), "What does d_k stand for?", "  ")
    assert "no answer" in texts(at.error)
    at = submit_card(at, "Heads in GPT-2 small?", "12")
    assert "Card added" in texts(at.success)
    assert [c.question for c in rv.load_review(journal_copy)[0].own] == ["Heads in GPT-2 small?"]


def test_a_damaged_history_is_set_aside_with_a_message(journal_copy):
    (journal_copy / rv.REVIEW_FILE).write_text("{broken", encoding="utf-8")
    at = open_app()  # the Progress page, the first to read the history, says so
    assert "set aside" in texts(at.warning) and not at.exception
    at.switch_page(PAGE).run()
    assert not at.exception and "due of" in texts(at.caption)
    assert any(p.name.startswith(".review.json.damaged-") for p in journal_copy.iterdir())


def test_big_answers_are_written_out_in_full(journal_copy, gpt2_encoding):
    at = open_app(PAGE)
    for _ in range(len(book_cards()[0])):
        card = answer_current(at, journal_copy, right=True)
        if card.id == "params-gpt2-medium-tied":
            break
        at.button(key="review_next").click().run()
    assert card.id == "params-gpt2-medium-tied"
    assert f"Right: {card.answer:,}" in texts(at.success) and "e+0" not in texts(at.success)
    assert f"within {card.tolerance:,.0f}" in texts(at.success)
