"""The LoRA page and its compact journal version, driven through Streamlit's AppTest, hostile inputs included."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest
from widget_helpers import PAGES, run_script, texts

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
