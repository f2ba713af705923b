"""The Logit lens page and its compact version, driven through Streamlit's AppTest."""

from __future__ import annotations

import pytest
import torch
from widget_helpers import PAGES, run_script, texts

from core.gpt.checkpoint import new_run_id, run_path, save_checkpoint
from core.gpt.config import get_preset
from core.gpt.model import GPTModel

PAGE = str(PAGES / "logit_lens.py")
KEY = "logit_lens"
COMPACT = 'from ui.logit_lens import compact\ncompact("day22")\n'


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, gpt2_encoding):
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "runs"


@pytest.fixture
def checkpoint(isolated):
    torch.manual_seed(3)
    model = GPTModel(get_preset("tiny", context_length=16, n_layers=1))
    folder = run_path(new_run_id(), isolated)
    save_checkpoint(folder, model, status="finished", history=[], settings={"preset": "tiny"},
                    progress={"step": 12, "epoch": 1, "tokens_seen": 192})
    return folder


def charts(at):
    return at.get("vega_lite_chart")


def test_the_lens_shows_every_layer_for_random_weights():
    at = run_script(PAGE)
    assert "Every layer of an untrained model guesses noise" in texts(at.warning)
    assert len(charts(at)) == 1
    spec = charts(at)[0].proto.spec
    for layer in ("embeddings", "block 1", "block 4"):
        assert layer in spec
    at.radio(key=f"{KEY}_view").set_value("Rank of the true next token").run()
    assert not at.exception and len(charts(at)) == 1
    assert "ranks the token that really comes next" in texts(at.caption)


def test_two_models_side_by_side_and_their_difference(checkpoint):
    at = run_script(PAGE)
    at.toggle(key=f"{KEY}_compare").set_value(True).run()
    assert not at.exception
    second = at.radio(key=f"{KEY}_b_model")
    random = next(o for o in second.options if o.startswith("Random weights"))
    second.set_value(random).run()
    assert not at.exception
    assert len(charts(at)) == 2
    assert "the same depth" in texts(at.info)  # 1 block against 4: no layer-by-layer difference
    first = at.radio(key=f"{KEY}_model")
    first.set_value(random).run()
    assert not at.exception
    assert len(charts(at)) == 3  # both grids and the difference heatmap
    assert "ranks the true next token higher" in texts(at.caption)


def test_a_long_text_is_cut_to_the_cap_with_a_notice(checkpoint):
    at = run_script(PAGE)
    at.text_area(key=f"{KEY}_text").set_value("one two three " * 20).run()
    assert not at.exception
    assert "shows the first 16" in texts(at.warning)  # the checkpoint's context window is below the cap of 64


@pytest.mark.parametrize("text", ["", "   ", "x" * 1_000_000, "<|endoftext|> a <|endoftext|>",
                                  "👩‍👩‍👧 e\u0301 \u202eevil \u0000 \ufeff", "a"])
def test_hostile_text(text):
    at = run_script(PAGE)
    at.text_area(key=f"{KEY}_text").set_value(text).run()
    assert not at.exception and not at.error
    if not text.strip():
        assert "Type a text" in texts(at.info) and not charts(at)
        return
    assert len(charts(at)) == 1
    if len(text) > 100_000:
        assert len(at.text_area(key=f"{KEY}_text").value) == 100_000
        assert "shows the first 64" in texts(at.warning)
    at.radio(key=f"{KEY}_view").set_value("Rank of the true next token").run()
    assert not at.exception
    if text == "a":
        assert "needs at least two tokens" in texts(at.info)


def test_compact_version(checkpoint):
    at = run_script(COMPACT)
    assert checkpoint.name in texts(at.caption)
    assert len(charts(at)) == 1
    at.text_input(key="day22_text").set_value("a b c d e f g h i j k l m n o p q r s t").run()
    assert not at.exception and "shows the first 16" in texts(at.warning)
    at.text_input(key="day22_text").set_value("").run()
    assert "Type a text" in texts(at.info) and not charts(at)


def test_both_new_widgets_render_through_the_registry_and_the_app_navigation(checkpoint):
    at = run_script('from ui.widget_registry import render_compact\nrender_compact("logit_lens", "e1")\n'
                    'render_compact("next_token_game", "e2")\n')
    assert "could not be shown" not in texts(at.warning) and "coming soon" not in texts(at.markdown)
    assert charts(at) and "Round 1 of 5" in texts(at.markdown)
    app = run_script(str(PAGES.parent / "streamlit_app.py"))
    for page, title in (("pages/logit_lens.py", "Logit lens"), ("pages/next_token_game.py", "Guess the next token")):
        app.switch_page(page).run()
        assert not app.exception and app.title[0].value == title
