"""The Sampling page's last section: two models on the same prompt, settings and seed (AppTest)."""

from __future__ import annotations

import pytest
import torch
from widget_helpers import PAGES, run_script, texts

from core.gpt.checkpoint import new_run_id, run_path, save_checkpoint
from core.gpt.config import get_preset
from core.gpt.model import GPTModel
from core.gpt.tokenizers import encode
from core.widgets.side_by_side import Continuation
from ui.side_by_side import tokens_html

PAGE = str(PAGES / "sampling.py")
KEY = "sampling"


@pytest.fixture(autouse=True)
def checkpoint(tmp_path, monkeypatch, gpt2_encoding):
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    torch.manual_seed(3)
    model = GPTModel(get_preset("tiny", context_length=16, n_layers=1))
    folder = run_path(new_run_id(), tmp_path / "runs")
    save_checkpoint(folder, model, status="finished", history=[], settings={"preset": "tiny"},
                    progress={"step": 12, "epoch": 1, "tokens_seen": 192})
    return folder


def generate_both(at, b: str = "Random weights", count: int = 8):
    radio = at.radio(key=f"{KEY}_side_b_model")
    radio.set_value(next(o for o in radio.options if o.startswith(b))).run()
    at.number_input(key=f"{KEY}_side_count").set_value(count).run()
    return at.button(key=f"{KEY}_side_generate").click().run()


def chips(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("<div")]


def test_the_checkpoint_against_random_weights_shows_where_they_part_ways(checkpoint):
    at = run_script(PAGE)
    at.button(key=f"{KEY}_preset_greedy").click().run()
    generate_both(at)
    assert not at.exception
    assert "part ways at token" in texts(at.info)
    assert len(chips(at)) == 2 and all(c.count("<span") == 8 for c in chips(at))
    assert "border-bottom:3px solid" in chips(at)[0]
    assert checkpoint.name in texts(at.markdown)
    assert len(at.get("vega_lite_chart")) == 5  # the four stage charts above, and the probabilities


def test_a_model_against_itself_writes_the_same_tokens():
    at = run_script(PAGE)
    at.button(key=f"{KEY}_preset_creative").click().run()
    generate_both(at, b="Your model")
    assert not at.exception and "exactly the same tokens" in texts(at.success)
    first = chips(at)
    at.button(key=f"{KEY}_side_generate").click().run()
    assert chips(at) == first  # the same seed draws the same tokens again


def test_the_result_goes_when_the_prompt_changes():
    at = generate_both(run_script(PAGE))
    assert chips(at)
    at.text_area(key=f"{KEY}_prompt").set_value("Something else").run()
    assert not chips(at) and "Both models get the prompt" in texts(at.caption)


def test_hostile_prompts():
    at = run_script(PAGE)
    for prompt, count in (("<|endoftext|>", 4), ("one two three " * 20, 17), ("👩‍👩‍👧 e\u0301 \u202eevil \ufeff", 4)):
        at.text_area(key=f"{KEY}_prompt").set_value(prompt).run()
        generate_both(at, b="Your model", count=count)  # the small checkpoint twice; 17 slide past its window
        assert not at.exception and not at.error and len(chips(at)) == 2, prompt


def test_an_empty_prompt_hides_the_section():
    at = run_script(PAGE)
    at.text_area(key=f"{KEY}_prompt").set_value("").run()
    assert not at.exception
    with pytest.raises(KeyError):
        at.button(key=f"{KEY}_side_generate")


def test_token_text_is_escaped():
    ids = encode('<script>alert("x")</script>')
    html = tokens_html(Continuation(ids, [1.0] * len(ids), [0.5] * len(ids)), diverge=None)
    assert "<script" not in html and "&lt;" in html and "border-bottom" not in html
