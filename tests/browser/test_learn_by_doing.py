"""Learning by doing, end to end in a real browser, on a server of its own:

train a tiny run, add it to the latest entry, reopen that entry and see the run's loss chart drawn
from its saved history, play three rounds of the next-token game, and review two cards (answered
with the figures `core` computes), then see both reviews counted on Progress.

Screenshots: test-artifacts/screenshots/learn-by-doing-*.png.
"""

from __future__ import annotations

import re

import pytest

from core.app.review_cards import book_cards
from core.journal.store import load_journal

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

LIVE_TIMEOUT_MS = 300_000  # a shared 2-core machine; alone, the tiny run takes well under a minute


def train_a_tiny_run(app) -> str:
    """One epoch of the tiny model on the journal with 32-token windows; the new run's id."""
    app.go_to("Pretraining", "Pretraining")
    app.step_slider("Context length (tokens per window)", "ArrowLeft", 2)  # 128 -> 64 -> 32
    app.set_number("Epochs", 1)
    before = set(p.name for p in app.server.runs_dir.iterdir())
    app.main.get_by_role("button", name="Start training").click()
    app.main.get_by_text(re.compile(r"^Finished after")).wait_for(timeout=LIVE_TIMEOUT_MS)
    app.wait_until_idle()
    app.assert_no_exception()
    (run_id,) = {p.name for p in app.server.runs_dir.iterdir() if (p / "checkpoint.json").is_file()} - before
    return run_id


def add_to_the_latest_entry(app) -> int:
    day = load_journal(app.server.journal_dir).entries[-1].day
    button = app.main.get_by_role("button", name=f"Add to the entry of day {day}")
    button.click()
    app.main.get_by_text(f"Added to day-{day:02d}.md").wait_for(timeout=60_000)
    app.wait_until_idle()
    app.screenshot("learn-by-doing-added")
    return day


def reopen_and_see_the_chart(app, day: int, run_id: str) -> None:
    entry = next(e for e in load_journal(app.server.journal_dir).entries if e.day == day)
    assert [x.run for x in entry.experiments] == [run_id], "the record is in the entry's front matter"
    app.go_to("Entries", "Journal entries")
    app.main.get_by_text("Live widgets").click()  # just the notes: the page draws faster
    app.wait_until_idle()
    search = app.main.get_by_label("Search")
    search.fill(entry.title)
    search.press("Enter")
    app.wait_until_idle()
    expander = app.main.locator('[data-testid="stExpander"]').filter(has_text=f"Pretraining run: run {run_id}")
    expander.get_by_text(f"Pretraining run: run {run_id}").click()
    expander.locator('[data-testid="stVegaLiteChart"]').wait_for(timeout=60_000)
    app.page.wait_for_timeout(1_500)  # the chart draws asynchronously
    app.assert_no_exception()
    assert expander.get_by_text(re.compile(r"Results: .*val loss")).is_visible()
    expander.scroll_into_view_if_needed()
    app.screenshot("learn-by-doing-entry")


def play_three_rounds(app) -> None:
    app.go_to("Guess the next token", "Guess the next token")
    for round_no in (1, 2, 3):
        app.main.get_by_text(f"Round {round_no} of 10").wait_for(timeout=LIVE_TIMEOUT_MS)
        box = app.main.get_by_label("Your guess for the next word")
        box.fill("the")
        box.press("Enter")
        app.wait_until_idle()
        app.main.get_by_role("button", name=re.compile("Guess")).click()
        app.main.get_by_text("Model's rank for your guess").wait_for(timeout=LIVE_TIMEOUT_MS)
        app.wait_until_idle()
        app.main.get_by_role("button", name=re.compile("Next round")).click()
        app.wait_until_idle()
    app.main.get_by_text("Round 4 of 10").wait_for(timeout=LIVE_TIMEOUT_MS)
    app.assert_no_exception()
    app.screenshot("learn-by-doing-game")


def review_two_cards(app) -> None:
    app.go_to("Review", "Review")
    cards = book_cards()[0]
    for _ in range(2):
        card = next(c for c in cards if app.main.get_by_text(c.question, exact=True).count())
        if card.choices:
            app.main.get_by_text(str(card.answer), exact=True).click()
        else:
            box = app.main.get_by_label("Your answer")
            box.fill(f"{card.answer:,}" if isinstance(card.answer, int) else str(card.answer))
            box.press("Enter")
        app.wait_until_idle()
        app.main.get_by_role("button", name="Check").click()
        app.main.get_by_text(re.compile(r"^Right: ")).wait_for(timeout=60_000)
        app.wait_until_idle()
        app.screenshot("learn-by-doing-review")
        app.main.get_by_role("button", name="Next card").click()
        app.wait_until_idle()
        cards.remove(card)
    app.assert_no_exception()


def test_train_keep_reopen_play_and_review(fresh_app):
    app = fresh_app
    app.open("", heading="Your journey through the book")
    run_id = train_a_tiny_run(app)
    day = add_to_the_latest_entry(app)
    reopen_and_see_the_chart(app, day, run_id)
    play_three_rounds(app)
    review_two_cards(app)

    app.go_to("Progress", "Your journey through the book")
    reviews = app.main.locator('[data-testid="stMetric"]').filter(has_text="Reviews")
    assert reviews.first.locator('[data-testid="stMetricValue"]').inner_text() == "2"
    app.assert_no_exception()
