"""Show the code on every widget page, why the classifier said spam, and long pastes cut with a notice."""

from __future__ import annotations

import html
import inspect

import pytest
import torch
from streamlit.testing.v1 import AppTest
from widget_helpers import PAGES, fresh_training_slot, run_script, texts

import ui.spam
from core.gpt.classifier import GPTClassifier, save_classifier
from core.gpt.config import get_preset
from core.gpt.model import GPTModel
from core.gpt.tokenizers import encode
from core.widgets.code_view import STEPS

WALKTHROUGH = "Running late, will be there in 10 minutes. Sorry!"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch, gpt2_encoding):
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))  # no GPT-2 weights in sight
    yield from fresh_training_slot()


@pytest.fixture
def saved_classifier(isolated):
    """A small untrained classifier, saved as the Spam page saves one."""
    torch.manual_seed(7)
    model = GPTModel(get_preset("tiny", emb_dim=32, n_heads=2, n_layers=1, context_length=64))
    save_classifier(GPTClassifier(model, max_length=64), settings={"base": "scratch"})


def code_expanders(at: AppTest) -> dict[str, str]:
    """Label -> shown source of every 'Show the code' expander."""
    return {e.label: e.get("code")[0].value for e in at.expander if e.label.startswith("Show the code")}


@pytest.mark.parametrize(
    "page, steps",
    [
        ("tokenizer.py", ["simple_tokenizer", "simple_tokenizer_v2", "bpe", "sliding_window", "embeddings"]),
        ("attention.py", ["attention_steps", "multi_head_attention"]),
        ("parameters.py", ["gpt_model", "transformer_block", "count_parameters"]),
        ("pretraining.py", ["calc_loss_batch", "calc_loss_loader", "train_loop"]),
        ("sampling.py", ["sampling_stages", "generate"]),
        ("spam.py", ["finetune", "loss_and_accuracy"]),
        ("instruction.py", ["format_input", "custom_collate_fn", "instruction_loss_batch", "instruction_task",
                            "generate_response"]),
        ("lora.py", ["replace_linear_with_lora", "linear_with_lora", "lora_layer"]),
        ("logit_lens.py", ["logit_lens", "lens_logits"]),
        ("next_token_game.py", ["score_round", "human_logprob"]),
    ],
)
def test_every_widget_page_shows_the_code_it_runs(page, steps):
    shown = code_expanders(run_script(str(PAGES / page)))
    for step in steps:
        obj = inspect.unwrap(STEPS[step].obj)
        label = next(label for label in shown if f"`{obj.__qualname__}`" in label)
        kind = "class" if inspect.isclass(obj) else "def"
        assert f"{kind} {obj.__name__}" in shown[label]
        assert f"book section {STEPS[step].section}" in label


def test_the_spam_tester_shows_the_classifiers_code_and_why(saved_classifier):
    at = run_script(str(PAGES / "spam.py"))
    at.text_area(key="spam_message").set_value(WALKTHROUGH).run()
    assert not at.exception
    shown = code_expanders(at)
    assert any("`classify`" in label and "def classify(" in src for label, src in shown.items())
    assert any("**Why?**" in m.value for m in at.markdown)
    coloured = next(m.value for m in at.markdown if "<span" in m.value)
    assert coloured.count("<span") == len(encode(WALKTHROUGH))
    assert "Sorry" in coloured and "rgba(" in coloured
    table = next(df.value for df in at.dataframe if "token" in df.value.columns)
    assert len(table) == 5


def test_a_message_with_markup_is_shown_as_text(saved_classifier):
    at = run_script(str(PAGES / "spam.py"))
    at.text_area(key="spam_message").set_value('<img src=x onerror=alert(1)> WIN "cash" & more').run()
    coloured = next(m.value for m in at.markdown if "<span" in m.value)
    assert "<img" not in coloured and html.escape("<") in coloured and "&quot;" in coloured


def test_a_one_token_message_says_why_it_is_not_explained(saved_classifier):
    at = run_script(str(PAGES / "spam.py"))
    at.text_area(key="spam_message").set_value("Hello").run()
    assert "nothing to leave out" in texts(at.caption)


# ---------------------------------------------------------------------------------------------
# Long pastes: cut to the widget's limit with a notice, not dropped


def test_attention_cuts_a_long_text_with_a_notice():
    at = run_script(str(PAGES / "attention.py"))
    at.radio(key="att_source").set_value("Your own short text").run()
    at.text_input(key="att_text").set_value("Your journey starts with one step. " * 80).run()  # 2,800 characters
    assert not at.exception
    assert "The text has 2,800 characters; only the first 2,000" in texts(at.warning)


def test_sampling_cuts_a_long_prompt_and_uses_its_start():
    text = "Every effort moves you forward, day after day. " * 120  # 5,640 characters
    at = run_script(str(PAGES / "sampling.py"))
    at.text_area(key="sampling_prompt").set_value(text).run()
    assert not at.exception
    warnings = texts(at.warning)
    assert f"The text has {len(text):,} characters; only the first 5,000" in warnings
    used = len(encode(text[:5_000], allow_special=True))
    assert used != len(encode(text, allow_special=True))
    assert f"The prompt has {used:,} tokens" in warnings


def test_the_spam_tester_cuts_a_long_message_and_still_answers(saved_classifier):
    at = run_script(str(PAGES / "spam.py"))
    at.text_area(key="spam_message").set_value("Win a prize now! " * 1_300).run()  # 22,100 characters
    assert not at.exception
    assert "The text has 22,100 characters; only the first 20,000" in texts(at.warning)
    assert any("The classifier says" in m.value for m in at.markdown)


def test_the_explanation_is_worked_out_once_per_message(saved_classifier, monkeypatch):
    calls = []
    real = ui.spam.token_influence
    monkeypatch.setattr(ui.spam, "token_influence", lambda *args: calls.append(args[1]) or real(*args))
    at = run_script(str(PAGES / "spam.py"))
    at.text_area(key="spam_message").set_value(WALKTHROUGH).run()
    at.radio(key="spam_split").set_value("val").run()  # any other rerun
    assert calls == [WALKTHROUGH]
    at.text_area(key="spam_message").set_value("Sorry, running late!").run()
    assert calls == [WALKTHROUGH, "Sorry, running late!"]
