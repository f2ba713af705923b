"""The live pretraining page and its compact version, driven through Streamlit's AppTest.

Training runs for real (tiny model, 16-token windows, a few steps) in the server's training slot;
every test writes runs into its own temporary folder and leaves no job behind.
"""

from __future__ import annotations

import threading

import pytest
from streamlit.testing.v1 import AppTest
from widget_helpers import (
    PAGES,
    fresh_training_slot,
    progress_text,
    run_script,
    steps_done,
    texts,
    wait_until,
)

from core.app.jobs import JobBusyError
from core.gpt.checkpoint import list_runs, run_path, save_checkpoint
from core.gpt.model import GPTModel
from ui.training_job import shared_training

PAGE = str(PAGES / "pretraining.py")
KEY = "pretraining"
COMPACT = 'from ui.pretraining import compact\ncompact("day15")\n'


@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch, gpt2_encoding):
    """A fresh runs folder, caches and training slot for every test."""
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    yield from fresh_training_slot()


def quick_settings(at: AppTest, epochs: int = 200) -> AppTest:
    """The tiny model on 16-token windows, one window per step: a step takes a fraction of a second."""
    at.select_slider(key=f"{KEY}_context").set_value(16)
    at.select_slider(key=f"{KEY}_batch").set_value(1)
    at.number_input(key=f"{KEY}_epochs").set_value(epochs)
    at.number_input(key=f"{KEY}_eval_freq").set_value(2)
    at.number_input(key=f"{KEY}_eval_iter").set_value(1)
    at.text_input(key=f"{KEY}_prompt").set_value("")  # no sample text: keeps epochs short
    return at.run()


def success_text(at: AppTest) -> str:
    return " ".join(s.value for s in at.success)


def runs_table(at: AppTest):
    return next(df.value for df in at.dataframe if "size on disk (MB)" in df.value.columns)


def open_page(source: str = PAGE) -> AppTest:
    return run_script(source)


def test_page_offers_the_journal_by_default_with_an_estimate():
    at = open_page()
    assert at.radio(key=f"{KEY}_corpus").value == "journal"
    captions = " ".join(c.value for c in at.caption)
    assert "GPT-2 tokens" in captions
    assert "steps" in captions and "memory" in captions and "GFLOP/s" in captions
    assert not at.button(key=f"{KEY}_start_button").disabled
    assert "No run yet" in captions


@pytest.mark.slow
def test_train_watch_stop_and_resume(runs_dir):
    at = quick_settings(open_page())
    at.button(key=f"{KEY}_start_button").click().run()
    # The chart shows up and the step count grows across reruns: the page reads the live job.
    wait_until(at, lambda a: steps_done(a) >= 2 and a.get("vega_lite_chart"))
    first = steps_done(at)
    wait_until(at, lambda a: steps_done(a) > first)
    assert "tokens/s" in progress_text(at)
    assert [m.label for m in at.metric][:3] == ["Tokens seen", "Training loss", "Validation loss"]

    at.button(key=f"{KEY}_stop").click().run()
    wait_until(at, lambda a: "Stopped after" in success_text(a), timeout=30)
    runs = list_runs(runs_dir)
    assert len(runs) == 1 and runs[0].status == "stopped"
    assert runs[0].config["context_length"] == 16
    stopped_steps = runs[0].progress["step"]
    assert stopped_steps >= 2
    assert runs[0].run_id in at.dataframe[0].value["run"].tolist()

    # Resume: the saved run continues, in a new run folder that remembers where it came from.
    at.radio(key=f"{KEY}_start").set_value("resume").run()
    assert "Continues the tiny model" in " ".join(c.value for c in at.caption)
    at.button(key=f"{KEY}_start_button").click().run()
    wait_until(at, lambda a: steps_done(a) >= 1)
    at.button(key=f"{KEY}_stop").click().run()
    wait_until(at, lambda a: "Stopped after" in success_text(a), timeout=30)
    newest = list_runs(runs_dir)[0]
    assert newest.meta["resumed_from"] == runs[0].run_id
    assert newest.progress["step"] > stopped_steps

    # The earlier run can be overlaid on the chart.
    at.multiselect(key=f"{KEY}_overlay").set_value([runs[0]]).run()
    assert not at.exception


