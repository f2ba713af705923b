"""The spam-classifier page and its compact version, driven through Streamlit's AppTest.

Fine-tuning runs for real in the server's training slot on the SMS Spam Collection; tests that only
classify use a small classifier fine-tuned once for the module.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest
from widget_helpers import (
    PAGES,
    fresh_training_slot,
    run_script,
    steps_done,
    texts,
    wait_until,
)

from core.gpt.checkpoint import list_runs, new_run_id, run_path, save_checkpoint
from core.gpt.config import get_preset
from core.gpt.events import StepEvent
from core.gpt.finetune import SCRATCH_RECIPE, Recipe, finetune_run
from core.gpt.model import GPTModel
from core.gpt.spam_data import read_messages
from core.gpt.train import TrainSettings

PAGE = str(PAGES / "spam.py")
PRETRAINING_PAGE = str(PAGES / "pretraining.py")
KEY = "spam"
COMPACT = 'from ui.spam import compact\ncompact("day22")\n'
SMALL = Recipe(TrainSettings(epochs=1, lr=2e-3, eval_freq=50, eval_iter=1), trainable_blocks="all", pooling="mean",
               batch_size=16, max_length=40, model={"emb_dim": 32, "n_heads": 2, "n_layers": 1, "drop_rate": 0.0})


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory, sms_spam_path, gpt2_encoding) -> Path:
    """A runs folder holding one small classifier, stopped after 20 steps and evaluated on every split."""
    root = tmp_path_factory.mktemp("runs")
    stop = threading.Event()
    for event in finetune_run(read_messages(sms_spam_path), recipe=SMALL, seed=5, stop=stop,
                              runs_root=root / "classifiers"):
        if isinstance(event, StepEvent) and event.step == 20:
            stop.set()
    return root


@pytest.fixture(autouse=True)
def clean_slot():
    yield from fresh_training_slot()


@pytest.fixture
def empty_runs(tmp_path, monkeypatch, sms_spam_path, gpt2_encoding) -> Path:
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def with_classifier(trained_runs, monkeypatch) -> Path:
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(trained_runs))
    return trained_runs


def open_page(source: str = PAGE) -> AppTest:
    return run_script(source)


def test_dataset_status_and_class_balance(empty_runs):
    at = open_page()
    assert "5,574 messages: 4,827 ham and 747 spam" in texts(at.caption)
    assert at.get("vega_lite_chart")
    assert at.radio(key=f"{KEY}_base").value == "scratch"
    recipe = SCRATCH_RECIPE  # 1,045 training messages in batches of 16: 65 steps an epoch
    assert f"{65 * recipe.settings.epochs:,} steps" in texts(at.caption)
    assert "No classifier yet" in texts(at.info)


def test_missing_dataset_says_how_to_get_it(empty_runs, tmp_path, monkeypatch):
    from core.gpt.spam_data import SpamDataError

    monkeypatch.setenv("LLM_JOURNAL_DATA_DIR", str(tmp_path / "no-data"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "no-cache"))

    def offline():
        raise SpamDataError("could not download the SMS Spam Collection (no network)")

    monkeypatch.setattr("ui.spam.download_messages", offline)
    at = open_page()
    assert "not on this machine" in texts(at.warning) and "SMSSpamCollection" in texts(at.warning)
    assert "Fine-tuning needs the dataset" in texts(at.caption)
    at.button(key=f"{KEY}_download_data").click().run()
    assert not at.exception and "no network" in texts(at.error)


@pytest.mark.slow
def test_finetune_live_stop_then_results_and_no_conflicting_run(empty_runs):
    at = open_page()
    at.number_input(key=f"{KEY}_epochs_scratch").set_value(1).run()
    at.button(key=f"{KEY}_start_button").click().run()
    wait_until(at, lambda a: steps_done(a) >= 2)

    # A second session sees the run and cannot start another: not here, not on the Pretraining page.
    other = open_page()
    assert not [b for b in other.button if b.key == f"{KEY}_start_button"]
    assert "started in another browser session" in texts(other.markdown)
    pretraining = open_page(PRETRAINING_PAGE)
    assert not [b for b in pretraining.button if b.key == "pretraining_start_button"]
    assert "spam-classifier fine-tuning run is in progress" in texts(pretraining.info)

    wait_until(at, lambda a: len(a.get("vega_lite_chart")) >= 3)  # balance, loss and accuracy charts
    at.button(key=f"{KEY}_stop").click().run()
    wait_until(at, lambda a: "Stopped after" in texts(a.success), timeout=120)
    saved = list_runs(empty_runs / "classifiers")
    assert len(saved) == 1 and saved[0].status == "stopped"
    assert [m.label for m in at.metric] == ["Training accuracy", "Validation accuracy", "Test accuracy"]
    assert at.selectbox(key=f"{KEY}_classifier").value.run_id == saved[0].run_id
    assert list_runs(empty_runs) == []  # a classifier is never taken for a language model


def test_finetune_from_the_pretrained_checkpoint(empty_runs):
    torch.manual_seed(0)
    model = GPTModel(get_preset("tiny", context_length=16, n_layers=2))
    save_checkpoint(run_path(new_run_id(), empty_runs), model, status="finished", history=[],
                    settings={"preset": "tiny"}, progress={"step": 1, "epoch": 1, "tokens_seen": 16})
    at = open_page()
    at.radio(key=f"{KEY}_base").set_value("checkpoint").run()
    assert at.radio(key=f"{KEY}_blocks").value == 1  # the book's choice: only the last block trains
    assert "at most about" in texts(at.caption)
    at.button(key=f"{KEY}_start_button").click().run()
    wait_until(at, lambda a: steps_done(a) >= 2)
    at.button(key=f"{KEY}_stop").click().run()
    wait_until(at, lambda a: "Stopped after" in texts(a.success), timeout=120)
    saved = list_runs(empty_runs / "classifiers")
    assert len(saved) == 1 and saved[0].settings["base"].startswith("Your model from the Pretraining page")
    assert saved[0].config["context_length"] == 16  # messages cut to the base model's window


def test_results_show_accuracy_confusion_and_misclassified_messages(with_classifier):
    at = open_page()
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Training accuracy", "Validation accuracy", "Test accuracy"}
    assert all(v.endswith("%") for v in metrics.values())
    assert "misclassified test message" in texts(at.markdown)
    table = at.dataframe[0].value
    assert list(table.columns) == ["message", "true label", "predicted", "spam probability"]
    assert (table["true label"] != table["predicted"]).all()
    at.radio(key=f"{KEY}_split").set_value("val").run()
    assert not at.exception and "misclassified validation message" in texts(at.markdown)


def test_example_buttons_and_typed_messages_are_classified(with_classifier):
    at = open_page()
    at.button(key=f"{KEY}_example_spam").click().run()
    assert at.text_area(key=f"{KEY}_message").value.startswith("CONGRATULATIONS")
    assert "The classifier says" in texts(at.markdown) and "sure" in texts(at.markdown)
    at.button(key=f"{KEY}_example_ham").click().run()
    assert at.text_area(key=f"{KEY}_message").value.startswith("Hi, are we still on")
    assert "The classifier says" in texts(at.markdown)


def test_empty_and_very_long_messages_get_clear_messages(with_classifier):
    at = open_page()
    at.text_area(key=f"{KEY}_message").set_value("   ").run()
    assert not at.exception and "Type or paste a message" in texts(at.caption)
    at.text_area(key=f"{KEY}_message").set_value("free entry to win " * 1_000).run()
    assert not at.exception
    assert "only its first 40 tokens were read" in texts(at.caption)
    at.text_area(key=f"{KEY}_message").set_value("x" * 30_000).run()  # cut to the box's 20,000 limit, saying so
    assert not at.exception and "only the first 20,000 are tokenized" in texts(at.warning)


def test_batch_csv_is_classified_and_offered_for_download(with_classifier):
    at = open_page()
    csv = b'text,label\n"Hi mum, home by 6",ham\nWIN a FREE holiday! Call 0800 now,spam\n   ,ham\n'
    at.file_uploader(key=f"{KEY}_csv").set_value(("my messages.csv", csv, "text/csv")).run()
    assert "3 messages from column `text` and labels from `label`" in texts(at.caption)
    at.button(key=f"{KEY}_batch_run").click().run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "note" in df.value.columns)
    assert table["message"].tolist()[:2] == ["Hi mum, home by 6", "WIN a FREE holiday! Call 0800 now"]
    assert "empty" in table["note"].tolist()[2]
    assert "Against the file's labels:" in texts(at.markdown) and "of 2 right" in texts(at.markdown)
    assert at.get("download_button")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"id,body\n1,hello\n", "has no column of messages"),
        (b"\xff\xfe\x00t", "not UTF-8"),
        (b"text,label\nhello,unsure\n", "labels must be ham or spam"),
    ],
)
def test_bad_csv_files_get_a_clear_message(with_classifier, content, message):
    at = open_page()
    at.file_uploader(key=f"{KEY}_csv").set_value(("bad.csv", content, "text/csv")).run()
    assert not at.exception
    assert message in texts(at.error)
    assert not [b for b in at.button if b.key == f"{KEY}_batch_run"]


def test_saved_classifiers_are_listed_with_their_state_and_size(with_classifier):
    at = open_page()
    table = next(df.value for df in at.dataframe if "size on disk (MB)" in df.value.columns)
    assert len(table) == 1 and "stopped at step 20" in table["status"].iloc[0]
    assert table["size on disk (MB)"].iloc[0] > 0
    assert at.button(key=f"{KEY}_delete").disabled  # nothing goes without the tick


def test_compact_version_without_and_with_a_classifier(empty_runs, with_classifier, monkeypatch):
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(empty_runs))
    at = open_page(COMPACT)
    assert "No spam classifier yet" in texts(at.caption)
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(with_classifier))
    at = open_page(COMPACT)
    at.button(key="day22_example_spam").click().run()
    assert not at.exception and "The classifier says" in texts(at.markdown)
    at.text_input(key="day22_message").set_value("").run()
    assert "Type or paste a message" in texts(at.caption)
