"""At a phone's 390 px the Progress page's charts fit the screen and the chapter chart keeps room for its bars."""

from __future__ import annotations

import io

PHONE = {"width": 390, "height": 844}
BAR_COLOURS = ((0x4C, 0x78, 0xA8), (0xF5, 0x85, 0x18))  # finished, in progress


def bar_span(png: bytes) -> float:
    """Share of the image's width that the chapter bars' colours reach across."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    pixels = image.load()
    columns = [
        x for x in range(width)
        if any(sum(abs(a - b) for a, b in zip(pixels[x, y], c, strict=True)) < 40
               for y in range(height) for c in BAR_COLOURS)
    ]
    return (max(columns) - min(columns) + 1) / width if columns else 0.0


def charts_on_a_phone(app, url_path: str, heading: str, screenshot: str, at_least: int):
    """Open a page 390 px wide; its charts, after checking that at least `at_least` are drawn inside the screen."""
    app.page.set_viewport_size(PHONE)
    app.open(url_path, heading=heading)
    app.assert_no_exception()
    charts = app.page.locator('[data-testid="stVegaLiteChart"]')
    charts.first.wait_for(timeout=60_000)
    app.page.wait_for_timeout(1500)  # charts draw asynchronously
    boxes = [charts.nth(i).bounding_box() for i in range(charts.count())]
    app.screenshot(screenshot)
    drawn = [b for b in boxes if b and b["width"] > 0]
    assert len(drawn) >= at_least, boxes
    assert not [b for b in drawn if b["x"] < -1 or b["x"] + b["width"] > PHONE["width"] + 1], drawn
    return charts


def test_progress_charts_fit_a_phone_screen(app):
    charts = charts_on_a_phone(app, "", "Your journey through the book", "progress-390px", at_least=5)
    chapters = charts.nth(2)  # pages so far, pages per day, chapters
    chapters.scroll_into_view_if_needed()
    assert bar_span(chapters.screenshot()) > 0.3  # the bars are drawn across the chart, not squeezed out by the labels


def test_sampling_stage_charts_fit_a_phone_screen(app):
    charts_on_a_phone(app, "sampling", "Sampling", "sampling-390px", at_least=4)  # the four stages, stacked
