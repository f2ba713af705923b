"""The attention visualizer page and its compact journal version, driven through Streamlit's AppTest."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
from streamlit import dataframe_util
from streamlit.testing.v1 import AppTest

from core.gpt.attention import TOY_INPUTS, attention_steps
from core.gpt.checkpoint import new_run_id, save_checkpoint
from core.gpt.config import get_preset
from core.gpt.model import GPTModel

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "attention.py")
COMPACT = """
from ui.attention import compact
compact("day07")
compact("day08")
"""
HOSTILE = {
    "empty": "",
    "spaces": "    ",
    "emoji-zwj": "👩‍👩‍👧‍👦 🏳️‍🌈 ok",
    "cjk": "機械学習は楽しい",
    "combining": "e\u0301 a\u0308 Z\u0351\u0352",
    "control": "bell\x07 nul\x00 esc\x1b[31m",
    "endoftext": "<|endoftext|> after <|endoftext|>",
    "long": "word " * 5_000,
}


@pytest.fixture
def places(tmp_path, monkeypatch):
    """No checkpoints, an empty download cache and no network: the random model is the only one."""
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path


@pytest.fixture
def page(places, gpt2_encoding) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    return at


def chart(at: AppTest, title: str) -> pd.DataFrame:
    """The data behind the chart titled `title` (for a heatmap: one row per cell)."""
    for element in at.get("vega_lite_chart"):
        if json.loads(element.proto.spec).get("title") == title:
            return dataframe_util.convert_arrow_bytes_to_pandas_df(element.proto.datasets[0].data.data)
    raise AssertionError(f"no chart titled {title!r}")


def as_matrix(frame: pd.DataFrame, n: int) -> torch.Tensor:
    """A heatmap's cells back as an n × n matrix (masked cells as -inf)."""
    return torch.tensor(frame["value"].fillna(float("-inf")).tolist(), dtype=torch.float32).view(n, n)


