"""Two browser sessions share the server's training slot: one starts a run, the other sees it without
reloading, queues its own, and stops the first, whose owner is told who stopped it."""

from __future__ import annotations

import pytest
from conftest import browser_tab

TIMEOUT_MS = 600_000  # a busy shared machine can take minutes to start or save a run


@pytest.mark.slow
@pytest.mark.timeout(1500)  # two runs started, stopped and saved, on a busy machine
def test_two_sessions_share_a_run_queue_and_stop(browser, streamlit_app):
    with browser_tab(browser, streamlit_app) as first, browser_tab(browser, streamlit_app) as second:
        for tab in (first, second):
            tab.page.set_default_timeout(TIMEOUT_MS)
            tab.page.set_default_navigation_timeout(TIMEOUT_MS)
        first.open("pretraining", heading="Pretraining")
        second.open("pretraining", heading="Pretraining")
        a, b = first.page, second.page
        b.get_by_role("button", name="Start training").wait_for()

        a.get_by_role("button", name="Start training").click()
        a.get_by_role("button", name="Stop training").wait_for(timeout=TIMEOUT_MS)
        # The second page learns of the run by itself: its Start becomes a Queue button.
        b.get_by_role("button", name="Queue this run").wait_for(timeout=TIMEOUT_MS)
        b.get_by_text("started in another browser session").first.wait_for(timeout=TIMEOUT_MS)
        assert not b.get_by_role("button", name="Start training").is_visible()
        second.screenshot("shared-training-second-sees-the-run")

        b.get_by_role("button", name="Queue this run").click()
        b.get_by_text("you are 2nd in line").wait_for(timeout=TIMEOUT_MS)
        second.screenshot("shared-training-second-queued")

        b.get_by_role("button", name="Stop training").click()
        a.get_by_text("Stopped from another browser session at").first.wait_for(timeout=TIMEOUT_MS)
        first.wait_until_idle()
        first.screenshot("shared-training-first-told-who-stopped")

        # The queued run starts by itself and belongs to the second session.
        b.get_by_text("started in another browser session").first.wait_for(state="detached", timeout=TIMEOUT_MS)
        b.get_by_role("button", name="Stop training").wait_for(timeout=TIMEOUT_MS)
        second.screenshot("shared-training-second-run-started")
        b.get_by_role("button", name="Stop training").click()
        b.get_by_text("Stopped after").first.wait_for(timeout=TIMEOUT_MS)
        first.assert_no_exception()
        second.assert_no_exception()
