"""The sampling sandbox page and its compact version, driven through Streamlit's AppTest."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest
from widget_helpers import PAGES, run_script, texts

from core.gpt.checkpoint import new_run_id, run_path, save_checkpoint
from core.gpt.config import get_preset
from core.gpt.model import GPTModel
from core.gpt.tokenizers import encode
from core.gpt.vocab import compact_id_map, save_id_map, vocab_size_of

PAGE = str(PAGES / "sampling.py")
KEY = "sampling"
COMPACT = 'from ui.sampling import compact\ncompact("day20")\n'


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, gpt2_encoding):
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))  # no GPT-2 weights in sight
    return tmp_path / "runs"


@pytest.fixture
def checkpoint(isolated) -> Path:
    """A small saved model, as the Pretraining page leaves it."""
    torch.manual_seed(3)
    model = GPTModel(get_preset("tiny", context_length=16, n_layers=1))
    folder = run_path(new_run_id(), isolated)
    save_checkpoint(folder, model, status="finished", history=[], settings={"preset": "tiny"},
                    progress={"step": 12, "epoch": 1, "tokens_seen": 192})
    return folder


def open_page(source: str = PAGE) -> AppTest:
    return run_script(source)


def test_without_a_checkpoint_random_weights_are_offered_and_explained():
    at = open_page()
    options = at.radio(key=f"{KEY}_model").options
    assert options[0].startswith("Random weights")
    assert any("GPT-2 small" in o and "download needed" in o for o in options)
    assert "noise" in texts(at.warning)
    assert at.get("vega_lite_chart"), "the stage charts"


def test_gpt2_is_only_downloaded_on_request():
    at = open_page()
    gpt2 = next(o for o in at.radio(key=f"{KEY}_model").options if "GPT-2" in o)
    at.radio(key=f"{KEY}_model").set_value(gpt2).run()
    assert not at.exception
    assert "Nothing is downloaded unless you ask" in texts(at.info)
    assert at.button(key=f"{KEY}_download")
    assert not at.get("vega_lite_chart")


def test_the_trained_checkpoint_is_the_default_model(checkpoint):
    at = open_page()
    assert at.radio(key=f"{KEY}_model").value.startswith("Your model from the Pretraining page")
    assert checkpoint.name in at.radio(key=f"{KEY}_model").value
    assert "of the model's 16-token context window" in texts(at.caption)


def test_next_token_adds_one_token_at_a_time_reproducibly():
    first = open_page()
    first.button(key=f"{KEY}_preset_creative").click().run()
    for _ in range(3):
        first.button(key=f"{KEY}_next").click().run()
    assert not first.exception
    picks = first.session_state[f"{KEY}_steps"]["picks"]
    assert len(picks) == 3
    assert "Picked **" in texts(first.markdown) and "with probability" in texts(first.markdown)
    assert first.code[0].value.startswith("Every effort moves you")

    second = open_page()  # another session with the same seed and settings draws the same tokens
    second.button(key=f"{KEY}_preset_creative").click().run()
    for _ in range(3):
        second.button(key=f"{KEY}_next").click().run()
    assert [p.id for p in second.session_state[f"{KEY}_steps"]["picks"]] == [p.id for p in picks]

    second.button(key=f"{KEY}_reset").click().run()
    assert second.session_state[f"{KEY}_steps"]["picks"] == []
    second.text_area(key=f"{KEY}_prompt").set_value("A new prompt").run()
    second.button(key=f"{KEY}_next").click().run()
    assert len(second.session_state[f"{KEY}_steps"]["picks"]) == 1


def test_presets_set_the_day_20_values():
    at = open_page()
    at.button(key=f"{KEY}_preset_strict").click().run()
    assert (at.slider(key=f"{KEY}_temperature").value, at.number_input(key=f"{KEY}_top_k").value) == (0.5, 5)
    assert "Strict settings" in texts(at.caption)
    assert "drawn from 5 tokens" in texts(at.caption)
    at.button(key=f"{KEY}_preset_creative").click().run()
    assert (at.slider(key=f"{KEY}_temperature").value, at.number_input(key=f"{KEY}_top_k").value) == (1.5, 30)
    assert "Creative settings" in texts(at.caption)
    at.button(key=f"{KEY}_preset_greedy").click().run()
    assert at.toggle(key=f"{KEY}_greedy").value
    assert "drawn from 1 token (greedy" in texts(at.caption)


def test_generate_with_and_without_the_kv_cache_gives_the_same_greedy_text():
    at = open_page()
    at.button(key=f"{KEY}_preset_greedy").click().run()
    at.number_input(key=f"{KEY}_count").set_value(12).run()
    at.button(key=f"{KEY}_generate").click().run()
    with_cache = at.code[-1].value
    assert "12 new tokens" in texts(at.caption) and "with the KV cache" in texts(at.caption)
    at.toggle(key=f"{KEY}_cache").set_value(False).run()
    at.button(key=f"{KEY}_generate").click().run()
    assert at.code[-1].value == with_cache
    assert with_cache.startswith("Every effort moves you")


def test_bf16_and_int8_weights_generate_and_say_so():
    at = open_page()
    for precision in ("bf16", "int8"):
        at.selectbox(key=f"{KEY}_precision").set_value(precision).run()
        at.button(key=f"{KEY}_generate").click().run()
        assert not at.exception and f"{precision} weights" in texts(at.caption)
        assert at.code[-1].value.startswith("Every effort moves you")


def test_the_generated_text_stays_until_the_prompt_changes():
    at = open_page()
    at.button(key=f"{KEY}_preset_strict").click().run()
    at.number_input(key=f"{KEY}_count").set_value(5).run()
    at.button(key=f"{KEY}_generate").click().run()
    generated = at.code[-1].value
    assert "temperature 0.5, top-k 5" in texts(at.caption)
    at.toggle(key=f"{KEY}_log").set_value(True).run()  # an unrelated setting: the text stays
    assert not at.exception and at.code[-1].value == generated
    at.text_area(key=f"{KEY}_prompt").set_value("Something else").run()
    assert all(c.value != generated for c in at.code)


def test_empty_prompt_asks_for_text():
    at = open_page()
    at.text_area(key=f"{KEY}_prompt").set_value("   ").run()
    assert not at.exception
    assert "Type a prompt" in texts(at.info)
    assert not at.get("vega_lite_chart")


def test_a_prompt_longer_than_the_context_is_cropped_with_a_warning(checkpoint):
    at = open_page()
    at.text_area(key=f"{KEY}_prompt").set_value("one two three " * 20).run()
    assert not at.exception
    assert "only sees the last 16" in texts(at.warning)
    at.button(key=f"{KEY}_generate").click().run()
    assert not at.exception and "new tokens" in texts(at.caption)


def test_a_huge_paste_is_cut_to_the_size_limit_and_still_works():
    at = open_page()
    at.text_area(key=f"{KEY}_prompt").set_value("x" * 6_000).run()
    assert not at.exception
    assert "The text has 6,000 characters; only the first 5,000" in texts(at.warning)
    assert "only sees the last 128" in texts(at.warning)


def test_special_tokens_and_odd_unicode_in_the_prompt_work():
    at = open_page()
    at.text_area(key=f"{KEY}_prompt").set_value("<|endoftext|> 👩‍👩‍👧 e\u0301 \u202eevil").run()
    assert not at.exception and not at.error
    at.button(key=f"{KEY}_next").click().run()
    assert not at.exception and len(at.session_state[f"{KEY}_steps"]["picks"]) == 1


@pytest.mark.parametrize(
    ("widget", "value", "kind", "message"),
    [
        ("temperature", 5.0, "warning", "expect noise"),
        ("temperature", 0.05, "info", "almost greedy"),
        ("top_k", 1, "info", "single most likely token"),
        ("top_p", 0.01, "info", "single most likely token"),
    ],
)
def test_extreme_settings_are_explained(widget, value, kind, message):
    at = open_page()
    element = at.slider(key=f"{KEY}_{widget}") if widget != "top_k" else at.number_input(key=f"{KEY}_top_k")
    element.set_value(value).run()
    assert not at.exception
    assert message in texts(getattr(at, kind))
    at.button(key=f"{KEY}_next").click().run()
    assert not at.exception and len(at.session_state[f"{KEY}_steps"]["picks"]) == 1


def test_compact_version_generates_with_strict_and_creative_settings(checkpoint):
    at = open_page(COMPACT)
    assert checkpoint.name in texts(at.caption)
    for style in ("strict", "creative"):
        at.radio(key="day20_style").set_value(style).run()
        at.button(key="day20_generate").click().run()
        assert not at.exception
        assert at.code[-1].value.startswith("Every effort moves you")
    at.text_input(key="day20_prompt").set_value("").run()
    assert "Type a prompt" in texts(at.info)


def test_the_presets_match_the_day_20_notes():
    from core.widgets.sampling_view import Strategy
    from ui import sampling

    assert {name: sampling.style(p) for name, p in sampling.PRESETS.items()} == {
        "greedy": "greedy", "strict": "strict", "creative": "creative"}
    assert sampling.style(Strategy(temperature=1.0, top_k=5)) == "in between"  # temperature not below 1
    assert sampling.style(Strategy(temperature=1.2, top_k=50)) == "in between"  # top-k above 40


def test_a_compact_vocabulary_run_samples_gpt2_text(isolated):
    corpus = encode("Every effort moves you forward, and every effort counts.")
    id_map = compact_id_map([corpus], pad_id=None)
    torch.manual_seed(4)
    model = GPTModel(get_preset("tiny", context_length=16, n_layers=1, vocab_size=vocab_size_of(id_map)))
    folder = run_path(new_run_id(), isolated)
    save_checkpoint(folder, model, status="finished", history=[], settings={"preset": "tiny"},
                    progress={"step": 3, "epoch": 1, "tokens_seen": 48})
    save_id_map(folder, id_map)
    at = open_page()
    assert folder.name in at.radio(key=f"{KEY}_model").value
    assert f"a compact vocabulary of {vocab_size_of(id_map)} tokens" in texts(at.caption)
    at.button(key=f"{KEY}_preset_greedy").click().run()
    at.number_input(key=f"{KEY}_count").set_value(8).run()
    at.button(key=f"{KEY}_generate").click().run()
    assert not at.exception
    new_ids = encode(at.code[-1].value)[len(encode("Every effort moves you")):]
    assert new_ids and set(new_ids) <= set(corpus)  # greedy picks among the tokens the run knows
