"""Chapters 5 and 6 in a real browser, on the CPU: train a GPT and watch the loss fall live, stop it,
sample from the model just trained, fine-tune a spam classifier and test a message.

The steps depend on each other (the sampler uses the model this test trains), so they are one test,
with a screenshot at every stage in test-artifacts/screenshots/widgets-two-*.png.
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.slow

RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}$")
LIVE_TIMEOUT_S = 240  # a shared 2-core machine can be slow; a step of the tiny model takes well under a second alone


def metric(app, label: str) -> str | None:
    cards = app.main.locator('[data-testid="stMetric"]').filter(has_text=label)
    if cards.count() == 0:
        return None
    return cards.first.locator('[data-testid="stMetricValue"]').inner_text()


def progress_step(app) -> int:
    texts = app.main.locator('[data-testid="stProgress"]').all_inner_texts()
    found = re.search(r"step ([\d,]+) of", " ".join(texts))
    return int(found.group(1).replace(",", "")) if found else 0


def poll(condition, timeout_s: float = LIVE_TIMEOUT_S, every_s: float = 0.5, what: str = "the expected state"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out waiting for {what}")


def test_train_watch_stop_sample_finetune_and_classify(app):
    # A learner's path: in at the front door, then through the sidebar.
    app.open("", heading="Your journey through the book")

    # --- Pretraining: the tiny model on the journal, short windows, an evaluation after every step.
    app.go_to("Pretraining", "Pretraining")
    app.step_slider("Context length (tokens per window)", "ArrowLeft", 2)  # 128 -> 64 -> 32
    app.set_number("Epochs", 30)  # long enough that it is still running when Stop is clicked
    app.set_number("Evaluate every N steps", 1)
    app.main.get_by_text("More settings").click()
    app.set_number("Batches per evaluation", 1)
    assert app.main.get_by_text(re.compile(r"990 steps \(33 per epoch")).is_visible()
    app.screenshot("widgets-two-pretraining-settings")

    runs_before = {p.name for p in app.server.runs_dir.iterdir()}  # a retry of this test finds its first try's runs
    app.main.get_by_role("button", name="Start training").click()
    # The live chart redraws itself: collect distinct validation losses as the fragment refreshes.
    seen: list[str] = []

    def new_loss() -> bool:
        value = metric(app, "Validation loss")
        if value and (not seen or value != seen[-1]):
            seen.append(value)
        return len(seen) >= 3

    poll(new_loss, what="three successive validation losses")
    charts = app.main.locator('[data-testid="stVegaLiteChart"]')
    poll(lambda: charts.count() >= 2, what="the live loss and perplexity charts (redrawn every few seconds)")
    app.screenshot("widgets-two-pretraining-live-1")
    seen_at_first_shot = len(seen)

    def another_update() -> bool:
        new_loss()
        return len(seen) > seen_at_first_shot

    poll(another_update, what="another chart update")
    app.screenshot("widgets-two-pretraining-live-2")
    assert float(seen[-1]) < float(seen[0]), f"the validation loss did not fall: {seen}"
    assert "tokens/s" in " ".join(app.main.locator('[data-testid="stProgress"]').all_inner_texts())

    app.main.get_by_role("button", name="Stop training").click()
    app.main.get_by_text("Stopped after").wait_for(timeout=90_000)
    app.wait_until_idle()
    app.assert_no_exception()
    run_ids = [p.name for p in app.server.runs_dir.iterdir() if RUN_ID.match(p.name) and p.name not in runs_before]
    assert len(run_ids) == 1 and (app.server.runs_dir / run_ids[0] / "checkpoint.json").is_file()
    sidebar = app.page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("none yet").wait_for(state="detached", timeout=10_000)  # the status follows at once
    app.screenshot("widgets-two-pretraining-stopped")

    # --- Sampling from the model just trained: one token at a time, then fifty with the KV cache.
    app.go_to("Sampling", "Sampling")
    chosen = app.main.locator('[data-testid="stRadio"]').first.locator("input:checked")
    assert chosen.count() == 1
    chosen = app.main.get_by_text(f"Your model from the Pretraining page (run {run_ids[0]})", exact=True)
    assert chosen.first.is_visible()
    app.main.get_by_role("button", name="Strict: top-k 5, temperature 0.5").click()
    app.wait_until_idle()
    for _ in range(2):
        app.main.get_by_role("button", name="Next token").click()
        app.wait_until_idle()
    assert app.main.get_by_text(re.compile(r"^Picked .* with probability")).is_visible()
    app.main.get_by_role("button", name=re.compile(r"^Generate \d+ tokens")).click()
    app.main.get_by_text(re.compile(r"new tokens in .* tokens/s, with the KV cache")).wait_for(timeout=90_000)
    app.wait_until_idle()
    app.assert_no_exception()
    assert app.main.locator('[data-testid="stCode"]').last.inner_text().startswith("Every effort moves you")
    app.screenshot("widgets-two-sampling")
    app.main.get_by_text("Log scale (shows tiny probabilities)").click()
    app.wait_until_idle()
    app.assert_no_exception()
    app.screenshot("widgets-two-sampling-log")

    # --- Spam classifier: fine-tune from scratch for a while, stop, look at the results, test messages.
    app.go_to("Spam classifier", "Spam classifier")
    app.set_number("Epochs", 1)
    app.main.get_by_role("button", name="Start fine-tuning").click()
    # The recipe evaluates after steps 1 and 21: wait for the second point of the accuracy curve.
    ended = app.main.get_by_text(re.compile(r"^(Stopped|Finished) after"))
    poll(lambda: (progress_step(app) >= 22 or ended.count() > 0)  # a quiet machine may finish the epoch first
         and app.main.locator('[data-testid="stVegaLiteChart"]').count() >= 3,
         what="fine-tuning steps and the loss and accuracy charts")
    app.screenshot("widgets-two-spam-live")
    stop = app.main.get_by_role("button", name="Stop training")
    if stop.count():  # on a quiet machine the whole epoch may already be over
        stop.click()
    ended.first.wait_for(timeout=180_000)
    app.wait_until_idle()
    app.assert_no_exception()
    assert metric(app, "Test accuracy").endswith("%")
    charts = app.main.locator('[data-testid="stVegaLiteChart"]')
    assert app.main.get_by_text("Confusion matrix").count() or charts.count() >= 4

    app.main.get_by_role("button", name="Example: obvious spam").click()
    app.wait_until_idle()
    assert app.main.get_by_text("The classifier says").is_visible()
    message = app.main.get_by_role("textbox", name="Message")
    message.fill("Hey, are you still coming to dinner tonight? Bring the salad please")
    message.press("Control+Enter")
    app.wait_until_idle()
    assert app.main.get_by_text("The classifier says").is_visible()
    app.assert_no_exception()
    app.screenshot("widgets-two-spam-tested")
