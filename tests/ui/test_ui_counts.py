"""One of a thing reads "1 token", "1 step", "1 layer" on the pages, never "1 tokens"."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest
from widget_helpers import PAGES, fresh_training_slot, run_script

ONE_PLURAL = re.compile(r"(?<![\d,.])1 (tokens|steps|layers|heads|picks|messages|characters|epochs)\b")


def page_text(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "success", "warning", "info", "error") for e in at.get(kind)]
    parts += [e.label for e in at.expander] + [b.label for b in at.button]
    return "\n".join(str(p) for p in parts)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, gpt2_encoding):
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    yield from fresh_training_slot()


def test_one_token_on_the_tokenizer_page():
    at = run_script(str(PAGES / "tokenizer.py"))
    at.text_area(key="tok_text").set_value("Hello").run()
    text = page_text(at)
    assert "All 1 token as a table" in text
    assert "1 character → 1 token" in text or "1 token" in text
    assert not ONE_PLURAL.search(text), ONE_PLURAL.search(text)


def test_one_layer_and_one_head_on_the_parameters_page():
    at = run_script(str(PAGES / "parameters.py"))
    at.toggle(key="par_custom").set_value(True).run()
    at.number_input(key="par_n_layers_gpt2-small").set_value(1).run()
    at.number_input(key="par_n_heads_gpt2-small").set_value(1).run()
    assert not at.exception
    text = page_text(at)
    assert "1 layer, 1 head" in text
    assert not ONE_PLURAL.search(text), ONE_PLURAL.search(text)


def test_one_token_to_generate_and_one_pick_on_the_sampling_page():
    at = run_script(str(PAGES / "sampling.py"))
    at.text_area(key="sampling_prompt").set_value("Hello").run()
    at.number_input(key="sampling_count").set_value(1).run()
    assert any(b.label == "Generate 1 token" for b in at.button)
    at.button(key="sampling_generate").click().run()
    assert not at.exception
    text = page_text(at)
    assert "1 new token in" in text
    assert not ONE_PLURAL.search(text), ONE_PLURAL.search(text)


def test_one_step_on_the_pretraining_page():
    at = run_script(str(PAGES / "pretraining.py"))
    at.radio(key="pretraining_corpus").set_value("upload").run()
    text = "The quick brown fox jumps over the lazy dog. " * 60  # 600 tokens: 540 to train on
    at.file_uploader(key="pretraining_upload").set_value(("fox.txt", text.encode(), "text/plain")).run()
    at.select_slider(key="pretraining_context").set_value(16)
    at.select_slider(key="pretraining_batch").set_value(32)
    at.number_input(key="pretraining_epochs").set_value(1).run()
    assert not at.exception
    shown = page_text(at)
    assert "**1 step**" in shown, shown
    assert not ONE_PLURAL.search(shown), ONE_PLURAL.search(shown)
