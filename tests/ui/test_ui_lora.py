"""The LoRA page and its compact journal version, driven through Streamlit's AppTest, hostile inputs included."""

from __future__ import annotations

import pytest
import torch
from streamlit.testing.v1 import AppTest
from widget_helpers import PAGES, fresh_training_slot, run_script, steps_done, texts, wait_until

from core.gpt.checkpoint import new_run_id, run_path, save_checkpoint
from core.gpt.config import get_preset
from core.gpt.model import GPTModel

PAGE = str(PAGES / "lora.py")
COMPACT = 'from ui.lora import compact\ncompact("day30")\n'


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.fixture
def page() -> AppTest:
    return run_script(PAGE)


def test_the_book_spam_classifier_by_default(page):
    assert metric(page, "Trainable with LoRA") == "2,666,528"
    assert metric(page, "Base model (frozen)") == "124,441,346"
    assert metric(page, "Share trained") == "2.14%"
    assert "full fine-tuning **1,898.8 MB**" in texts(page.caption)
    layers = next(d.value for d in page.dataframe if "LoRA per layer" in d.value.columns)
    assert "12,320" in set(layers["LoRA per layer"])  # the 768 x 2 head
    assert not page.error


def test_chapter_7_gpt2_medium(page):
    page.selectbox(key="lora_preset").set_value("gpt2-medium")
    page.radio(key="lora_head").set_value("vocabulary").run()
    assert metric(page, "Trainable with LoRA") == "7,898,384"
    assert metric(page, "Base model (frozen)") == "406,286,336"


def test_fewer_layers(page):
    page.multiselect(key="lora_targets").set_value(["query", "value"]).run()
    assert metric(page, "Trainable with LoRA") == f"{12 * 2 * 2 * 768 * 16:,}"


@pytest.mark.parametrize("field, value, message", [
    ("lora_rank", 0, "rank must be a whole number of at least 1"),
    ("lora_rank", 5000, "rank 5000 is larger than the 768 x 768 layer"),
    ("lora_alpha", -4.0, "alpha must be a number above 0"),
    ("lora_alpha", 0.0, "alpha must be a number above 0"),
])
def test_hostile_rank_and_alpha(page, field, value, message):
    page.number_input(key=field).set_value(value).run()
    assert not page.exception
    assert message in texts(page.error)
    assert not page.metric


def test_no_layers_chosen(page):
    page.multiselect(key="lora_targets").set_value([]).run()
    assert "choose at least one kind of layer" in texts(page.error)


@pytest.mark.parametrize("field, value, message", [
    ("n_heads", 7, "must be divisible by n_heads"),
    ("n_layers", 1_000_000, "n_layers must be at most 256"),
])
def test_absurd_configs(page, field, value, message):
    page.toggle(key="lora_custom").set_value(True).run()
    page.number_input(key=f"lora_{field}_gpt2-small").set_value(value).run()
    assert not page.exception
    assert message in texts(page.error)


def test_compact_rank_slider():
    at = run_script(COMPACT)
    assert metric(at, "Trainable parameters") == "2,666,528"
    at.slider(key="day30_rank").set_value(8).run()
    assert metric(at, "Trainable parameters") == f"{2_666_528 // 2:,}"  # every adapter is linear in the rank


# ---------------------------------------------------------------------------------------------
# Fine-tuning with LoRA on the spam page, then the comparison here


@pytest.fixture
def empty_runs(tmp_path, monkeypatch, sms_spam_path, gpt2_encoding):
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    yield from fresh_training_slot()


def test_no_runs_yet_says_how_to_make_them(empty_runs):
    at = run_script(PAGE)
    assert "fine-tune it twice" in texts(at.info)


@pytest.mark.slow
def test_lora_fine_tuning_from_the_spam_page_shows_up_in_the_comparison(empty_runs, tmp_path):
    torch.manual_seed(0)
    model = GPTModel(get_preset("tiny", context_length=16, n_layers=2))
    save_checkpoint(run_path(new_run_id(), tmp_path / "runs"), model, status="finished", history=[],
                    settings={"preset": "tiny"}, progress={"step": 1, "epoch": 1, "tokens_seen": 16})
    spam = run_script(str(PAGES / "spam.py"))
    spam.radio(key="spam_base").set_value("checkpoint").run()
    spam.radio(key="spam_blocks").set_value("lora").run()
    spam.button(key="spam_start_button").click().run()
    assert "Fine-tuning from checkpoint with LoRA" in texts(spam.markdown)
    wait_until(spam, lambda a: steps_done(a) >= 2)
    spam.button(key="spam_stop").click().run()
    wait_until(spam, lambda a: "Stopped after" in texts(a.success), timeout=120)
    assert "Only its LoRA adapter is saved" in texts(spam.success)

    at = run_script(PAGE)
    runs = next(d.value for d in at.dataframe if "method" in d.value.columns)
    assert list(runs["method"]) == ["LoRA, rank 16, alpha 16"]
    assert runs["base"][0].startswith("Your model from the Pretraining page")
    assert runs["checkpoint MB"][0] < 4 * sum(p.numel() for p in model.parameters()) / 2**20 / 10
