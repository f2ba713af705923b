"""The app's frame in a real browser: no developer toolbar, and every page's own URL opens that page."""

from __future__ import annotations


def test_no_deploy_button_for_learners(app):
    app.open("", heading="Your journey through the book")
    toolbar = app.page.locator('[data-testid="stToolbar"]')
    assert toolbar.get_by_text("Deploy").count() == 0
    assert app.page.get_by_role("button", name="Deploy").count() == 0


def test_progress_opens_at_its_own_url_on_a_fresh_server(fresh_app):
    # The default page lives at "/"; a bookmarked /progress used to say "Page not found".
    fresh_app.open("progress", heading="Your journey through the book")
    fresh_app.assert_no_exception()
    assert fresh_app.page.get_by_text("Page not found").count() == 0
    sidebar = fresh_app.page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_by_role("link", name="Progress").count() == 1