def test_a_saved_run_can_be_deleted_after_confirming(runs_dir):
    small = {"vocab_size": 300, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}
    older, newer = "20240101-000000-aaaaaa", "20240102-000000-bbbbbb"
    for run_id in (older, newer):
        save_checkpoint(run_path(run_id, runs_dir), GPTModel(small), status="finished", history=[],
                        settings={"preset": "custom"}, progress={"step": 1, "epoch": 1, "tokens_seen": 16})
    at = open_page()
    sizes = runs_table(at)["size on disk (MB)"].tolist()
    assert len(sizes) == 2 and all(size > 0.1 for size in sizes)
    assert at.button(key=f"{KEY}_delete").disabled  # nothing goes without the tick

    at.selectbox(key=f"{KEY}_delete_run").select_index(1)
    at.checkbox(key=f"{KEY}_delete_sure").check().run()
    at.button(key=f"{KEY}_delete").click().run()
    assert [run.run_id for run in list_runs(runs_dir)] == [newer]
    assert f"Deleted run {older}." in success_text(at)
    assert runs_table(at)["run"].tolist() == [newer]
    assert not at.checkbox(key=f"{KEY}_delete_sure").value and at.button(key=f"{KEY}_delete").disabled
    assert not at.exception


@pytest.mark.slow
def test_a_second_session_sees_the_run_queues_its_own_and_its_stop_is_attributed():
    first = quick_settings(open_page())
    first.button(key=f"{KEY}_start_button").click().run()
    wait_until(first, lambda a: steps_done(a) >= 1)

    second = quick_settings(open_page())
    assert not [b for b in second.button if b.key == f"{KEY}_start_button"]
    assert "A run is in progress" in texts(second.caption)
    assert "started in another browser session" in texts(second.markdown)
    assert steps_done(second) >= 1
    with pytest.raises(JobBusyError):
        shared_training().start(lambda stop: iter(()), "pretraining", summary="a conflicting run")

    # The second session queues its run: it sees its place in line, and cannot queue another.
    second.button(key=f"{KEY}_queue_button").click().run()
    assert "you are 2nd in line" in texts(second.info)
    assert not [b for b in second.button if b.key == f"{KEY}_queue_button"]
    assert len(shared_training().line()) == 1
    # The journal's compact widget (the first session's) offers only to queue too.
    compact_view = open_page(COMPACT)
    assert not [b for b in compact_view.button if b.key == "day15_start_button"]
    assert [b for b in compact_view.button if b.key == "day15_queue_button"]

    # The second session stops the first run; its owner is told who stopped it.
    second.button(key=f"{KEY}_stop").click().run()
    # (The queued run may start at once: the first session is still told how its own run ended.)
    wait_until(first, lambda a: "Stopped after" in success_text(a) or "was stopped after" in texts(a.info), timeout=60)
    assert "Stopped from another browser session at" in texts(first.warning)
    # The queued run then starts by itself, owned by the second session.
    wait_until(second, lambda a: steps_done(a) >= 1 and "started in another" not in texts(a.markdown), timeout=60)
    assert "You asked it to stop" not in texts(second.caption)
    second.button(key=f"{KEY}_stop").click().run()
    wait_until(second, lambda a: "Stopped after" in success_text(a), timeout=60)
    assert "You asked it to stop at" in texts(second.caption)
    assert len(list_runs()) == 2