def markdown_steps(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**")]


def test_toy_example_runs_every_step(page):
    steps = markdown_steps(page)
    for number in range(1, 9):
        assert any(s.startswith(f"**{number} · ") for s in steps), number
    assert len(page.get("vega_lite_chart")) >= 9
    assert any("context of 1: journey" in c.value for c in page.caption)


def test_default_view_reproduces_the_books_trainable_attention(page):
    # Section 3.4.1: seed 123, d_out 2; the weights and context vector of "journey"
    weights = as_matrix(chart(page, "attention weights"), 6)[1]
    assert torch.allclose(weights, torch.tensor([0.1500, 0.2264, 0.2199, 0.1311, 0.0906, 0.1820]), atol=1e-4)
    context = chart(page, "context vectors")
    journey = context[context["row"] == "1: journey"]["value"].tolist()
    assert journey == pytest.approx([0.3061, 0.8210], abs=1e-4)


def test_simplified_view_reproduces_the_books_section_3_3(page):
    page.toggle(key="att_trainable").set_value(False).run()
    weights = as_matrix(chart(page, "attention weights"), 6)[1]
    book = torch.tensor([0.1385, 0.2379, 0.2333, 0.1240, 0.1082, 0.1581])
    assert torch.allclose(weights, book, atol=1e-4)
    context = chart(page, "context vectors")
    journey = context[context["row"] == "1: journey"]["value"].tolist()
    assert journey == pytest.approx([0.4419, 0.6515, 0.5683], abs=1e-4)
    assert any(m.value.startswith("**4 · Scaling.** Skipped") for m in page.markdown)


def test_weights_shown_are_core_weights(page):
    page.toggle(key="att_trainable").set_value(False).run()
    page.toggle(key="att_causal").set_value(True).run()
    assert not page.exception
    expected = attention_steps(TOY_INPUTS, causal=True, scale=False)
    journey = expected.weights[1]
    caption = next(c.value for c in page.caption if c.value.startswith("context of 1: journey"))
    assert caption == "context of 1: journey = " + " + ".join(
        f"{w:.2f}·v{j}" for j, w in enumerate(journey.tolist()) if w
    )
    assert torch.allclose(as_matrix(chart(page, "attention weights"), 6), expected.weights, atol=1e-6)
    masked = chart(page, "masked scores")
    assert (masked["text"] == "−∞").sum() == 15  # everything above the diagonal of a 6 × 6 map


def test_dropout_heads_and_step_slider(page):
    page.slider(key="att_dropout").set_value(0.5).run()
    page.slider(key="att_heads").set_value(3).run()
    page.selectbox(key="att_head").set_value(2).run()
    assert not page.exception
    steps = markdown_steps(page)
    assert any("head 3 of 3" in s for s in steps)
    assert any("random 50%" in s and "2.00" in s for s in steps)
    assert any("3 heads' context vectors side by side: 6 × 6" in c.value for c in page.caption)
    page.select_slider(key="att_step").set_value("Scores").run()
    assert [s[:6] for s in markdown_steps(page)] == ["**1 · ", "**2 · ", "**3 · "]


def test_fewer_heads_after_picking_a_high_one(page):
    page.slider(key="att_heads").set_value(4).run()
    page.selectbox(key="att_head").set_value(3).run()
    page.slider(key="att_heads").set_value(2).run()
    assert not page.exception


@pytest.mark.parametrize("name", HOSTILE)
def test_own_text_with_hostile_input(page, name):
    page.radio(key="att_source").set_value("Your own short text").run()
    page.text_input(key="att_text").set_value(HOSTILE[name]).run()
    assert not page.exception and not page.error
    if not HOSTILE[name].strip():
        assert any("Type a few words" in i.value for i in page.info)
    page.text_input(key="att_model_text").set_value(HOSTILE[name]).run()
    assert not page.exception and not page.error


def test_long_text_is_cut_with_a_message(page):
    page.radio(key="att_source").set_value("Your own short text").run()
    page.text_input(key="att_text").set_value("one two three four five six seven eight nine ten " * 3).run()
    assert any("Only the first 16 tokens" in w.value for w in page.warning)


def test_random_model_is_clearly_labelled(page):
    assert page.radio(key="att_model").value.startswith("Random weights")
    assert any("untrained" in w.value and "noise" in w.value for w in page.warning)
    page.slider(key="att_layer").set_value(4).run()
    page.selectbox(key="att_model_head").set_value("head 4").run()
    assert not page.exception
    cells = chart(page, "layer 4, head 4")
    n = int(len(cells) ** 0.5)
    weights = as_matrix(cells, n)
    assert torch.allclose(weights.sum(dim=1), torch.ones(n), atol=1e-5)
    assert torch.all(weights.triu(1) == 0)  # a GPT's attention is always causal


def test_gpt2_is_downloaded_only_when_asked(page):
    gpt2 = next(o for o in page.radio(key="att_model").options if o.startswith("OpenAI's GPT-2"))
    page.radio(key="att_model").set_value(gpt2).run()
    assert not page.exception
    assert any("Nothing is downloaded unless you ask" in i.value for i in page.info)
    page.button(key="att_download").click().run()
    assert not page.exception
    assert any("could not get the GPT-2" in e.value for e in page.error)


def test_checkpoint_model_is_preferred(places, gpt2_encoding):
    model = GPTModel(get_preset("tiny", n_layers=2))
    save_checkpoint(places / "runs" / new_run_id(), model, status="finished", history=[], settings={},
                    progress={"step": 3, "epoch": 1, "tokens_seen": 96})
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert at.radio(key="att_model").value.startswith("Your model from the Pretraining page")
    assert any("3 steps" in c.value for c in at.caption)
    assert at.slider(key="att_layer").max == 2


def test_compact_versions_are_independent():
    at = AppTest.from_string(COMPACT, default_timeout=60).run()
    assert not at.exception
    assert len(at.get("vega_lite_chart")) == 2
    at.toggle(key="day07_causal").set_value(True).run()
    assert not at.exception
    journey = as_matrix(chart(at, "attention weights"), 6)[1]
    assert journey[2:].sum() == 0 and journey[:2].sum() == pytest.approx(1.0)
    captions = [c.value for c in at.caption]
    assert "no token sees the ones after it" in captions[0] and "no token sees" not in captions[1]


def test_heads_and_d_k_survive_hiding_the_weights_and_switching_the_tokens(page):
    page.slider(key="att_heads").set_value(4).run()
    page.slider(key="att_head_dim").set_value(4).run()
    page.toggle(key="att_trainable").set_value(False).run()
    page.radio(key="att_source").set_value("Your own short text").run()
    page.toggle(key="att_trainable").set_value(True).run()
    assert not page.exception
    assert page.slider(key="att_heads").value == 4 and page.slider(key="att_head_dim").value == 4
