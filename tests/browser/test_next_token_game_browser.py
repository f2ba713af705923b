"""Guess the next token in a real browser: three typed rounds against the default model, then the scoreboard.

A screenshot of the third revealed round is saved to test-artifacts/screenshots/next-token-game.png.
"""

from __future__ import annotations

import re

TIMEOUT_MS = 120_000


def test_three_rounds_of_the_game(app):
    app.open("next_token_game", heading="Guess the next token")
    app.assert_no_exception()
    main = app.page.locator('[data-testid="stMain"]')
    for round_no in (1, 2, 3):
        main.get_by_text(f"Round {round_no} of 10").wait_for(timeout=TIMEOUT_MS)
        box = main.get_by_label("Your guess for the next word")
        box.fill("the")
        box.press("Enter")
        app.wait_until_idle()
        main.get_by_role("button", name=re.compile("Guess")).click()
        main.get_by_text("Model's rank for your guess").wait_for(timeout=TIMEOUT_MS)
        app.wait_until_idle()
        app.assert_no_exception()
        if round_no == 3:
            app.screenshot("next-token-game")
        main.get_by_role("button", name=re.compile("Next round")).click()
        app.wait_until_idle()
    main.get_by_text("Round 4 of 10").wait_for(timeout=TIMEOUT_MS)
    board = main.locator('[data-testid="stDataFrame"]')
    board.wait_for(timeout=TIMEOUT_MS)
    assert "next-token-game.json" in main.inner_text()
    app.assert_no_exception()
