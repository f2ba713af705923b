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


def test_progress_charts_fit_a_phone_screen(app):
    app.page.set_viewport_size(PHONE)
    app.open("", heading="Your journey through the book")
    app.assert_no_exception()
    charts = app.page.locator('[data-testid="stVegaLiteChart"]')
    charts.first.wait_for(timeout=60_000)
    app.page.wait_for_timeout(1500)  # charts draw asynchronously
    boxes = [charts.nth(i).bounding_box() for i in range(charts.count())]
    app.screenshot("progress-390px")
    drawn = [b for b in boxes if b and b["width"] > 0]
    assert len(drawn) >= 5, boxes
    assert not [b for b in drawn if b["x"] < -1 or b["x"] + b["width"] > PHONE["width"] + 1], drawn
    chapters = charts.nth(2)  # pages so far, pages per day, chapters
    chapters.scroll_into_view_if_needed()
    assert bar_span(chapters.screenshot()) > 0.3  # the bars are drawn across the chart, not squeezed out by the labels


def test_sampling_stage_charts_fit_a_phone_screen(app):
    app.page.set_viewport_size(PHONE)
    app.open("sampling", heading="Sampling")
    app.assert_no_exception()
    charts = app.page.locator('[data-testid="stVegaLiteChart"]')
    charts.first.wait_for(timeout=60_000)
    app.page.wait_for_timeout(1500)  # charts draw asynchronously
    boxes = [charts.nth(i).bounding_box() for i in range(charts.count())]
    app.screenshot("sampling-390px")
    drawn = [b for b in boxes if b and b["width"] > 0]
    assert len(drawn) >= 4, boxes  # the four stages, stacked
    assert not [b for b in drawn if b["x"] < -1 or b["x"] + b["width"] > PHONE["width"] + 1], drawn