def test_a_queued_run_can_be_cancelled():
    release = threading.Event()

    def held(stop):
        while not (stop.is_set() or release.wait(0.01)):
            yield from ()
        yield from ()

    shared_training().submit(held, "spam", summary="someone's classifier", owner="someone else")
    at = quick_settings(open_page())
    assert "spam-classifier fine-tuning run is in progress" in texts(at.info)
    at.button(key=f"{KEY}_queue_button").click().run()
    assert "you are 2nd in line" in texts(at.info)
    at.button(key=f"{KEY}_cancel_queued").click().run()
    assert shared_training().line() == () and [b for b in at.button if b.key == f"{KEY}_queue_button"]
    release.set()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.txt", "caf\xe9 ".encode("latin-1") * 50, "not UTF-8"),
        ("empty.txt", b"   \n ", "has no text"),
        ("binary.txt", b"\x00\x01 text", "binary"),
        ("short.txt", b"Just a few words.", "too short to train on"),
        ("huge.txt", b"a" * (2 * 1024 * 1024 + 1), "the limit is 2 MB"),
    ],
)
def test_bad_uploads_get_a_clear_message(name, content, message):
    at = open_page()
    at.radio(key=f"{KEY}_corpus").set_value("upload").run()
    at.file_uploader(key=f"{KEY}_upload").set_value((name, content, "text/plain")).run()
    assert not at.exception
    shown = " ".join(x.value for x in [*at.warning, *at.error])
    assert message in shown
    start = [b for b in at.button if b.key == f"{KEY}_start_button"]
    assert not start or start[0].disabled


def test_an_uploaded_text_can_be_trained_on():
    at = open_page()
    at.radio(key=f"{KEY}_corpus").set_value("upload").run()
    text = "The quick brown fox jumps over the lazy dog. " * 400
    at.file_uploader(key=f"{KEY}_upload").set_value(("fox ../../etc/passwd.txt", text.encode(), "text/plain")).run()
    assert not at.exception and not at.error
    assert f"{len(text):,} characters" in " ".join(c.value for c in at.caption)
    assert not at.button(key=f"{KEY}_start_button").disabled


def test_a_model_too_big_for_the_memory_cannot_start(monkeypatch):
    monkeypatch.setattr("ui.pretraining.available_memory", lambda: 2 * 2**30)
    at = open_page()
    at.selectbox(key=f"{KEY}_preset").set_value("gpt2-xl").run()
    assert any("more memory than this machine has free" in e.value for e in at.error)
    assert at.button(key=f"{KEY}_start_button").disabled


def test_long_runs_come_with_an_honest_warning():
    at = open_page()
    at.selectbox(key=f"{KEY}_preset").set_value("gpt2-small").run()
    at.number_input(key=f"{KEY}_epochs").set_value(100).run()
    assert any("long for a CPU" in w.value for w in at.warning)


def test_extreme_settings_are_bounded_or_refused_with_a_message():
    at = open_page()
    at.number_input(key=f"{KEY}_epochs").set_value(0).run()  # out of the widget's range: ignored
    assert not at.exception and at.number_input(key=f"{KEY}_epochs").value >= 1
    # The journal's 10 % validation part (about 235 tokens) cannot fill one 1,024-token window.
    at.selectbox(key=f"{KEY}_preset").set_value("gpt2-small").run()
    at.select_slider(key=f"{KEY}_context").set_value(1024).run()
    assert not at.exception
    assert any("too short to train on" in e.value and "shorter context length" in e.value for e in at.error)
    assert at.button(key=f"{KEY}_start_button").disabled


def test_compact_version_offers_a_quick_run_on_the_journal():
    at = open_page(COMPACT)
    assert at.slider(key="day15_epochs").value == 5
    assert not at.button(key="day15_start_button").disabled
    assert "No run yet" in " ".join(c.value for c in at.caption)


