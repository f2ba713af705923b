"""The tokenizer, attention and parameter pages in a real browser, with screenshots of each state."""

from __future__ import annotations

import itertools

HOSTILE = "👩‍👩‍👧 e\u0301 漢字 <b>bold</b> <|endoftext|>"


def whole_page(app, name: str) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its main block, so grow the window first."""
    height = app.page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    app.page.set_viewport_size({"width": 1400, "height": min(height + 40, 16_000)})
    app.page.wait_for_timeout(1_500)  # Vega redraws its charts for the new size
    app.screenshot(name)
    app.page.set_viewport_size({"width": 1400, "height": 900})


def charts(app):
    return app.page.locator('[data-testid="stVegaLiteChart"]')


def test_tokenizer_explorer(app):
    app.open("tokenizer", heading="Tokenizer explorer")
    app.assert_no_exception()
    first_chip = app.main.locator("span.tok").nth(0).inner_text()
    if not first_chip.startswith("Hello"):  # say what the page showed instead: this once failed only in CI
        app.screenshot("widgets-tokenizer-first-chip")
        raise AssertionError(f"first chip {first_chip!r}; the page read:\n{app.main.inner_text()[:3000]}")
    special = app.main.locator("span.tok", has_text="<|endoftext|>").first
    assert "id 50256" in special.get_attribute("title")
    charts(app).nth(2).wait_for()  # the three embedding heatmaps
    whole_page(app, "widgets-tokenizer")

    box = app.page.get_by_label("Text to tokenize")
    box.fill(HOSTILE)
    box.press("Control+Enter")
    app.wait_until_idle()
    app.assert_no_exception()
    app.main.locator("span.tok", has_text="bold").first.wait_for()
    labels = app.main.locator("span.tok").all_inner_texts()
    assert any(label.startswith("<f0 9f") for label in labels)  # half an emoji, shown in hex
    assert app.main.locator("b", has_text="bold").count() == 0  # user text is never HTML
    assert app.main.get_by_text("Decoding the token ids gives back exactly the text").is_visible()

    app.page.get_by_test_id("stRadioGroup").get_by_text("Simple tokenizer V2", exact=True).click()
    app.wait_until_idle()
    app.assert_no_exception()
    app.main.locator("span.tok", has_text="<|unk|>").first.wait_for()
    whole_page(app, "widgets-tokenizer-simple-v2")


def test_tokenizer_with_a_huge_paste(app):
    app.open("tokenizer", heading="Tokenizer explorer")
    box = app.page.get_by_label("Text to tokenize")
    box.fill("All work and no play. " * 50_000)  # 1.1 MB
    box.press("Control+Enter")
    app.wait_until_idle()
    app.assert_no_exception()
    app.main.get_by_text("only the first 100,000 are tokenized").wait_for()
    app.screenshot("widgets-tokenizer-huge")


def test_attention_visualizer(app):
    app.open("attention", heading="Attention visualizer")
    app.assert_no_exception()
    charts(app).nth(9).wait_for()
    assert app.main.get_by_text("Random weights (tiny preset, untrained)").first.is_visible()
    whole_page(app, "widgets-attention")

    app.page.get_by_text("Causal mask", exact=True).first.click()
    app.wait_until_idle()
    app.page.get_by_text("Your own short text").click()
    app.wait_until_idle()
    app.assert_no_exception()
    app.main.get_by_text("every score above the diagonal becomes −∞").wait_for()
    app.main.get_by_text("GPT-2 tokens of your text").wait_for()
    app.main.get_by_text("All 4 heads of layer 1").click()
    charts(app).last.wait_for()
    whole_page(app, "widgets-attention-causal-own-text")


def test_parameter_charts(app):
    app.open("parameters", heading="Parameters")
    app.assert_no_exception()
    for figure in ("163,009,536", "124,412,160", "621.83 MB", "824,832"):
        assert app.main.get_by_text(figure).first.is_visible(), figure
    charts(app).nth(2).wait_for()
    whole_page(app, "widgets-parameters")

    app.page.get_by_text("Weight tying", exact=True).click()
    app.wait_until_idle()
    app.main.get_by_text("474.59 MB").wait_for()

    app.page.get_by_text("Set the dimensions myself").click()
    app.wait_until_idle()
    heads = app.page.get_by_role("spinbutton", name="n_heads")
    heads.fill("7")
    heads.press("Enter")
    app.wait_until_idle()
    app.assert_no_exception()
    app.main.get_by_text("must be divisible by n_heads").wait_for()  # auto-waits for the rerun
    app.screenshot("widgets-parameters-invalid")


def test_compact_widgets_beside_the_journal(app):
    app.open("entries", heading="Journal entries")
    app.assert_no_exception()
    entries = app.main
    entries.get_by_text("Live: Parameters").first.wait_for()  # auto-waits while the long page draws
    entries.get_by_text("824,832").first.wait_for()
    entries.locator("span.tok").first.wait_for()
    whole_page(app, "widgets-compact-entries")


def test_wide_embedding_heatmaps_stay_inside_the_page(app):
    app.open("tokenizer", heading="Tokenizer explorer")
    app.step_slider("max_length", "ArrowRight", 16)  # 4 -> 20 tokens
    app.step_slider("Embedding size (emb_dim)", "End", 1)  # 12, the widest
    app.assert_no_exception()
    heatmaps = charts(app)
    heatmaps.last.scroll_into_view_if_needed()
    app.page.wait_for_timeout(1_500)  # the charts draw asynchronously
    panel = app.main.bounding_box()
    boxes = [heatmaps.nth(i).bounding_box() for i in range(heatmaps.count() - 3, heatmaps.count())]
    assert all(b["width"] > 0 for b in boxes), boxes
    assert not [b for b in boxes if b["x"] + b["width"] > panel["x"] + panel["width"] + 1], (panel, boxes)
    side_by_side = sorted((b for b in boxes if abs(b["y"] - boxes[0]["y"]) < 1), key=lambda b: b["x"])
    assert all(a["x"] + a["width"] <= b["x"] + 1 for a, b in itertools.pairwise(side_by_side)), boxes
    whole_page(app, "widgets-tokenizer-wide-heatmaps")
