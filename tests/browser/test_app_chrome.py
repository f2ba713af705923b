"""The app in a real browser: no developer toolbar, /progress opens Progress, the spam tester explains itself."""

from __future__ import annotations

import torch

from core.gpt.checkpoint import new_run_id, run_path
from core.gpt.classifier import GPTClassifier, save_classifier
from core.gpt.config import get_preset
from core.gpt.model import GPTModel


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



def test_the_spam_tester_colours_the_tokens_that_pushed_the_answer(fresh_app):
    torch.manual_seed(7)
    model = GPTModel(get_preset("tiny", emb_dim=32, n_heads=2, n_layers=1, context_length=64))
    run_dir = run_path(new_run_id(), fresh_app.server.runs_dir / "classifiers")
    save_classifier(GPTClassifier(model, max_length=64), run_dir, settings={"base": "scratch"})

    fresh_app.open("spam", heading="Spam classifier")
    box = fresh_app.page.get_by_role("textbox", name="Message", exact=True)
    box.fill("Running late, will be there in 10 minutes. Sorry! <b>bold?</b>")
    box.press("Control+Enter")
    fresh_app.wait_until_idle()
    fresh_app.assert_no_exception()
    main = fresh_app.page.locator('[data-testid="stMain"]')
    main.get_by_text("Why?").wait_for()
    fresh_app.screenshot("spam-why")
    tokens = main.locator("span[title]")
    tokens.first.wait_for()
    assert tokens.count() > 10
    assert main.locator("b", has_text="bold?").count() == 0  # the typed markup is text, not HTML
    shown = main.locator("div:has(> span[title])").first.inner_text()
    assert "Sorry! <b>bold?</b>" in shown
