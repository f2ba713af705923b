"""Self-test cards: answers equal core's own figures, FSRS schedules them, the history file survives damage."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from core.app.review_cards import book_cards
from core.gpt.config import GPT2_VOCAB_SIZE, PRESETS
from core.gpt.instruction_data import custom_collate_fn
from core.gpt.params import count_parameters
from core.gpt.tokenizers import encode
from core.journal import review as rv

NOW = dt.datetime(2025, 3, 10, 12, 0, tzinfo=dt.UTC)


def card(card_id: str) -> rv.ReviewCard:
    return next(c for c in book_cards()[0] if c.id == card_id)


def test_the_book_cards_answers_are_cores_figures(gpt2_encoding):
    assert card("params-gpt2-medium-tied").answer == count_parameters(
        {**PRESETS["gpt2-medium"], "tie_weights": True}).total_tied
    assert card("loss-untrained").answer == pytest.approx(math.log(GPT2_VOCAB_SIZE), abs=0.005)
    assert rv.is_right(card("loss-untrained"), "10.82") and not rv.is_right(card("loss-untrained"), "10.5")
    order = card("sampling-order")
    assert order.answer == "top-k, then temperature, then softmax" and order.answer in order.choices
    tea = card("tokens-hello-tea")
    assert tea.answer == len(encode("Hello, do you like tea? <|endoftext|> In the sunlit terraces",
                                    allow_special=True))
    _, targets = custom_collate_fn([[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]])
    assert card("collate-targets").answer == int((targets != -100).sum()) == 10


def test_numbers_accept_commas_and_the_tolerance_and_refuse_words():
    medium = card("params-gpt2-medium-tied")
    assert rv.is_right(medium, f"{medium.answer:,}") and rv.is_right(medium, str(int(medium.answer * 1.009)))
    assert not rv.is_right(medium, str(int(medium.answer * 1.02)))
    with pytest.raises(rv.ReviewError, match="not a number"):
        rv.is_right(medium, "about 350 million")


def test_cards_follow_the_chapters_read():
    assert {c.chapter for c in book_cards(["Chapter 5"])[0]} == {"Chapter 5"}
    assert book_cards([])[0] == []


def test_own_cards_need_an_answer_and_a_tolerance_only_for_numbers():
    with pytest.raises(rv.ReviewError, match="no answer"):
        rv.own_card("What is d_k?", "   ")
    with pytest.raises(rv.ReviewError, match="only fits a number"):
        rv.own_card("Who wrote the book?", "Raschka", "0.1")
    mine = rv.own_card("Heads in GPT-2 small?", "12", "0")
    assert rv.is_right(mine, "12") and not rv.is_right(mine, "11")


def test_fsrs_schedules_right_answers_further_out_than_wrong_ones(tmp_path):
    state = rv.ReviewState()
    tea, loss = rv.own_card("a", "1"), rv.own_card("b", "2")
    tea = rv.ReviewCard(**{**tea.__dict__, "id": "a"})
    loss = rv.ReviewCard(**{**loss.__dict__, "id": "b"})
    assert rv.due([tea, loss], state, NOW) == [tea, loss]  # never reviewed: due
    right_due = rv.record(tmp_path, state, tea, True, NOW)
    wrong_due = rv.record(tmp_path, state, loss, False, NOW)
    assert NOW < wrong_due < right_due
    assert rv.due([tea, loss], state, NOW) == []
    reread, message = rv.load_review(tmp_path)
    assert message is None and reread.cards["a"].due == right_due and len(reread.log) == 2
    figures = rv.stats([tea, loss], reread, NOW)
    assert figures.reviews == 2 and figures.retention == 0.5 and figures.per_day == {NOW.date(): 2}


@pytest.mark.parametrize("damage", ["{not json", json.dumps({"format": "other"}), json.dumps(
    {"format": rv.FORMAT, "version": 1, "cards": {"x": {"state": "nonsense"}}, "log": [], "own": []}), "\xff\xfe"])
def test_a_damaged_history_is_set_aside_and_reviews_start_afresh(tmp_path, damage):
    (tmp_path / rv.REVIEW_FILE).write_text(damage, encoding="latin-1")
    state, message = rv.load_review(tmp_path)
    assert state.cards == {} and "set aside" in message
    kept = [p for p in tmp_path.iterdir() if p.name.startswith(rv.REVIEW_FILE + ".damaged-")]
    assert len(kept) == 1 and kept[0].read_text(encoding="latin-1") == damage
    rv.record(tmp_path, state, card("loss-untrained"), True, NOW)
    assert rv.load_review(tmp_path)[1] is None
