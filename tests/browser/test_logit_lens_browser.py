"""The logit lens grid in a real browser: every layer's top token, drawn (test-artifacts/screenshots/logit-lens.png)."""

from __future__ import annotations


def test_the_lens_grid_is_drawn(app):
    app.open("logit_lens", heading="Logit lens")
    main = app.page.locator('[data-testid="stMain"]')
    main.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').first.wait_for(
        timeout=60_000)
    app.assert_no_exception()
    assert "embeddings" in main.inner_text() or main.get_by_text("Each cell: the token").is_visible()
    app.screenshot("logit-lens")
