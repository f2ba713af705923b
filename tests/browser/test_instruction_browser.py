"""Chapter 7 in a real browser: inspect the loss mask of a batch, fine-tune a tiny model for a few
steps, read a test-set response beside its reference, score it, and ask the model something.

One test (the steps depend on each other), with screenshots in test-artifacts/screenshots/instruction-*.png.
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

RUN_TIMEOUT_MS = 600_000  # a busy shared 2-core machine; alone, the run is a few steps and a few short answers


def loss_line(app) -> str:
    return app.main.get_by_text(re.compile(r"^The loss sees [\d,]+ of [\d,]+ target tokens")).first.inner_text()


def test_inspect_mask_finetune_read_score_and_try(app):
    app.open("instruction", heading="Instruction fine-tuning")
    app.assert_no_exception()
    assert app.main.get_by_text(re.compile(r"935 training, 55 validation, 110 test")).is_visible()
    app.screenshot("instruction-record")

    # --- The mask inspector on a batch of 8: padding appears, then the instruction mask removes the prompt.
    app.main.get_by_text("A batch", exact=True).click()
    app.main.get_by_text(re.compile(r"\(8 rows × \d+ positions\)")).wait_for(timeout=60_000)
    app.wait_until_idle()
    unmasked = loss_line(app)
    app.main.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=30_000)  # the padding chart
    app.screenshot("instruction-batch")
    app.main.get_by_text("Mask the instruction (exercise 7.2)", exact=True).click()
    app.wait_until_idle()
    masked = loss_line(app)
    seen = [int(re.search(r"sees ([\d,]+)", line).group(1).replace(",", "")) for line in (unmasked, masked)]
    assert seen[1] < seen[0], (unmasked, masked)
    app.assert_no_exception()
    app.screenshot("instruction-batch-masked")

    # --- Fine-tune a small model from scratch on 20 records for one epoch, with short answers.
    app.set_number("Records used", 20)
    app.set_number("Epochs", 1)
    app.set_number("Response tokens", 8)
    assert app.main.get_by_text(re.compile(r"17 training records in batches of 8")).is_visible()
    app.screenshot("instruction-settings")
    app.main.get_by_role("button", name="Start fine-tuning").click()
    app.main.get_by_text(re.compile(r"^(Finished after|Fine-tuning failed)")).wait_for(timeout=RUN_TIMEOUT_MS)
    app.wait_until_idle()
    assert not app.main.get_by_text(re.compile(r"^Fine-tuning failed")).count(), app.server.log()[-2000:]
    app.assert_no_exception()
    app.screenshot("instruction-finetuned")

    # --- The answers: a response beside its reference, the overlap proxy, the learner's score.
    assert app.main.get_by_text("Model response", exact=True).is_visible()
    assert app.main.get_by_text(re.compile(r"^Word overlap with the reference")).is_visible()
    app.main.get_by_role("button", name="Save my score").click()
    app.wait_until_idle()
    assert app.main.get_by_text(re.compile(r"Your scores: 1 response, mean 50.0")).is_visible()
    runs = [p for p in (app.server.runs_dir / "instruct").iterdir() if (p / "scores.json").is_file()]
    assert len(runs) == 1 and (runs[0] / "instruction-data-with-response.json").is_file()
    app.screenshot("instruction-scored")

    # --- Try it: an instruction of one's own (the inspector shows a batch, so this is the only box).
    box = app.main.get_by_role("textbox", name="Instruction", exact=True)
    box.fill("Name a primary colour.")
    box.press("Control+Enter")
    app.wait_until_idle()
    app.main.get_by_role("button", name="Respond").click()
    app.wait_until_idle()
    app.main.get_by_text("Response", exact=True).last.wait_for(timeout=60_000)
    app.assert_no_exception()
    app.screenshot("instruction-try")