def test_tiny_shakespeare_and_the_device_are_choices(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    at = open_page()
    assert '"Tiny Shakespeare"' in at.radio(key=f"{KEY}_corpus").options
    device = at.selectbox(key=f"{KEY}_device")
    assert device.value == "auto" and "auto (cpu here)" in device.options
    device.set_value("cuda").run()
    assert "no usable CUDA GPU" in " ".join(e.value for e in at.error)
    assert at.button(key=f"{KEY}_start_button").disabled or not at.button(key=f"{KEY}_start_button")


def test_the_untrained_models_perplexity_is_shown_beside_the_books(runs_dir):
    """Day 15: the step-0 evaluation, the book's 48,725 and why a first perplexity can exceed the vocabulary."""
    small = {"vocab_size": 300, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}
    history = [{"type": "eval", "step": 0, "epoch": 0, "tokens_seen": 0, "train_loss": 11.2, "val_loss": 11.0},
               {"type": "step", "step": 1, "epoch": 1, "tokens_seen": 16, "train_loss": 10.9, "lr": 4e-4,
                "tokens_per_s": 100.0, "elapsed": 0.1},
               {"type": "eval", "step": 1, "epoch": 1, "tokens_seen": 16, "train_loss": 10.8, "val_loss": 10.9}]
    save_checkpoint(run_path("20240101-000000-aaaaaa", runs_dir), GPTModel(small), status="finished",
                    history=history, settings={"preset": "custom"}, progress={"step": 1, "epoch": 1, "tokens_seen": 16})
    at = open_page()
    note = " ".join(i.value for i in at.info)
    assert "Before any update" in note and "11.00" in note and "59,874" in note  # exp(11.0)
    assert "48,725" in note and "10.82" in note and "worse* than uniform" in note
    assert not at.exception


def test_a_batch_larger_than_the_training_part_plans_what_is_really_trained(verdict_text, gpt2_encoding):
    """The Verdict's training part (about 4,630 tokens) fills 18 windows of 256, not a batch of 32."""
    at = open_page()
    at.radio(key=f"{KEY}_corpus").set_value("the-verdict").run()
    at.selectbox(key=f"{KEY}_preset").set_value("gpt2-small").run()
    at.select_slider(key=f"{KEY}_context").set_value(256).run()
    at.select_slider(key=f"{KEY}_batch").set_value(32).run()
    assert not at.exception
    train_part = int(len(gpt2_encoding.encode(verdict_text, allowed_special="all")) * 0.9)
    windows = (train_part - 1) // 256
    assert any(f"only {windows} windows" in w.value and "fewer than one batch of 32" in w.value for w in at.warning)
    plan = next(c.value for c in [*at.caption, *at.warning] if "training tokens" in c.value)
    assert f"{10 * windows * 256:,} training tokens" in plan and "81,920" not in plan


BAR = """
from core.widgets.run_view import RunProgress
from ui import training_job as tj
done = RunProgress(steps_done=10, total_steps=10, epoch=1, tokens_seen=160, tokens_per_s=50.0, elapsed=3.0,
                   seconds_left=0.0, last_train_loss=5.0, last_val_loss=6.0)
tj.progress_bar(done)
tj.progress_bar(done, ended="finished")
"""


def test_the_progress_text_follows_the_jobs_status():
    """A finished run's bar says so, not "measuring and saving" beside the Finished message."""
    at = AppTest.from_string(BAR).run()
    running, finished = (bar.proto.text for bar in at.get("progress"))
    assert "measuring and saving" in running
    assert finished.endswith("finished") and "measuring and saving" not in finished


def test_overfit_on_purpose_sets_up_day_16s_run_in_cpu_minutes():
    at = open_page()
    at.button(key=f"{KEY}_overfit").click().run()
    assert not at.exception and not at.error
    assert at.radio(key=f"{KEY}_corpus").value == "the-verdict"
    assert at.selectbox(key=f"{KEY}_preset").value == "overfit"
    assert at.number_input(key=f"{KEY}_epochs").value == 15 and at.select_slider(key=f"{KEY}_context").value == 64
    plan = next(c.value for c in at.caption if "training tokens" in c.value)
    minutes = plan.split("about **")[1].split("**")[0]
    assert " h " not in minutes and "days" not in minutes, minutes  # minutes, not hours
    assert not at.button(key=f"{KEY}_start_button").disabled


def test_the_shakespeare_preset_starts_on_a_compact_vocabulary_and_the_books_sizes_do_not():
    at = run_script(PAGE)
    assert at.checkbox(key=f"{KEY}_compact_vocab_tiny").value is False
    at.selectbox(key=f"{KEY}_preset").set_value("shakespeare").run()
    assert not at.exception
    assert at.checkbox(key=f"{KEY}_compact_vocab_shakespeare").value is True
    assert "Compact vocabulary:" in texts(at.caption) and "M parameters instead of" in texts(at.caption)
    at.checkbox(key=f"{KEY}_compact_vocab_shakespeare").uncheck().run()  # the full vocabulary, one click away
    assert "M parameters instead of" not in texts(at.caption)
