"""Every page opens in a real browser without an exception box; the journal pages work by hand."""

from __future__ import annotations

import pytest

PAGES = [
    ("", "progress", "Your journey through the book"),
    ("entries", "entries", "Journal entries"),
    ("new-entry", "new-entry", "New entry"),
    ("tokenizer", "tokenizer", "Tokenizer"),
    ("attention", "attention", "Attention"),
    ("parameters", "parameters", "Parameters"),
    ("pretraining", "pretraining", "Pretraining"),
    ("sampling", "sampling", "Sampling"),
    ("spam", "spam", "Spam classifier"),
    ("instruction", "instruction", "Instruction fine-tuning"),
]


@pytest.mark.parametrize("url_path, name, heading", PAGES, ids=[p[1] for p in PAGES])
def test_page_opens_without_error(app, url_path, name, heading):
    app.open(url_path, heading=heading)
    app.assert_no_exception()
    app.screenshot(name)
    sidebar = app.page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_text("App status").is_visible()
    for title in ("Progress", "Entries", "New entry", "Tokenizer", "Spam classifier"):
        assert sidebar.get_by_role("link", name=title).count() == 1, title


def test_a_bookmarked_page_opens_inside_the_app_on_a_fresh_server(fresh_app):
    # The first visit after a restart goes straight to a page's URL. Streamlit would run the file
    # from pages/ alone, under a menu of file names, unless the page reruns through the app.
    fresh_app.open("sampling", heading="Sampling")
    fresh_app.assert_no_exception()
    sidebar = fresh_app.page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_text("App status").is_visible()
    assert sidebar.get_by_role("link", name="Spam classifier").count() == 1
    assert sidebar.get_by_role("link", name="streamlit app").count() == 0
    assert fresh_app.page.url.endswith("/sampling")


def test_progress_shows_the_journey(app):
    app.open("", heading="Your journey through the book")
    main = app.page.locator('[data-testid="stMain"]')
    assert main.get_by_text("222 of ~360").is_visible()
    assert main.get_by_text("Chapter 6", exact=True).first.is_visible()
    charts = app.page.locator('[data-testid="stVegaLiteChart"]')
    charts.nth(4).wait_for()  # Vega draws asynchronously
    assert charts.count() == 5
    assert main.get_by_text("Days without an entry: days 17-19").is_visible()


def test_navigation_by_sidebar_and_entry_filters(app):
    app.open("", heading="Your journey through the book")
    app.page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Entries").click()
    app.page.get_by_role("heading", name="Journal entries").wait_for()
    app.wait_until_idle()
    app.page.get_by_text("19 of 19 entries").wait_for()
    app.page.get_by_text("days 17-19: no entry").wait_for()

    app.page.get_by_role("combobox", name="Chapter").click()  # the multiselect's input
    option = app.page.get_by_role("option", name="Chapter 6")
    option.wait_for()
    option.click()
    app.page.keyboard.press("Escape")
    # The page redraws 19 entries with their live widgets: on a busy machine that takes a while.
    app.page.get_by_text("2 of 19 entries match the filters.").wait_for(timeout=120_000)
    app.wait_until_idle()
    assert app.page.get_by_role("heading", name="Day 22 · Thursday").is_visible()
    assert app.page.get_by_role("heading", name="Day 5 · Monday").count() == 0
    app.assert_no_exception()
    app.screenshot("entries-filtered")


def test_new_entry_is_written_and_not_overwritten_by_accident(app, streamlit_app):
    target = streamlit_app.journal_dir / "day-23.md"
    target.unlink(missing_ok=True)
    app.open("new-entry", heading="New entry")
    app.page.get_by_label("Title (optional)").fill("Evaluation <script>alert(1)</script>")
    app.page.get_by_label("Note (markdown)").fill("Read about **evaluation**.\n\n<img src=x onerror=alert(1)>")
    app.page.get_by_label("Note (markdown)").blur()
    app.wait_until_idle()
    preview = app.page.locator('[data-testid="stTabs"]')
    preview.get_by_role("tabpanel", name="Preview").get_by_text("evaluation", exact=True).wait_for()  # bold
    assert preview.locator("img").count() == 0 and preview.locator("script").count() == 0
    app.screenshot("new-entry-preview")

    app.page.get_by_role("button", name="Save day-23.md").click()
    app.page.get_by_text("Saved day-23.md").wait_for()
    app.wait_until_idle()
    assert target.is_file() and "Read about **evaluation**." in target.read_text(encoding="utf-8")
    app.assert_no_exception()

    # The form now proposes day 24; going back to day 23 asks before replacing.
    day = app.page.get_by_label("Day", exact=True)
    assert day.input_value() == "24"
    day.fill("23")
    day.press("Enter")
    app.wait_until_idle()
    app.page.get_by_label("Note (markdown)").fill("A second version.")
    app.page.get_by_label("Note (markdown)").blur()
    app.wait_until_idle()
    app.page.get_by_text("Day 23 already has an entry").wait_for()  # the rerun may start late
    assert app.page.get_by_role("button", name="Save day-23.md").is_disabled()
    title = app.page.get_by_label("Title (optional)").input_value()
    assert title == "Evaluation <script>alert(1)</script>"  # the saved entry, loaded to edit
    app.screenshot("new-entry-exists")
    assert "Read about **evaluation**." in target.read_text(encoding="utf-8")
